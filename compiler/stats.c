/* stats.c — the statistics code of `nnc build --stats` (spec §8), emitted into NAME.h and NAME.c.
 *
 * For every row of the summary table (Graph.layers, in depth order) a recorded training step
 * accumulates, in double, the sum, the sum of squares and the count of exact zeros of the layer's
 * output, and the sum of squares of d loss / d output. emit.c does the accumulating: inside the
 * fused loop that computes a value when it is element-wise (stats_layers_of() tells which
 * accumulators a node feeds), else in one pass over the value right after its kernel, while its
 * storage still holds it. This file emits what is around that: the accumulators' declaration, the
 * pass helpers, the public reading functions and the training driver's glue. A model built without
 * --stats contains none of it. Accumulator k of layer L is m->nnc_stats_acc[4 L + k]:
 * 0 sum, 1 sum of squares, 2 zeros (of the output), 3 sum of squares of the gradient.
 */
#include <string.h>

#include "nnc.h"

int stats_layers_of(const Graph *g, NodeId id, bool grad, int *layers, int max) {
  int n = 0;
  for (int l = 0; l < g->n_layers && n < max; l++) {
    NodeId out = g->layers[l].out;
    NodeId want = grad ? (g->grad_of ? g->grad_of[out] : NO_NODE) : out;
    if (want == id) layers[n++] = l;
  }
  return n;
}

/* A C string literal's body for a layer name (they are identifiers, dots and slashes). */
static void put_literal(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    fputc(*s, out);
  }
}

void stats_emit_header(FILE *h, const Graph *g, const char *name, const char *upper) {
  fprintf(h,
          "\n/* Statistics (nnc build --stats; spec §8): one entry per row of `nnc check`'s summary table. */\n"
          "#define %s_N_LAYERS %d\n"
          "typedef struct %s_layer_stats {\n"
          "  const char *layer;  /* the summary table's name, e.g. \"dense.3\" or \"basic.2/conv2d.1\" */\n"
          "  const char *op;     /* \"dense\", \"selu\", ... */\n"
          "  int depth;          /* 0-based row of the summary table */\n"
          "  double act_mean;    /* mean of the layer's output over the batch and all its elements */\n"
          "  double act_var;     /* variance of it (biased: divided by the element count) */\n"
          "  /* the four statistics are NaN where training does not compute the value (an inference-only\n"
          "     output; a gradient the loss does not need) */\n"
          "  double grad_norm;   /* L2 norm of d loss / d output over sqrt(element count); NaN when the\n"
          "                         loss does not depend on the output */\n"
          "  double dead_frac;   /* share of outputs exactly 0 */\n"
          "} %s_layer_stats;\n"
          "/* on != 0: every following train_step records its statistics (its forward and backward\n"
          "   pass, before the update); 0 stops recording. Steps that do not record cost nothing more. */\n"
          "void %s_stats_record(%s *m, int on);\n"
          "/* Copies the last recorded step's statistics into out[0 .. min(cap, %s_N_LAYERS)) and returns\n"
          "   that step's number (1 for the first step the model took), or 0 when no step was recorded. */\n"
          "uint64_t %s_stats(const %s *m, %s_layer_stats *out, int cap);\n",
          upper, g->n_layers, name, name, name, name, upper, name, name, name);
}

void stats_emit_fields(FILE *out, const Graph *g) {
  fprintf(out,
          "  int stats_on;        /* --stats: record the statistics of the coming train steps */\n"
          "  int stats_n;         /* the batch of the last recorded step */\n"
          "  uint64_t stats_step; /* the last recorded step (0: none) */\n"
          "  double nnc_stats_acc[4 * %d + 1]; /* per layer: sum, sum of squares, zeros, gradient's sum of squares */\n",
          g->n_layers);
}

void stats_emit_helpers(FILE *out) {
  fputs("/* --stats: the accumulators of a value computed outside an element-wise loop (inline: a model\n   may not need both) */\n"
        "static inline void nnc_stats_act(double *acc, const nnc_real *v, size_t count) {\n"
        "  double sum = 0, sq = 0, zeros = 0;\n"
        "  for (size_t i = 0; i < count; i++) {\n"
        "    sum += v[i];\n    sq += (double)v[i] * v[i];\n    zeros += v[i] == 0;\n  }\n"
        "  acc[0] += sum;\n  acc[1] += sq;\n  acc[2] += zeros;\n}\n\n"
        "static inline void nnc_stats_grad(double *acc, const nnc_real *v, size_t count) {\n"
        "  double sq = 0;\n"
        "  for (size_t i = 0; i < count; i++) sq += (double)v[i] * v[i];\n"
        "  acc[3] += sq;\n}\n\n",
        out);
}

