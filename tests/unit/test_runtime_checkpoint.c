/* test_runtime_checkpoint.c — nnrt_checkpoint_save / nnrt_checkpoint_load.
 *
 * Every rejected file must give its exact message and leave the destination buffers as they
 * were; a failed save must leave the previous checkpoint loadable and no temporary file behind.
 * Each test works in its own fresh folder under /tmp.
 *
 * `test_runtime_checkpoint --read-only-folder` runs only the read-only folder case (CTest's
 * test_runtime_checkpoint_read_only): as root, which ignores folder permissions, in a child process
 * that drops to the user nobody; it exits with 77 (CTest: skipped) where that is not possible.
 */
#define _DEFAULT_SOURCE /* setgroups */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nnrt.h"
#include "scratch_dir.h"

#define N_PARAMS 100
#define HASH UINT64_C(0x1234abcd5678ef00)

/* The state of a toy model, spread over sections as generated code does. */
typedef struct toy {
  float params[N_PARAMS];
  float opt_m[N_PARAMS];
  uint64_t step;
  nnrt_rng rng;
} toy;

static void toy_sections(toy *t, nnrt_section s[4]) {
  memset(s, 0, sizeof(nnrt_section) * 4);
  s[0].name = "params", s[0].data = t->params, s[0].bytes = sizeof t->params;
  s[1].name = "opt.m", s[1].data = t->opt_m, s[1].bytes = sizeof t->opt_m;
  s[2].name = "step", s[2].data = &t->step, s[2].bytes = sizeof t->step;
  s[3].name = "rng", s[3].data = &t->rng, s[3].bytes = sizeof t->rng;
}

static void toy_fill(toy *t, uint64_t seed) {
  int i;
  memset(t, 0, sizeof *t);
  nnrt_rng_seed(&t->rng, seed);
  for (i = 0; i < N_PARAMS; i++) {
    t->params[i] = (float)nnrt_rng_normal(&t->rng);
    t->opt_m[i] = (float)nnrt_rng_uniform(&t->rng);
  }
  t->step = seed * 1000;
}

static size_t toy_file_size(void) {
  /* header: magic, version, name "toy", hash, count; 4 sections; checksum */
  return 8 + 4 + 4 + 3 + 8 + 4 + (4 + 6 + 8 + sizeof(float) * N_PARAMS) +
         (4 + 5 + 8 + sizeof(float) * N_PARAMS) + (4 + 4 + 8 + 8) + (4 + 3 + 8 + sizeof(nnrt_rng)) +
         8;
}

typedef struct fixture {
  char dir[64];
  char path[128];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  strcpy(f->dir, "/tmp/nnrt-ckpt-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->path, sizeof f->path, "%s/toy.ckpt", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scratch_dir_remove(f->dir);
  free(f);
  return 0;
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf = malloc(1 << 20);
  assert_non_null(f);
  assert_non_null(buf);
  *n = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

static void write_all(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void save_toy(const char *path, const char *name, uint64_t hash, uint64_t seed) {
  toy t;
  nnrt_section s[4];
  toy_fill(&t, seed);
  toy_sections(&t, s);
  assert_int_equal(nnrt_checkpoint_save(path, name, hash, s, 4), 0);
}

/* Loads path as the toy model into buffers pre-filled with 0xAB; expects failure with exactly
 * `message` and the buffers untouched. */
static void expect_load_error(const char *path, const char *message) {
  toy t, before;
  nnrt_section s[4];
  memset(&t, 0xAB, sizeof t);
  memcpy(&before, &t, sizeof t);
  toy_sections(&t, s);
  nnrt_clear_error();
  assert_int_equal(nnrt_checkpoint_load(path, "toy", HASH, s, 4), -1);
  assert_string_equal(nnrt_last_error(), message);
  assert_memory_equal(&t, &before, sizeof t);
}

static void test_round_trip(void **state) {
  fixture *f = *state;
  toy a, b;
  nnrt_section sa[4], sb[4];
  size_t n;
  unsigned char *bytes;
  toy_fill(&a, 5);
  toy_sections(&a, sa);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, sa, 4), 0);
  memset(&b, 0, sizeof b);
  toy_sections(&b, sb);
  assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, sb, 4), 0);
  assert_memory_equal(&a, &b, sizeof a);
  /* The layout is the documented one. */
  bytes = read_all(f->path, &n);
  assert_int_equal(n, toy_file_size());
  assert_memory_equal(bytes, "NNCKPT\0\1\2\0\0\0\3\0\0\0toy", 19);
  assert_int_equal(bytes[19], 0x00);
  assert_int_equal(bytes[26], 0x12); /* the hash, little-endian */
  free(bytes);
  /* Saving again replaces the file and leaves no temporary behind. */
  toy_fill(&a, 6);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, sa, 4), 0);
  assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, sb, 4), 0);
  assert_memory_equal(&a, &b, sizeof a);
  assert_int_equal(count_files(f->dir), 1);
}

