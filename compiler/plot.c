/* plot.c — `nnc plot STATS.csv -o FILE.svg`: the statistics that `nnc train --stats` writes (spec §8)
 * drawn as one self-contained SVG (no scripts, no fonts or files of its own beyond the text).
 *
 * Panels: activation variance against depth and gradient norm against depth, both on a log scale,
 * one line per recorded step coloured from early (blue) to late (orange); below them, when the file
 * has a `loss` column, the training loss of each recorded step. The title names the model (the
 * `model` column, else the file). Columns are found by their header names, so other columns and
 * other orders are fine; a value that is not a positive finite number (a variance of 0, a layer the
 * loss does not reach) breaks its line rather than bending the scale.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

typedef struct StatRow {
  double step, depth, act_var, grad_norm, loss;
} StatRow;

typedef struct StatFile {
  StatRow *rows;
  int n_rows, cap_rows;
  double *steps;     /* distinct steps, in file order */
  int n_steps, cap_steps;
  const char *model;
  bool has_loss;
} StatFile;

enum { COL_STEP, COL_DEPTH, COL_ACT_VAR, COL_GRAD_NORM, COL_LOSS, COL_MODEL, N_COLS };
static const char *const col_names[N_COLS] = {"step", "depth", "act_var", "grad_norm", "loss", "model"};

/* Splits line in place at commas (no quoting: nnc's names have no commas); returns the fields. */
static int split(char *line, char **fields, int max) {
  int n = 0;
  fields[n++] = line;
  for (char *p = line; *p && n < max; p++)
    if (*p == ',') *p = '\0', fields[n++] = p + 1;
  return n;
}

static bool parse_number(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && *end == '\0';
}

/* Reads the CSV text; false after reporting "FILE:LINE: error: ..." to err. */
static bool read_stats(Arena *a, const char *shown, char *text, StatFile *sf, FILE *err) {
  int col[N_COLS];
  for (int k = 0; k < N_COLS; k++) col[k] = -1;
  int line_no = 0, n_header = 0;
  char *next = text;
  while (next && *next) {
    char *line = next;
    char *nl = strchr(line, '\n');
    next = nl ? nl + 1 : NULL;
    if (nl) *nl = '\0';
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    line_no++;
    if (!len || line[0] == '#') continue;
    char *fields[64];
    int n = split(line, fields, 64);
    if (!n_header) {
      n_header = n;
      for (int i = 0; i < n; i++)
        for (int k = 0; k < N_COLS; k++)
          if (strcmp(fields[i], col_names[k]) == 0) col[k] = i;
      for (int k = 0; k <= COL_GRAD_NORM; k++)
        if (col[k] < 0) {
          fprintf(err, "%s:%d: error: the header has no '%s' column (is this a file from nnc train --stats?)\n", shown,
                  line_no, col_names[k]);
          return false;
        }
      sf->has_loss = col[COL_LOSS] >= 0;
      continue;
    }
    if (n != n_header) {
      fprintf(err, "%s:%d: error: %d fields where the header has %d\n", shown, line_no, n, n_header);
      return false;
    }
    StatRow r = {0, 0, 0, 0, NAN};
    double *dst[] = {&r.step, &r.depth, &r.act_var, &r.grad_norm, &r.loss};
    for (int k = 0; k <= COL_LOSS; k++) {
      if (col[k] < 0) continue;
      if (!parse_number(fields[col[k]], dst[k]) || (k <= COL_DEPTH && !(*dst[k] >= 0 && *dst[k] < 1e15))) {
        fprintf(err, "%s:%d: error: %s '%s' is not a %s\n", shown, line_no, col_names[k], fields[col[k]],
                k <= COL_DEPTH ? "whole number" : "number");
        return false;
      }
    }
    if (!sf->model && col[COL_MODEL] >= 0) sf->model = arena_strndup(a, fields[col[COL_MODEL]], strlen(fields[col[COL_MODEL]]));
    ARRAY_GROW(a, sf->rows, sf->n_rows, sf->cap_rows);
    sf->rows[sf->n_rows++] = r;
    if (!sf->n_steps || sf->steps[sf->n_steps - 1] != r.step) {
      ARRAY_GROW(a, sf->steps, sf->n_steps, sf->cap_steps);
      sf->steps[sf->n_steps++] = r.step;
    }
  }
  if (!n_header || !sf->n_rows) {
    fprintf(err, "%s: error: no statistics in the file (a header and at least one row are needed)\n", shown);
    return false;
  }
  return true;
}

/* ---- drawing ---- */

typedef struct Panel {
  double x, y, w, h;        /* the plotting area, in SVG units */
  double x0, x1, y0, y1;    /* data ranges (y in log10 when log) */
  bool log;
} Panel;

static double px(const Panel *p, double x) { return p->x + (p->x1 > p->x0 ? (x - p->x0) / (p->x1 - p->x0) : 0.5) * p->w; }
static double py(const Panel *p, double y) {
  double v = p->log ? log10(y) : y;
  return p->y + p->h - (p->y1 > p->y0 ? (v - p->y0) / (p->y1 - p->y0) : 0.5) * p->h;
}

