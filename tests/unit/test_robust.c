/* test_robust.c — the front end on hostile input: random bytes, mutations of real models, and
 * pathological shapes (deep nesting, a 10 MB line, NUL bytes, invalid UTF-8, empty files).
 *
 * For every input, compile_front must return (no crash, no hang, no sanitizer report under
 * -DNNC_SANITIZE=ON) and report at least one error when it fails; when it succeeds, the graph
 * must verify and print. Seeds are the .nn files in models/, tests/golden/ and tests/errors/ and,
 * when the spec is beside the clone, its examples; each must compile, or for tests/errors/ (but
 * warn_*) be rejected. Mutations start from a seed that compiles three times in four, and must
 * yield both inputs that compile and inputs that are rejected. The run is deterministic; NNC_ROBUST_SEED and NNC_ROBUST_ITERS (in the
 * environment) pick another seed or more iterations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <time.h>

#include "front_util.h"

/* ---------------- inputs ---------------- */

typedef struct Input {
  char *data;
  size_t len;
  char name[64];
  int expect;  /* 1: must compile, 0: must be rejected with an error, -1: either */
} Input;

static Input *seeds;
static int n_seeds, cap_seeds;
static int *good;  /* indexes of the seeds that compile */
static int n_good;
static FILE *devnull;
static long n_compiled, n_failed;

static void add_seed(const char *data, size_t len, const char *name, int expect) {
  if (n_seeds == cap_seeds) seeds = realloc(seeds, sizeof *seeds * (size_t)(cap_seeds = cap_seeds ? 2 * cap_seeds : 64));
  seeds[n_seeds].data = malloc(len + 1);
  memcpy(seeds[n_seeds].data, data, len);
  seeds[n_seeds].data[len] = 0;
  seeds[n_seeds].len = len;
  snprintf(seeds[n_seeds].name, sizeof seeds[n_seeds].name, "%s", name);
  seeds[n_seeds].expect = expect;
  n_seeds++;
}

/* The .nn files of dir; expect as in Input, except that tests/errors/warn_*.nn compile (they
   hold warnings only). */
static void add_seed_dir(const char *dir, int expect) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 4 || strcmp(e->d_name + n - 3, ".nn") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len;
    char *src = front_read_file(path, &len);
    bool warning_only = strncmp(e->d_name, "warn_", 5) == 0;
    if (src) add_seed(src, len, e->d_name, expect == 0 && warning_only ? 1 : expect);
    free(src);
  }
  closedir(d);
}

/* The spec's ``` blocks that hold a model. */
static void add_spec_seeds(const char *path) {
  size_t len;
  char *md = front_read_file(path, &len);
  if (!md) return;
  for (char *p = md; (p = strstr(p, "```\n"));) {
    char *body = p + 4;
    char *end = strstr(body, "```");
    if (!end) break;
    if (strncmp(body, "model ", 6) == 0 || (body[0] == '#' && strstr(body, "\nmodel ") && strstr(body, "\nmodel ") < end))
      add_seed(body, (size_t)(end - body), "spec example", 1);
    p = end + 3;
  }
  free(md);
}

/* ---------------- the check ---------------- */

static bool check_input(const char *data, size_t len) {
  Compilation c;
  compilation_init(&c, "fuzz.nn", data, len, devnull);
  c.max_nodes = 200000; /* keep each input cheap; the limit itself is tested in test_lower */
  bool ok = compile_front(&c);
  n_compiled++;
  if (!ok) {
    n_failed++;
    if (c.diag.n_errors == 0) {
      fprintf(stderr, "compile failed without an error on this input (%zu bytes):\n%.*s\n", len,
              (int)(len > 2000 ? 2000 : len), data);
      fail();
    }
  } else {
    assert_int_equal(c.diag.n_errors, 0);
    assert_true(ir_verify(&c.graph, stderr));
    summary_print(&c.graph, devnull);
    ir_print(&c.graph, devnull);
  }
  compilation_free(&c);
  return ok;
}

/* ---------------- mutations ---------------- */

static uint64_t rng_state;