static void test_no_sections(void **state) {
  fixture *f = *state;
  assert_int_equal(nnrt_checkpoint_save(f->path, "empty", 7, NULL, 0), 0);
  assert_int_equal(nnrt_checkpoint_load(f->path, "empty", 7, NULL, 0), 0);
}

static void test_truncated(void **state) {
  fixture *f = *state;
  size_t n, cuts[6], i;
  unsigned char *bytes;
  char expect[512];
  save_toy(f->path, "toy", HASH, 1);
  bytes = read_all(f->path, &n);
  cuts[0] = 5, cuts[1] = 8, cuts[2] = 20, cuts[3] = n / 2, cuts[4] = n - 8, cuts[5] = n - 1;
  for (i = 0; i < 6; i++) {
    write_all(f->path, bytes, cuts[i]);
    snprintf(expect, sizeof expect, "%s: truncated (%zu bytes, expected %zu)", f->path, cuts[i], n);
    expect_load_error(f->path, expect);
  }
  free(bytes);
}

static void test_empty_and_foreign_files(void **state) {
  fixture *f = *state;
  char expect[512];
  static const char text[] = "epoch,loss\n1,0.5\nthis is not a checkpoint at all\n";
  write_all(f->path, "", 0);
  snprintf(expect, sizeof expect, "%s: empty file, not an nnc checkpoint", f->path);
  expect_load_error(f->path, expect);
  write_all(f->path, text, sizeof text - 1);
  snprintf(expect, sizeof expect, "%s: not an nnc checkpoint", f->path);
  expect_load_error(f->path, expect);
  write_all(f->path, "NNCKPX", 6);
  expect_load_error(f->path, expect);
}

static void test_missing_file(void **state) {
  fixture *f = *state;
  char expect[512];
  snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory", f->path);
  expect_load_error(f->path, expect);
  snprintf(expect, sizeof expect, "%s: cannot read: Is a directory", f->dir);
  expect_load_error(f->dir, expect);
}

static void test_flipped_bytes(void **state) {
  fixture *f = *state;
  size_t n, at[5], i;
  unsigned char *bytes;
  char expect[512];
  save_toy(f->path, "toy", HASH, 2);
  bytes = read_all(f->path, &n);
  /* in the name, in the hash, in a section length, in the params, in the checksum itself */
  at[0] = 17, at[1] = 22, at[2] = 8 + 4 + 4 + 3 + 8 + 4 + 4 + 6 + 2, at[3] = 200, at[4] = n - 3;
  snprintf(expect, sizeof expect, "%s: checksum mismatch (file corrupt)", f->path);
  for (i = 0; i < 5; i++) {
    bytes[at[i]] ^= 0x10;
    write_all(f->path, bytes, n);
    expect_load_error(f->path, expect);
    bytes[at[i]] ^= 0x10;
  }
  free(bytes);
}

static void test_wrong_model(void **state) {
  fixture *f = *state;
  char expect[512];
  save_toy(f->path, "other_model", HASH, 3);
  snprintf(expect, sizeof expect, "%s: checkpoint is for model 'other_model', not 'toy'", f->path);
  expect_load_error(f->path, expect);
  save_toy(f->path, "toy", HASH + 1, 3);
  snprintf(expect, sizeof expect,
           "%s: checkpoint is for a different structure of model 'toy' (hash 1234abcd5678ef01, "
           "expected 1234abcd5678ef00)",
           f->path);
  expect_load_error(f->path, expect);
}

