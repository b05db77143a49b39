/* diag.c — user-facing diagnostics: `file:line:col: error: message`, the source line, a caret.
 *
 * Locations are byte offsets; line and column are computed only when a message is printed
 * (columns count bytes from 1, like gcc and clang). Errors are counted, never exit()ed: the driver
 * stops after a phase that reported any. Messages made while a block is being expanded get a
 * "note: in the block called here" line for each call site, innermost first (the innermost and
 * outermost four, when blocks are nested deeper than eight).
 */
#include <string.h>

#include "nnc.h"

/* Newlines in s[0, n), eight bytes at a time: messages are few (at most 50 errors, each with at
 * most MAX_CALL_NOTES notes), but a source can be 256 MiB. */
static size_t count_newlines(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101u, lows = 0x7F7F7F7F7F7F7F7Fu;
  size_t count = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    w ^= ones * '\n';                                   /* newline bytes become 0 */
    uint64_t zero = ~(((w & lows) + lows) | w) & ~lows; /* 0x80 in each zero byte */
    count += (size_t)(((zero >> 7) * ones) >> 56); /* the sum of the 0/1 bytes */
  }
  for (; i < n; i++) count += s[i] == '\n';
  return count;
}

void diag_line_col(const Diag *d, SrcLoc loc, int *line, int *col) {
  size_t end = loc < d->len ? loc : d->len;
  size_t line_start = end;
  while (line_start > 0 && d->src[line_start - 1] != '\n') line_start--;
  *line = (int)(count_newlines(d->src, line_start) + 1);
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

static void report(Diag *d, SrcLoc loc, const char *kind, const char *suffix, const char *fmt, va_list ap) {
  if (loc == NO_LOC) {
    fprintf(d->out, "%s: %s: ", d->file, kind);
  } else {
    int line, col;
    diag_line_col(d, loc, &line, &col);
    fprintf(d->out, "%s:%d:%d: %s: ", d->file, line, col, kind);
  }
  vfprintf(d->out, fmt, ap);
  fputs(suffix, d->out);
  fputc('\n', d->out);
  show_line(d, loc);
}

static bool over_limit(Diag *d) {
  int max = d->max_errors ? d->max_errors : 50;
  if (d->n_errors == max) fprintf(d->out, "%s: note: too many errors; stopping here\n", d->file);
  return d->n_errors >= max;
}

/* The innermost and the outermost MAX_CALL_NOTES / 2 call sites; the ones between are counted. */
#define MAX_CALL_NOTES 8

static void call_notes(Diag *d) {
  int n = d->n_call_stack;
  for (int i = n - 1; i >= 0; i--) {
    if (n > MAX_CALL_NOTES && i == n - 1 - MAX_CALL_NOTES / 2) {
      fprintf(d->out, "%s: note: (%d more block calls in between)\n", d->file, n - MAX_CALL_NOTES);
      i = MAX_CALL_NOTES / 2 - 1;
    }
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
  report(d, loc, "error", "", fmt, ap);
  va_end(ap);
  call_notes(d);
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...) {
  if (d->n_warnings >= 50 || d->no_warnings) return;
  d->n_warnings++;
  if (d->werror) d->n_errors++;
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, d->werror ? "error" : "warning", d->werror ? " [-Werror]" : "", fmt, ap);
  va_end(ap);
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...) {
  int max = d->max_errors ? d->max_errors : 50;
  if (d->n_errors > max) return;
  va_list ap;
  va_start(ap, fmt);
  report(d, loc, "note", "", fmt, ap);
  va_end(ap);
}