/* early (t = 0) dark blue → teal → late (t = 1) orange */
static void colour(double t, char *buf, size_t size) {
  static const double stops[3][3] = {{38, 70, 160}, {27, 158, 119}, {230, 85, 13}};
  double u = t <= 0 ? 0 : t >= 1 ? 2 : 2 * t;
  int i = u >= 2 ? 1 : (int)u;
  double f = u - i;
  snprintf(buf, size, "#%02x%02x%02x", (int)(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]) + 0.5),
           (int)(stops[i][1] + f * (stops[i + 1][1] - stops[i][1]) + 0.5),
           (int)(stops[i][2] + f * (stops[i + 1][2] - stops[i][2]) + 0.5));
}

static void text_escaped(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '<') fputs("&lt;", out);
    else if (*s == '>') fputs("&gt;", out);
    else if (*s == '&') fputs("&amp;", out);
    else if (*s == '"') fputs("&quot;", out);
    else if ((unsigned char)*s >= 32) fputc(*s, out);
  }
}

/* A step of 1, 2 or 5 times a power of ten giving about `want` ticks over span. */
static double nice_step(double span, int want) {
  double raw = span / want, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
  double m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void axes(FILE *out, const Panel *p, const char *title, const char *xlabel, const char *ylabel) {
  fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" stroke=\"#888\"/>\n", p->x,
          p->y, p->w, p->h);
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">", p->x + p->w / 2,
          p->y - 10);
  text_escaped(out, title);
  fputs("</text>\n", out);
  double step = nice_step(p->x1 - p->x0, 8);
  if (step < 1 && strcmp(xlabel, "depth (row of nnc check's table)") == 0) step = 1;
  for (double x = ceil(p->x0 / step) * step; x <= p->x1 + 1e-9 * step; x += step) {
    double X = px(p, x);
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", X, p->y, X, p->y + p->h);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n", X, p->y + p->h + 14, x);
  }
  fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">", p->x + p->w / 2, p->y + p->h + 32);
  text_escaped(out, xlabel);
  fputs("</text>\n", out);
  if (p->log) {
    int lo = (int)ceil(p->y0 - 1e-9), hi = (int)floor(p->y1 + 1e-9);
    int every = (hi - lo) / 8 + 1;
    for (int k = lo; k <= hi; k++) {
      if ((k - lo) % every) continue;
      double Y = py(p, pow(10, k));
      fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", p->x, Y, p->x + p->w, Y,
              k == 0 ? "#bbb" : "#ddd");
      fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">10<tspan dy=\"-5\" font-size=\"9\">%d</tspan></text>\n",
              p->x - 5, Y + 4, k);
    }
  } else {
    double s = nice_step(p->y1 - p->y0, 5);
    for (double y = ceil(p->y0 / s) * s; y <= p->y1 + 1e-9 * s; y += s) {
      double Y = py(p, y);
      fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", p->x, Y, p->x + p->w, Y);
      fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n", p->x - 5, Y + 4,
              fabs(y) < 1e-12 * s ? 0 : y);
    }
  }
  fprintf(out, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">", p->x - 42,
          p->y + p->h / 2);
  text_escaped(out, ylabel);
  fputs("</text>\n", out);
}

/* The log10 range of the positive finite values of one column (field offset) over all rows. */
static void log_range(const StatFile *sf, size_t field, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int i = 0; i < sf->n_rows; i++) {
    double v = *(const double *)((const char *)&sf->rows[i] + field);
    if (!(v > 0) || !isfinite(v)) continue;
    double l = log10(v);
    if (l < *lo) *lo = l;
    if (l > *hi) *hi = l;
  }
  if (!isfinite(*lo)) *lo = -1, *hi = 1; /* nothing to draw: an empty decade range */
  *lo = floor(*lo - 0.05), *hi = ceil(*hi + 0.05);
  if (*hi - *lo < 2) *lo -= 1, *hi += 1;
}

/* One polyline per step through its rows' positive finite values (broken where there are none). */
static void depth_lines(FILE *out, const StatFile *sf, const Panel *p, size_t field) {
  for (int s = 0; s < sf->n_steps; s++) {
    char c[16];
    colour(sf->n_steps > 1 ? (double)s / (sf->n_steps - 1) : 1, c, sizeof c);
    bool open = false;
    for (int i = 0; i < sf->n_rows; i++) {
      const StatRow *r = &sf->rows[i];
      if (r->step != sf->steps[s]) continue;
      double v = *(const double *)((const char *)r + field);
      if (!(v > 0) || !isfinite(v)) {
        if (open) fputs("\"/>\n", out), open = false;
        continue;
      }
      if (!open) fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" stroke-opacity=\"0.85\" points=\"", c), open = true;
      fprintf(out, "%.1f,%.1f ", px(p, r->depth), py(p, v));
    }
    if (open) fputs("\"/>\n", out);
  }
}

