/* checkpoint.c — checkpoints, determinism and argument checks through the generated API.
 *
 * Built by run_model.cmake against ckpt_a.nn (first: model_config.h names it M) and ckpt_b.nn,
 * both in float, once with BLAS and once with --no-blas (M_BLAS says which), with --debug-api to
 * read the parameters. ckpt_a has dropout (so the generator's state matters), a skip connection,
 * adam with weight decay (so both moment buffers and the step count matter) and a convolution
 * with batchnorm (whose running statistics forward() reads).
 *
 * usage: checkpoint CASE DIR       DIR: a folder for the files (made, or emptied, first)
 *
 *   roundtrip      save -> load into a model made from another seed: bit-identical parameters,
 *                  step count, forward() outputs, and a byte-identical file when saved again
 *   resume         3 steps, save, 3 more  ==  load into a fresh model, 3 steps: bit-identical
 *                  parameters and losses (and a model not resumed differs)
 *   wrong_model    ckpt_b's checkpoint into ckpt_a: -1, nnrt_last_error() is exactly
 *                  "PATH: checkpoint is for model 'ckpt_b', not 'ckpt_a'", model untouched
 *   param_table    a valid file whose parameter table names another parameter: -1, the message
 *                  names the entry, model untouched
 *   corrupt        truncated, one flipped byte, empty, not a checkpoint, missing: -1, the right
 *                  message, model untouched
 *   failed_save    into a missing folder: -1 and a message naming the path; over an existing
 *                  checkpoint while writes fail (RLIMIT_FSIZE): -1, the old file byte-identical
 *                  and loadable, no temporary file left in the folder
 *   seed           same seed: bit-identical initial parameters, losses and parameters after 3
 *                  steps; another seed: different parameters and losses
 *   forward_batch  forward of one example vs the same example inside a batch of 5: bit-identical
 *                  with --no-blas; with BLAS within 1e-6 relative (whether it is also bit-identical
 *                  is printed); forward twice gives the same output, and calling forward between
 *                  train steps does not change training (it draws no random numbers)
 *   forward_chunks forward of n = 10 > max_batch = 4 equals the chunks 4 + 4 + 2 forwarded one by
 *                  one, and a model with max_batch 10 (bit-identical with --no-blas; BLAS: 1e-6)
 *   packed_weights forward keeps the weights packed for its products (BLAS builds on AVX2 CPUs,
 *                  compiler/kernels/gemm.c) until they change: after a step, and after a load
 *                  into a model that has forwarded, its output equals, bit for bit, that of a model
 *                  that loads the same checkpoint and forwards for the first time
 *   bad_args       train_step with n > max_batch, n = 0, a label K or -1, or NULL x: NaN; the
 *                  parameters, the step count and everything else are unchanged (a normal step
 *                  afterwards matches a model that never saw the bad calls, bit for bit);
 *                  max_batch 0 makes NAME_new return NULL; save and load with a NULL model or
 *                  path return -1 and set nnrt_last_error() ("NAME_save: the path is NULL")
 */
#define _POSIX_C_SOURCE 200809L /* setrlimit, opendir: the failed-save case */

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "model_config.h"
#include "ckpt_b.h"
#include "nnrt.h"

#if M_DOUBLE || !M_LABEL
#error "checkpoint.c needs ckpt_a.nn built in float"
#endif

#define BATCH 4
#define N_EX 10

static const char *dir;
static int failed;
static float xs[N_EX * M_IN_SIZE];
static int32_t ys[N_EX];

#define CHECK(cond, ...)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "FAIL (%s:%d): ", __FILE__, __LINE__);                                   \
      fprintf(stderr, __VA_ARGS__);                                                            \
      fprintf(stderr, "\n");                                                                   \
      failed = 1;                                                                              \
    }                                                                                          \
  } while (0)