static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *dictionary[] = {
    "model", "const", "input", "label", "target", "block", "return", "repeat", "loss", "optimizer", "output",
    "class", "true", "false", "(", ")", "[", "]", "{", "}", ",", "=", ":", "+", "-", "*", "/", ";", "\n", "\r\n",
    "#", " ", "\t", "0", "1", "-1", "3", "64", "1000", "2.5", "1e-3", "1e999", "99999999999999999999",
    "9223372036854775807", "x", "h", "y", "t", "c", "dense(", "conv2d(", "batchnorm(", "relu(", "selu(",
    "softmax(", "dropout(", "max_pool2d(", "global_avg_pool(", "flatten(", "softmax_cross_entropy(", "mse(",
    "sgd(lr=0.1)", "adam(", "init=", "he_normal", "normal(", "pad=", "stride=", "momentum=", "p=", "units=",
    "lr=", "basic(", "down(", "\x00", "\xff", "\xc3\xa9", "\x80", "block b(v) { return v }\n",
    "repeat 3 {", "h = x\n", "return h\n", "model m\n", "input x : [1, 8, 8]\n", "label y : class[10]\n",
    "target t : [10]\n"};
#define N_DICT (sizeof dictionary / sizeof dictionary[0])

typedef struct Buf { char *p; size_t len, cap; } Buf;

