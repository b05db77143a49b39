/* nnrt_train.c — the training driver behind `nnc train` (see nnrt_train.h).
 *
 * Owns the trainer's command line, the run itself (load and validate the data before anything
 * else, standardize, create or resume the model, shuffle, step, evaluate, checkpoint) and its
 * output: a carriage-return progress line on stderr when stderr is a terminal, one line per epoch
 * on stdout, and every error as "error: ..." on stderr with exit status 1 (2 for bad usage).
 *
 * Data parallel (api->parallel, nnc train --mpi): every rank runs all of this on the same data and
 * seed; each batch is split into contiguous shares by rank, the test set too, and only rank 0
 * prints and writes checkpoints. The ranks meet (parallel->sum) at fixed points — before the first
 * epoch, in the evaluation, after each checkpoint — where a failure on any rank becomes every
 * rank's, so they all stop together.
 *
 * Determinism: epoch e visits the training set in a permutation drawn from an nnrt_rng seeded
 * from (seed, e) alone, and the model owns all other state, so a run resumed from an epoch-end
 * checkpoint continues bit-identically. The epoch to resume at is the model's step count divided
 * by the steps per epoch (the last, partial batch counts as a step).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */
#endif

#include "nnrt_train.h"

#include "nnrt.h"
#include "nnrt_data.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#define NNRT_HAVE_ISATTY 1
#endif

#ifdef NNRT_OPENBLAS
extern void openblas_set_num_threads(int);
extern char *openblas_get_corename(void);
#endif

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MAX_EPOCHS 1000000
#define MAX_BATCH (1 << 24)
#define MAX_THREADS NNRT_MAX_THREADS /* what NAME_set_threads accepts */

/* ---- command line ---- */

void nnrt_train_usage(FILE *out) {
  fputs("training flags (each also as --flag=value):\n"
        "  --data DIR           folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
        "                       t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally\n"
        "                       .gz (default " DEFAULT_DATA_DIR ")\n"
        "  --train-images FILE  --train-labels FILE  --test-images FILE  --test-labels FILE\n"
        "                       IDX files; each overrides the one in --data\n"
        "  --train-csv FILE  --test-csv FILE\n"
        "                       CSV data instead: the label (or the targets) first, then the input\n"
        "  --epochs N           epochs to train in total; a resumed run continues up to N (default 1)\n"
        "  --batch N            examples per step (default 128)\n"
        "  --seed N             seed for the initial weights and the shuffling (default 1)\n"
        "  --threads N          threads for the BLAS and nnc's own kernels (default 1)\n"
        "  --checkpoint PATH    written after every epoch (default MODEL.ckpt)\n"
        "  --resume PATH        continue training from a checkpoint written at an epoch's end\n"
        "  --no-standardize     use the inputs as loaded (default: subtract the training set's\n"
        "                       mean and divide by its standard deviation)\n"
        "  --limit-train N      use only the first N training examples (0 = all)\n"
        "  --limit-test N       use only the first N test examples (0 = all)\n"
        "  --quiet              no progress line\n"
        "  --no-cache           inflate gzip IDX files every time instead of keeping them inflated\n"
        "                       in $NNC_CACHE_DIR, $XDG_CACHE_HOME/nnc or ~/.cache/nnc\n"
        "  --stats FILE         write per-layer statistics (activation mean, variance, share of\n"
        "                       zeros, gradient norm) as CSV rows, for `nnc plot` (spec §8)\n"
        "  --stats-every N      record every N steps (default: each epoch's last step)\n"
        "  --help               show this help\n",
        out);
}

