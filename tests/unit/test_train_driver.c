/* test_train_driver.c — nnrt_train_parse_args and nnrt_train_main end to end.
 *
 * The model is written by hand here, in the shape nnc emits: linear softmax regression (or
 * linear least squares for the target variant) behind an nnrt_model_api, with its parameters and
 * step count saved through nnrt_checkpoint_save. The data is a small synthetic IDX set (class c
 * lights up row c of a 4x4 image) written to a fresh folder under /tmp, plus a CSV for
 * regression. The driver prints its usual lines to stdout/stderr; the tests check exit codes,
 * files and what the trained model predicts.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nnrt.h"
#include "scratch_dir.h"
#include "nnrt_data.h"
#include "nnrt_train.h"

/* ---- the hand-written model ---- */

#define IN 16
#define MAX_K 3

typedef struct tiny {
  int max_batch, k, regression;
  float params[MAX_K * IN + MAX_K]; /* W [k, IN] then b [k] */
  uint64_t steps;
  float *out;                       /* [max_batch, k] scratch */
} tiny;

static int tiny_k = MAX_K, tiny_regression = 0; /* what create() builds */

static void *tiny_create(int max_batch, uint64_t seed) {
  tiny *m = calloc(1, sizeof *m);
  nnrt_rng rng;
  int i;
  if (!m) return NULL;
  m->max_batch = max_batch;
  m->k = tiny_k;
  m->regression = tiny_regression;
  m->out = calloc((size_t)max_batch * (size_t)m->k, sizeof(float));
  if (!m->out) {
    free(m);
    return NULL;
  }
  nnrt_rng_seed(&rng, seed);
  for (i = 0; i < m->k * IN; i++) m->params[i] = (float)(0.01 * nnrt_rng_normal(&rng));
  return m;
}

static void tiny_destroy(void *model) {
  tiny *m = model;
  free(m->out);
  free(m);
}

/* out[i, j] = b[j] + sum_d W[j, d] x[i, d] */
static void tiny_forward(void *model, const float *x, int n, float *out) {
  tiny *m = model;
  int i, j, d;
  for (i = 0; i < n; i++)
    for (j = 0; j < m->k; j++) {
      float s = m->params[m->k * IN + j];
      for (d = 0; d < IN; d++) s += m->params[j * IN + d] * x[i * IN + d];
      out[i * m->k + j] = s;
    }
}

/* One SGD step (lr 0.5) given dL/dout in m->out; returns nothing. */
static void tiny_sgd(tiny *m, const float *x, int n) {
  int i, j, d;
  for (i = 0; i < n; i++)
    for (j = 0; j < m->k; j++) {
      float g = m->out[i * m->k + j];
      for (d = 0; d < IN; d++) m->params[j * IN + d] -= 0.5f * g * x[i * IN + d];
      m->params[m->k * IN + j] -= 0.5f * g;
    }
  m->steps++;
}

static long label_steps_taken; /* by every tiny model: shows whether training started */

/* Mean softmax cross-entropy; dL/dlogits = (softmax - onehot) / n. */
static float tiny_step_label(void *model, const float *x, const int32_t *y, int n) {
  tiny *m = model;
  double loss = 0;
  int i, j;
  label_steps_taken++;
  tiny_forward(m, x, n, m->out);
  for (i = 0; i < n; i++) {
    float *o = m->out + i * m->k, mx = o[0], sum = 0;
    for (j = 1; j < m->k; j++) mx = o[j] > mx ? o[j] : mx;
    for (j = 0; j < m->k; j++) sum += o[j] = expf(o[j] - mx);
    loss -= log(o[y[i]] / sum);
    for (j = 0; j < m->k; j++) o[j] = (o[j] / sum - (j == y[i])) / (float)n;
  }
  tiny_sgd(m, x, n);
  return (float)(loss / n);
}

/* Mean squared error over examples and outputs; dL/dout = 2 (out - t) / (n k). */
static float tiny_step_target(void *model, const float *x, const float *t, int n) {
  tiny *m = model;
  double loss = 0;
  int i;
  tiny_forward(m, x, n, m->out);
  for (i = 0; i < n * m->k; i++) {
    float e = m->out[i] - t[i];
    loss += (double)e * e;
    m->out[i] = 0.1f * 2 * e / (float)(n * m->k); /* 0.1: least squares wants a smaller step */
  }
  tiny_sgd(m, x, n);
  return (float)(loss / (n * m->k));
}