static void buf_reserve(Buf *b, size_t extra) {
  if (b->len + extra + 1 > b->cap) {
    b->cap = (b->len + extra + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
}

static void buf_insert(Buf *b, size_t at, const char *s, size_t n) {
  buf_reserve(b, n);
  memmove(b->p + at + n, b->p + at, b->len - at);
  memcpy(b->p + at, s, n);
  b->len += n;
}

static void mutate_once(Buf *b) {
  size_t at = below(b->len + 1);
  switch (rnd() % 10) {
  case 0: /* flip a bit */
    if (b->len) b->p[below(b->len)] ^= (char)(1u << below(8));
    break;
  case 1: { /* a random byte */
    char ch = (char)below(256);
    buf_insert(b, at, &ch, 1);
    break;
  }
  case 2: case 3: { /* a token */
    const char *tok = dictionary[below(N_DICT)];
    buf_insert(b, at, tok, tok[0] ? strlen(tok) : 1);
    break;
  }
  case 4: { /* delete a range */
    size_t n = below(b->len - (at < b->len ? at : b->len) + 1);
    if (n > 64) n = below(64);
    memmove(b->p + at, b->p + at + n, b->len - at - n);
    b->len -= n;
    break;
  }
  case 5: { /* duplicate a range elsewhere */
    if (!b->len) break;
    size_t from = below(b->len), n = below(b->len - from) % 256 + 1;
    char *copy = malloc(n);
    memcpy(copy, b->p + from, n);
    buf_insert(b, at, copy, n);
    free(copy);
    break;
  }
  case 6: /* truncate */
    b->len = at;
    break;
  case 7: { /* splice in part of another seed */
    const Input *o = &seeds[below((size_t)n_seeds)];
    size_t from = below(o->len), n = below(o->len - from + 1) % 512;
    buf_insert(b, at, o->data + from, n);
    break;
  }
  case 8: { /* change a number */
    for (size_t i = 0; i < b->len; i++) {
      size_t k = (at + i) % b->len;
      if (b->p[k] >= '0' && b->p[k] <= '9') {
        static const char *numbers[] = {"0", "1", "2", "7", "65", "100", "4096", "1000000", "0.5", "1e9"};
        const char *num = numbers[below(10)];
        b->p[k] = num[0];
        buf_insert(b, k + 1, num + 1, strlen(num + 1));
        break;
      }
    }
    break;
  }
  default: { /* swap two lines' worth of text */
    if (b->len < 2) break;
    size_t i = below(b->len), j = below(b->len);
    char t = b->p[i];
    b->p[i] = b->p[j];
    b->p[j] = t;
    break;
  }
  }
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : def;
}

/* ---------------- tests ---------------- */

static void test_seeds_compile(void **state) {
  (void)state;
  /* The models and the spec's examples compile; every error case fails with an error. */
  assert_true(n_seeds > 10);
  good = malloc(sizeof *good * (size_t)n_seeds);
  int wrong = 0, n_rejected = 0;
  for (int i = 0; i < n_seeds; i++) {
    bool ok = check_input(seeds[i].data, seeds[i].len);
    if (ok) good[n_good++] = i;
    else n_rejected++;
    if (seeds[i].expect >= 0 && ok != (seeds[i].expect == 1)) {
      fprintf(stderr, "%s: %s, expected it to %s\n", seeds[i].name, ok ? "compiles" : "is rejected",
              seeds[i].expect ? "compile" : "be rejected");
      wrong++;
    }
  }
  fprintf(stderr, "seeds: %d compile, %d are rejected\n", n_good, n_rejected);
  assert_int_equal(wrong, 0);
  assert_true(n_good >= 4 && n_rejected >= 50);
}

static void test_mutations(void **state) {
  (void)state;
  long iters = env_long("NNC_ROBUST_ITERS", 4000);
  rng_state = (uint64_t)env_long("NNC_ROBUST_SEED", 20240611) | 1;
  Buf b = {NULL, 0, 0};
  clock_t t0 = clock();
  long compiled_before = n_compiled - n_failed, failed_before = n_failed;
  for (long it = 0; it < iters; it++) {
    const Input *seed = rnd() % 4 ? &seeds[good[below((size_t)n_good)]] : &seeds[below((size_t)n_seeds)];
    b.len = 0;
    buf_reserve(&b, seed->len);
    memcpy(b.p, seed->data, seed->len);
    b.len = seed->len;
    int n_mut = 1 + (int)below(it % 4 == 0 ? 40 : 3);
    for (int m = 0; m < n_mut; m++) mutate_once(&b);
    check_input(b.p, b.len);
  }
  free(b.p);
  long compiled = (n_compiled - n_failed) - compiled_before, rejected = n_failed - failed_before;
  fprintf(stderr, "mutations: %ld inputs in %.2f s: %ld compile, %ld are rejected\n", iters,
          (double)(clock() - t0) / CLOCKS_PER_SEC, compiled, rejected);
  /* both outcomes are exercised: mutations that always break (or never touch) the input would not
     test much */
  assert_true(compiled >= iters / 20 && rejected >= iters / 4);
}

static void test_random_bytes(void **state) {
  (void)state;
  rng_state = 0x9E3779B97F4A7C15ull;
  char buf[512];
  for (int it = 0; it < 1000; it++) {
    size_t len = below(sizeof buf);
    bool printable = it % 2;
    for (size_t i = 0; i < len; i++) {
      int ch = printable ? 32 + (int)below(96) : (int)below(256);
      buf[i] = (char)(printable && ch == 127 ? '\n' : ch);
    }
    check_input(buf, len);
  }
}

static char *repeated(const char *prefix, const char *unit, size_t times, const char *suffix, size_t *len) {
  size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
  *len = pl + ul * times + sl;
  char *s = malloc(*len + 1);
  memcpy(s, prefix, pl);
  for (size_t i = 0; i < times; i++) memcpy(s + pl + i * ul, unit, ul);
  memcpy(s + pl + ul * times, suffix, sl);
  s[*len] = 0;
  return s;
}

#define HEAD "model m\ninput x : [4]\nlabel y : class[3]\n"

static void check_str(const char *s) { check_input(s, strlen(s)); }

static void check_repeated(const char *prefix, const char *unit, size_t times, const char *suffix) {
  size_t len;
  char *s = repeated(prefix, unit, times, suffix, &len);
  check_input(s, len);
  free(s);
}

static void test_pathological(void **state) {
  (void)state;
  check_input("", 0);
  check_str("# only a comment");
  check_str("# only comments\n# and more\n\n");
  check_str("\n\n\n");
  check_input("\0", 1);
  check_input("\0\0\0model m", 10);
  check_input("model m\0", 8);
  check_str("\xef\xbb\xbfmodel m\n"); /* a UTF-8 byte order mark */
  check_str("model \xc3\xa9\n");
  check_str("model m\ninput x : [\xff\xfe]\n");
  /* Every byte value, alone and after a model header. */
  for (int ch = 0; ch < 256; ch++) {
    char one = (char)ch;
    check_input(&one, 1);
    char s[sizeof HEAD + 8];
    size_t n = (size_t)snprintf(s, sizeof s, "%sh = %c", HEAD, ch ? ch : ' ');
    s[n - 1] = (char)ch;
    check_input(s, n);
  }
  /* Deep nesting of every kind of bracket and operator. */
  check_repeated(HEAD "h = ", "(", 10000, "x");
  check_repeated(HEAD "h = ", "(", 10000, "");
  check_repeated(HEAD "input z : ", "[", 10000, "");
  check_repeated(HEAD, "repeat 1 {", 10000, "");
  check_repeated(HEAD, "repeat 1 {\n", 10000, "h = x");
  check_repeated(HEAD, "{", 10000, "");
  check_repeated(HEAD, "}", 10000, "");
  check_repeated(HEAD, ")", 10000, "");
  check_repeated(HEAD "h = ", "-", 10000, "x");
  check_repeated(HEAD "h = ", "relu(", 10000, "x");
  check_repeated(HEAD "h = x", "+x", 200000, "\n");
  check_repeated(HEAD "h = x", "*2", 200000, "\n");
  check_repeated(HEAD "const k = 1", "-1", 200000, "\n");
  check_repeated(HEAD "h = f(", "x,", 200000, ")\n");
  check_repeated(HEAD "input z : [", "1,", 200000, "]\n");
  check_repeated(HEAD "block b(", "v,", 20000, "w) { return v }\n");
  check_repeated(HEAD, "h = x\n", 100000, "");
  check_repeated(HEAD, ";", 100000, "");
  check_repeated(HEAD, "\n", 100000, "");
  check_repeated(HEAD, "h = dense(x, 3)\n", 20000, "");
  /* A 10 MB line: an identifier, a comment, spaces, a number. */
  check_repeated(HEAD "h = ", "a", 10u << 20, "\n");
  check_repeated(HEAD "# ", "z", 10u << 20, "\nh = x\n");
  check_repeated(HEAD "h =", " ", 10u << 20, "x\n");
  check_repeated(HEAD "h = dense(x, ", "9", 10u << 20, ")\n");
  check_repeated(HEAD "h = dense(x, 0.", "5", 10u << 20, ")\n");
  check_repeated(HEAD, "\xc3\xa9", 5u << 20, "\n");
  /* Blocks: a chain deeper than the limit, a cycle, many calls. */
  {
    size_t cap = 200 * 64;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, HEAD);
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(s + n, cap - n, "block b%d(v) { return b%d(v) }\n", i, i + 1);
    n += (size_t)snprintf(s + n, cap - n, "block b100(v) { return relu(v) }\nh = b0(x)\n");
    check_input(s, n);
    free(s);
  }
  check_str(HEAD "block a(v) { return a(a(a(v))) }\nh = a(x)\n");
  check_repeated(HEAD "block b(v) { return dense(v, 4) }\nh = x\n", "h = b(h)\n", 20000,
                 "loss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=0.1)\n");
}

int main(void) {
  devnull = fopen("/dev/null", "w");
  if (!devnull) return 1;
  add_seed_dir(NNC_REPO_DIR "/models", 1);
  add_seed_dir(NNC_TESTS_DIR "/errors", 0);
  add_seed_dir(NNC_TESTS_DIR "/golden", 1);
  add_spec_seeds(NNC_SPEC_PATH);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seeds_compile),
      cmocka_unit_test(test_mutations),
      cmocka_unit_test(test_random_bytes),
      cmocka_unit_test(test_pathological),
  };
  int failed = cmocka_run_group_tests(tests, 0, 0);
  fprintf(stderr, "%ld inputs compiled, %ld rejected with errors\n", n_compiled, n_failed);
  for (int i = 0; i < n_seeds; i++) free(seeds[i].data);
  free(seeds);
  free(good);
  fclose(devnull);
  return failed;
}