void stats_emit_pass(FILE *out, const Graph *g, NodeId id, const char *ref, const char *count) {
  int layers[64];
  for (int grad = 0; grad < 2; grad++) {
    int n = stats_layers_of(g, id, grad, layers, 64);
    for (int k = 0; k < n; k++)
      fprintf(out, "  if (m->stats_on) nnc_stats_%s(m->nnc_stats_acc + %d, %s, %s);  /* %s of %s */\n",
              grad ? "grad" : "act", 4 * layers[k], ref, count, grad ? "gradient" : "statistics", g->layers[layers[k]].name);
  }
}

void stats_emit_api(FILE *out, const Graph *g, const char *name, const bool *in_train) {
  /* a layer's output (or its gradient) that training does not compute has no statistics: NaN */
  fprintf(out, "static const struct { const char *layer, *op; double count; int has_act, has_grad; } nnc_stats_layers[%d] = {\n",
          g->n_layers > 0 ? g->n_layers : 1);
  for (int l = 0; l < g->n_layers; l++) {
    const Layer *ly = &g->layers[l];
    fputs("    {\"", out);
    put_literal(out, ly->name);
    fputs("\", \"", out);
    put_literal(out, ly->op);
    NodeId grad = g->grad_of ? g->grad_of[ly->out] : NO_NODE;
    fprintf(out, "\", %lld, %d, %d},\n", (long long)shape_count(g->nodes[ly->out].shape), in_train[ly->out],
            grad != NO_NODE && in_train[grad]);
  }
  if (g->n_layers == 0) fputs("    {\"\", \"\", 1, 0, 0},\n", out);
  fputs("};\n\n", out);
  fprintf(out, "void %s_stats_record(%s *m, int on) {\n  if (m) m->stats_on = on != 0;\n}\n\n", name, name);
  fprintf(out,
          "uint64_t %s_stats(const %s *m, %s_layer_stats *out, int cap) {\n"
          "  if (!m || !m->stats_step) return 0;\n"
          "  for (int l = 0; l < %d && l < cap; l++) {\n"
          "    const double *acc = m->nnc_stats_acc + 4 * l;\n"
          "    const double count = (double)m->stats_n * nnc_stats_layers[l].count, mean = acc[0] / count;\n"
          "    const double var = acc[1] / count - mean * mean;\n"
          "    out[l].layer = nnc_stats_layers[l].layer;\n"
          "    out[l].op = nnc_stats_layers[l].op;\n"
          "    out[l].depth = l;\n"
          "    const int has_act = nnc_stats_layers[l].has_act;\n"
          "    out[l].act_mean = has_act ? mean : NAN;\n"
          "    out[l].act_var = !has_act ? NAN : var > 0 ? var : 0; /* rounding can take E[x^2] - E[x]^2 below 0 */\n"
          "    out[l].grad_norm = nnc_stats_layers[l].has_grad ? sqrt(acc[3] / count) : NAN;\n"
          "    out[l].dead_frac = has_act ? acc[2] / count : NAN;\n"
          "  }\n"
          "  return m->stats_step;\n}\n\n",
          name, name, name, g->n_layers);
}

void stats_emit_train_glue(FILE *out, const Graph *g, const char *upper) {
  const char *N = g->model_name;
  fprintf(out,
          "static void nnc_stats_record(void *m, int on) { %s_stats_record(m, on); }\n"
          "static uint64_t nnc_stats_read(const void *m, nnrt_layer_stats *out, int cap) {\n"
          "  %s_layer_stats s[%s_N_LAYERS + 1];\n"
          "  uint64_t step = %s_stats(m, s, %s_N_LAYERS);\n"
          "  for (int l = 0; step && l < %s_N_LAYERS && l < cap; l++) {\n"
          "    out[l].layer = s[l].layer;\n    out[l].op = s[l].op;\n    out[l].depth = s[l].depth;\n"
          "    out[l].act_mean = s[l].act_mean;\n    out[l].act_var = s[l].act_var;\n"
          "    out[l].grad_norm = s[l].grad_norm;\n    out[l].dead_frac = s[l].dead_frac;\n"
          "  }\n  return step;\n}\n\n",
          N, N, upper, N, upper, upper);
}