static void usage_error(FILE *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "error: ..." and a hint, as every rejected flag does. */
static void usage_error(FILE *err, const char *fmt, ...) {
  va_list ap;
  fputs("error: ", err);
  va_start(ap, fmt);
  vfprintf(err, fmt, ap);
  va_end(ap);
  fputs("\n(--help lists the flags)\n", err);
}

/* Parses a whole decimal number in [min, max]: digits only, so "1x", "+3", " 3", "0x10" and "" are
 * rejected, and overflow is caught before it happens. Returns 0 or -1 after reporting. */
static int parse_count(FILE *err, const char *flag, const char *s, uint64_t min, uint64_t max,
                       uint64_t *out) {
  uint64_t v = 0;
  int overflow = 0;
  const char *p;
  if (*s == '-' && s[1] >= '0' && s[1] <= '9') {
    usage_error(err, "%s must not be negative (got '%s')", flag, s);
    return -1;
  }
  if (!*s) {
    usage_error(err, "%s needs a number", flag);
    return -1;
  }
  for (p = s; *p; p++) {
    if (*p < '0' || *p > '9') {
      usage_error(err, "%s: '%s' is not a whole number", flag, s);
      return -1;
    }
    if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) overflow = 1;
    if (!overflow) v = v * 10 + (uint64_t)(*p - '0');
  }
  if (overflow || v > max) {
    usage_error(err, "%s: %s is too large (at most %llu)", flag, s, (unsigned long long)max);
    return -1;
  }
  if (v < min) {
    usage_error(err, "%s must be at least %llu", flag, (unsigned long long)min);
    return -1;
  }
  *out = v;
  return 0;
}

/* Matches argv[*i] against --name or --name=value. On a match returns 1 and points *value at the
 * value (the next argument for the spaced form; NULL when none follows); 0 otherwise. */
static int match_flag(int argc, char **argv, int *i, const char *name, int takes_value,
                      const char **value) {
  const char *arg = argv[*i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0) return 0;
  if (arg[len] == '=') {
    *value = arg + len + 1;
    return 1;
  }
  if (arg[len] != '\0') return 0;
  *value = NULL;
  if (takes_value && *i + 1 < argc) *value = argv[++*i];
  return 1;
}

int nnrt_train_parse_args(nnrt_train_args *args, int argc, char **argv, int first, FILE *err) {
  static const char *const path_flags[] = {"--data",        "--train-images", "--train-labels",
                                           "--test-images", "--test-labels",  "--train-csv",
                                           "--test-csv",    "--checkpoint",   "--resume", "--stats"};
  static const char *const count_flags[] = {"--epochs", "--batch",       "--seed",
                                            "--threads", "--limit-train", "--limit-test", "--stats-every"};
  static const char *const switch_flags[] = {"--no-standardize", "--quiet", "--help", "--no-cache"};
  const char **path_fields[10];
  int explicit_idx = 0, i, k;

  memset(args, 0, sizeof *args);
  args->data_dir = DEFAULT_DATA_DIR;
  args->epochs = 1;
  args->batch = 128;
  args->seed = 1;
  args->threads = 1;
  args->standardize = 1;
  path_fields[0] = &args->data_dir;
  path_fields[1] = &args->train_images;
  path_fields[2] = &args->train_labels;
  path_fields[3] = &args->test_images;
  path_fields[4] = &args->test_labels;
  path_fields[5] = &args->train_csv;
  path_fields[6] = &args->test_csv;
  path_fields[7] = &args->checkpoint;
  path_fields[8] = &args->resume;
  path_fields[9] = &args->stats;

  for (i = first; i < argc; i++) {
    const char *value = NULL;
    int matched = 0;
    for (k = 0; k < 10 && !matched; k++) {
      if (!match_flag(argc, argv, &i, path_flags[k], 1, &value)) continue;
      matched = 1;
      if (!value || !*value || (value == argv[i] && value[0] == '-' && value[1] == '-')) {
        usage_error(err, "%s needs a %s", path_flags[k], k == 0 ? "folder" : "file name");
        return -1;
      }
      *path_fields[k] = value;
      if (k <= 4) explicit_idx = 1;
    }
    for (k = 0; k < 7 && !matched; k++) {
      uint64_t v;
      if (!match_flag(argc, argv, &i, count_flags[k], 1, &value)) continue;
      matched = 1;
      if (!value) {
        usage_error(err, "%s needs a number", count_flags[k]);
        return -1;
      }
      switch (k) {
      case 0:
        if (parse_count(err, "--epochs", value, 0, MAX_EPOCHS, &v) != 0) return -1;
        args->epochs = (int)v;
        break;
      case 1:
        if (parse_count(err, "--batch", value, 1, MAX_BATCH, &v) != 0) return -1;
        args->batch = (int)v;
        break;
      case 2:
        if (parse_count(err, "--seed", value, 0, UINT64_MAX, &v) != 0) return -1;
        args->seed = v;
        break;
      case 3:
        if (parse_count(err, "--threads", value, 1, MAX_THREADS, &v) != 0) return -1;
        args->threads = (int)v;
        break;
      case 4:
        if (parse_count(err, "--limit-train", value, 0, LONG_MAX, &v) != 0) return -1;
        args->limit_train = (long)v;
        break;
      case 5:
        if (parse_count(err, "--limit-test", value, 0, LONG_MAX, &v) != 0) return -1;
        args->limit_test = (long)v;
        break;
      default:
        if (parse_count(err, "--stats-every", value, 1, LONG_MAX, &v) != 0) return -1;
        args->stats_every = (long)v;
        break;
      }
    }
    for (k = 0; k < 4 && !matched; k++) {
      if (!match_flag(argc, argv, &i, switch_flags[k], 0, &value)) continue;
      matched = 1;
      if (value) {
        usage_error(err, "%s takes no value (got '%s')", switch_flags[k], value);
        return -1;
      }
      if (k == 0) args->standardize = 0;
      if (k == 1) args->quiet = 1;
      if (k == 3) args->no_cache = 1;
      if (k == 2) {
        nnrt_train_usage(err);
        return 1;
      }
    }
    if (!matched) {
      if (argv[i][0] == '-')
        usage_error(err, "unknown flag '%s'", argv[i]);
      else
        usage_error(err, "unexpected argument '%s'", argv[i]);
      return -1;
    }
  }

  if ((args->train_csv || args->test_csv) && explicit_idx) {
    usage_error(err, "%s cannot be combined with --data or IDX files",
                args->train_csv ? "--train-csv" : "--test-csv");
    return -1;
  }
  if (args->stats_every && !args->stats) {
    usage_error(err, "--stats-every needs --stats FILE");
    return -1;
  }
  if ((args->train_csv != NULL) != (args->test_csv != NULL)) {
    usage_error(err, "%s needs %s too", args->train_csv ? "--train-csv" : "--test-csv",
                args->train_csv ? "--test-csv" : "--train-csv");
    return -1;
  }
  return 0;
}

