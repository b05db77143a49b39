/* test_errors.c — runs each tests/errors/CASE.nn through the front end and checks what it reports.
 *
 * Each case carries its expectations in comments (QBE style), anywhere in the file:
 *
 *   # expect: 3:9: error: cannot add values of shape [32, 14, 14] and [16, 28, 28]
 *   # expect-line:   return relu(h + x)
 *   # expect-line:                 ^
 *   # expect-errors: 2        (optional; default: the number of `# expect:` lines with "error:")
 *   # expect-warnings: 0      (optional; default: the number of `# expect:` lines with "warning:")
 *   # expect-exit: 1          (optional; default: 1 if an error is expected, else 0)
 *   # expect-partial          (optional; else every message line must be expected)
 *
 * `# expect: TEXT` must appear as the whole output line `NAME.nn:TEXT`, and the `# expect-line:`
 * lines after it (everything after "# expect-line: ", leading spaces included) must be the output
 * lines that follow it, in order — so the echoed source and the caret are pinned too. Every
 * `NAME.nn:...` line of the output (errors, warnings, notes) must be one of the `# expect:` lines
 * unless the case says `# expect-partial`. The exit
 * status is nnc's: 0 when compile_front succeeds, else 1. Usage: test_errors [DIR] (default
 * tests/errors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>

#include "front_util.h"

typedef struct Expect {
  char *lines[16]; /* the `# expect:` line (with the file name prefixed) and its `# expect-line:`s */
  int n_lines;
} Expect;

typedef struct Case {
  char path[1024];
  const char *name;  /* the basename, as messages show it */
  Expect expects[32];
  int n_expects;
  int n_errors, n_warnings, exit_status; /* -1: not given */
  bool partial;
} Case;