static void test_wrong_sections(void **state) {
  fixture *f = *state;
  toy t;
  nnrt_section s[4];
  char expect[512];
  toy_fill(&t, 4);
  toy_sections(&t, s);
  /* params one float short */
  s[0].bytes -= sizeof(float);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 4), 0);
  snprintf(expect, sizeof expect, "%s: section 'params' has 396 bytes, expected 400", f->path);
  expect_load_error(f->path, expect);
  /* one section missing */
  toy_sections(&t, s);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 3), 0);
  snprintf(expect, sizeof expect, "%s: checkpoint has 3 sections, expected 4", f->path);
  expect_load_error(f->path, expect);
  /* a section renamed */
  s[1].name = "opt.v";
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 4), 0);
  snprintf(expect, sizeof expect, "%s: section 2 is 'opt.v', expected 'opt.m'", f->path);
  expect_load_error(f->path, expect);
}

/* A checkpoint of a much bigger model is refused after reading a bounded prefix. */
static void test_too_large(void **state) {
  fixture *f = *state;
  static float big[20000];
  nnrt_section s[1] = {{0}};
  char expect[512];
  s[0].name = "params", s[0].data = big, s[0].bytes = sizeof big;
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 1), 0);
  snprintf(expect, sizeof expect, "%s: too large (over %zu bytes, expected %zu)", f->path,
           toy_file_size() + 4096, toy_file_size());
  expect_load_error(f->path, expect);
  assert_int_equal(nnrt_checkpoint_save(f->path, "huge_model", HASH, s, 1), 0);
  snprintf(expect, sizeof expect, "%s: checkpoint is for model 'huge_model', not 'toy'", f->path);
  expect_load_error(f->path, expect);
}

/* A future version, with a valid checksum, is refused by its version number. */
static void test_other_version(void **state) {
  fixture *f = *state;
  size_t n, i;
  unsigned char *bytes;
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  char expect[512];
  save_toy(f->path, "toy", HASH, 1);
  bytes = read_all(f->path, &n);
  bytes[8] = 3;
  for (i = 0; i < n - 8; i++) h = (h ^ bytes[i]) * UINT64_C(0x100000001b3);
  for (i = 0; i < 8; i++) bytes[n - 8 + i] = (unsigned char)(h >> (8 * i));
  write_all(f->path, bytes, n);
  snprintf(expect, sizeof expect, "%s: checkpoint format version 3, this runtime reads version 2",
           f->path);
  expect_load_error(f->path, expect);
  free(bytes);
}

/* The temporary file cannot be created: the message names it, and nothing is left. */
static void test_save_into_missing_folder(void **state) {
  fixture *f = *state;
  toy t;
  nnrt_section s[4];
  char path[256], prefix[600];
  const char *msg;
  toy_fill(&t, 1);
  toy_sections(&t, s);
  snprintf(path, sizeof path, "%s/no/such/dir/x.ckpt", f->dir);
  assert_int_equal(nnrt_checkpoint_save(path, "toy", HASH, s, 4), -1);
  msg = nnrt_last_error();
  snprintf(prefix, sizeof prefix, "%s: cannot create temporary file %s.tmp-", path, path);
  assert_memory_equal(msg, prefix, strlen(prefix));
  /* PATH.tmp-PID-NNNNNN */
  char pid_part[32];
  snprintf(pid_part, sizeof pid_part, "%ld-", (long)getpid());
  assert_memory_equal(msg + strlen(prefix), pid_part, strlen(pid_part));
  assert_string_equal(msg + strlen(prefix) + strlen(pid_part) + 6, ": No such file or directory");
  assert_int_equal(count_files(f->dir), 0);
}

/* The write itself fails half way (the file size limit stands in for a full disk): the previous
 * checkpoint survives and the temporary file is removed. */
static void test_failed_write_keeps_previous(void **state) {
  fixture *f = *state;
  static float big[1 << 16];
  struct rlimit old, small;
  nnrt_section s[1] = {{0}};
  toy t;
  nnrt_section ts[4];
  int rc;
  void (*old_handler)(int);
  save_toy(f->path, "toy", HASH, 8);

  s[0].name = "params", s[0].data = big, s[0].bytes = sizeof big;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = 16384;
  old_handler = signal(SIGXFSZ, SIG_IGN); /* report EFBIG instead of killing the process */
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  rc = nnrt_checkpoint_save(f->path, "toy", HASH, s, 1);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(nnrt_last_error(), "File too large"));
  assert_int_equal(count_files(f->dir), 1);

  toy_sections(&t, ts);
  assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, ts, 4), 0);
  assert_true(t.step == 8000);
}

