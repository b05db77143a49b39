/* nnrt_mpi.c — the MPI entry point of `nnc train --mpi` (see nnrt_mpi.h).
 *
 * Each rank runs the same driver (nnrt_train.c) on the same data and seed; the driver hands every
 * rank its share of each batch, and the generated NAME_train_step_mpi sums the gradients. The
 * driver keeps its failures symmetric (every rank learns of a failure at the same point, through
 * sum()), so all ranks return the same status and none waits for ever in a collective.
 */
#include "nnrt_mpi.h"

#include <mpi.h>
#include <stdio.h>

static int sum_over_ranks(double *values, int n) {
  return MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
}

int nnrt_mpi_train_main(nnrt_model_api *api, int argc, char **argv) {
  nnrt_parallel parallel;
  int rc;
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    fprintf(stderr, "error: MPI_Init failed\n");
    return 1;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &parallel.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &parallel.size);
  parallel.sum = sum_over_ranks;
  /* rank 0 speaks for all: the others' stdout would repeat it (errors on stderr stay, since a
     rank on another machine may fail alone) */
  if (parallel.rank > 0 && !freopen("/dev/null", "w", stdout)) fclose(stdout);
  api->parallel = &parallel;
  rc = nnrt_train_main(api, argc, argv);
  fflush(stdout);
  fflush(stderr);
  MPI_Finalize();
  return rc;
}
