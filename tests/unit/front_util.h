/* front_util.h — helpers shared by the front end's cmocka tests (test_lexer, test_parse,
 * test_lower, test_errors, test_robust): run the front end on a string in process and capture
 * what it reports, as `nnc check` would print it.
 *
 * Include after <cmocka.h>. Everything here is static; each test file uses what it needs.
 */
#ifndef FRONT_UTIL_H
#define FRONT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

/* One front-end run: the Compilation stays alive (graph, counts) until front_free. */
typedef struct Front {
  Compilation c;
  bool ok;           /* compile_front's result */
  char *diag;        /* everything reported, NUL-terminated (malloc'd) */
  size_t diag_len;
} Front;

/* Parses, lowers and checks `len` bytes of `src`, shown in messages as `name`. */
static inline void front_run_n(Front *f, const char *name, const char *src, size_t len) {
  f->diag = NULL;
  f->diag_len = 0;
  FILE *out = open_memstream(&f->diag, &f->diag_len);
  assert_non_null(out);
  compilation_init(&f->c, name, src, len, out);
  f->ok = compile_front(&f->c);
  fclose(out);
  f->c.diag.out = NULL;
}

static inline void front_run(Front *f, const char *src) { front_run_n(f, "t.nn", src, strlen(src)); }

static inline void front_free(Front *f) {
  compilation_free(&f->c);
  free(f->diag);
  f->diag = NULL;
}

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL if it cannot be read. */
static inline char *front_read_file(const char *path, size_t *len) {
  if (len) *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    if (got == 0) break;
    n += got;
  }
  fclose(f);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

#endif
