/* nnrt_mpi.h — the MPI entry point of `nnc train --mpi` (nnrt_mpi.c).
 *
 * Only the MPI build of the training driver includes it: `nnc train` without --mpi neither writes
 * nor compiles nnrt_mpi.c, so nothing of MPI is linked then.
 */
#ifndef NNRT_MPI_H
#define NNRT_MPI_H

#include "nnrt_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MPI_Init, the training run on every rank of MPI_COMM_WORLD (rank 0 prints and writes the
 * checkpoints), MPI_Finalize; returns the exit status, the same on every rank. api->train_step_*
 * must be the model's train_step_mpi over MPI_COMM_WORLD. */
int nnrt_mpi_train_main(nnrt_model_api *api, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