static void tiny_sections(const tiny *m, nnrt_section s[2]) {
  memset(s, 0, sizeof(nnrt_section) * 2);
  s[0].name = "params", s[0].data = (void *)m->params;
  s[0].bytes = sizeof(float) * (size_t)(m->k * IN + m->k);
  s[1].name = "step", s[1].data = (void *)&m->steps, s[1].bytes = sizeof m->steps;
}

static int tiny_save(const void *model, const char *path) {
  nnrt_section s[2];
  tiny_sections(model, s);
  return nnrt_checkpoint_save(path, "tiny", 0x7777, s, 2);
}

static int tiny_load(void *model, const char *path) {
  nnrt_section s[2];
  tiny_sections(model, s);
  return nnrt_checkpoint_load(path, "tiny", 0x7777, s, 2);
}

static uint64_t tiny_steps(const void *model) { return ((const tiny *)model)->steps; }

/* --stats: a stand-in for the generated statistics, two layers whose act_var is the step */
static int tiny_recording;
static void tiny_stats_record(void *model, int on) {
  (void)model;
  tiny_recording = on;
}
static uint64_t tiny_stats(const void *model, nnrt_layer_stats *out, int cap) {
  int l;
  for (l = 0; l < 2 && l < cap; l++) {
    out[l].layer = l ? "b.1/relu.1" : "dense.1";
    out[l].op = l ? "relu" : "dense";
    out[l].depth = l;
    out[l].act_mean = 0.5, out[l].act_var = (double)tiny_steps(model), out[l].grad_norm = NAN, out[l].dead_frac = 0.25;
  }
  return tiny_recording ? tiny_steps(model) : 0;
}

static float nan_step(void *model, const float *x, const int32_t *y, int n) {
  tiny_step_label(model, x, y, n);
  return NAN;
}

static nnrt_model_api tiny_api(void) {
  nnrt_model_api a;
  memset(&a, 0, sizeof a);
  a.name = "tiny";
  a.in_size = IN;
  a.in_rank = 3;
  a.in_shape[0] = 1, a.in_shape[1] = 4, a.in_shape[2] = 4;
  a.out_size = MAX_K;
  a.n_classes = MAX_K;
  a.n_params = MAX_K * IN + MAX_K;
  a.flops_per_example = 2.0 * MAX_K * IN;
  a.create = tiny_create;
  a.destroy = tiny_destroy;
  a.forward = tiny_forward;
  a.train_step_label = tiny_step_label;
  a.save = tiny_save;
  a.load = tiny_load;
  a.steps = tiny_steps;
  tiny_k = MAX_K;
  tiny_regression = 0;
  return a;
}

/* ---- fixture: a folder with the synthetic data ---- */

#define N_TRAIN 250 /* not a multiple of the batch: the last batch is partial */
#define N_TEST 60

typedef struct fixture {
  char dir[64];
  char train_images[128], train_labels[128], test_images[128], test_labels[128];
  char csv_train[128], csv_test[128];
  char cache[80]; /* NNC_CACHE_DIR */
} fixture;

static void write_idx_pair(const char *images, const char *labels, int n, uint64_t seed, int gz) {
  unsigned char *img = malloc(16 + (size_t)n * IN), lab[8 + 512];
  nnrt_rng rng;
  int i, d;
  gzFile g;
  assert_non_null(img);
  assert_true(n <= 512);
  nnrt_rng_seed(&rng, seed);
  memcpy(img, "\0\0\x08\x03", 4);
  memcpy(lab, "\0\0\x08\x01", 4);
  for (i = 0; i < 4; i++) {
    img[4 + i] = (unsigned char)(n >> (24 - 8 * i));
    lab[4 + i] = img[4 + i];
  }
  memcpy(img + 8, "\0\0\0\x04\0\0\0\x04", 8);
  for (i = 0; i < n; i++) {
    int c = (int)(nnrt_rng_next(&rng) % 3);
    lab[8 + i] = (unsigned char)c;
    for (d = 0; d < IN; d++)
      img[16 + i * IN + d] =
          (unsigned char)((d / 4 == c ? 120 : 0) + (int)(nnrt_rng_uniform(&rng) * 100));
  }
  g = gzopen(images, gz ? "wb" : "wbT"); /* "T": write without compression */
  assert_non_null(g);
  assert_int_equal(gzwrite(g, img, 16 + (unsigned)n * IN), 16 + n * IN);
  assert_int_equal(gzclose(g), Z_OK);
  g = gzopen(labels, gz ? "wb" : "wbT");
  assert_non_null(g);
  assert_int_equal(gzwrite(g, lab, 8 + (unsigned)n), 8 + n);
  assert_int_equal(gzclose(g), Z_OK);
  free(img);
}

