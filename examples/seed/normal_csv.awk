# normal_csv.awk — ROWS lines of a class label 0..9 and DIM values drawn from N(0, 1) (Box-Muller),
# comma-separated, from SEED: the seed's "random N(0,1) inputs" as a CSV for nnc train.
#   awk -v seed=1 -v rows=256 -v dim=256 -f normal_csv.awk > normal.csv
BEGIN {
  srand(seed)
  for (r = 0; r < rows; r++) {
    line = int(rand() * 10)
    for (j = 0; j < dim; j++) {
      u = rand()
      if (u < 1e-12) u = 1e-12
      line = line "," sqrt(-2 * log(u)) * cos(6.283185307179586 * rand())
    }
    print line
  }
}
