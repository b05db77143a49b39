/* diag.c — user-facing diagnostics: `file:line:col: error: message`, the source line, a caret.
 *
 * Locations are byte offsets; line and column are computed only when a message is printed
 * (columns count bytes from 1, like gcc and clang). Errors are counted, never exit()ed: the driver
 * stops after a phase that reported any. Messages made while a block is being expanded get a
 * "note: in block called here" line for each call site, innermost first.
 */
#include <string.h>

#include "nnc.h"

void diag_line_col(const Diag *d, SrcLoc loc, int *line, int *col) {
  int l = 1;
  size_t line_start = 0;
  size_t end = loc < d->len ? loc : d->len;
  for (size_t i = 0; i < end; i++)
    if (d->src[i] == '\n') {
      l++;
      line_start = i + 1;
    }
  *line = l;
  *col = (int)(end - line_start) + 1;
}

/* Shows the source line as written (at most 160 bytes around the column, non-printing bytes as
 * '?') and a caret under the column; UTF-8 continuation bytes take no caret column. */
static void show_line(const Diag *d, SrcLoc loc) {
  if (loc == NO_LOC || !d->src) return;
  size_t at = loc < d->len ? loc : d->len;
  size_t start = at, stop = at;
  while (start > 0 && d->src[start - 1] != '\n') start--;
  while (stop < d->len && d->src[stop] != '\n' && d->src[stop] != '\r') stop++;
  size_t from = start, to = stop;
  if (at - from > 100) from = at - 60;
  if (to - from > 160) to = from + 160;
  if (from > start) fputs("...", d->out);
  for (size_t i = from; i < to; i++) {
    unsigned char ch = (unsigned char)d->src[i];
    fputc(ch == '\t' ? '\t' : (ch < 32 || ch == 127) ? '?' : ch, d->out);
  }
  fputc('\n', d->out);
  if (from > start) fputs("   ", d->out);
  for (size_t i = from; i < at; i++) {
    unsigned char ch = (unsigned char)d->src[i];
    if ((ch & 0xC0) != 0x80) fputc(ch == '\t' ? '\t' : ' ', d->out);
  }
  fputs("^\n", d->out);
}

static void report(Diag *d, SrcLoc loc, const char *kind, const char *fmt, va_list ap) {
  if (loc == NO_LOC) {
    fprintf(d->out, "%s: %s: ", d->file, kind);
  } else {
    int line, col;
    diag_line_col(d, loc, &line, &col);
    fprintf(d->out, "%s:%d:%d: %s: ", d->file, line, col, kind);
  }
  vfprintf(d->out, fmt, ap);
  fputc('\n', d->out);
  show_line(d, loc);
}

static bool over_limit(Diag *d) {
  int max = d->max_errors ? d->max_errors : 50;
  if (d->n_errors == max) fprintf(d->out, "%s: note: too many errors; stopping here\n", d->file);
  return d->n_errors >= max;
}

static void call_notes(Diag *d) {
  for (int i = d->n_call_stack - 1; i >= 0; i--) {
    int line, col;
    diag_line_col(d, d->call_stack[i], &line, &col);
    fprintf(d->out, "%s:%d:%d: note: in the block called here\n", d->file, line, col);
  }
}

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...) {
  if (over_limit(d)) {
    d->n_errors++;
    return;
  }
  d->n_errors++;
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, "error", fmt, ap);
  va_end(ap);
  call_notes(d);
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) {
  if (d->n_warnings >= 50) return;
  d->n_warnings++;
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, "warning", fmt, ap);
  va_end(ap);
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) {
  int max = d->max_errors ? d->max_errors : 50;
  if (d->n_errors > max) return;
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, "note", fmt, ap);
  va_end(ap);
}