static char *path_in_dir(const char *name) {
  static char buf[8][1024];
  static int next;
  char *p = buf[next++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", dir, name);
  return p;
}

static void make_data(void) {
  unsigned long long s = 0x243f6a8885a308d3ULL;
  for (int i = 0; i < N_EX * M_IN_SIZE; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    xs[i] = (float)((double)(s >> 11) / 4503599627370496.0 - 1.0) * 2;
  }
  for (int i = 0; i < N_EX; i++) ys[i] = (int32_t)((i * 5 + 2) % M_N_CLASSES);
}

static long n_params(void) { return M(debug_n_params)(); }

static float *snapshot(M_model *m) {
  float *p = malloc(sizeof(float) * (size_t)n_params());
  if (!p) abort();
  memcpy(p, M(debug_params)(m), sizeof(float) * (size_t)n_params());
  return p;
}

static int same_params(M_model *m, const float *p) {
  return memcmp(M(debug_params)(m), p, sizeof(float) * (size_t)n_params()) == 0;
}

/* step k (0-based) trains on examples k % 3 .. + BATCH: varying batches */
static float step(M_model *m, int k) { return M(train_step)(m, xs + (size_t)(k % 3) * M_IN_SIZE, ys + k % 3, BATCH); }

static long file_size(const char *path, unsigned char **data) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *d = malloc((size_t)n + 1);
  if (!d || fread(d, 1, (size_t)n, f) != (size_t)n) abort();
  fclose(f);
  if (data) *data = d;
  else free(d);
  return n;
}

static void write_bytes(const char *path, const unsigned char *d, long n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, (size_t)n, f) != (size_t)n || fclose(f) != 0) abort();
}

static int same_files(const char *a, const char *b) {
  unsigned char *da, *db;
  long na = file_size(a, &da), nb = file_size(b, &db);
  int same = na >= 0 && na == nb && memcmp(da, db, (size_t)na) == 0;
  free(da);
  free(db);
  return same;
}

static void case_roundtrip(void) {
  M_model *a = M(new)(BATCH, 1), *b = M(new)(BATCH, 2);
  for (int k = 0; k < 2; k++) step(a, k);
  CHECK(!same_params(a, M(debug_params)(b)), "two seeds gave the same parameters");
  const char *p1 = path_in_dir("a.ckpt"), *p2 = path_in_dir("b.ckpt");
  CHECK(M(save)(a, p1) == 0, "save: %s", nnrt_last_error());
  CHECK(M(load)(b, p1) == 0, "load: %s", nnrt_last_error());
  CHECK(same_params(b, M(debug_params)(a)), "loaded parameters differ from the saved ones");
  CHECK(M(steps)(b) == 2, "loaded step count %llu, expected 2", (unsigned long long)M(steps)(b));
  /* inference reads batchnorm's running statistics (buffers): they must have come along */
  float out_a[N_EX * M_OUT_SIZE], out_b[N_EX * M_OUT_SIZE];
  M(forward)(a, xs, N_EX, out_a);
  M(forward)(b, xs, N_EX, out_b);
  CHECK(memcmp(out_a, out_b, sizeof out_a) == 0, "the loaded model's forward() differs from the saved one's");
  CHECK(M(save)(b, p2) == 0, "second save: %s", nnrt_last_error());
  CHECK(same_files(p1, p2), "saving the loaded model gave a different file");
  M(free)(a);
  M(free)(b);
}

