/* compile.c — one Compilation: reading the source and running the front end.
 *
 * The source is read whole into the arena with a NUL after it (the lexer's sentinel); a file
 * larger than the compiler's offsets can address is refused. compile_front is the straight-line
 * pipeline parse → lower → verify; it stops after a phase that reported errors, except that
 * lowering runs after syntax errors too (on the statements they left intact).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

#define MAX_SOURCE_BYTES (256u << 20)

void compilation_init(Compilation *c, const char *display_name, const char *src, size_t len, FILE *diag_out) {
  memset(c, 0, sizeof *c);
  c->path = display_name;
  c->src = arena_strndup(&c->arena, src ? src : "", src ? len : 0);
  c->len = src ? len : 0;
  c->max_nodes = 100000;
  c->diag.file = display_name;
  c->diag.src = c->src;
  c->diag.len = c->len;
  c->diag.out = diag_out;
  c->graph.input = c->graph.label = c->graph.target = c->graph.loss = c->graph.output = NO_NODE;
}

int compilation_read_file(Compilation *c, const char *path, FILE *diag_out) {
  bool is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  const char *shown = is_stdin ? "<stdin>" : path;
  if (!f) {
    fprintf(diag_out, "nnc: error: cannot open '%s': %s\n", path, strerror(errno));
    compilation_init(c, shown, "", 0, diag_out);
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) nn_die("out of memory");
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_SOURCE_BYTES) {
        fprintf(diag_out, "%s: error: file is larger than %u MiB\n", shown, MAX_SOURCE_BYTES >> 20);
        free(buf);
        if (!is_stdin) fclose(f);
        compilation_init(c, shown, "", 0, diag_out);
        return -1;
      }
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) nn_die("out of memory");
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  bool failed = ferror(f);
  int err = errno;
  if (!is_stdin) fclose(f);
  if (failed) {
    fprintf(diag_out, "nnc: error: cannot read '%s': %s\n", path, strerror(err));
    free(buf);
    compilation_init(c, shown, "", 0, diag_out);
    return -1;
  }
  compilation_init(c, shown, buf, len, diag_out);
  free(buf);
  return 0;
}

void compilation_free(Compilation *c) { arena_free(&c->arena); }

bool compile_front(Compilation *c) {
  c->program = parse_program(c);
  if (!c->program.complete) return false;
  /* statements a syntax error did not touch are still lowered, so that their own errors are
     reported too; warnings then could be consequences of the syntax errors, so none are given */
  c->diag.no_warnings = !c->program.syntax_ok;
  bool lowered = lower_program(c);
  if (!c->program.syntax_ok || !lowered) return false;
  if (!ir_verify(&c->graph, stderr)) nn_die("the IR failed verification after lowering");
  lint_graph(c);
  return c->diag.n_errors == 0; /* -Werror counts warnings as errors */
}