static char *dup_n(const char *s, size_t n) {
  char *p = malloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

static bool starts(const char *line, size_t len, const char *prefix, size_t *rest) {
  size_t n = strlen(prefix);
  if (len < n || memcmp(line, prefix, n) != 0) return false;
  *rest = n;
  return true;
}

static void parse_expectations(Case *k, const char *src, size_t len) {
  k->n_errors = k->n_warnings = k->exit_status = -1;
  for (size_t at = 0; at < len;) {
    const char *line = src + at;
    const char *nl = memchr(line, '\n', len - at);
    size_t n = nl ? (size_t)(nl - line) : len - at;
    at += n + 1;
    if (n && line[n - 1] == '\r') n--;
    size_t r;
    if (starts(line, n, "# expect: ", &r)) {
      assert_true(k->n_expects < 32);
      Expect *e = &k->expects[k->n_expects++];
      size_t name_len = strlen(k->name);
      e->lines[0] = malloc(name_len + 1 + (n - r) + 1);
      snprintf(e->lines[0], name_len + 1 + (n - r) + 1, "%s:%.*s", k->name, (int)(n - r), line + r);
      e->n_lines = 1;
    } else if (starts(line, n, "# expect-line:", &r)) {
      assert_true(k->n_expects > 0);
      Expect *e = &k->expects[k->n_expects - 1];
      assert_true(e->n_lines < 16);
      if (r < n && line[r] == ' ') r++;
      e->lines[e->n_lines++] = dup_n(line + r, n - r);
    } else if (starts(line, n, "# expect-errors: ", &r)) {
      char *v = dup_n(line + r, n - r);
      k->n_errors = atoi(v);
      free(v);
    } else if (starts(line, n, "# expect-warnings: ", &r)) {
      char *v = dup_n(line + r, n - r);
      k->n_warnings = atoi(v);
      free(v);
    } else if (starts(line, n, "# expect-partial", &r)) {
      k->partial = true;
    } else if (starts(line, n, "# expect-exit: ", &r)) {
      char *v = dup_n(line + r, n - r);
      k->exit_status = atoi(v);
      free(v);
    }
  }
}

/* The output split into lines (pointers into a copy). */
typedef struct Lines { char **line; int n; char *copy; } Lines;

static Lines split_lines(const char *text) {
  Lines l = {NULL, 0, strdup(text ? text : "")};
  size_t cap = 16;
  l.line = malloc(cap * sizeof *l.line);
  for (char *p = l.copy; *p;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    if ((size_t)l.n == cap) l.line = realloc(l.line, (cap *= 2) * sizeof *l.line);
    l.line[l.n++] = p;
    if (!nl) break;
    p = nl + 1;
  }
  return l;
}

static bool group_found(const Lines *out, const Expect *e) {
  for (int i = 0; i + e->n_lines <= out->n; i++) {
    int k = 0;
    while (k < e->n_lines && strcmp(out->line[i + k], e->lines[k]) == 0) k++;
    if (k == e->n_lines) return true;
  }
  return false;
}

static void run_case(void **state) {
  Case *k = *state;
  size_t len = 0;
  char *src = front_read_file(k->path, &len);
  assert_non_null(src);
  parse_expectations(k, src, len);
  if (k->n_expects == 0) fail_msg("%s has no '# expect:' line", k->path);
  int want_errors = 0, want_warnings = 0;
  for (int i = 0; i < k->n_expects; i++) {
    want_errors += strstr(k->expects[i].lines[0], ": error: ") != NULL;
    want_warnings += strstr(k->expects[i].lines[0], ": warning: ") != NULL;
  }
  if (k->n_errors >= 0) want_errors = k->n_errors;
  if (k->n_warnings >= 0) want_warnings = k->n_warnings;
  int want_exit = k->exit_status >= 0 ? k->exit_status : want_errors > 0;

  Front f;
  front_run_n(&f, k->name, src, len);
  free(src);
  int exit_status = f.ok ? 0 : 1;
  Lines out = split_lines(f.diag);
  bool ok = true;
  for (int i = 0; i < k->n_expects; i++)
    if (!group_found(&out, &k->expects[i])) {
      fprintf(stderr, "%s: expected in the output:\n", k->name);
      for (int j = 0; j < k->expects[i].n_lines; j++) fprintf(stderr, "  |%s\n", k->expects[i].lines[j]);
      ok = false;
    }
  size_t name_len = strlen(k->name);
  for (int i = 0; i < out.n && !k->partial; i++) {
    if (strncmp(out.line[i], k->name, name_len) != 0 || out.line[i][name_len] != ':') continue;
    bool expected = false;
    for (int j = 0; j < k->n_expects && !expected; j++) expected = strcmp(out.line[i], k->expects[j].lines[0]) == 0;
    if (!expected) {
      fprintf(stderr, "%s: not expected: %s\n", k->name, out.line[i]);
      ok = false;
    }
  }
  if (f.c.diag.n_errors != want_errors) {
    fprintf(stderr, "%s: %d errors reported, expected %d\n", k->name, f.c.diag.n_errors, want_errors);
    ok = false;
  }
  if (f.c.diag.n_warnings != want_warnings) {
    fprintf(stderr, "%s: %d warnings reported, expected %d\n", k->name, f.c.diag.n_warnings, want_warnings);
    ok = false;
  }
  if (exit_status != want_exit) {
    fprintf(stderr, "%s: exit status %d, expected %d\n", k->name, exit_status, want_exit);
    ok = false;
  }
  /* A failed compile always says why. */
  if (!f.ok && f.c.diag.n_errors == 0) {
    fprintf(stderr, "%s: failed without an error\n", k->name);
    ok = false;
  }
  if (!ok) fprintf(stderr, "%s: the output was:\n%s", k->name, f.diag);
  free(out.line);
  free(out.copy);
  front_free(&f);
  for (int i = 0; i < k->n_expects; i++)
    for (int j = 0; j < k->expects[i].n_lines; j++) free(k->expects[i].lines[j]);
  k->n_expects = 0;
  assert_true(ok);
}

static int is_case(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 3 && strcmp(e->d_name + n - 3, ".nn") == 0;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : NNC_TESTS_DIR "/errors";
  struct dirent **names;
  int n = scandir(dir, &names, is_case, alphasort);
  if (n <= 0) {
    fprintf(stderr, "test_errors: no .nn cases in %s\n", dir);
    return 1;
  }
  Case *cases = calloc((size_t)n, sizeof *cases);
  struct CMUnitTest *tests = calloc((size_t)n, sizeof *tests);
  for (int i = 0; i < n; i++) {
    snprintf(cases[i].path, sizeof cases[i].path, "%s/%s", dir, names[i]->d_name);
    cases[i].name = strrchr(cases[i].path, '/') + 1;
    tests[i].name = cases[i].name;
    tests[i].test_func = run_case;
    tests[i].initial_state = &cases[i];
    free(names[i]);
  }
  free(names);
  int failed = _cmocka_run_group_tests("errors", tests, (size_t)n, NULL, NULL);
  free(tests);
  free(cases);
  return failed;
}