static void case_resume(void) {
  enum { FIRST = 3, MORE = 3 };
  const char *path = path_in_dir("resume.ckpt");
  M_model *a = M(new)(BATCH, 3);
  for (int k = 0; k < FIRST; k++) step(a, k);
  CHECK(M(save)(a, path) == 0, "save: %s", nnrt_last_error());
  float la[MORE], lb[MORE], lc[MORE];
  for (int k = 0; k < MORE; k++) la[k] = step(a, FIRST + k);

  M_model *b = M(new)(BATCH, 99);
  CHECK(M(load)(b, path) == 0, "load: %s", nnrt_last_error());
  for (int k = 0; k < MORE; k++) lb[k] = step(b, FIRST + k);
  CHECK(memcmp(la, lb, sizeof la) == 0, "losses after resuming differ: %.9g %.9g %.9g vs %.9g %.9g %.9g", la[0],
        la[1], la[2], lb[0], lb[1], lb[2]);
  CHECK(same_params(b, M(debug_params)(a)), "parameters after resuming differ from uninterrupted training");
  CHECK(M(steps)(b) == FIRST + MORE, "step count %llu after resuming", (unsigned long long)M(steps)(b));

  /* the comparison can fail: the same steps from another start (or another random stream) differ */
  M_model *c = M(new)(BATCH, 3);
  for (int k = 0; k < MORE; k++) lc[k] = step(c, FIRST + k);
  CHECK(memcmp(la, lc, sizeof la) != 0, "a model that was not resumed gave the same losses");
  printf("resume: losses %.9g %.9g %.9g (uninterrupted) = %.9g %.9g %.9g (resumed)\n", la[0], la[1], la[2], lb[0],
         lb[1], lb[2]);
  M(free)(a);
  M(free)(b);
  M(free)(c);
}

/* message: the whole error after "PATH: ", or its beginning when prefix is set */
static void expect_load_error(M_model *m, const char *path, const char *message, int prefix) {
  float *before = snapshot(m);
  uint64_t steps = M(steps)(m);
  nnrt_clear_error();
  CHECK(M(load)(m, path) == -1, "loading %s succeeded", path);
  char want[2048];
  snprintf(want, sizeof want, "%s: %s", path, message);
  CHECK(prefix ? strncmp(nnrt_last_error(), want, strlen(want)) == 0 : strcmp(nnrt_last_error(), want) == 0,
        "error \"%s\", expected \"%s\"%s", nnrt_last_error(), want, prefix ? "..." : "");
  CHECK(same_params(m, before), "a failed load (%s) changed the parameters", message);
  CHECK(M(steps)(m) == steps, "a failed load changed the step count");
  free(before);
}

static void case_wrong_model(void) {
  const char *path = path_in_dir("b.ckpt");
  ckpt_b *b = ckpt_b_new(BATCH, 1);
  ckpt_b_train_step(b, xs, ys, BATCH);
  CHECK(ckpt_b_save(b, path) == 0, "save ckpt_b: %s", nnrt_last_error());
  M_model *a = M(new)(BATCH, 1);
  step(a, 0);
  expect_load_error(a, path, "checkpoint is for model 'ckpt_b', not 'ckpt_a'", 0);
  printf("wrong model: %s\n", nnrt_last_error());
  /* and the other way round */
  const char *pa = path_in_dir("a.ckpt");
  CHECK(M(save)(a, pa) == 0, "save ckpt_a: %s", nnrt_last_error());
  CHECK(ckpt_b_load(b, pa) == -1, "ckpt_b loaded ckpt_a's checkpoint");
  M(free)(a);
  ckpt_b_free(b);
}

/* A file whose checksum and hash hold but whose parameter table names another parameter (as a
 * tool that wrote the wrong table would make): refused, naming the entry, model untouched. On
 * ckpt_b (dense.1/weight [3, 6] at params[0], dense.1/bias [3] at params[18]), whose layout the
 * message pins. */