/* y = 2 x0 - x5 + 0.5, with the rest of the 16 inputs noise. */
static void write_regression_csv(const char *path, int n, uint64_t seed) {
  FILE *f = fopen(path, "w");
  nnrt_rng rng;
  int i, d;
  assert_non_null(f);
  nnrt_rng_seed(&rng, seed);
  fprintf(f, "y");
  for (d = 0; d < IN; d++) fprintf(f, ",x%d", d);
  fprintf(f, "\n");
  for (i = 0; i < n; i++) {
    float x[IN];
    for (d = 0; d < IN; d++) x[d] = (float)nnrt_rng_normal(&rng);
    fprintf(f, "%.6g", 2 * x[0] - x[5] + 0.5);
    for (d = 0; d < IN; d++) fprintf(f, ",%.6g", x[d]);
    fprintf(f, "\n");
  }
  assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  strcpy(f->dir, "/tmp/nnrt-train-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->train_images, 128, "%s/train-images-idx3-ubyte", f->dir);
  snprintf(f->train_labels, 128, "%s/train-labels-idx1-ubyte", f->dir);
  snprintf(f->test_images, 128, "%s/t10k-images-idx3-ubyte.gz", f->dir);
  snprintf(f->test_labels, 128, "%s/t10k-labels-idx1-ubyte.gz", f->dir);
  snprintf(f->csv_train, 128, "%s/reg-train.csv", f->dir);
  snprintf(f->csv_test, 128, "%s/reg-test.csv", f->dir);
  write_idx_pair(f->train_images, f->train_labels, N_TRAIN, 11, 0);
  write_idx_pair(f->test_images, f->test_labels, N_TEST, 12, 1);
  write_regression_csv(f->csv_train, 200, 21);
  write_regression_csv(f->csv_test, 50, 22);
  /* the driver caches gzip IDX files (the test set here): in this folder, not the user's */
  snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
  setenv("NNC_CACHE_DIR", f->cache, 1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scratch_dir_remove(f->dir);
  free(f);
  return 0;
}

/* Runs nnrt_train_main on a NULL-terminated list of arguments. */
static int train(const nnrt_model_api *api, const char *first, ...) {
  char *argv[64];
  int argc = 0;
  const char *a;
  va_list ap;
  argv[argc++] = (char *)"trainer";
  va_start(ap, first);
  for (a = first; a; a = va_arg(ap, const char *)) {
    assert_true(argc < 63);
    argv[argc++] = (char *)a;
  }
  va_end(ap);
  argv[argc] = NULL;
  fflush(stdout);
  return nnrt_train_main(api, argc, argv);
}

static int file_exists(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

/* the entries of a folder, . and .. left out */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = malloc(1 << 16);
  assert_non_null(f);
  assert_non_null(buf);
  *n = fread(buf, 1, 1 << 16, f);
  fclose(f);
  return buf;
}

/* Runs f(arg) with stderr going to PATH, and returns what it wrote there (NUL-terminated). */
static char *stderr_of(const char *path, int (*f)(const void *), const void *arg, int *rc) {
  size_t n;
  int saved;
  fflush(stderr);
  saved = dup(2);
  assert_true(saved >= 0);
  assert_non_null(freopen(path, "w", stderr));
  *rc = f(arg);
  fflush(stderr);
  assert_int_equal(dup2(saved, 2), 2);
  close(saved);
  char *text = (char *)read_all(path, &n);
  text[n < (1 << 16) ? n : (1 << 16) - 1] = 0;
  return text;
}

/* ---- argument parsing ---- */

/* Parses argv (after a program name) and returns what was written to err. */
static int parse(nnrt_train_args *args, char *out, size_t out_size, const char *first, ...) {
  char *argv[32];
  int argc = 0, rc;
  const char *a;
  va_list ap;
  FILE *err = tmpfile();
  size_t n;
  assert_non_null(err);
  argv[argc++] = (char *)"nnc-train";
  va_start(ap, first);
  for (a = first; a; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
  va_end(ap);
  rc = nnrt_train_parse_args(args, argc, argv, 1, err);
  rewind(err);
  n = fread(out, 1, out_size - 1, err);
  out[n] = '\0';
  fclose(err);
  return rc;
}

static void test_parse_defaults(void **state) {
  nnrt_train_args a;
  char err[4096];
  (void)state;
  assert_int_equal(parse(&a, err, sizeof err, (const char *)NULL), 0);
  assert_string_equal(err, "");
  assert_string_equal(a.data_dir, "/usr/share/datasets/fashion-mnist");
  assert_int_equal(a.epochs, 1);
  assert_int_equal(a.batch, 128);
  assert_true(a.seed == 1);
  assert_int_equal(a.threads, 1);
  assert_int_equal(a.standardize, 1);
  assert_int_equal(a.no_cache, 0);
  assert_int_equal(a.quiet, 0);
  assert_null(a.checkpoint);
  assert_null(a.resume);
  assert_null(a.train_images);
  assert_null(a.train_csv);
  assert_int_equal(a.limit_train, 0);
}

static void test_parse_flags(void **state) {
  nnrt_train_args a;
  char err[4096];
  (void)state;
  assert_int_equal(parse(&a, err, sizeof err, "--epochs", "3", "--batch=32", "--seed",
                         "18446744073709551615", "--threads=4", "--checkpoint", "m.ckpt",
                         "--resume=old.ckpt", "--no-standardize", "--limit-train", "1000",
                         "--limit-test=0", "--quiet", "--data", "/d", "--train-images", "ti",
                         "--test-labels=tl", "--no-cache", (const char *)NULL),
                   0);
  assert_int_equal(a.no_cache, 1);
  assert_int_equal(a.epochs, 3);
  assert_int_equal(a.batch, 32);
  assert_true(a.seed == UINT64_MAX);
  assert_int_equal(a.threads, 4);
  assert_string_equal(a.checkpoint, "m.ckpt");
  assert_string_equal(a.resume, "old.ckpt");
  assert_int_equal(a.standardize, 0);
  assert_int_equal(a.limit_train, 1000);
  assert_int_equal(a.limit_test, 0);
  assert_int_equal(a.quiet, 1);
  assert_string_equal(a.data_dir, "/d");
  assert_string_equal(a.train_images, "ti");
  assert_string_equal(a.test_labels, "tl");
  assert_null(a.train_labels);

  assert_int_equal(parse(&a, err, sizeof err, "--train-csv", "a.csv", "--test-csv=b.csv",
                         "--epochs", "0", (const char *)NULL),
                   0);
  assert_string_equal(a.train_csv, "a.csv");
  assert_string_equal(a.test_csv, "b.csv");
  assert_int_equal(a.epochs, 0);

  assert_int_equal(parse(&a, err, sizeof err, "--stats", "s.csv", "--stats-every=47", (const char *)NULL), 0);
  assert_string_equal(a.stats, "s.csv");
  assert_int_equal(a.stats_every, 47);
  assert_int_equal(parse(&a, err, sizeof err, "--stats=t.csv", (const char *)NULL), 0);
  assert_string_equal(a.stats, "t.csv");
  assert_int_equal(a.stats_every, 0); /* each epoch's last step */

  assert_int_equal(parse(&a, err, sizeof err, "--quiet", "--help", (const char *)NULL), 1);
  assert_non_null(strstr(err, "--limit-train N"));
}

static void expect_parse_error(const char *message, const char *first, ...) {
  nnrt_train_args a;
  char *argv[32], err[4096], expect[512];
  int argc = 0;
  const char *s;
  va_list ap;
  FILE *ferr = tmpfile();
  size_t n;
  assert_non_null(ferr);
  argv[argc++] = (char *)"nnc-train";
  va_start(ap, first);
  for (s = first; s; s = va_arg(ap, const char *)) argv[argc++] = (char *)s;
  va_end(ap);
  assert_int_equal(nnrt_train_parse_args(&a, argc, argv, 1, ferr), -1);
  rewind(ferr);
  n = fread(err, 1, sizeof err - 1, ferr);
  err[n] = '\0';
  fclose(ferr);
  snprintf(expect, sizeof expect, "error: %s\n(--help lists the flags)\n", message);
  assert_string_equal(err, expect);
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_parse_error("--epochs: '1x' is not a whole number", "--epochs", "1x", (const char *)NULL);
  expect_parse_error("--epochs: ' 1' is not a whole number", "--epochs", " 1", (const char *)NULL);
  expect_parse_error("--epochs: '+1' is not a whole number", "--epochs=+1", (const char *)NULL);
  expect_parse_error("--epochs must not be negative (got '-1')", "--epochs", "-1",
                     (const char *)NULL);
  expect_parse_error("--epochs needs a number", "--epochs", (const char *)NULL);
  expect_parse_error("--epochs needs a number", "--epochs=", (const char *)NULL);
  expect_parse_error("--epochs: 99999999999999999999999 is too large (at most 1000000)",
                     "--epochs", "99999999999999999999999", (const char *)NULL);
  expect_parse_error("--batch must be at least 1", "--batch", "0", (const char *)NULL);
  expect_parse_error("--batch: 3000000000 is too large (at most 16777216)", "--batch=3000000000",
                     (const char *)NULL);
  expect_parse_error("--seed: 18446744073709551616 is too large (at most 18446744073709551615)",
                     "--seed", "18446744073709551616", (const char *)NULL);
  expect_parse_error("--threads must be at least 1", "--threads", "0", (const char *)NULL);
  expect_parse_error("--threads: 257 is too large (at most 256)", "--threads", "257", (const char *)NULL);
  expect_parse_error("unknown flag '--epoch'", "--epoch", "3", (const char *)NULL);
  expect_parse_error("unknown flag '--quieter'", "--quieter", (const char *)NULL);
  expect_parse_error("unexpected argument 'model.nn'", "model.nn", (const char *)NULL);
  expect_parse_error("--quiet takes no value (got '1')", "--quiet=1", (const char *)NULL);
  expect_parse_error("--checkpoint needs a file name", "--checkpoint", (const char *)NULL);
  expect_parse_error("--checkpoint needs a file name", "--checkpoint", "--quiet",
                     (const char *)NULL);
  expect_parse_error("--data needs a folder", "--data=", (const char *)NULL);
  expect_parse_error("--stats needs a file name", "--stats", (const char *)NULL);
  expect_parse_error("--stats-every must be at least 1", "--stats", "s.csv", "--stats-every", "0", (const char *)NULL);
  expect_parse_error("--stats-every needs --stats FILE", "--stats-every", "10", (const char *)NULL);
  expect_parse_error("--train-csv needs --test-csv too", "--train-csv", "a.csv",
                     (const char *)NULL);
  expect_parse_error("--train-csv cannot be combined with --data or IDX files", "--train-csv",
                     "a.csv", "--test-csv", "b.csv", "--data", "/d", (const char *)NULL);
}

/* ---- end to end ---- */

/* Accuracy of the model in checkpoint `path` on the test set, standardized as the driver does. */
static double checkpoint_accuracy(const fixture *f, const char *path) {
  nnrt_model_api api = tiny_api();
  nnrt_dataset train, test;
  float mean, std, out[N_TEST * MAX_K], *x;
  void *m;
  int i, j, correct = 0;
  assert_int_equal(nnrt_dataset_load_idx(&train, f->train_images, f->train_labels, 0), 0);
  assert_int_equal(nnrt_dataset_load_idx(&test, f->test_images, f->test_labels, 0), 0);
  nnrt_dataset_stats(&train, &mean, &std);
  nnrt_dataset_standardize(&test, mean, std);
  m = api.create(N_TEST, 1);
  assert_int_equal(api.load(m, path), 0);
  x = malloc(sizeof(float) * N_TEST * (size_t)test.dim);
  assert_non_null(x);
  nnrt_dataset_inputs(&test, NULL, 0, N_TEST, x);
  api.forward(m, x, N_TEST, out);
  free(x);
  for (i = 0; i < N_TEST; i++) {
    int best = 0;
    for (j = 1; j < MAX_K; j++)
      if (out[i * MAX_K + j] > out[i * MAX_K + best]) best = j;
    correct += best == test.labels[i];
  }
  api.destroy(m);
  nnrt_dataset_free(&train);
  nnrt_dataset_free(&test);
  return (double)correct / N_TEST;
}

/* Mean squared error of the regression model in checkpoint `path` on the test CSV (standardized as
   the driver does), and in *variance the targets' own variance (the error of predicting their mean). */
static double checkpoint_regression_mse(const fixture *f, const char *path, double *variance) {
  nnrt_model_api api = tiny_api();
  nnrt_dataset train, test;
  float mean, std, out[50];
  double sum = 0, sq = 0, err = 0;
  void *m;
  int i;
  tiny_k = 1;
  tiny_regression = 1;
  assert_int_equal(nnrt_dataset_load_csv(&train, f->csv_train, 1, 0), 0);
  assert_int_equal(nnrt_dataset_load_csv(&test, f->csv_test, 1, 0), 0);
  assert_int_equal(test.n, 50);
  nnrt_dataset_stats(&train, &mean, &std);
  nnrt_dataset_standardize(&test, mean, std);
  m = api.create(test.n, 1);
  assert_int_equal(api.load(m, path), 0);
  api.forward(m, test.x, test.n, out);
  for (i = 0; i < test.n; i++) {
    sum += test.targets[i];
    sq += (double)test.targets[i] * test.targets[i];
    err += ((double)out[i] - test.targets[i]) * ((double)out[i] - test.targets[i]);
  }
  *variance = sq / test.n - (sum / test.n) * (sum / test.n);
  err /= test.n;
  api.destroy(m);
  nnrt_dataset_free(&train);
  nnrt_dataset_free(&test);
  tiny_k = MAX_K;
  tiny_regression = 0;
  return err;
}

static void test_train_learns_and_resumes(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api();
  char ck_a[256], ck_b[256], ck_c[256];
  unsigned char *a, *c;
  size_t na, nc;
  snprintf(ck_a, sizeof ck_a, "%s/a.ckpt", f->dir);
  snprintf(ck_b, sizeof ck_b, "%s/b.ckpt", f->dir);
  snprintf(ck_c, sizeof ck_c, "%s/c.ckpt", f->dir);

  /* Two epochs straight through, finding the files in --data. */
  assert_int_equal(train(&api, "--data", f->dir, "--epochs", "2", "--batch", "32", "--seed", "5",
                         "--checkpoint", ck_a, "--quiet", (const char *)NULL),
                   0);
  assert_true(file_exists(ck_a));
  assert_true(checkpoint_accuracy(f, ck_a) > 0.8); /* chance is 1/3 */

  /* One epoch, then resume to two: the same bytes as the straight run. */
  assert_int_equal(train(&api, "--train-images", f->train_images, "--train-labels",
                         f->train_labels, "--test-images", f->test_images, "--test-labels",
                         f->test_labels, "--epochs", "1", "--batch", "32", "--seed", "5",
                         "--checkpoint", ck_b, "--quiet", (const char *)NULL),
                   0);
  assert_int_equal(train(&api, "--data", f->dir, "--epochs", "2", "--batch", "32", "--seed", "5",
                         "--resume", ck_b, "--checkpoint", ck_c, "--quiet", (const char *)NULL),
                   0);
  a = read_all(ck_a, &na);
  c = read_all(ck_c, &nc);
  assert_int_equal(na, nc);
  assert_memory_equal(a, c, na);
  free(a);
  free(c);

  /* Nothing left to train: evaluates, succeeds, writes nothing. */
  remove(ck_c);
  assert_int_equal(train(&api, "--data", f->dir, "--epochs", "1", "--batch", "32", "--resume",
                         ck_b, "--checkpoint", ck_c, "--quiet", (const char *)NULL),
                   0);
  assert_false(file_exists(ck_c));

  /* 8 steps do not make whole epochs of 5 steps (batch 50). */
  assert_int_equal(train(&api, "--data", f->dir, "--epochs", "2", "--batch", "50", "--resume",
                         ck_b, "--checkpoint", ck_c, "--quiet", (const char *)NULL),
                   1);
  assert_false(file_exists(ck_c));

  /* A different seed gives a different model. */
  assert_int_equal(train(&api, "--data", f->dir, "--epochs", "2", "--batch", "32", "--seed", "6",
                         "--checkpoint", ck_c, "--quiet", (const char *)NULL),
                   0);
  a = read_all(ck_a, &na);
  c = read_all(ck_c, &nc);
  assert_int_equal(na, nc);
  assert_true(memcmp(a, c, na) != 0);
  free(a);
  free(c);
}

/* Training reads gzip IDX files from the cache when one is there: the same checkpoint to the byte
 * without the cache (--no-cache, which leaves none), building it, and reading it. */
static void test_train_cache(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api();
  char ck[3][256], gz_dir[200], ti[256], tl[256];
  unsigned char *first;
  size_t n_first;
  int k;
  snprintf(gz_dir, sizeof gz_dir, "%s/gz", f->dir);
  assert_int_equal(mkdir(gz_dir, 0700), 0);
  snprintf(ti, sizeof ti, "%s/train-images-idx3-ubyte.gz", gz_dir);
  snprintf(tl, sizeof tl, "%s/train-labels-idx1-ubyte.gz", gz_dir);
  write_idx_pair(ti, tl, N_TRAIN, 11, 1);
  for (k = 0; k < 3; k++) {
    snprintf(ck[k], sizeof ck[k], "%s/cache-%d.ckpt", f->dir, k);
    assert_int_equal(train(&api, "--train-images", ti, "--train-labels", tl, "--test-images",
                           f->test_images, "--test-labels", f->test_labels, "--epochs", "2",
                           "--batch", "32", "--checkpoint", ck[k], "--quiet",
                           k == 0 ? "--no-cache" : (const char *)NULL, (const char *)NULL),
                     0);
    if (k == 0) assert_false(file_exists(f->cache));
  }
  assert_int_equal(count_entries(f->cache), 4); /* two pairs of IDX files */
  first = read_all(ck[0], &n_first);
  for (k = 1; k < 3; k++) {
    size_t n;
    unsigned char *other = read_all(ck[k], &n);
    assert_int_equal(n, n_first);
    assert_memory_equal(other, first, n);
    free(other);
  }
  free(first);
}

static void test_train_default_checkpoint(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api();
  char cwd[1024], path[256];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(f->dir), 0);
  assert_int_equal(train(&api, "--data", ".", "--limit-train", "100", "--limit-test", "10",
                         "--no-standardize", "--quiet", (const char *)NULL),
                   0);
  assert_int_equal(chdir(cwd), 0);
  snprintf(path, sizeof path, "%s/tiny.ckpt", f->dir);
  assert_true(file_exists(path));
}

static void test_train_regression_csv(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api();
  char ck[256];
  snprintf(ck, sizeof ck, "%s/reg.ckpt", f->dir);
  tiny_k = 1;
  tiny_regression = 1;
  api.n_classes = 0;
  api.out_size = 1;
  api.target_size = 1;
  api.train_step_label = NULL;
  api.train_step_target = tiny_step_target;
  assert_int_equal(train(&api, "--train-csv", f->csv_train, "--test-csv", f->csv_test, "--epochs",
                         "3", "--batch", "16", "--checkpoint", ck, "--quiet", (const char *)NULL),
                   0);
  assert_true(file_exists(ck));
  /* y = 2 x0 - x5 + 0.5 on the test set, learnt from the training set's targets */
  double variance, mse = checkpoint_regression_mse(f, ck, &variance);
  printf("regression: test mse %.4g, the targets' variance %.4g\n", mse, variance);
  assert_true(variance > 2);
  assert_true(mse < 0.02 * variance);
  /* IDX files hold labels, not targets. */
  remove(ck);
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", ck, "--quiet", (const char *)NULL),
                   1);
  assert_false(file_exists(ck));
}

static const nnrt_model_api *two_classes_api;
static const char *two_classes_dir, *two_classes_ckpt;
static int train_two_classes(const void *unused) {
  (void)unused;
  return train(two_classes_api, "--data", two_classes_dir, "--checkpoint", two_classes_ckpt, "--quiet",
               (const char *)NULL);
}

static void test_train_errors(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api(), bad;
  char ck[256], missing[256];
  snprintf(ck, sizeof ck, "%s/e.ckpt", f->dir);
  snprintf(missing, sizeof missing, "%s/nope/e.ckpt", f->dir);

  assert_int_equal(train(&api, "--epochs", "x", (const char *)NULL), 2);
  assert_int_equal(train(&api, "--help", (const char *)NULL), 0);
  assert_int_equal(train(&api, "--data", missing, "--quiet", (const char *)NULL), 1);
  assert_int_equal(train(&api, "--data", f->dir, "--resume", missing, "--checkpoint", ck,
                         "--quiet", (const char *)NULL),
                   1);

  bad = api; /* the data does not fit the model */
  bad.in_size = 15;
  assert_int_equal(train(&bad, "--data", f->dir, "--checkpoint", ck, "--quiet", (const char *)NULL),
                   1);
  bad = api; /* labels 0..2 but only two classes: the error names the labels' file, not the images' */
  bad.n_classes = 2;
  two_classes_api = &bad;
  two_classes_dir = f->dir;
  two_classes_ckpt = ck;
  char err_path[300];
  snprintf(err_path, sizeof err_path, "%s/stderr.txt", f->dir);
  int rc;
  char *text = stderr_of(err_path, train_two_classes, NULL, &rc);
  assert_int_equal(rc, 1);
  char want[300];
  snprintf(want, sizeof want, "error: %s: label 2 of example", f->train_labels);
  if (!strstr(text, want)) fail_msg("expected '%s' in:\n%s", want, text);
  free(text);
  bad = api;
  bad.train_step_label = nan_step;
  assert_int_equal(train(&bad, "--data", f->dir, "--checkpoint", ck, "--quiet", (const char *)NULL),
                   1);
  assert_false(file_exists(ck));
  bad = api;
  bad.steps = NULL;
  assert_int_equal(train(&bad, "--data", f->dir, "--resume", ck, "--quiet", (const char *)NULL), 1);

  /* A checkpoint that cannot be written fails the run before the first step, not after an epoch:
     in a missing folder, or a path that is a folder. */
  label_steps_taken = 0;
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", missing, "--quiet",
                         (const char *)NULL),
                   1);
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", f->dir, "--quiet",
                         (const char *)NULL),
                   1);
  assert_int_equal(label_steps_taken, 0);
  assert_int_equal(nnrt_train_check_checkpoint(missing), -1);
  assert_int_equal(nnrt_train_check_checkpoint(f->dir), -1);
  assert_int_equal(nnrt_train_check_checkpoint(ck), 0);
  assert_false(file_exists(ck)); /* the probe leaves nothing behind */
}

