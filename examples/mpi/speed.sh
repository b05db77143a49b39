#!/bin/bash
# speed.sh — examples/s of `nnc train --mpi` on 1 and 2 ranks, side by side in one run.
#
#   examples/mpi/speed.sh [MODEL.nn [ROUNDS [LIMIT_TRAIN]]]   (defaults models/fashion_snn.nn, 5, 20000)
#
# Compiles the MPI trainer once (nnc train --mpi --build-dir), then alternates 1-rank and 2-rank runs
# of it (one epoch over the first LIMIT_TRAIN training images, batch 128, one BLAS thread per rank)
# for ROUNDS rounds (launched as nnc train --mpi launches them) and prints each run's examples/s (the epoch line's training speed) and the
# medians. Alternating spreads the machine's other load over both.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-models/fashion_snn.nn} rounds=${2:-5} limit=${3:-20000}
nnc=build/compiler/nnc
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=1
"$nnc" train "$model" --mpi 2 --build-dir "$dir" --epochs 0 --checkpoint "$dir/x.ckpt" --quiet >/dev/null
binary=$(ls "$dir"/*-train)
declare -A rates
for ((r = 1; r <= rounds; r++)); do
  for np in 1 2; do
    line=$(mpirun -np $np --oversubscribe --bind-to none --mca mpi_yield_when_idle 1 "$binary" --epochs 1 --batch 128 --limit-train "$limit" --limit-test 1000 \
             --checkpoint "$dir/x.ckpt" --quiet | grep '^epoch')
    rate=$(sed 's/.*s, \([0-9,]*\) ex\/s).*/\1/' <<<"$line" | tr -d ,)
    echo "round $r, $np rank(s): $rate examples/s"
    rates[$np]+="$rate "
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median: 1 rank $(median "${rates[1]}") examples/s, 2 ranks $(median "${rates[2]}") examples/s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