static void case_param_table(void) {
  const char *good = path_in_dir("good.ckpt"), *bad = path_in_dir("bad.ckpt");
  ckpt_b *b = ckpt_b_new(BATCH, 4), *other = ckpt_b_new(BATCH, 9);
  ckpt_b_train_step(b, xs, ys, BATCH);
  CHECK(ckpt_b_save(b, good) == 0, "save: %s", nnrt_last_error());
  unsigned char *d;
  long n = file_size(good, &d), at = -1;
  for (long i = 0; i + 12 <= n && at < 0; i++)
    if (memcmp(d + i, "dense.1/bias", 12) == 0) at = i;
  CHECK(at >= 0, "no 'dense.1/bias' in the checkpoint's parameter table");
  if (at < 0) return;
  d[at + 11] = 'T';
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (long i = 0; i < n - 8; i++) h = (h ^ d[i]) * UINT64_C(0x100000001b3);
  for (int i = 0; i < 8; i++) d[n - 8 + i] = (unsigned char)(h >> (8 * i));
  write_bytes(bad, d, n);
  float before[3 * 6 + 3];
  memcpy(before, ckpt_b_debug_params(other), sizeof before);
  nnrt_clear_error();
  CHECK(ckpt_b_load(other, bad) == -1, "ckpt_b loaded a checkpoint with another parameter table");
  char want[1024];
  snprintf(want, sizeof want,
           "%s: parameter 2 is 'dense.1/biaT' [3] at params[18] in the checkpoint, but 'dense.1/bias' [3] at "
           "params[18] in this model", bad);
  CHECK(strcmp(nnrt_last_error(), want) == 0, "message '%s', expected '%s'", nnrt_last_error(), want);
  CHECK(memcmp(before, ckpt_b_debug_params(other), sizeof before) == 0, "a refused load changed the parameters");
  CHECK(ckpt_b_load(other, good) == 0, "the unchanged file: %s", nnrt_last_error());
  printf("parameter table: %s\n", want);
  free(d);
  ckpt_b_free(b);
  ckpt_b_free(other);
}

static void case_corrupt(void) {
  const char *good = path_in_dir("good.ckpt"), *bad = path_in_dir("bad.ckpt");
  M_model *a = M(new)(BATCH, 4), *m = M(new)(BATCH, 5);
  step(a, 0);
  CHECK(M(save)(a, good) == 0, "save: %s", nnrt_last_error());
  unsigned char *d;
  long n = file_size(good, &d);
  char msg[256];

  write_bytes(bad, d, n / 2);
  snprintf(msg, sizeof msg, "truncated (%ld bytes, expected %ld)", n / 2, n);
  expect_load_error(m, bad, msg, 0);

  write_bytes(bad, d, n - 1);
  snprintf(msg, sizeof msg, "truncated (%ld bytes, expected %ld)", n - 1, n);
  expect_load_error(m, bad, msg, 0);

  d[n / 2] ^= 0x10;
  write_bytes(bad, d, n);
  expect_load_error(m, bad, "checksum mismatch (file corrupt)", 0);
  d[n / 2] ^= 0x10;

  write_bytes(bad, d, 0);
  expect_load_error(m, bad, "empty file, not an nnc checkpoint", 0);

  write_bytes(bad, (const unsigned char *)"model ckpt_a\nthis is not a checkpoint\n", 39);
  expect_load_error(m, bad, "not an nnc checkpoint", 0);

  expect_load_error(m, path_in_dir("missing.ckpt"), "cannot open: ", 1);

  /* after all that, the good file still loads */
  CHECK(M(load)(m, good) == 0, "load of the good file: %s", nnrt_last_error());
  CHECK(same_params(m, M(debug_params)(a)), "good file loaded wrong parameters");
  free(d);
  M(free)(a);
  M(free)(m);
}

static int count_entries(const char *folder) {
  DIR *dp = opendir(folder);
  if (!dp) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(dp)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(dp);
  return n;
}