/* The steps column of a --stats CSV, space-separated, one per row ("" if unreadable). */
static void stats_steps(const char *path, char *out, size_t size) {
  char line[512];
  size_t used = 0;
  FILE *f = fopen(path, "r");
  out[0] = '\0';
  if (!f) return;
  if (fgets(line, sizeof line, f))
    assert_string_equal(line, "step,epoch,layer,op,depth,act_mean,act_var,grad_norm,dead_frac,loss,model\n");
  while (fgets(line, sizeof line, f) && used + 16 < size)
    used += (size_t)snprintf(out + used, size - used, "%s%ld", used ? " " : "", strtol(line, NULL, 10));
  fclose(f);
}

static void test_train_stats(void **state) {
  fixture *f = *state;
  nnrt_model_api api = tiny_api();
  char ck[256], csv[256], steps[512], line[512];
  FILE *in;
  snprintf(ck, sizeof ck, "%s/s.ckpt", f->dir);
  snprintf(csv, sizeof csv, "%s/s.csv", f->dir);
  /* a model built without statistics: refused before the first step */
  label_steps_taken = 0;
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", ck, "--stats", csv, "--quiet", (const char *)NULL), 1);
  assert_int_equal(label_steps_taken, 0);
  api.n_layers = 2;
  api.stats_record = tiny_stats_record;
  api.stats = tiny_stats;
  /* 250 examples in batches of 50: 5 steps an epoch; by default each epoch's last is recorded */
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", ck, "--stats", csv, "--batch", "50", "--epochs", "2",
                         "--quiet", (const char *)NULL), 0);
  stats_steps(csv, steps, sizeof steps);
  assert_string_equal(steps, "5 5 10 10");
  assert_int_equal(tiny_recording, 1); /* the last step recorded */
  assert_int_equal(train(&api, "--data", f->dir, "--checkpoint", ck, "--stats", csv, "--stats-every", "3", "--batch",
                         "50", "--epochs", "2", "--quiet", (const char *)NULL), 0);
  stats_steps(csv, steps, sizeof steps);
  assert_string_equal(steps, "3 3 6 6 9 9");
  assert_int_equal(tiny_recording, 0); /* step 10 did not record */
  in = fopen(csv, "r");
  assert_non_null(in);
  assert_non_null(fgets(line, sizeof line, in));
  assert_non_null(fgets(line, sizeof line, in));
  assert_non_null(fgets(line, sizeof line, in));
  fclose(in);
  /* the second row: step 3, epoch 1, the layer's name, op and depth, its numbers, the step's loss */
  assert_true(strncmp(line, "3,1,b.1/relu.1,relu,1,0.5,3,nan,0.25,", 37) == 0);
  assert_non_null(strstr(line, ",tiny\n"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_defaults),
      cmocka_unit_test(test_parse_flags),
      cmocka_unit_test(test_parse_errors),
      T(test_train_learns_and_resumes),
      T(test_train_cache),
      T(test_train_default_checkpoint),
      T(test_train_regression_csv),
      T(test_train_errors),
      T(test_train_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