static void write_svg(const StatFile *sf, const char *title_name, FILE *out) {
  double max_depth = 0;
  for (int i = 0; i < sf->n_rows; i++)
    if (sf->rows[i].depth > max_depth) max_depth = sf->rows[i].depth;
  bool loss_panel = false;
  for (int i = 0; i < sf->n_rows && sf->has_loss; i++) loss_panel |= isfinite(sf->rows[i].loss);
  const double W = 1000, H = loss_panel ? 700 : 460;
  fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
               "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
          W, H, W, H);
  fputs("<title>", out);
  text_escaped(out, title_name);
  fputs(": per-layer statistics (nnc plot)</title>\n", out);
  fprintf(out, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H);
  fprintf(out, "<text x=\"%g\" y=\"28\" font-size=\"18\" font-weight=\"bold\" text-anchor=\"middle\">", W / 2);
  text_escaped(out, title_name);
  fprintf(out, "</text>\n<text x=\"%g\" y=\"48\" font-size=\"12\" fill=\"#555\" text-anchor=\"middle\">"
               "%d recorded step%s, %d rows; each line is one step, from early (blue) to late (orange)</text>\n",
          W / 2, sf->n_steps, sf->n_steps == 1 ? "" : "s", sf->n_rows);

  Panel act = {80, 90, 380, 280, 0, max_depth, 0, 0, true};
  Panel grad = {580, 90, 380, 280, 0, max_depth, 0, 0, true};
  log_range(sf, offsetof(StatRow, act_var), &act.y0, &act.y1);
  log_range(sf, offsetof(StatRow, grad_norm), &grad.y0, &grad.y1);
  axes(out, &act, "activation variance", "depth (row of nnc check's table)", "act_var (log scale)");
  axes(out, &grad, "gradient norm (RMS of d loss / d output)", "depth (row of nnc check's table)", "grad_norm (log scale)");
  depth_lines(out, sf, &act, offsetof(StatRow, act_var));
  depth_lines(out, sf, &grad, offsetof(StatRow, grad_norm));

  /* the colour key: a gradient from the first recorded step to the last */
  double kx = 80, ky = 418, kw = 880;
  fputs("<defs><linearGradient id=\"steps\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">", out);
  for (int i = 0; i <= 4; i++) {
    char c[16];
    colour(i / 4.0, c, sizeof c);
    fprintf(out, "<stop offset=\"%g\" stop-color=\"%s\"/>", i / 4.0, c);
  }
  fputs("</linearGradient></defs>\n", out);
  fprintf(out, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"10\" fill=\"url(#steps)\"/>\n", kx, ky, kw);
  fprintf(out, "<text x=\"%g\" y=\"%g\" font-size=\"11\">step %.0f</text>\n", kx, ky + 24, sf->steps[0]);
  fprintf(out, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">step %.0f</text>\n", kx + kw, ky + 24,
          sf->steps[sf->n_steps - 1]);

  if (loss_panel) {
    Panel lp = {80, 490, 880, 150, sf->steps[0], sf->steps[sf->n_steps - 1], INFINITY, -INFINITY, false};
    for (int i = 0; i < sf->n_rows; i++)
      if (isfinite(sf->rows[i].loss)) {
        if (sf->rows[i].loss < lp.y0) lp.y0 = sf->rows[i].loss;
        if (sf->rows[i].loss > lp.y1) lp.y1 = sf->rows[i].loss;
      }
    double pad = lp.y1 > lp.y0 ? 0.08 * (lp.y1 - lp.y0) : 0.5;
    lp.y0 = lp.y0 - pad > 0 || lp.y0 < 0 ? lp.y0 - pad : 0;
    lp.y1 += pad;
    if (lp.x1 <= lp.x0) lp.x0 -= 1, lp.x1 += 1;
    axes(out, &lp, "training loss at the recorded steps", "step", "loss");
    fputs("<polyline fill=\"none\" stroke=\"#333\" stroke-width=\"1.5\" points=\"", out);
    for (int s = 0; s < sf->n_steps; s++)
      for (int i = 0; i < sf->n_rows; i++)
        if (sf->rows[i].step == sf->steps[s] && isfinite(sf->rows[i].loss)) {
          fprintf(out, "%.1f,%.1f ", px(&lp, sf->steps[s]), py(&lp, sf->rows[i].loss));
          break;
        }
    fputs("\"/>\n", out);
    for (int s = 0; s < sf->n_steps; s++)
      for (int i = 0; i < sf->n_rows; i++)
        if (sf->rows[i].step == sf->steps[s] && isfinite(sf->rows[i].loss)) {
          char c[16];
          colour(sf->n_steps > 1 ? (double)s / (sf->n_steps - 1) : 1, c, sizeof c);
          fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(&lp, sf->steps[s]), py(&lp, sf->rows[i].loss), c);
          break;
        }
  }
  fputs("</svg>\n", out);
}

bool plot_stats(Compilation *c, const char *shown, char *text, const char *file_base, char **svg, size_t *svg_len,
                FILE *err) {
  StatFile sf;
  memset(&sf, 0, sizeof sf);
  if (!read_stats(&c->arena, shown, text, &sf, err)) return false;
  const char *name = sf.model ? sf.model : file_base;
  FILE *out = open_memstream(svg, svg_len);
  if (!out) nn_die("open_memstream failed");
  write_svg(&sf, name, out);
  fclose(out);
  return true;
}