/* rename() fails when PATH is a non-empty folder: the folder stays, the temporary goes. */
static void test_failed_rename(void **state) {
  fixture *f = *state;
  toy t;
  nnrt_section s[4];
  char inner[256];
  toy_fill(&t, 1);
  toy_sections(&t, s);
  assert_int_equal(mkdir(f->path, 0700), 0);
  snprintf(inner, sizeof inner, "%s/keep", f->path);
  write_all(inner, "x", 1);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 4), -1);
  assert_non_null(strstr(nnrt_last_error(), ": cannot rename "));
  assert_int_equal(count_files(f->dir), 1);
  assert_int_equal(count_files(f->path), 1);
}

/* A read-only folder refuses the temporary file and the previous checkpoint stays. Without
 * cmocka's asserts, so that it can run in a child process: NULL, or what went wrong. */
static const char *read_only_case(const fixture *f) {
  toy t;
  nnrt_section s[4];
  toy_fill(&t, 9);
  toy_sections(&t, s);
  if (nnrt_checkpoint_save(f->path, "toy", HASH, s, 4) != 0) return "the first save failed";
  if (chmod(f->dir, 0500) != 0) return "chmod of the folder failed";
  toy_fill(&t, 1);
  toy_sections(&t, s);
  int rc = nnrt_checkpoint_save(f->path, "toy", HASH, s, 4);
  int denied = strstr(nnrt_last_error(), "Permission denied") != NULL;
  chmod(f->dir, 0700);
  if (rc != -1) return "saving into a read-only folder succeeded";
  if (!denied) return "the error does not say 'Permission denied'";
  if (nnrt_checkpoint_load(f->path, "toy", HASH, s, 4) != 0) return "the previous checkpoint does not load";
  if (t.step != 9000) return "the previous checkpoint changed";
  return NULL;
}

static int read_only_skipped; /* main's exit status is then 77 */

static void test_read_only_folder(void **state) {
  fixture *f = *state;
  if (geteuid() != 0) {
    const char *problem = read_only_case(f);
    if (problem) fail_msg("%s", problem);
    return;
  }
  /* root: the folder is given to nobody, and a child that is nobody runs the case */
  struct passwd *pw = getpwnam("nobody");
  uid_t uid = pw ? pw->pw_uid : 65534;
  gid_t gid = pw ? pw->pw_gid : 65534;
  assert_int_equal(chown(f->dir, uid, gid), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 || geteuid() == 0) _exit(77);
    const char *problem = read_only_case(f);
    if (problem) fprintf(stderr, "as uid %d: %s\n", (int)uid, problem);
    _exit(problem ? 1 : 0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_int_equal(chown(f->dir, 0, 0), 0);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    read_only_skipped = 1;
    fprintf(stderr, "cannot become uid %d here (no CAP_SETUID?)\n", (int)uid);
    skip();
  }
  assert_int_equal(WEXITSTATUS(status), 0);
  printf("the read-only folder case ran as uid %d\n", (int)uid);
}

static void test_bad_arguments(void **state) {
  fixture *f = *state;
  nnrt_section s[1] = {{0}};
  s[0].name = "params", s[0].data = NULL, s[0].bytes = 4;
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 1), -1);
  assert_int_equal(nnrt_checkpoint_save(f->path, NULL, HASH, s, 0), -1);
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, NULL, 2), -1);
  assert_int_equal(count_files(f->dir), 0);
}

/* A parameter table as generated code writes it (format in nnrt.c): u32 count, then per entry
 * name, block, rank, dims and offset. */
static size_t put_entry(unsigned char *p, const char *name, uint32_t block, uint32_t rows, uint32_t cols,
                        uint64_t offset) {
  size_t n = 0, len = strlen(name);
  uint32_t words[4];
  int i;
  words[0] = (uint32_t)len;
  memcpy(p, words, 4), n += 4;
  memcpy(p + n, name, len), n += len;
  words[0] = block, words[1] = 2, words[2] = rows, words[3] = cols;
  memcpy(p + n, words, 16), n += 16;
  for (i = 0; i < 8; i++) p[n++] = (unsigned char)(offset >> (8 * i));
  return n;
}