/* creates dir if missing and removes the files in it (a rerun starts clean) */
static int empty_folder(const char *folder) {
  mkdir(folder, 0777);
  DIR *dp = opendir(folder);
  if (!dp) return 0;
  struct dirent *e;
  while ((e = readdir(dp)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) remove(path_in_dir(e->d_name));
  closedir(dp);
  return count_entries(folder) == 0;
}

static void case_failed_save(void) {
  const char *path = path_in_dir("keep.ckpt"), *copy = path_in_dir("keep.copy");
  M_model *a = M(new)(BATCH, 6);
  step(a, 0);
  CHECK(M(save)(a, path) == 0, "save: %s", nnrt_last_error());
  float *saved = snapshot(a);
  unsigned char *d;
  long n = file_size(path, &d);
  write_bytes(copy, d, n);
  free(d);
  step(a, 1);

  const char *missing = path_in_dir("no-such-folder/x.ckpt");
  nnrt_clear_error();
  CHECK(M(save)(a, missing) == -1, "save into a missing folder succeeded");
  CHECK(strncmp(nnrt_last_error(), missing, strlen(missing)) == 0 && strlen(nnrt_last_error()) > strlen(missing),
        "error \"%s\" does not start with the path", nnrt_last_error());
  printf("save into a missing folder: %s\n", nnrt_last_error());

  /* writes fail (EFBIG) while the file size limit is below the checkpoint's size */
  struct rlimit old, small;
  if (getrlimit(RLIMIT_FSIZE, &old) != 0) abort();
  small = old;
  small.rlim_cur = (rlim_t)(n / 2);
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  if (setrlimit(RLIMIT_FSIZE, &small) != 0) abort();
  int rc = M(save)(a, path);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  CHECK(rc == -1, "save succeeded although writes fail");
  printf("save while writes fail: %s\n", nnrt_last_error());
  CHECK(same_files(path, copy), "a failed save changed the previous checkpoint");
  CHECK(count_entries(dir) == 2, "%d files in %s after the failed save (a temporary left behind?)",
        count_entries(dir), dir);
  M_model *b = M(new)(BATCH, 7);
  CHECK(M(load)(b, path) == 0, "the old checkpoint no longer loads: %s", nnrt_last_error());
  CHECK(same_params(b, saved), "the old checkpoint has other parameters");
  free(saved);
  M(free)(a);
  M(free)(b);
}

static void case_seed(void) {
  M_model *a = M(new)(BATCH, 42), *b = M(new)(BATCH, 42), *c = M(new)(BATCH, 43);
  CHECK(same_params(a, M(debug_params)(b)), "same seed, different initial parameters");
  CHECK(!same_params(a, M(debug_params)(c)), "seeds 42 and 43 gave the same initial parameters");
  float la[3], lb[3], lc[3];
  for (int k = 0; k < 3; k++) {
    la[k] = step(a, k);
    lb[k] = step(b, k);
    lc[k] = step(c, k);
  }
  CHECK(memcmp(la, lb, sizeof la) == 0, "same seed, different losses");
  CHECK(same_params(a, M(debug_params)(b)), "same seed, different parameters after 3 steps");
  CHECK(memcmp(la, lc, sizeof la) != 0, "different seeds, same losses");
  CHECK(!same_params(a, M(debug_params)(c)), "different seeds, same parameters after 3 steps");
  M(free)(a);
  M(free)(b);
  M(free)(c);
}

static int compare_outputs(const float *a, const float *b, size_t n, const char *what) {
  int bitwise = memcmp(a, b, sizeof(float) * n) == 0;
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / fmax(1e-30, fabs((double)a[i])));
  printf("%s: %s (worst relative difference %.3g)\n", what, bitwise ? "bit-identical" : "not bit-identical", worst);
  /* BLAS builds: a single example's dense layers are cblas_sgemv, which sums in another order
     than the batch's cblas_sgemm (some 10 ulps through fashion_snn-sized layers); a row mixed up
     with another would be off by far more */
  if (M_BLAS) CHECK(worst <= 1e-5, "%s: relative difference %.3g > 1e-5", what, worst);
  else CHECK(bitwise, "%s: not bit-identical without BLAS (relative difference %.3g)", what, worst);
  return bitwise;
}

