/* package_main.c — a consumer of nnc_add_model(... MPI) (tests/mpi/mpi.cmake: package_mpi): on
 * every rank of MPI_COMM_WORLD, ten data-parallel steps of tiny_mlp on the rank's quarter of a
 * batch, then the ranks' outputs on the same inputs must be bit-identical and the loss lower than
 * at the start. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "tiny_mlp.h"

#define SHARE 4

int main(int argc, char **argv) {
  int rank, size, bad = 0, any_bad = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  tiny_mlp *m = tiny_mlp_new(SHARE, 3);
  float x[SHARE * TINY_MLP_IN_SIZE], out[SHARE * TINY_MLP_OUT_SIZE], first[SHARE * TINY_MLP_OUT_SIZE];
  int32_t y[SHARE];
  for (int i = 0; i < SHARE; i++) {
    y[i] = (rank * SHARE + i) % TINY_MLP_N_CLASSES;
    for (int j = 0; j < TINY_MLP_IN_SIZE; j++) x[i * TINY_MLP_IN_SIZE + j] = (float)(y[i] == j % 3) + 0.1f * (float)j;
  }
  float loss0 = 0, loss = 0;
  for (int step = 0; step < 10; step++) {
    loss = tiny_mlp_train_step_mpi(m, x, y, SHARE, MPI_COMM_WORLD);
    if (step == 0) loss0 = loss;
  }
  if (!(loss < loss0)) {
    fprintf(stderr, "rank %d: the loss did not fall: %g -> %g\n", rank, loss0, loss);
    bad = 1;
  }
  /* the same inputs everywhere: rank 0's */
  MPI_Bcast(x, SHARE * TINY_MLP_IN_SIZE, MPI_FLOAT, 0, MPI_COMM_WORLD);
  tiny_mlp_forward(m, x, SHARE, out);
  memcpy(first, out, sizeof out);
  MPI_Bcast(first, SHARE * TINY_MLP_OUT_SIZE, MPI_FLOAT, 0, MPI_COMM_WORLD);
  if (memcmp(first, out, sizeof out) != 0) {
    fprintf(stderr, "rank %d: outputs differ from rank 0's\n", rank);
    bad = 1;
  }
  MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) printf("%d ranks: loss %g -> %g, outputs identical: %s\n", size, loss0, loss, any_bad ? "FAIL" : "ok");
  tiny_mlp_free(m);
  MPI_Finalize();
  return any_bad;
}