static size_t make_table(unsigned char *p, const char *second_name, uint32_t second_cols) {
  uint32_t count = 2;
  size_t n = 4;
  memcpy(p, &count, 4);
  n += put_entry(p + n, "dense.1/weight", 0, 4, 5, 0);
  n += put_entry(p + n, second_name, 0, 1, second_cols, 20);
  return n;
}

/* A "verify" section is compared, not copied: a file whose parameter table differs is refused,
 * naming the first entry that differs (or the counts), before any buffer is touched. */
static void test_parameter_table(void **state) {
  fixture *f = *state;
  unsigned char want[256], other[256];
  char expect[512];
  toy t;
  nnrt_section s[5];
  size_t n_want = make_table(want, "dense.1/bias", 4), n_other;
  toy_fill(&t, 3);
  toy_sections(&t, s + 1);
  s[0].name = "param_table", s[0].data = want, s[0].bytes = n_want, s[0].verify = 1;
  assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 5), 0);
  {
    toy u;
    memset(&u, 0xAB, sizeof u);
    toy_sections(&u, s + 1);
    assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, s, 5), 0);
    assert_memory_equal(u.params, t.params, sizeof t.params);
    memcpy(other, want, n_want);
    assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, s, 5), 0);
    assert_memory_equal(other, want, n_want); /* the table itself is never written to */
  }
  /* another name, then another shape, of the second parameter */
  for (int k = 0; k < 2; k++) {
    toy u;
    n_other = make_table(other, k == 0 ? "dense.1/bias_" : "dense.1/bias", k == 0 ? 4 : 3);
    s[0].data = other, s[0].bytes = n_other;
    toy_sections(&t, s + 1);
    assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 5), 0);
    memset(&u, 0xAB, sizeof u);
    toy_sections(&u, s + 1);
    s[0].data = want, s[0].bytes = n_want;
    assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, s, 5), -1);
    snprintf(expect, sizeof expect,
             "%s: parameter 2 is 'dense.1/bias%s' [1, %d] at params[20] in the checkpoint, but 'dense.1/bias' [1, 4] "
             "at params[20] in this model",
             f->path, k == 0 ? "_" : "", k == 0 ? 4 : 3);
    assert_string_equal(nnrt_last_error(), expect);
    for (size_t i = 0; i < sizeof u.params; i++) assert_int_equal(((unsigned char *)u.params)[i], 0xAB);
  }
  /* one parameter fewer */
  {
    uint32_t one = 1;
    n_other = make_table(other, "dense.1/bias", 4);
    memcpy(other, &one, 4);
    n_other = 4 + 4 + strlen("dense.1/weight") + 16 + 8;
    s[0].data = other, s[0].bytes = n_other;
    toy_sections(&t, s + 1);
    assert_int_equal(nnrt_checkpoint_save(f->path, "toy", HASH, s, 5), 0);
    s[0].data = want, s[0].bytes = n_want;
    assert_int_equal(nnrt_checkpoint_load(f->path, "toy", HASH, s, 5), -1);
    snprintf(expect, sizeof expect, "%s: checkpoint lists 1 parameters, this model has 2", f->path);
    assert_string_equal(nnrt_last_error(), expect);
  }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--read-only-folder") == 0) {
    const struct CMUnitTest only[] = {T(test_read_only_folder)};
    int failed = cmocka_run_group_tests(only, NULL, NULL);
    return failed ? 1 : read_only_skipped ? 77 : 0;
  }
  const struct CMUnitTest tests[] = {
      T(test_round_trip),
      T(test_no_sections),
      T(test_truncated),
      T(test_empty_and_foreign_files),
      T(test_missing_file),
      T(test_flipped_bytes),
      T(test_wrong_model),
      T(test_wrong_sections),
      T(test_too_large),
      T(test_other_version),
      T(test_save_into_missing_folder),
      T(test_failed_write_keeps_previous),
      T(test_failed_rename),
      T(test_bad_arguments),
      T(test_parameter_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