/* ---- small helpers ---- */

static double now_seconds(void) {
#if defined(CLOCK_MONOTONIC)
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0) return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
  return (double)time(NULL);
}

/* Formats a non-negative count with thousands separators: 21345 -> "21,345". */
static const char *fmt_count(char *buf, size_t size, double v) {
  char digits[32];
  int n, i, j = 0;
  if (!(v >= 0) || v > 1e18) v = 0;
  n = snprintf(digits, sizeof digits, "%.0f", v);
  for (i = 0; i < n && (size_t)j + 2 < size; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[j++] = ',';
    buf[j++] = digits[i];
  }
  buf[j] = '\0';
  return buf;
}

static void fmt_shape(char *buf, size_t size, int rank, const int *shape) {
  size_t used = 0;
  int k;
  buf[0] = '\0';
  for (k = 0; k < rank && used < size; k++)
    used += (size_t)snprintf(buf + used, size - used, "%s%d", k ? ", " : "[", shape[k]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* Uniform in [0, n): rejection removes the bias of a plain modulo. */
static uint64_t rng_below(nnrt_rng *rng, uint64_t n) {
  uint64_t threshold = (0 - n) % n, r;
  do r = nnrt_rng_next(rng);
  while (r < threshold);
  return r % n;
}

/* The order of epoch `epoch`: a Fisher–Yates shuffle of 0..n-1 that depends on (seed, epoch)
 * only. The multiplier is odd, so the generator seed differs from the model's own. */
static void epoch_permutation(long *perm, long n, uint64_t seed, int epoch) {
  nnrt_rng rng;
  long i;
  nnrt_rng_seed(&rng, seed ^ (UINT64_C(0x9E3779B97F4A7C15) * (uint64_t)(epoch + 1)));
  for (i = 0; i < n; i++) perm[i] = i;
  for (i = n - 1; i > 0; i--) {
    long j = (long)rng_below(&rng, (uint64_t)i + 1), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static const char *last_error_or(const char *fallback) {
  const char *e = nnrt_last_error();
  return *e ? e : fallback;
}

/* ---- data ---- */

/* Finds DIR/NAME or DIR/NAME.gz; returns a malloc'd path or NULL after reporting. */
static char *find_idx(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 8;
  char *path = malloc(len);
  int gz;
  if (!path) {
    fprintf(stderr, "error: out of memory\n");
    return NULL;
  }
  for (gz = 0; gz < 2; gz++) {
    FILE *f;
    snprintf(path, len, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if ((f = fopen(path, "rb")) != NULL) {
      fclose(f);
      return path;
    }
  }
  fprintf(stderr, "error: %s: no %s or %s.gz here (use --data DIR, or give the IDX files)\n", dir,
          name, name);
  free(path);
  return NULL;
}

static int readable(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "error: %s: cannot open: %s\n", path, strerror(errno));
    return 0;
  }
  fclose(f);
  return 1;
}

const char *nnrt_openblas_corename(void) {
#ifdef NNRT_OPENBLAS
  return openblas_get_corename();
#else
  return NULL;
#endif
}

/* 0 when a file can be written at path (what it is: "the checkpoint"; flag: the option naming it) */
static int check_writable(const char *path, const char *flag, const char *what) {
  struct stat st;
  char *probe;
  FILE *f;
  size_t len = strlen(path) + 48;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr, "error: %s: is a folder; %s needs a file's path\n", path, flag);
    return -1;
  }
  /* a file beside it, as the save's temporary will be (named so that a later save removes it if
     this process is killed before it does) */
  if (!(probe = malloc(len))) return 0;
#ifdef NNRT_HAVE_ISATTY /* unistd.h */
  snprintf(probe, len, "%s.tmp-%ld-probe", path, (long)getpid());
#else
  snprintf(probe, len, "%s.tmp-probe", path);
#endif
  errno = 0;
  f = fopen(probe, "wb");
  if (!f) {
    fprintf(stderr, "error: %s: cannot write %s there: %s\n", path, what,
            errno ? strerror(errno) : "cannot create a file");
    free(probe);
    return -1;
  }
  fclose(f);
  remove(probe);
  free(probe);
  return 0;
}

int nnrt_train_check_checkpoint(const char *path) { return check_writable(path, "--checkpoint", "the checkpoint"); }

int nnrt_train_check_files(const nnrt_train_args *args) {
  int ok = 1, test;
  for (test = 0; test < 2; test++) {
    const char *csv = test ? args->test_csv : args->train_csv;
    const char *images = test ? args->test_images : args->train_images;
    const char *labels = test ? args->test_labels : args->train_labels;
    char *found;
    if (csv) {
      ok &= readable(csv);
      continue;
    }
    if (images) ok &= readable(images);
    else if ((found = find_idx(args->data_dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte")) != NULL)
      free(found);
    else ok = 0;
    if (labels) ok &= readable(labels);
    else if ((found = find_idx(args->data_dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte")) != NULL)
      free(found);
    else ok = 0;
  }
  if (args->resume) ok &= readable(args->resume);
  if (args->checkpoint) ok &= nnrt_train_check_checkpoint(args->checkpoint) == 0;
  if (args->stats) ok &= check_writable(args->stats, "--stats", "the statistics") == 0;
  return ok ? 0 : -1;
}

/* Loads one split from CSV or IDX; returns 0 or 1 after reporting. *shown_path is the file that
 * holds the inputs, *labels_path the one that holds the labels or targets. */
static int load_split(const nnrt_model_api *api, const nnrt_train_args *args, int test,
                      nnrt_dataset *ds, const char **shown_path, const char **labels_path, char **found) {
  const char *csv = test ? args->test_csv : args->train_csv;
  long limit = test ? args->limit_test : args->limit_train;
  const char *images = test ? args->test_images : args->train_images;
  const char *labels = test ? args->test_labels : args->train_labels;
  int rc;

  if (csv) {
    *shown_path = *labels_path = csv;
    if (nnrt_dataset_load_csv(ds, csv, api->n_classes > 0 ? 0 : api->target_size, limit) != 0) {
      fprintf(stderr, "error: %s\n", nnrt_last_error());
      return 1;
    }
    return 0;
  }
  if (api->n_classes == 0) {
    fprintf(stderr,
            "error: model '%s' learns real-valued targets, which IDX files cannot hold: use "
            "--train-csv and --test-csv\n",
            api->name);
    return 1;
  }
  /* found[0..1] keep the paths made from --data alive for later messages; the caller frees them. */
  if (!images && !(images = found[0] = find_idx(args->data_dir, test ? "t10k-images-idx3-ubyte"
                                                                     : "train-images-idx3-ubyte")))
    return 1;
  if (!labels && !(labels = found[1] = find_idx(args->data_dir, test ? "t10k-labels-idx1-ubyte"
                                                                     : "train-labels-idx1-ubyte")))
    return 1;
  *shown_path = images;
  *labels_path = labels;
  rc = nnrt_dataset_load_idx(ds, images, labels, limit);
  if (rc != 0) fprintf(stderr, "error: %s\n", nnrt_last_error());
  return rc != 0;
}

/* Checks a loaded split against the model; returns 0 or 1 after reporting. `what` names the file of
 * the inputs, `labels_what` the file of the labels. */
static int check_split(const nnrt_model_api *api, const nnrt_dataset *ds, const char *what,
                       const char *labels_what) {
  char have[64], want[64];
  long i;
  if (ds->dim != api->in_size) {
    fmt_shape(have, sizeof have, ds->rank, ds->shape);
    fmt_shape(want, sizeof want, api->in_rank, api->in_shape);
    fprintf(stderr, "error: %s: examples have %d values %s, but model '%s' takes %d %s\n", what,
            ds->dim, have, api->name, api->in_size, want);
    return 1;
  }
  if (api->n_classes > 0) {
    for (i = 0; i < ds->n; i++) {
      if (ds->labels[i] >= api->n_classes) {
        fprintf(stderr,
                "error: %s: label %ld of example %ld is out of range for model '%s' (classes 0..%d)\n",
                labels_what, (long)ds->labels[i], i + 1, api->name, api->n_classes - 1);
        return 1;
      }
    }
  }
  return 0;
}

/* ---- evaluation ---- */

/* The first and last+1 of count items that are this rank's share (all of them in a single process). */
static void share_of(const nnrt_model_api *api, long count, long *lo, long *hi) {
  const nnrt_parallel *p = api->parallel;
  *lo = p ? (long)((long long)count * p->rank / p->size) : 0;
  *hi = p ? (long)((long long)count * (p->rank + 1) / p->size) : count;
}

/* Test accuracy in [0, 1] (label models) or mean squared error (target models); -1 when the model's
 * output does not line up with the labels or targets. With MPI each rank evaluates its share and
 * the counts are summed. */
static double evaluate(const nnrt_model_api *api, void *model, const nnrt_dataset *ds, int batch,
                       float *xb, float *out) {
  long start, correct = 0, lo, hi;
  double sq = 0;
  int labels = api->n_classes > 0;
  int width = labels ? api->n_classes : api->target_size;
  if (api->out_size != width) return -1;
  share_of(api, ds->n, &lo, &hi);
  for (start = lo; start < hi; start += batch) {
    int n = hi - start < batch ? (int)(hi - start) : batch, i, j;
    nnrt_dataset_inputs(ds, NULL, start, n, xb);
    api->forward(model, xb, n, out);
    for (i = 0; i < n; i++) {
      const float *o = out + (size_t)i * (size_t)width;
      if (labels) {
        int best = 0;
        for (j = 1; j < width; j++)
          if (o[j] > o[best]) best = j;
        correct += best == ds->labels[start + i];
      } else {
        const float *t = ds->targets + (size_t)(start + i) * (size_t)width;
        for (j = 0; j < width; j++) sq += ((double)o[j] - t[j]) * ((double)o[j] - t[j]);
      }
    }
  }
  if (api->parallel) {
    double totals[2];
    totals[0] = (double)correct;
    totals[1] = sq;
    if (api->parallel->sum(totals, 2) != 0) return -1;
    correct = (long)totals[0];
    sq = totals[1];
  }
  return labels ? (double)correct / (double)ds->n : sq / ((double)ds->n * width);
}

static void print_metric(const nnrt_model_api *api, double metric) {
  if (metric < 0)
    printf("test n/a (output has %d values per example)", api->out_size);
  else if (api->n_classes > 0)
    printf("test acc %.2f%%", 100.0 * metric);
  else
    printf("test mse %.6g", metric);
}

/* ---- the run ---- */

static int check_api(const nnrt_model_api *api) {
  const char *missing = NULL;
  if (!api || !api->name || !*api->name) missing = "name";
  else if (api->in_size <= 0) missing = "in_size";
  else if (!api->create) missing = "create";
  else if (!api->destroy) missing = "destroy";
  else if (!api->forward) missing = "forward";
  else if (!api->save) missing = "save";
  else if (!api->load) missing = "load";
  else if (api->n_classes > 0 && !api->train_step_label) missing = "train_step_label";
  else if (api->n_classes <= 0 && (api->target_size <= 0 || !api->train_step_target))
    missing = "train_step_target or target_size";
  if (missing) {
    fprintf(stderr, "error: internal: the model API lacks %s\n", missing);
    return 1;
  }
  return 0;
}

typedef struct train_state {
  nnrt_dataset train, test;
  void *model;
  long *perm;
  float *xb, *tb, *out; /* a batch of inputs, of targets, of outputs */
  int32_t *yb;          /* a batch of labels */
  char *default_ckpt;
  char *found[4];       /* IDX paths found in --data */
  FILE *stats;          /* --stats */
  nnrt_layer_stats *layers; /* a recorded step's statistics */
} train_state;

static void state_free(const nnrt_model_api *api, train_state *s) {
  int i;
  if (s->model) api->destroy(s->model);
  nnrt_dataset_free(&s->train);
  nnrt_dataset_free(&s->test);
  free(s->perm);
  free(s->xb);
  free(s->tb);
  free(s->out);
  free(s->yb);
  free(s->default_ckpt);
  free(s->layers);
  if (s->stats) fclose(s->stats);
  for (i = 0; i < 4; i++) free(s->found[i]);
}

/* --stats: one CSV row per layer of the step just recorded; 0, or -1 after reporting. */
static int write_stats(const nnrt_model_api *api, const nnrt_train_args *args, train_state *s, int epoch,
                       double loss) {
  uint64_t step = api->stats(s->model, s->layers, api->n_layers);
  int l;
  if (!step) return 0; /* the step was refused: train_step says so */
  for (l = 0; l < api->n_layers; l++) {
    const nnrt_layer_stats *st = &s->layers[l];
    fprintf(s->stats, "%llu,%d,%s,%s,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%s\n", (unsigned long long)step, epoch + 1,
            st->layer, st->op, st->depth, st->act_mean, st->act_var, st->grad_norm, st->dead_frac, loss, api->name);
  }
  if (fflush(s->stats) != 0 || ferror(s->stats)) {
    fprintf(stderr, "error: %s: cannot write the statistics: %s\n", args->stats, strerror(errno));
    return -1;
  }
  return 0;
}

/* Allocates count elements of size bytes, checking the product; NULL on failure. */
static void *alloc_array(size_t count, size_t size) {
  if (size && count > (size_t)-1 / size) return NULL;
  return malloc(count * size > 0 ? count * size : 1);
}

/* With MPI: the number of ranks where `failed` is set (every rank must call it at the same point);
 * 0 in a single process, where a failure has already been handled. */
static int ranks_failed(const nnrt_model_api *api, int failed) {
  double count = failed;
  if (!api->parallel) return 0;
  if (api->parallel->sum(&count, 1) != 0) return 1;
  return (int)count;
}

static int run(const nnrt_model_api *api, const nnrt_train_args *args) {
  train_state s;
  const char *train_name = NULL, *test_name = NULL, *train_labels_name = NULL, *test_labels_name = NULL, *ckpt;
  int labels, epoch, start_epoch = 0, progress, saved = 0, started = 0, share_max = args->batch;
  int rank0 = !api->parallel || api->parallel->rank == 0;
  long steps_per_epoch;
  char c1[32], c2[32], c3[32];

  memset(&s, 0, sizeof s);
  if (check_api(api)) return 1;
  labels = api->n_classes > 0;

  /* Data first: nothing is created or written until both splits are known to fit the model. */
  nnrt_dataset_set_cache(args->no_cache ? "" : NULL);
  if (load_split(api, args, 0, &s.train, &train_name, &train_labels_name, s.found) ||
      load_split(api, args, 1, &s.test, &test_name, &test_labels_name, s.found + 2) ||
      check_split(api, &s.train, train_name, train_labels_name) ||
      check_split(api, &s.test, test_name, test_labels_name))
    goto fail;
  if (args->standardize) {
    float mean, std;
    nnrt_dataset_stats(&s.train, &mean, &std);
    nnrt_dataset_standardize(&s.train, mean, std);
    nnrt_dataset_standardize(&s.test, mean, std);
  }

  ckpt = args->checkpoint;
  if (!ckpt) {
    size_t len = strlen(api->name) + 6;
    if (!(s.default_ckpt = malloc(len))) goto oom;
    snprintf(s.default_ckpt, len, "%s.ckpt", api->name);
    ckpt = s.default_ckpt;
  }
  if (rank0 && nnrt_train_check_checkpoint(ckpt) != 0) goto fail; /* now, not after the first epoch */
  steps_per_epoch = (s.train.n + args->batch - 1) / args->batch;
  s.perm = alloc_array((size_t)s.train.n, sizeof(long));
  s.xb = alloc_array((size_t)args->batch, (size_t)api->in_size * sizeof(float));
  s.out = alloc_array((size_t)args->batch, (size_t)api->out_size * sizeof(float));
  if (labels)
    s.yb = alloc_array((size_t)args->batch, sizeof(int32_t));
  else
    s.tb = alloc_array((size_t)args->batch, (size_t)api->target_size * sizeof(float));
  if (!s.perm || !s.xb || !s.out || (labels ? !s.yb : !s.tb)) goto oom;

#ifdef NNRT_OPENBLAS
  openblas_set_num_threads(args->threads);
#endif

  nnrt_clear_error();
  /* with MPI a rank steps on its share of each batch, at most ceil(batch / ranks) examples */
  if (api->parallel) share_max = (args->batch + api->parallel->size - 1) / api->parallel->size;
  s.model = api->create(share_max, args->seed);
  if (!s.model) {
    fprintf(stderr, "error: cannot create model '%s' for batches of %d: %s\n", api->name,
            args->batch, last_error_or("out of memory"));
    goto fail;
  }
  if (api->set_threads && api->set_threads(s.model, args->threads) != 0) {
    fprintf(stderr, "error: cannot run model '%s' on %d threads: %s\n", api->name, args->threads,
            last_error_or("out of memory"));
    goto fail;
  }
  if (args->resume) {
    uint64_t steps;
    if (!api->steps) {
      fprintf(stderr, "error: model '%s' does not report its step count, so it cannot resume\n",
              api->name);
      goto fail;
    }
    nnrt_clear_error();
    if (api->load(s.model, args->resume) != 0) {
      fprintf(stderr, "error: %s\n", last_error_or("cannot load the checkpoint"));
      goto fail;
    }
    steps = api->steps(s.model);
    if (steps % (uint64_t)steps_per_epoch != 0) {
      fprintf(stderr,
              "error: %s: written at step %llu, not at the end of an epoch of %ld steps (was it "
              "trained with another --batch or --limit-train?)\n",
              args->resume, (unsigned long long)steps, steps_per_epoch);
      goto fail;
    }
    start_epoch = steps / (uint64_t)steps_per_epoch > (uint64_t)MAX_EPOCHS
                      ? MAX_EPOCHS
                      : (int)(steps / (uint64_t)steps_per_epoch);
  }

  if (args->stats) {
    if (!api->stats || !api->stats_record || api->n_layers < 1) {
      fprintf(stderr, "error: model '%s' was built without statistics (nnc build --stats)\n", api->name);
      goto fail;
    }
    if (!(s.layers = alloc_array((size_t)api->n_layers, sizeof *s.layers))) goto oom;
    if (!(s.stats = fopen(args->stats, "w"))) {
      fprintf(stderr, "error: %s: cannot write the statistics: %s\n", args->stats, strerror(errno));
      goto fail;
    }
    fputs("step,epoch,layer,op,depth,act_mean,act_var,grad_norm,dead_frac,loss,model\n", s.stats);
  }
  started = 1;
  if (ranks_failed(api, 0)) goto fail; /* another rank could not start: it said why */

  printf("model %s: %s parameters; %s training and %s test examples; batch %d, seed %llu\n",
         api->name, fmt_count(c1, sizeof c1, (double)api->n_params),
         fmt_count(c2, sizeof c2, (double)s.train.n), fmt_count(c3, sizeof c3, (double)s.test.n),
         args->batch, (unsigned long long)args->seed);
  if (args->resume) printf("resumed from %s after epoch %d\n", args->resume, start_epoch);
  if (start_epoch >= args->epochs) {
    printf("nothing to train: %d of %d epochs done;  ", start_epoch, args->epochs);
    print_metric(api, evaluate(api, s.model, &s.test, args->batch, s.xb, s.out));
    printf("\n");
  }
  fflush(stdout);

#ifdef NNRT_HAVE_ISATTY
  progress = rank0 && !args->quiet && isatty(fileno(stderr));
#else
  progress = 0;
#endif

  for (epoch = start_epoch; epoch < args->epochs; epoch++) {
    double t0 = now_seconds(), last_shown = 0, loss_sum = 0, seconds, metric;
    long b, done = 0;
    int record = 0;
    epoch_permutation(s.perm, s.train.n, args->seed, epoch);
    for (b = 0; b < steps_per_epoch; b++) {
      long first = b * args->batch, lo, hi;
      int n = s.train.n - first < args->batch ? (int)(s.train.n - first) : args->batch, i;
      float loss;
      /* Gather the batch's examples (this rank's share of them) in permutation order (IDX bytes
         become floats here). */
      share_of(api, n, &lo, &hi);
      nnrt_dataset_inputs(&s.train, s.perm, first + lo, (int)(hi - lo), s.xb);
      for (i = 0; i < hi - lo; i++) {
        long e = s.perm[first + lo + i];
        if (labels)
          s.yb[i] = s.train.labels[e];
        else
          memcpy(s.tb + (size_t)i * (size_t)api->target_size,
                 s.train.targets + (size_t)e * (size_t)api->target_size,
                 (size_t)api->target_size * sizeof(float));
      }
      if (s.stats) {
        /* the step count after this step, as the model numbers it */
        uint64_t step = (uint64_t)epoch * (uint64_t)steps_per_epoch + (uint64_t)b + 1;
        record = args->stats_every ? step % (uint64_t)args->stats_every == 0 : b + 1 == steps_per_epoch;
        api->stats_record(s.model, record);
      }
      loss = labels ? api->train_step_label(s.model, s.xb, s.yb, (int)(hi - lo))
                    : api->train_step_target(s.model, s.xb, s.tb, (int)(hi - lo));
      if (!isfinite(loss)) {
        if (progress) fprintf(stderr, "\n");
        /* train_step refuses (NaN) a step whose loss or any gradient is not finite (with MPI on
           every rank at once: rank 0 says so) */
        if (rank0)
          fprintf(stderr,
                  "error: the loss or a gradient became NaN or infinite at epoch %d, batch %ld of %ld; "
                  "stopping without that step (a smaller learning rate may help)\n",
                  epoch + 1, b + 1, steps_per_epoch);
        goto fail;
      }
      if (record && write_stats(api, args, &s, epoch, loss) != 0) goto fail;
      loss_sum += (double)loss * n;
      done += n;
      if (progress) {
        double t = now_seconds();
        if (t - last_shown >= 0.2 || b + 1 == steps_per_epoch) {
          last_shown = t;
          fprintf(stderr, "\repoch %d/%d  batch %ld/%ld  %s ex/s  loss %.4f   ", epoch + 1,
                  args->epochs, b + 1, steps_per_epoch,
                  fmt_count(c1, sizeof c1, t > t0 ? (double)done / (t - t0) : 0), loss_sum / (double)done);
          fflush(stderr);
        }
      }
    }
    seconds = now_seconds() - t0;
    if (progress) fprintf(stderr, "\r%79s\r", "");
    metric = evaluate(api, s.model, &s.test, args->batch, s.xb, s.out);
    printf("epoch %d/%d  loss %.4f  ", epoch + 1, args->epochs, loss_sum / (double)done);
    print_metric(api, metric);
    printf("  (%.1f s, %s ex/s)\n", seconds,
           fmt_count(c1, sizeof c1, seconds > 0 ? (double)done / seconds : 0));
    fflush(stdout);
    nnrt_clear_error();
    if (rank0 && api->save(s.model, ckpt) != 0) {
      fprintf(stderr, "error: %s\n", last_error_or("cannot save the checkpoint"));
      ranks_failed(api, 1);
      goto fail;
    }
    if (ranks_failed(api, 0)) goto fail; /* rank 0 could not save */
    saved = 1;
  }
  if (saved) printf("checkpoint: %s\n", ckpt);
  fflush(stdout);
  state_free(api, &s);
  return 0;

oom:
  fprintf(stderr, "error: out of memory\n");
fail:
  if (!started) ranks_failed(api, 1); /* the others wait to start: they stop too */
  fflush(stdout);
  state_free(api, &s);
  return 1;
}

int nnrt_train_main(const nnrt_model_api *api, int argc, char **argv) {
  nnrt_train_args args;
  int rc = nnrt_train_parse_args(&args, argc, argv, 1, stderr);
  if (rc < 0) return 2;
  if (rc > 0) return 0;
  return run(api, &args);
}