static void case_forward_batch(void) {
  enum { N = 5 };
  M_model *m = M(new)(N, 8);
  step(m, 0); /* not the initial parameters */
  float batch[N * M_OUT_SIZE], one[N * M_OUT_SIZE], again[N * M_OUT_SIZE];
  M(forward)(m, xs, N, batch);
  for (int b = 0; b < N; b++) M(forward)(m, xs + (size_t)b * M_IN_SIZE, 1, one + (size_t)b * M_OUT_SIZE);
  compare_outputs(batch, one, N * M_OUT_SIZE, "forward of single examples vs a batch of 5");
  M(forward)(m, xs, N, again);
  CHECK(memcmp(batch, again, sizeof batch) == 0, "forward twice gave different outputs (dropout in inference?)");
  for (int i = 0; i < N * M_OUT_SIZE; i++) CHECK(isfinite(batch[i]), "output %d is %g", i, batch[i]);

  /* forward between train steps changes nothing training depends on */
  M_model *a = M(new)(N, 9), *b = M(new)(N, 9);
  for (int k = 0; k < 3; k++) {
    step(a, k);
    M(forward)(b, xs, N, again);
    step(b, k);
  }
  CHECK(same_params(a, M(debug_params)(b)), "calling forward between train steps changed training");
  M(free)(m);
  M(free)(a);
  M(free)(b);
}

static void case_forward_chunks(void) {
  M_model *m = M(new)(BATCH, 10), *big = M(new)(N_EX, 10);
  CHECK(same_params(m, M(debug_params)(big)), "max_batch changed the initial parameters");
  float all[N_EX * M_OUT_SIZE], parts[N_EX * M_OUT_SIZE], whole[N_EX * M_OUT_SIZE];
  for (int i = 0; i < N_EX * M_OUT_SIZE; i++) all[i] = parts[i] = NAN;
  M(forward)(m, xs, N_EX, all);
  for (int start = 0; start < N_EX; start += BATCH) {
    int n = N_EX - start < BATCH ? N_EX - start : BATCH;
    M(forward)(m, xs + (size_t)start * M_IN_SIZE, n, parts + (size_t)start * M_OUT_SIZE);
  }
  CHECK(memcmp(all, parts, sizeof all) == 0, "forward of 10 on max_batch 4 differs from its chunks 4 + 4 + 2");
  M(forward)(big, xs, N_EX, whole);
  compare_outputs(all, whole, N_EX * M_OUT_SIZE, "forward of 10 in chunks vs in one batch");
  M(free)(m);
  M(free)(big);
}

static void case_packed_weights(void) {
  enum { N = 5 };
  M_model *m = M(new)(N, 12), *first = M(new)(N, 13), *other = M(new)(N, 14);
  float before[N * M_OUT_SIZE], after[N * M_OUT_SIZE], want[N * M_OUT_SIZE], loaded[N * M_OUT_SIZE];
  M(forward)(m, xs, N, before); /* packs the initial weights */
  step(m, 0);
  M(forward)(m, xs, N, after);
  const char *path = path_in_dir("stepped.ckpt");
  CHECK(M(save)(m, path) == 0, "save: %s", nnrt_last_error());
  CHECK(M(load)(first, path) == 0, "load: %s", nnrt_last_error());
  M(forward)(first, xs, N, want);
  CHECK(memcmp(before, after, sizeof after) != 0, "a step did not change forward's output");
  CHECK(memcmp(after, want, sizeof want) == 0, "forward after a step differs from a fresh model's with its weights");
  M(forward)(other, xs, N, loaded); /* packs its own initial weights, which the load replaces */
  CHECK(M(load)(other, path) == 0, "load: %s", nnrt_last_error());
  M(forward)(other, xs, N, loaded);
  CHECK(memcmp(loaded, want, sizeof want) == 0, "forward after a load differs from a fresh model's with the loaded weights");
  M(free)(m);
  M(free)(first);
  M(free)(other);
}

