/* nnrt.h — the nnc runtime: everything generated model code needs besides libc and CBLAS.
 *
 * Owns: the seeded random generator, aligned allocation, the checkpoint file format and the
 * last-error message. Generated code includes this header; `nnc build` copies nnrt.h/nnrt.c
 * next to the generated model so that `cc -std=c99 -c *.c` builds it with nothing else.
 * Everything here is C99, needs only -lm, and is deterministic: the same seed gives the same
 * stream on every machine. Dataset loading and the training driver live apart (nnrt_data.h,
 * nnrt_train.h) so that a model's own code never needs zlib.
 */
#ifndef NNRT_H
#define NNRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- random numbers: xoshiro256** seeded through splitmix64 ---- */
typedef struct nnrt_rng {
  uint64_t s[4];
  double spare_normal; /* the second value of the last Box–Muller pair */
  int has_spare;       /* 1 when spare_normal is valid */
} nnrt_rng;

void nnrt_rng_seed(nnrt_rng *rng, uint64_t seed);
uint64_t nnrt_rng_next(nnrt_rng *rng);
double nnrt_rng_uniform(nnrt_rng *rng); /* [0, 1), 53 random bits */
double nnrt_rng_normal(nnrt_rng *rng);  /* N(0, 1) */

/* ---- memory ---- */
void *nnrt_alloc(size_t bytes); /* 64-byte aligned and zeroed; NULL on failure or overflow */
void nnrt_free(void *p);

/* ---- the CPU and OpenBLAS's choice of kernels ----
 * OpenBLAS picks its kernels for the CPU when it loads, and an OpenBLAS older than the CPU falls
 * back to generic SSE kernels (Debian 12's 0.3.21 reports "Prescott" on recent AVX-512 Xeons):
 * matrix products then run several times slower, silently. The environment variable
 * OPENBLAS_CORETYPE, read when the library loads, overrides the choice. */
enum {
  NNRT_CPU_AVX2 = 1,   /* AVX2 and FMA, enabled by the OS */
  NNRT_CPU_AVX512 = 2, /* AVX-512 F, BW, DQ and VL (what OpenBLAS's SkylakeX kernels use) */
  NNRT_CPU_AMD = 4     /* made by AMD */
};
/* This CPU's NNRT_CPU_* bits; 0 where they cannot be asked (not x86, or not GCC or Clang). */
unsigned nnrt_cpu_features(void);
/* The OPENBLAS_CORETYPE to run with when `corename` (what openblas_get_corename() reports) has no
 * AVX2 kernels but the CPU described by `cpu_features` has AVX2: "SkylakeX" for AVX-512, "Zen"
 * for AMD, else "Haswell". NULL when OpenBLAS's choice fits the CPU (or corename is NULL). */
const char *nnrt_openblas_coretype(const char *corename, unsigned cpu_features);

/* ---- threads: the pool that runs nnc's own kernels in parallel ----
 * A model owns one pool (NAME_set_threads). nnrt_pool_run cuts a loop of `count` items into
 * chunks of at least `grain` items (at most 8 per thread), which the caller and the pool's
 * workers claim one by one; each runs as task(arg, begin, end, thread), `thread` being the index
 * of the thread that runs it (0: the caller), so that a task can give each thread its own scratch.
 * Which thread runs which chunk varies; the chunks themselves do not (the same count, grain and
 * threads give the same chunks). Workers start with the pool, wait for work spinning briefly,
 * then sleeping, and are joined by nnrt_pool_free. A pool serves one thread at a time (its
 * model's); pools of several models are independent. Built with NNC_NO_THREADS, or without POSIX
 * threads or GCC's atomic builtins, the pool runs the same chunks in order on the caller. */
typedef struct nnrt_pool nnrt_pool;
/* items [begin, end) of a parallel loop, run by thread `thread` (0 <= thread < the pool's threads) */
typedef void (*nnrt_task)(void *arg, long begin, long end, int thread);
#define NNRT_MAX_THREADS 256
/* NULL, with nnrt_last_error() set, when threads is outside 1..NNRT_MAX_THREADS or a thread
 * cannot be started */
nnrt_pool *nnrt_pool_new(int threads);
void nnrt_pool_free(nnrt_pool *pool);
int nnrt_pool_threads(const nnrt_pool *pool); /* 1 for NULL */
/* Runs task over [0, count) and returns when every chunk is done. With a NULL pool, one thread,
 * or count < 2 grain, the whole range runs on the caller as task(arg, 0, count, 0). */
void nnrt_pool_run(nnrt_pool *pool, long count, long grain, nnrt_task task, void *arg);

/* ---- errors: a message for the last failure of nnrt_* or of a generated NAME_load/NAME_save ---- */
const char *nnrt_last_error(void); /* "" when none; not thread-safe */
void nnrt_clear_error(void);       /* makes nnrt_last_error() "" again */
void nnrt_set_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* ---- checkpoints ----
 * A checkpoint is a list of named byte sections plus the model's name and structure hash.
 * nnrt_checkpoint_save writes PATH.tmp-PID-N in the same folder, flushes and fsyncs it, renames it
 * over PATH and fsyncs the folder (on POSIX systems, whatever the compile flags; elsewhere the
 * temporary is PATH.tmp-NNNNNN and only flushed), so a failed save never destroys the previous
 * file. It first removes PATH.tmp-PID-N files whose process is gone (a saver killed mid-write). The format is specified at the top of nnrt.c.
 * nnrt_checkpoint_load reads and verifies the whole file (magic, version, checksum, model hash,
 * every section's name and size, and the contents of `verify` sections) before it copies anything,
 * so on failure the destination buffers are untouched. Both return 0 on success and -1 with nnrt_last_error() set. */
typedef struct nnrt_section {
  const char *name; /* e.g. "params", "opt.m", "rng" */
  void *data;
  size_t bytes;
  int verify;       /* load: the file's bytes must equal data (the parameter table); never copied into */
} nnrt_section;     /* zero it before setting fields one by one: verify must be 0 for ordinary sections */

int nnrt_checkpoint_save(const char *path, const char *model_name, uint64_t model_hash,
                         const nnrt_section *sections, int n_sections);
int nnrt_checkpoint_load(const char *path, const char *model_name, uint64_t model_hash,
                         const nnrt_section *sections, int n_sections);

#ifdef __cplusplus
}
#endif
#endif
