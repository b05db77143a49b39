/* nnrt_train.h — the generic training driver behind `nnc train`.
 *
 * `nnc train` emits the model, plus a tiny main() that fills an nnrt_model_api with the model's
 * entry points and sizes and calls nnrt_train_main(). The driver parses its flags, loads the data
 * (nnrt_data.h), trains with a progress line, evaluates on the test set after every epoch, and
 * writes checkpoints. nnc itself links nnrt_train_parse_args() so it can reject bad flags before
 * it compiles anything.
 */
#ifndef NNRT_TRAIN_H
#define NNRT_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One layer's statistics from a step recorded with --stats (the generated NAME_layer_stats). */
typedef struct nnrt_layer_stats {
  const char *layer, *op;    /* the summary table's name and op */
  int depth;                 /* 0-based row */
  double act_mean, act_var, grad_norm, dead_frac; /* spec §8's columns */
} nnrt_layer_stats;

/* Data-parallel training (nnc train --mpi): what the MPI entry point (nnrt_mpi.c) lends the
 * driver. Every rank runs the driver; train_step_* then takes the rank's share of each batch and
 * returns the whole batch's mean loss, the same on every rank. */
typedef struct nnrt_parallel {
  int rank, size;
  /* Sums values[0..n) over the ranks in place, the same result on every rank; 0 on success. A
     collective: every rank calls it at the same points of the run. */
  int (*sum)(double *values, int n);
} nnrt_parallel;

typedef struct nnrt_model_api {
  const char *name;          /* the model's name, e.g. "fashion_snn" */
  int in_size;               /* floats per example of the input */
  int in_rank;               /* rank of the per-example input shape */
  int in_shape[4];           /* the per-example input shape, e.g. {1, 28, 28} */
  int out_size;              /* floats per example that forward() writes */
  int n_classes;             /* > 0 for a `label` model (classification), 0 for `target` */
  int target_size;           /* floats per example of the target (0 for label models) */
  long long n_params;        /* trainable parameters */
  double flops_per_example;  /* forward FLOPs per example (training is about 3x) */
  void *(*create)(int max_batch, uint64_t seed);
  void (*destroy)(void *model);
  void (*forward)(void *model, const float *x, int n, float *out);
  float (*train_step_label)(void *model, const float *x, const int32_t *y, int n);  /* label models */
  float (*train_step_target)(void *model, const float *x, const float *t, int n);   /* target models */
  int (*save)(const void *model, const char *path);
  int (*load)(void *model, const char *path);
  /* Added after the first draft (keep new members at the end): the optimizer steps taken so far,
   * restored by load(). --resume derives the epoch to continue from it; NULL disables --resume. */
  uint64_t (*steps)(const void *model);
  /* A model built with --stats: its summary rows, and the generated stats functions (NULL
   * without); --stats needs them. */
  int n_layers;
  void (*stats_record)(void *model, int on);
  uint64_t (*stats)(const void *model, nnrt_layer_stats *out, int cap);
  /* NULL in a single process; with MPI, this rank and the sum over all of them */
  const nnrt_parallel *parallel;
  /* the generated NAME_set_threads: --threads N also runs nnc's own kernels on N threads (NULL:
     one); 0 on success */
  int (*set_threads)(void *model, int threads);
} nnrt_model_api;

typedef struct nnrt_train_args {
  const char *data_dir;        /* folder with the four (optionally .gz) IDX files */
  const char *train_images, *train_labels, *test_images, *test_labels; /* IDX paths (override data_dir) */
  const char *train_csv, *test_csv; /* CSV alternative: label (or targets) first, then the input */
  int epochs;                  /* default 1 */
  int batch;                   /* default 128 */
  uint64_t seed;               /* default 1 */
  int threads;                 /* BLAS threads and nnc's own (set_threads); default 1 */
  const char *checkpoint;      /* written after every epoch; default "<model>.ckpt" (NULL = default) */
  const char *resume;          /* checkpoint to resume from, or NULL */
  int standardize;             /* 1 (default): scale inputs by the training set's mean and std */
  long limit_train, limit_test; /* use only the first N examples (0 = all) */
  int quiet;                   /* no progress line */
  const char *stats;           /* --stats: the CSV the per-layer statistics go to, or NULL */
  long stats_every;            /* --stats-every N: record every N steps (0: each epoch's last step) */
  int no_cache;                /* --no-cache: inflate gzip IDX files every time (nnrt_dataset_set_cache) */
} nnrt_train_args;

/* Parses argv[first..argc) into args (defaults filled in first). On a bad flag it prints
 * "error: ..." and a usage hint to err and returns -1; returns 1 for --help (usage printed to
 * err), 0 otherwise. */
int nnrt_train_parse_args(nnrt_train_args *args, int argc, char **argv, int first, FILE *err);
void nnrt_train_usage(FILE *out);

/* Checks that every file the run will read can be opened (the IDX or CSV files, the checkpoint to
 * resume from) and that the checkpoint can be written, reporting each one that cannot; -1 if any.
 * nnc calls it before compiling. */
int nnrt_train_check_files(const nnrt_train_args *args);
/* 0 when a checkpoint can be written at PATH (not a folder; a file can be made beside it), else
 * -1 after an "error: PATH: ..." on stderr. Checked again before training starts. */
int nnrt_train_check_checkpoint(const char *path);

/* The kernels OpenBLAS chose in this process (openblas_get_corename(), e.g. "Zen"); NULL when the
 * driver was built without OpenBLAS. nnc compares it with the CPU (nnrt_openblas_coretype()). */
const char *nnrt_openblas_corename(void);

/* The whole training run; returns the process exit status (0 ok, 1 bad data or failure, 2 usage). */
int nnrt_train_main(const nnrt_model_api *api, int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