static void case_bad_args(void) {
  M_model *m = M(new)(BATCH, 11), *ref = M(new)(BATCH, 11);
  step(m, 0);
  step(ref, 0);
  float *before = snapshot(m);
  int32_t bad_y[BATCH + 1];
  float big_x[(BATCH + 1) * M_IN_SIZE];
  memcpy(big_x, xs, sizeof big_x);
  for (int i = 0; i <= BATCH; i++) bad_y[i] = ys[i];
  CHECK(isnan(M(train_step)(m, big_x, bad_y, BATCH + 1)), "n > max_batch did not return NaN");
  CHECK(isnan(M(train_step)(m, xs, ys, 0)), "n = 0 did not return NaN");
  CHECK(isnan(M(train_step)(m, NULL, ys, 1)), "x = NULL did not return NaN");
  bad_y[2] = M_N_CLASSES;
  CHECK(isnan(M(train_step)(m, xs, bad_y, BATCH)), "label K did not return NaN");
  bad_y[2] = -1;
  CHECK(isnan(M(train_step)(m, xs, bad_y, BATCH)), "label -1 did not return NaN");
  CHECK(same_params(m, before), "a rejected train_step changed the parameters");
  CHECK(M(steps)(m) == 1, "rejected train_steps changed the step count to %llu", (unsigned long long)M(steps)(m));
  float lm = step(m, 1), lr = step(ref, 1);
  CHECK(lm == lr && same_params(m, M(debug_params)(ref)),
        "the step after rejected calls differs from a model that never saw them (loss %.9g vs %.9g)", lm, lr);
  /* NULL arguments to save and load: -1 and a message saying which */
  const char *null_cases[4][2] = {{"save", "model"}, {"save", "path"}, {"load", "model"}, {"load", "path"}};
  for (int k = 0; k < 4; k++) {
    nnrt_clear_error();
    const char *path = path_in_dir("null.ckpt");
    int rc = k == 0 ? M(save)(NULL, path) : k == 1 ? M(save)(m, NULL) : k == 2 ? M(load)(NULL, path) : M(load)(m, NULL);
    char want[128];
    snprintf(want, sizeof want, "%s_%s: the %s is NULL", M_NAME, null_cases[k][0], null_cases[k][1]);
    CHECK(rc == -1 && strcmp(nnrt_last_error(), want) == 0, "%s with a NULL %s: %d, '%s' (expected -1, '%s')",
          null_cases[k][0], null_cases[k][1], rc, nnrt_last_error(), want);
  }
  CHECK(M(new)(0, 1) == NULL, "%s_new(0, seed) did not return NULL", M_NAME);
  CHECK(M(new)(-3, 1) == NULL, "%s_new(-3, seed) did not return NULL", M_NAME);
  free(before);
  M(free)(m);
  M(free)(ref);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: checkpoint CASE DIR\n");
    return 2;
  }
  dir = argv[2];
  make_data();
  static const struct {
    const char *name;
    void (*fn)(void);
  } cases[] = {{"roundtrip", case_roundtrip},   {"resume", case_resume},
               {"wrong_model", case_wrong_model}, {"corrupt", case_corrupt},
               {"param_table", case_param_table},
               {"failed_save", case_failed_save}, {"seed", case_seed},
               {"forward_batch", case_forward_batch}, {"forward_chunks", case_forward_chunks},
               {"packed_weights", case_packed_weights},
               {"bad_args", case_bad_args}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(argv[1], cases[i].name) == 0) {
      if (!empty_folder(dir)) {
        fprintf(stderr, "checkpoint: cannot make %s an empty folder\n", dir);
        return 2;
      }
      cases[i].fn();
      printf("%s (%s): %s\n", argv[1], M_BLAS ? "BLAS" : "no BLAS", failed ? "FAILED" : "ok");
      return failed;
    }
  fprintf(stderr, "checkpoint: unknown case '%s'\n", argv[1]);
  return 2;
}
