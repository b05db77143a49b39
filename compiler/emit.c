/* emit.c — the C99 emitter: NAME.h and NAME.c for a differentiated, planned graph.
 *
 * The generated code reads like llm.c: one struct whose parameters, gradients, optimizer state
 * and activations are each one allocation carved into regions; one kernel (loop nest or
 * cblas_sgemm call) per node, preceded by the .nn line it comes from; backward kernels after
 * forward ones in a single train function, which updates each parameter as soon as its gradient is
 * final (the optimizer is one loop over a parameter slice, so all parameters share one code path).
 * Output is deterministic: no timestamps, names are node ids. Requires plan.c's Plan.
 * Ops the emitter has no kernel for are reported as errors, never emitted as wrong code.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc.h"

#define SELU_LAMBDA "1.0507009873554805"
#define SELU_ALPHA "1.6732632423543772"

typedef struct Emit {
  Compilation *c;
  Graph *g;
  Plan plan;
  const EmitOptions *opt;
  FILE *out;
  const char *name;   /* the model's name: the C prefix */
  const char *real;   /* "float" or "double" */
  const char *fsuf;   /* "f" for float literals and libm calls, "" for double */
} Emit;

static void P(Emit *e, const char *fmt, ...) NN_PRINTF(2, 3);
static void P(Emit *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(e->out, fmt, ap);
  va_end(ap);
}

/* ---------------- model hash ---------------- */

uint64_t model_hash(const Graph *g) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) nn_die("open_memstream failed");
  /* the forward graph and the optimizer kind decide what a checkpoint must hold */
  Graph fwd = *g;
  fwd.n_nodes = g->n_forward;
  ir_print(&fwd, f);
  fprintf(f, "optimizer %d\n", (int)g->opt.kind);
  fclose(f);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)text[i];
    h *= 1099511628211ull;
  }
  free(text);
  return h;
}

/* ---------------- helpers ---------------- */

static bool is_batched(Shape s) { return s.rank > 0 && s.dim[0] == DIM_BATCH; }

static long long count_of(const Node *n) { return (long long)shape_count(n->shape); }

/* "(size_t)n * 256" or "256": the element count of a node at run time */
static const char *elems(Emit *e, const Node *n) {
  if (is_batched(n->shape)) return arena_printf(&e->c->arena, "(size_t)n * %lld", count_of(n));
  return arena_printf(&e->c->arena, "%lld", count_of(n));
}

/* The C name of a node's storage (declared at the top of each function). */
static const char *ref(Emit *e, NodeId id) {
  const Storage *st = &e->plan.store[id];
  if (st->kind == STORE_ALIAS) return ref(e, st->alias);
  return arena_printf(&e->c->arena, "t%u", id);
}

static const char *dim_expr(Emit *e, int32_t d) {
  return d == DIM_BATCH ? "n" : arena_printf(&e->c->arena, "%d", (int)d);
}

/* The source line a node comes from, safe inside a C comment. */
static void source_comment(Emit *e, const Node *n, const char *what) {
  const Diag *d = &e->c->diag;
  int line, col;
  diag_line_col(d, n->loc, &line, &col);
  size_t at = n->loc < d->len ? n->loc : d->len, start = at, stop = at;
  while (start > 0 && d->src[start - 1] != '\n') start--;
  while (stop < d->len && d->src[stop] != '\n' && d->src[stop] != '\r') stop++;
  while (start < stop && (d->src[start] == ' ' || d->src[start] == '\t')) start++;
  if (stop - start > 100) stop = start + 100;
  P(e, "  /* %s:%d: ", e->opt->source_name, line);
  for (size_t i = start; i < stop; i++) {
    unsigned char ch = (unsigned char)d->src[i];
    if (ch == '*' && i + 1 < stop && d->src[i + 1] == '/') ch = '?';
    if (ch == '/' && i + 1 < stop && d->src[i + 1] == '*') ch = '?';
    fputc(ch < 32 || ch > 126 ? '?' : ch, e->out);
  }
  const char *layer = n->layer >= 0 ? e->g->layers[n->layer].name : "";
  P(e, "\n     %%%u %s%s%s */\n", (unsigned)(n - e->g->nodes), what, layer[0] ? " in " : "", layer);
}

/* ---------------- kernels ---------------- */

static void emit_matmul(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  const Node *a = &e->g->nodes[n->in[0]], *b = &e->g->nodes[n->in[1]];
  bool ta = n->attr.trans_a, tb = n->attr.trans_b;
  const char *M = dim_expr(e, n->shape.dim[0]), *N = dim_expr(e, n->shape.dim[1]);
  const char *K = dim_expr(e, ta ? a->shape.dim[0] : a->shape.dim[1]);
  const char *lda = dim_expr(e, a->shape.dim[1]), *ldb = dim_expr(e, b->shape.dim[1]);
  P(e, "  /* %s[%s,%s] = %s%s · %s%s */\n", ref(e, id), M, N, ref(e, n->in[0]), ta ? "^T" : "", ref(e, n->in[1]),
    tb ? "^T" : "");
  if (e->opt->blas)
    P(e, "  cblas_sgemm(CblasRowMajor, %s, %s, %s, %s, %s, 1.0f, %s, %s, %s, %s, 0.0f, %s, %s);\n",
      ta ? "CblasTrans" : "CblasNoTrans", tb ? "CblasTrans" : "CblasNoTrans", M, N, K, ref(e, n->in[0]), lda,
      ref(e, n->in[1]), ldb, ref(e, id), N);
  else
    P(e, "  matmul(%s, %s, %s, %d, %d, %s, %s, %s, %s, %s);\n", ref(e, id), ref(e, n->in[0]), ref(e, n->in[1]), ta,
      tb, M, N, K, lda, ldb);
}

/* The value of element-wise node n given its operands' values (each a plain name, so naming
 * one twice costs nothing). Formulas as in ops.h. */
static const char *ew_expr(Emit *e, const Node *n, const char *a, const char *b) {
  Arena *ar = &e->c->arena;
  const char *f = e->fsuf;
  double alpha = n->attr.alpha;
  switch (n->op) {
  case OP_BIAS_ADD: case OP_ADD: return arena_printf(ar, "%s + %s", a, b);
  case OP_SUB: return arena_printf(ar, "%s - %s", a, b);
  case OP_MUL: return arena_printf(ar, "%s * %s", a, b);
  case OP_SCALE: return arena_printf(ar, "(nn_real)%.17g * %s", (double)n->attr.scale, a);
  case OP_RELU: return arena_printf(ar, "%s > 0 ? %s : 0", a, a);
  case OP_SELU:
    return arena_printf(ar, "%s > 0 ? (nn_real)" SELU_LAMBDA " * %s : (nn_real)(" SELU_LAMBDA " * " SELU_ALPHA
                            ") * nn_expm1(%s)", a, a, a);
  case OP_ELU: return arena_printf(ar, "%s > 0 ? %s : (nn_real)%.17g * nn_expm1(%s)", a, a, alpha, a);
  case OP_LEAKY_RELU: return arena_printf(ar, "%s > 0 ? %s : (nn_real)%.17g * %s", a, a, alpha, a);
  case OP_SIGMOID: return arena_printf(ar, "nn_sigmoid(%s)", a);
  case OP_TANH: return arena_printf(ar, "tanh%s(%s)", f, a);
  /* backward: a = dy, b = y (or x for leaky_relu) */
  case OP_RELU_BWD: return arena_printf(ar, "%s > 0 ? %s : 0", b, a);
  case OP_SELU_BWD:
    return arena_printf(ar, "%s > 0 ? (nn_real)" SELU_LAMBDA " * %s : %s * (%s + (nn_real)(" SELU_LAMBDA " * " SELU_ALPHA
                            "))", b, a, a, b);
  case OP_ELU_BWD: return arena_printf(ar, "%s > 0 ? %s : %s * (%s + (nn_real)%.17g)", b, a, a, b, alpha);
  case OP_LEAKY_RELU_BWD: return arena_printf(ar, "%s > 0 ? %s : (nn_real)%.17g * %s", b, a, alpha, a);
  case OP_SIGMOID_BWD: return arena_printf(ar, "%s * %s * (1 - %s)", a, b, b);
  case OP_TANH_BWD: return arena_printf(ar, "%s * (1 - %s * %s)", a, b, b);
  default: nn_die("%s is not element-wise", op_name(n->op));
  }
}

/* One loop computing `root` and every node fused into it (fuse.c), intermediates in locals.
 * A bias_add in the group makes the loop run over batch, channel and position. */
static void emit_ew_group(Emit *e, NodeId root, const Fusion *fu) {
  Graph *g = e->g;
  NodeId members[256];
  int n_members = 0;
  for (NodeId m = 0; m < root && n_members < 255; m++)
    if (fu->inlined[m] && fu->root[m] == root) members[n_members++] = m;
  members[n_members++] = root;
  const Node *bias = NULL;
  for (int k = 0; k < n_members; k++)
    if (g->nodes[members[k]].op == OP_BIAS_ADD) bias = &g->nodes[members[k]];
  if (n_members > 1) {
    P(e, "  /* fused:");
    for (int k = 0; k < n_members; k++) P(e, " %%%u %s", members[k], op_name(g->nodes[members[k]].op));
    P(e, " */\n");
  }
  const char *indent;
  if (bias) {
    long long ch = bias->shape.dim[1], spatial = count_of(bias) / ch;
    if (spatial == 1) {
      P(e, "  for (int b = 0; b < %s; b++)\n    for (int c = 0; c < %lld; c++) {\n      size_t i = (size_t)b * %lld + c;\n",
        is_batched(bias->shape) ? "n" : "1", ch, ch);
      indent = "      ";
    } else {
      P(e, "  for (int b = 0; b < %s; b++)\n    for (int c = 0; c < %lld; c++)\n      for (int s = 0; s < %lld; s++) {\n"
           "        size_t i = ((size_t)b * %lld + c) * %lld + s;\n",
        is_batched(bias->shape) ? "n" : "1", ch, spatial, ch, spatial);
      indent = "        ";
    }
  } else {
    P(e, "  for (size_t i = 0; i < %s; i++) {\n", elems(e, &g->nodes[root]));
    indent = "    ";
  }
  for (int k = 0; k < n_members; k++) {
    NodeId id = members[k];
    const Node *n = &g->nodes[id];
    const char *operand[2] = {NULL, NULL};
    for (int j = 0; j < n->n_in && j < 2; j++) {
      NodeId in = n->in[j];
      if (fu->inlined[in] && fu->root[in] == root) operand[j] = arena_printf(&e->c->arena, "v%u", in);
      else if (n->op == OP_BIAS_ADD && j == 1) operand[j] = arena_printf(&e->c->arena, "%s[c]", ref(e, in));
      else operand[j] = arena_printf(&e->c->arena, "%s[i]", ref(e, in));
    }
    const char *value = ew_expr(e, n, operand[0], operand[1]);
    if (id == root) P(e, "%s%s[i] = %s;\n", indent, ref(e, id), value);
    else P(e, "%snn_real v%u = %s;\n", indent, id, value);
  }
  P(e, "%s}\n", !bias ? "  " : count_of(bias) / bias->shape.dim[1] == 1 ? "    " : "      ");
}

/* db[c] = Σ_b,s dy[b, c, s] */
static void emit_bias_grad(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  const Node *dy = &e->g->nodes[n->in[0]];
  long long ch = count_of(n), spatial = count_of(dy) / ch;
  const char *db = ref(e, id), *d = ref(e, n->in[0]);
  P(e, "  for (int c = 0; c < %lld; c++) %s[c] = 0;\n", ch, db);
  if (spatial == 1)
    P(e, "  for (int b = 0; b < n; b++)\n    for (int c = 0; c < %lld; c++) %s[c] += %s[(size_t)b * %lld + c];\n", ch,
      db, d, ch);
  else
    P(e, "  for (int b = 0; b < n; b++)\n    for (int c = 0; c < %lld; c++)\n"
         "      for (int s = 0; s < %lld; s++) %s[c] += %s[((size_t)b * %lld + c) * %lld + s];\n",
      ch, spatial, db, d, ch, spatial);
}

static void emit_softmax(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long k = count_of(n);
  const char *y = ref(e, id), *x = ref(e, n->in[0]), *f = e->fsuf;
  P(e, "  for (int b = 0; b < n; b++) {\n"
       "    const nn_real *row = %s + (size_t)b * %lld;\n"
       "    nn_real *out = %s + (size_t)b * %lld, mx = row[0], sum = 0;\n"
       "    for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
       "    for (int j = 0; j < %lld; j++) sum += out[j] = exp%s(row[j] - mx);\n"
       "    for (int j = 0; j < %lld; j++) out[j] /= sum;\n  }\n",
    x, k, y, k, k, k, f, k);
}

static void emit_softmax_bwd(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long k = count_of(n);
  P(e, "  for (int b = 0; b < n; b++) {\n"
       "    const nn_real *dy = %s + (size_t)b * %lld, *y = %s + (size_t)b * %lld;\n"
       "    nn_real *dx = %s + (size_t)b * %lld, dot = 0;\n"
       "    for (int j = 0; j < %lld; j++) dot += dy[j] * y[j];\n"
       "    for (int j = 0; j < %lld; j++) dx[j] = y[j] * (dy[j] - dot);\n  }\n",
    ref(e, n->in[0]), k, ref(e, n->in[1]), k, ref(e, id), k, k, k);
}

/* Training: draws the mask (kept values scaled, as torch); inference: identity. */
static void emit_dropout(Emit *e, NodeId id, bool training) {
  const Node *n = &e->g->nodes[id];
  const char *y = ref(e, id), *x = ref(e, n->in[0]);
  double p = n->attr.alpha;
  if (!training || p == 0) {
    P(e, "  memcpy(%s, %s, sizeof(nn_real) * %s);\n", y, x, elems(e, n));
    return;
  }
  P(e, "  {\n    nn_real *mask = m->acts + (size_t)m->max_batch * %zu;\n", e->plan.store[id].aux);
  if (n->op == OP_DROPOUT) {
    P(e, "    const nn_real keep = (nn_real)(1.0 / (1.0 - %.17g));\n", p);
    P(e, "    for (size_t i = 0; i < %s; i++) {\n"
         "      if (!m->freeze_masks) mask[i] = nnrt_rng_uniform(&m->rng) < %.17g ? 0 : keep;\n"
         "      %s[i] = %s[i] * mask[i];\n    }\n  }\n",
      elems(e, n), p, y, x);
  } else {
    /* torch.nn.AlphaDropout: y = a*(x*m + alpha'*(1-m)) + b keeps mean 0 and variance 1 */
    P(e, "    const double alpha_p = 1.7580993408473766, p = %.17g;\n"
         "    const double a = 1.0 / sqrt((alpha_p * alpha_p * p + 1) * (1 - p));\n"
         "    const nn_real kept_shift = (nn_real)(alpha_p * a * p), dropped = (nn_real)(alpha_p * a * (p - 1));\n"
         "    for (size_t i = 0; i < %s; i++) {\n"
         "      if (!m->freeze_masks) mask[i] = nnrt_rng_uniform(&m->rng) < p ? 0 : (nn_real)a;\n"
         "      %s[i] = mask[i] != 0 ? %s[i] * mask[i] + kept_shift : dropped;\n    }\n  }\n",
      p, elems(e, n), y, x);
  }
}

static void emit_loss(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  const Node *z = &e->g->nodes[n->in[0]];
  long long k = count_of(z);
  const char *f = e->fsuf;
  const char *zr = ref(e, n->in[0]), *tr = ref(e, n->in[1]), *l = ref(e, id);
  switch (n->op) {
  case OP_SOFTMAX_XENT:
    P(e, "  {\n    double total = 0;\n    for (int b = 0; b < n; b++) {\n"
         "      const nn_real *row = %s + (size_t)b * %lld;\n"
         "      nn_real mx = row[0], sum = 0;\n"
         "      for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
         "      for (int j = 0; j < %lld; j++) sum += exp%s(row[j] - mx);\n"
         "      total += (double)(mx + log%s(sum) - row[%s[b]]);\n    }\n"
         "    %s[0] = (nn_real)(total / n);\n  }\n",
      zr, k, k, k, f, f, tr, l);
    break;
  case OP_MSE:
    P(e, "  {\n    double total = 0;\n    for (size_t i = 0; i < %s; i++) {\n"
         "      double d = (double)%s[i] - (double)%s[i];\n      total += d * d;\n    }\n"
         "    %s[0] = (nn_real)(total / ((double)n * %lld));\n  }\n",
      elems(e, z), zr, tr, l, k);
    break;
  case OP_BCE_LOGITS:
    /* max(z,0) - z*t + log1p(exp(-|z|)): stable for large |z| */
    P(e, "  {\n    double total = 0;\n    for (size_t i = 0; i < %s; i++) {\n"
         "      double z = %s[i], t = %s[i];\n"
         "      total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));\n    }\n"
         "    %s[0] = (nn_real)(total / ((double)n * %lld));\n  }\n",
      elems(e, z), zr, tr, l, k);
    break;
  default: nn_unreachable();
  }
}

static void emit_loss_bwd(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long k = count_of(n);
  const char *f = e->fsuf;
  const char *dl = ref(e, n->in[0]), *zr = ref(e, n->in[1]), *tr = ref(e, n->in[2]), *dz = ref(e, id);
  switch (n->op) {
  case OP_SOFTMAX_XENT_BWD:
    /* dz = (softmax(z) - onehot(y)) * dloss / n */
    P(e, "  for (int b = 0; b < n; b++) {\n"
         "    const nn_real *row = %s + (size_t)b * %lld;\n"
         "    nn_real *d = %s + (size_t)b * %lld, mx = row[0], sum = 0;\n"
         "    const nn_real scale = %s[0] / (nn_real)n;\n"
         "    for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
         "    for (int j = 0; j < %lld; j++) sum += d[j] = exp%s(row[j] - mx);\n"
         "    for (int j = 0; j < %lld; j++) d[j] = d[j] / sum * scale;\n"
         "    d[%s[b]] -= scale;\n  }\n",
      zr, k, dz, k, dl, k, k, f, k, tr);
    break;
  case OP_MSE_BWD:
    P(e, "  {\n    const nn_real scale = 2 * %s[0] / (nn_real)((double)n * %lld);\n"
         "    for (size_t i = 0; i < %s; i++) %s[i] = (%s[i] - %s[i]) * scale;\n  }\n",
      dl, k, elems(e, n), dz, zr, tr);
    break;
  case OP_BCE_LOGITS_BWD:
    P(e, "  {\n    const nn_real scale = %s[0] / (nn_real)((double)n * %lld);\n"
         "    for (size_t i = 0; i < %s; i++) {\n"
         "      nn_real z = %s[i], s = z >= 0 ? 1 / (1 + exp%s(-z)) : exp%s(z) / (1 + exp%s(z));\n"
         "      %s[i] = (s - %s[i]) * scale;\n    }\n  }\n",
      dl, k, elems(e, n), zr, f, f, f, dz, tr);
    break;
  default: nn_unreachable();
  }
}

static void emit_node(Emit *e, NodeId id, bool training, const Fusion *fu) {
  const Node *n = &e->g->nodes[id];
  const char *y = ref(e, id);
  const char *a = n->n_in > 0 ? ref(e, n->in[0]) : NULL;
  if (fu->inlined[id]) return; /* computed in its user's loop */
  switch (n->op) {
  case OP_INPUT: case OP_LABEL: case OP_TARGET: case OP_PARAM: case OP_BUFFER: case OP_RESHAPE:
    return; /* storage only */
  default: break;
  }
  source_comment(e, n, op_name(n->op));
  if (op_kind(n->op) == OPK_EW) {
    emit_ew_group(e, id, fu);
    return;
  }
  switch (n->op) {
  case OP_ONES_SCALAR: P(e, "  %s[0] = 1;\n", y); break;
  case OP_MATMUL: emit_matmul(e, id); break;
  case OP_BIAS_GRAD: emit_bias_grad(e, id); break;
  case OP_SOFTMAX: emit_softmax(e, id); break;
  case OP_DROPOUT: case OP_ALPHA_DROPOUT: emit_dropout(e, id, training); break;
  case OP_SOFTMAX_BWD: emit_softmax_bwd(e, id); break;
  case OP_DROPOUT_BWD:
    P(e, "  {\n    const nn_real *mask = m->acts + (size_t)m->max_batch * %zu;\n", e->plan.store[n->attr.fwd].aux);
    P(e, "    for (size_t i = 0; i < %s; i++) %s[i] = %s[i] * mask[i];\n  }\n", elems(e, n), y, a);
    break;
  case OP_SOFTMAX_XENT: case OP_MSE: case OP_BCE_LOGITS: emit_loss(e, id); break;
  case OP_SOFTMAX_XENT_BWD: case OP_MSE_BWD: case OP_BCE_LOGITS_BWD: emit_loss_bwd(e, id); break;
  default: nn_die("no kernel for %s (output.c checks support first)", op_name(n->op));
  }
}

/* Declares a pointer for every node a function touches. */
static void emit_pointers(Emit *e, const bool *in_fn, const Fusion *fu) {
  Graph *g = e->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!in_fn[i] || fu->inlined[i]) continue;
    const Node *n = &g->nodes[i];
    const Storage *st = &e->plan.store[i];
    const char *label = n->name ? n->name : n->layer >= 0 ? g->layers[n->layer].name : "";
    const char *shape = shape_str(&e->c->arena, n->shape);
    switch (st->kind) {
    case STORE_NONE: case STORE_ALIAS: break;
    case STORE_USER:
      if (n->op == OP_LABEL) P(e, "  const int32_t *t%d = y;       /* %s %s */\n", i, label, shape);
      else P(e, "  const nn_real *t%d = %s;       /* %s %s */\n", i, n->op == OP_INPUT ? "x" : "t", label, shape);
      break;
    case STORE_PARAM: P(e, "  nn_real *t%d = m->params + %zu;  /* %s %s */\n", i, st->offset, label, shape); break;
    case STORE_BUFFER: P(e, "  nn_real *t%d = m->buffers + %zu;  /* %s %s */\n", i, st->offset, label, shape); break;
    case STORE_GRAD: {
      const char *param = "?";
      for (int k = 0; k < g->n_params; k++)
        if (g->param_grad[k] == (NodeId)i) param = g->params[k].name;
      P(e, "  nn_real *t%d = m->grads + %zu;  /* d loss / d %s */\n", i, st->offset, param);
      break;
    }
    case STORE_BATCHED:
      P(e, "  nn_real *t%d = m->acts + (size_t)m->max_batch * %zu;  /* %s %s %s */\n", i, st->offset, op_name(n->op),
        label, shape);
      break;
    case STORE_FIXED:
      P(e, "  nn_real *t%d = m->fixed + %zu;  /* %s %s %s */\n", i, st->offset, op_name(n->op), label, shape);
      break;
    }
  }
}

/* Converts the caller's float x (and t) into the arena when nn_real is not float. */
static void emit_input_copies(Emit *e, const bool *in_fn) {
  Graph *g = e->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *n = &g->nodes[i];
    if (!in_fn[i] || (n->op != OP_INPUT && n->op != OP_TARGET) || e->plan.store[i].kind != STORE_BATCHED) continue;
    P(e, "  for (size_t i = 0; i < %s; i++) t%d[i] = (nn_real)%s[i];\n", elems(e, n), i, n->op == OP_INPUT ? "x" : "t");
  }
}

/* train() computes the loss and the gradients; infer() returns the output's storage. */
/* train() computes the loss and the gradients and, when `apply` is set and the loss is finite,
 * updates each parameter right after its last use; infer() returns the output's storage. */
static void emit_function(Emit *e, const char *fn, const bool *in_fn, bool training, const char *y_type) {
  Graph *g = e->g;
  const char *yname = y_type[0] == 'i' ? "y" : "t";
  if (training)
    P(e, "static void %s(%s *m, const float *x, const %s *%s, int n, int apply) {\n", fn, e->name, y_type, yname);
  else
    P(e, "static const nn_real *%s(%s *m, const float *x, const %s *%s, int n) {\n", fn, e->name, y_type, yname);
  P(e, "  (void)m; (void)x; (void)%s; (void)n;\n", yname);
  Fusion fu = training ? e->plan.fuse_train : e->plan.fuse_infer;
  /* a parameter's last use: the last kernel (fused groups run at their root) reading it or writing
     its gradient */
  NodeId *last_use = arena_alloc(&e->c->arena, sizeof(NodeId) * (size_t)(g->n_params + 1));
  for (int p = 0; p < g->n_params; p++) last_use[p] = NO_NODE;
  if (training) {
    for (int p = 0; p < g->n_params; p++)
      if (g->params[p].trainable) last_use[p] = g->param_grad[p];
    for (int i = 0; i < g->n_nodes; i++) {
      if (!in_fn[i]) continue;
      for (int k = 0; k < g->nodes[i].n_in; k++) {
        const Node *in = &g->nodes[g->nodes[i].in[k]];
        int p = in->attr.param;
        if (in->op == OP_PARAM && last_use[p] != NO_NODE && fu.root[i] > last_use[p]) last_use[p] = fu.root[i];
      }
    }
  }
  emit_pointers(e, in_fn, &fu);
  emit_input_copies(e, in_fn);
  for (int i = 0; i < g->n_nodes; i++) {
    if (!in_fn[i]) continue;
    emit_node(e, (NodeId)i, training, &fu);
    if (training && (NodeId)i == g->loss)
      P(e, "  /* no parameter changes unless the loss is finite */\n"
           "  if (apply && !isfinite(%s[0])) apply = 0;\n  if (apply) begin_step(m);\n", ref(e, g->loss));
    for (int p = 0; p < g->n_params; p++)
      if (last_use[p] == (NodeId)i)
        P(e, "  if (apply) update(m, %zu, %zu);  /* %s */\n", g->params[p].offset, g->params[p].offset + g->params[p].size,
          g->params[p].name);
  }
  if (!training) P(e, "  return %s;\n", ref(e, g->output));
  P(e, "}\n\n");
}

/* ---------------- initialisation and the optimizer ---------------- */

static void emit_init(Emit *e) {
  Graph *g = e->g;
  P(e, "/* Parameters in creation order, each from the model's own generator. */\n");
  P(e, "static void init_params(%s *m) {\n", e->name);
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    const char *base = p->trainable ? "m->params" : "m->buffers";
    P(e, "  /* %s %s */\n", p->name, shape_str(&e->c->arena, p->shape));
    switch (p->init) {
    case INIT_ZEROS: break; /* the block starts zeroed */
    case INIT_ONES: P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = 1;\n", p->size, base, p->offset); break;
    case INIT_GLOROT_UNIFORM: {
      double a = sqrt(6.0 / (p->fan_in + p->fan_out));
      P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = (nn_real)(%.17g * (2 * nnrt_rng_uniform(&m->rng) - 1));  /* glorot_uniform */\n",
        p->size, base, p->offset, a);
      break;
    }
    case INIT_LECUN_NORMAL: case INIT_HE_NORMAL: case INIT_NORMAL: {
      double std = p->init == INIT_NORMAL ? p->init_std
                   : p->init == INIT_HE_NORMAL ? sqrt(2.0 / p->fan_in) : sqrt(1.0 / p->fan_in);
      const char *what = p->init == INIT_NORMAL ? "normal" : p->init == INIT_HE_NORMAL ? "he_normal" : "lecun_normal";
      P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = (nn_real)(%.17g * nnrt_rng_normal(&m->rng));  /* %s */\n",
        p->size, base, p->offset, std, what);
      break;
    }
    }
  }
  P(e, "}\n\n");
}

static void emit_update(Emit *e) {
  const Optimizer *o = &e->g->opt;
  P(e, "/* Starts an optimizer step: counts it and fixes its constants. */\n");
  P(e, "static void begin_step(%s *m) {\n  m->step++;\n", e->name);
  if (o->kind == OPT_ADAM) {
    P(e, "  const double c1 = 1 - pow(%.17g, (double)m->step), c2 = 1 - pow(%.17g, (double)m->step);\n", o->beta1,
      o->beta2);
    P(e, "  m->step_size = (nn_real)(%.17g / c1);\n  m->root_c2 = (nn_real)sqrt(c2);\n", o->lr);
  }
  P(e, "}\n\n");
  P(e, "/* The optimizer on parameters [begin, end), torch.optim's update rules. train() calls it for\n"
       "   each parameter as soon as its gradient is final, while that gradient is still in cache. */\n");
  P(e, "static void update(%s *m, size_t begin, size_t end) {\n", e->name);
  P(e, "  nn_real *p = m->params, *g = m->grads;\n");
  const char *wd = "";
  char wdbuf[64];
  if (o->weight_decay > 0) {
    snprintf(wdbuf, sizeof wdbuf, " + (nn_real)%.17g * p[i]", o->weight_decay);
    wd = wdbuf;
  }
  switch (o->kind) {
  case OPT_SGD:
    P(e, "  /* sgd(lr=%g, momentum=%g, nesterov=%s, weight_decay=%g) */\n", o->lr, o->momentum,
      o->nesterov ? "true" : "false", o->weight_decay);
    if (o->momentum == 0) {
      P(e, "  for (size_t i = begin; i < end; i++) p[i] -= (nn_real)%.17g * (g[i]%s);\n", o->lr, wd);
    } else {
      P(e, "  nn_real *buf = m->opt_m;\n");
      P(e, "  for (size_t i = begin; i < end; i++) {\n"
           "    nn_real d = g[i]%s;\n"
           "    buf[i] = (nn_real)%.17g * buf[i] + d;\n"
           "    p[i] -= (nn_real)%.17g * %s;\n  }\n",
        wd, o->momentum, o->lr, o->nesterov ? arena_printf(&e->c->arena, "(d + (nn_real)%.17g * buf[i])", o->momentum) : "buf[i]");
    }
    break;
  case OPT_RMSPROP:
    P(e, "  /* rmsprop(lr=%g, rho=%g, eps=%g, weight_decay=%g) */\n", o->lr, o->rho, o->eps, o->weight_decay);
    P(e, "  nn_real *sq = m->opt_m;\n");
    P(e, "  for (size_t i = begin; i < end; i++) {\n"
         "    nn_real d = g[i]%s;\n"
         "    sq[i] = (nn_real)%.17g * sq[i] + (nn_real)%.17g * d * d;\n"
         "    p[i] -= (nn_real)%.17g * d / (sqrt%s(sq[i]) + (nn_real)%.17g);\n  }\n",
      wd, o->rho, 1 - o->rho, o->lr, e->fsuf, o->eps);
    break;
  case OPT_ADAM:
    P(e, "  /* adam(lr=%g, beta1=%g, beta2=%g, eps=%g, weight_decay=%g), bias-corrected */\n", o->lr, o->beta1,
      o->beta2, o->eps, o->weight_decay);
    P(e, "  nn_real *m1 = m->opt_m, *m2 = m->opt_v;\n");
    P(e, "  const nn_real step_size = m->step_size, root_c2 = m->root_c2;\n");
    P(e, "  for (size_t i = begin; i < end; i++) {\n"
         "    nn_real d = g[i]%s;\n"
         "    m1[i] = (nn_real)%.17g * m1[i] + (nn_real)%.17g * d;\n"
         "    m2[i] = (nn_real)%.17g * m2[i] + (nn_real)%.17g * d * d;\n"
         "    p[i] -= step_size * m1[i] / (sqrt%s(m2[i]) / root_c2 + (nn_real)%.17g);\n  }\n",
      wd, o->beta1, 1 - o->beta1, o->beta2, 1 - o->beta2, e->fsuf, o->eps);
    break;
  }
  P(e, "}\n\n");
}

/* The test hook that hands out the last training pass's dropout masks (the PyTorch twin's parity
 * test replays them): the k-th dropout call in graph order, its values per example in *count. */
static void emit_debug_dropout_mask(Emit *e) {
  Graph *g = e->g;
  P(e, "%s *%s_debug_dropout_mask(%s *m, int k, long *count) {\n  (void)m;\n  switch (k) {\n", e->real, e->name, e->name);
  int k = 0;
  for (int i = 0; i < g->n_forward; i++) {
    const Node *n = &g->nodes[i];
    if (n->op != OP_DROPOUT && n->op != OP_ALPHA_DROPOUT) continue;
    if (e->plan.store[i].aux != SIZE_MAX)
      P(e, "  case %d: *count = %lld; return m->acts + (size_t)m->max_batch * %zu;\n", k, count_of(n), e->plan.store[i].aux);
    k++;
  }
  P(e, "  default: *count = 0; return NULL;\n  }\n}\n");
}

/* ---------------- the file ---------------- */

static void put_le(unsigned char *out, size_t *n, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out[(*n)++] = (unsigned char)(v >> (8 * i));
}

/* The checkpoint's "param_table" section (format in runtime/nnrt.c): every parameter's name,
 * block, shape and offset, which NAME_load requires to match byte for byte. */
static void emit_param_table(Emit *e) {
  Graph *g = e->g;
  size_t cap = 4, n = 0;
  for (int i = 0; i < g->n_params; i++) cap += 4 + strlen(g->params[i].name) + 8 + 4 * NN_MAX_RANK + 8;
  unsigned char *bytes = arena_alloc(&e->c->arena, cap);
  put_le(bytes, &n, (uint64_t)g->n_params, 4);
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    size_t len = strlen(p->name);
    put_le(bytes, &n, len, 4);
    memcpy(bytes + n, p->name, len);
    n += len;
    put_le(bytes, &n, p->trainable ? 0 : 1, 4);
    put_le(bytes, &n, (uint64_t)p->shape.rank, 4);
    for (int k = 0; k < p->shape.rank; k++) put_le(bytes, &n, (uint64_t)p->shape.dim[k], 4);
    put_le(bytes, &n, p->offset, 8);
  }
  P(e, "/* The checkpoint's parameter table: per parameter its name, block (0 params, 1 buffers), shape\n"
       "   and offset, little-endian (runtime/nnrt.c). */\n");
  P(e, "static const unsigned char param_table[%zu] = {", n);
  for (size_t i = 0; i < n; i++) P(e, "%s%u,", i % 24 ? "" : "\n   ", bytes[i]);
  P(e, "\n};\n\n");
}

static void emit_header(Emit *e, FILE *h) {
  Graph *g = e->g;
  char guard[80];
  size_t k = 0;
  for (const char *s = e->name; *s && k < sizeof guard - 3; s++) guard[k++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
  guard[k] = 0;
  bool label = g->label != NO_NODE;
  const Node *out = &g->nodes[g->output];
  fprintf(h,
          "/* %s.h — generated by nnc from %s; do not edit. */\n"
          "#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n"
          "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
          "#define %s_IN_SIZE %lld   /* floats per example of the input */\n"
          "#define %s_OUT_SIZE %lld  /* floats per example that forward() writes */\n",
          e->name, e->opt->source_name, guard, guard, guard, (long long)shape_count(g->nodes[g->input].shape), guard,
          count_of(out));
  if (label) fprintf(h, "#define %s_N_CLASSES %d\n", guard, g->n_classes);
  else fprintf(h, "#define %s_TARGET_SIZE %lld\n", guard, (long long)shape_count(g->nodes[g->target].shape));
  fprintf(h,
          "\ntypedef struct %s %s; /* opaque */\n\n"
          "/* Allocates and initialises the weights from seed; NULL on failure or max_batch < 1. */\n"
          "%s *%s_new(int max_batch, uint64_t seed);\n"
          "void %s_free(%s *m);\n"
          "/* Inference on n examples (any n >= 1; done in chunks of max_batch): out gets n * %s_OUT_SIZE floats. */\n"
          "void %s_forward(%s *m, const float *x, int n, float *out);\n"
          "/* One optimizer step on n <= max_batch examples; returns the mean loss. Returns NaN and\n"
          "   changes nothing for bad arguments%s; a non-finite loss skips the update. */\n"
          "float %s_train_step(%s *m, const float *x, const %s, int n);\n"
          "/* Checkpoints: 0 on success; on failure -1, nnrt_last_error() says why, and the model\n"
          "   (or the previous file) is untouched. */\n"
          "int %s_save(const %s *m, const char *path);\n"
          "int %s_load(%s *m, const char *path);\n"
          "/* Optimizer steps taken so far. */\n"
          "uint64_t %s_steps(const %s *m);\n",
          e->name, e->name, e->name, e->name, e->name, e->name, guard, e->name, e->name,
          label ? " (or a label outside 0..K-1)" : "", e->name, e->name, label ? "int32_t *y" : "float *t", e->name,
          e->name, e->name, e->name, e->name, e->name);
  if (e->opt->debug_api)
    fprintf(h,
            "\n/* Test hooks: the parameters and gradients as nn_real (%s) arrays, and one forward and\n"
            "   backward pass without an update (masks frozen after the first call when freeze is set). */\n"
            "long %s_debug_n_params(void);\n"
            "%s *%s_debug_params(%s *m);\n"
            "%s *%s_debug_grads(%s *m);\n"
            "double %s_debug_loss_grad(%s *m, const float *x, const %s, int n, int freeze_masks);\n"
            "/* The k-th dropout call's mask from the last training pass (NULL past the last): *count\n"
            "   values per example, 0 where dropped, else the kept values' factor. */\n"
            "%s *%s_debug_dropout_mask(%s *m, int k, long *count);\n",
            e->real, e->name, e->real, e->name, e->name, e->real, e->name, e->name, e->name, e->name,
            label ? "int32_t *y" : "float *t", e->real, e->name, e->name);
  fprintf(h, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

static const char *matmul_helper =
    "/* C[M,N] = op(A) op(B), row-major; op = transpose when ta/tb. Loop orders keep the inner loop\n"
    "   contiguous. */\n"
    "static void matmul(nn_real *C, const nn_real *A, const nn_real *B, int ta, int tb, int M, int N, int K,\n"
    "                   int lda, int ldb) {\n"
    "  for (int i = 0; i < M; i++) {\n"
    "    nn_real *c = C + (size_t)i * N;\n"
    "    if (tb) {\n"
    "      for (int j = 0; j < N; j++) {\n"
    "        const nn_real *b = B + (size_t)j * ldb;\n"
    "        nn_real sum = 0;\n"
    "        if (ta) for (int k = 0; k < K; k++) sum += A[(size_t)k * lda + i] * b[k];\n"
    "        else for (int k = 0; k < K; k++) sum += A[(size_t)i * lda + k] * b[k];\n"
    "        c[j] = sum;\n"
    "      }\n"
    "    } else {\n"
    "      for (int j = 0; j < N; j++) c[j] = 0;\n"
    "      for (int k = 0; k < K; k++) {\n"
    "        nn_real a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];\n"
    "        const nn_real *b = B + (size_t)k * ldb;\n"
    "        for (int j = 0; j < N; j++) c[j] += a * b[j];\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n\n";

/* expm1f without branches or calls, so the loops of selu and elu vectorize: e^x = 2^k e^r with
 * r = x - k ln2 in [-ln2/2, ln2/2] (Cody–Waite split of ln2), e^r - 1 by its Taylor polynomial
 * to r^7 (truncation below 2e-8 relative), and 2^k e^r - 1 = 2^k (e^r - 1) + (2^k - 1), which is
 * exact for k = 0 and so keeps the relative accuracy near x = 0. Within 2 ulp of expm1f. */
static const char *fast_expm1 =
    "static inline float nn_expm1(float x) {\n"
    "  float xc = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;\n"
    "#ifdef __FAST_MATH__ /* the compiler would fold the rounding trick below away */\n"
    "  float k = rintf(xc * 1.44269504f);\n"
    "#else\n"
    "  float k = (xc * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln2) */\n"
    "#endif\n"
    "  float r = xc - k * 0.693359375f;\n"
    "  r = r - k * -2.12194440e-4f;\n"
    "  float p = r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f + r * (8.33333333e-3f +\n"
    "            r * (1.38888889e-3f + r * 1.98412698e-4f))))));\n"
    "  union { int32_t i; float f; } two_k;\n"
    "  two_k.i = ((int32_t)k + 127) << 23;\n"
    "  return two_k.f * p + (two_k.f - 1.0f);\n"
    "}\n\n";

void emit_c(Compilation *c, const EmitOptions *opt, FILE *h, FILE *out) {
  Graph *g = &c->graph;
  Emit e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.g = g;
  e.opt = opt;
  e.out = out;
  e.name = g->model_name;
  e.real = opt->double_precision ? "double" : "float";
  e.fsuf = opt->double_precision ? "" : "f";
  e.plan = plan_build(c, opt->double_precision);
  bool label = g->label != NO_NODE;
  const char *y_type = label ? "int32_t" : "float";
  uint64_t hash = model_hash(g) ^ (opt->double_precision ? 0x9e3779b97f4a7c15ull : 0);

  emit_header(&e, h);

  P(&e, "/* %s.c — generated by nnc from %s; do not edit.\n"
        " * Training: train() runs the forward and backward kernels and updates each parameter as soon\n"
        " * as its gradient is final. Inference: infer().\n"
        " * Parameters, gradients, optimizer state and activations are one allocation each. */\n",
    e.name, opt->source_name);
  P(&e, "#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
  if (opt->blas) P(&e, "#include <cblas.h>\n");
  P(&e, "#include \"nnrt.h\"\n#include \"%s.h\"\n\n", e.name);
  P(&e, "typedef %s nn_real;\n\n", e.real);
  /* helpers only when a kernel calls them: clang's -Wall warns about unused static functions */
  bool use_expm1 = false, use_sigmoid = false, use_matmul = false;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!e.plan.in_train[i] && !e.plan.in_infer[i]) continue;
    use_expm1 |= g->nodes[i].op == OP_SELU || g->nodes[i].op == OP_ELU;
    use_sigmoid |= g->nodes[i].op == OP_SIGMOID;
    use_matmul |= g->nodes[i].op == OP_MATMUL;
  }
  if (use_expm1 && opt->double_precision)
    P(&e, "#define nn_expm1 expm1\n\n");
  else if (use_expm1)
    P(&e, "%s", fast_expm1);
  if (use_sigmoid)
    P(&e, "/* logistic function, stable for large |x| */\n"
          "static inline nn_real nn_sigmoid(nn_real x) {\n"
          "  return x >= 0 ? 1 / (1 + exp%s(-x)) : exp%s(x) / (1 + exp%s(x));\n}\n\n",
      e.fsuf, e.fsuf, e.fsuf);
  P(&e, "#define N_PARAMS %zu   /* trainable values */\n", e.plan.n_params);
  P(&e, "#define N_BUFFERS %zu  /* non-trainable state */\n", e.plan.n_buffers);
  P(&e, "#define ACTS_PER_EXAMPLE %zu\n", e.plan.batched_per_example);
  P(&e, "#define N_FIXED %zu\n", e.plan.fixed + 1);
  P(&e, "#define IN_SIZE %lld\n#define OUT_SIZE %lld\n", (long long)shape_count(g->nodes[g->input].shape),
    count_of(&g->nodes[g->output]));
  if (label) P(&e, "#define N_CLASSES %d\n", g->n_classes);
  else P(&e, "#define TARGET_SIZE %lld\n", (long long)shape_count(g->nodes[g->target].shape));
  P(&e, "#define MODEL_HASH UINT64_C(0x%016llx)\n\n", (unsigned long long)hash);
  P(&e, "struct %s {\n"
        "  int max_batch;\n"
        "  uint64_t step;      /* optimizer steps taken */\n"
        "  nnrt_rng rng;       /* initialisation, then dropout masks */\n"
        "  int freeze_masks;   /* tests: reuse the last dropout masks */\n"
        "  nn_real *params;    /* N_PARAMS */\n"
        "  nn_real *grads;     /* N_PARAMS, mirrors params */\n"
        "  nn_real *opt_m;     /* N_PARAMS: momentum / first moment / square average */\n"
        "  nn_real *opt_v;     /* N_PARAMS: adam's second moment */\n"
        "  nn_real *buffers;   /* N_BUFFERS */\n"
        "  nn_real *acts;      /* max_batch * ACTS_PER_EXAMPLE */\n"
        "  nn_real *fixed;     /* N_FIXED: scalars and unbatched temporaries */\n"
        "  nn_real step_size, root_c2; /* adam's constants for the current step */\n"
        "};\n\n",
    e.name);
  if (!opt->blas && use_matmul) P(&e, "%s", matmul_helper);

  emit_init(&e);
  emit_update(&e);
  emit_function(&e, "train", e.plan.in_train, true, y_type);
  emit_function(&e, "infer", e.plan.in_infer, false, y_type);

  const char *N = e.name;
  /* the public API */
  P(&e, "%s *%s_new(int max_batch, uint64_t seed) {\n"
        "  if (max_batch < 1 || (size_t)max_batch > ((size_t)-1 / sizeof(nn_real)) / (ACTS_PER_EXAMPLE + 1)) return NULL;\n"
        "  %s *m = calloc(1, sizeof *m);\n"
        "  if (!m) return NULL;\n"
        "  m->max_batch = max_batch;\n"
        "  m->params = nnrt_alloc(sizeof(nn_real) * (N_PARAMS + 1));\n"
        "  m->grads = nnrt_alloc(sizeof(nn_real) * (N_PARAMS + 1));\n"
        "  m->opt_m = nnrt_alloc(sizeof(nn_real) * (N_PARAMS + 1));\n"
        "  m->opt_v = nnrt_alloc(sizeof(nn_real) * (N_PARAMS + 1));\n"
        "  m->buffers = nnrt_alloc(sizeof(nn_real) * (N_BUFFERS + 1));\n"
        "  m->acts = nnrt_alloc(sizeof(nn_real) * ((size_t)max_batch * ACTS_PER_EXAMPLE + 1));\n"
        "  m->fixed = nnrt_alloc(sizeof(nn_real) * N_FIXED);\n"
        "  if (!m->params || !m->grads || !m->opt_m || !m->opt_v || !m->buffers || !m->acts || !m->fixed) {\n"
        "    %s_free(m);\n    return NULL;\n  }\n"
        "  nnrt_rng_seed(&m->rng, seed);\n"
        "  init_params(m);\n"
        "  return m;\n}\n\n",
    N, N, N, N);
  P(&e, "void %s_free(%s *m) {\n"
        "  if (!m) return;\n"
        "  nnrt_free(m->params);\n  nnrt_free(m->grads);\n  nnrt_free(m->opt_m);\n  nnrt_free(m->opt_v);\n"
        "  nnrt_free(m->buffers);\n  nnrt_free(m->acts);\n  nnrt_free(m->fixed);\n  free(m);\n}\n\n",
    N, N);
  P(&e, "void %s_forward(%s *m, const float *x, int n, float *out) {\n"
        "  if (!m || !x || !out || n < 1) return;\n"
        "  for (int start = 0; start < n; start += m->max_batch) {\n"
        "    int chunk = n - start < m->max_batch ? n - start : m->max_batch;\n"
        "    const nn_real *result = infer(m, x + (size_t)start * IN_SIZE, NULL, chunk);\n"
        "    for (size_t i = 0; i < (size_t)chunk * OUT_SIZE; i++) out[(size_t)start * OUT_SIZE + i] = (float)result[i];\n"
        "  }\n}\n\n",
    N, N);
  P(&e, "float %s_train_step(%s *m, const float *x, const %s *%s, int n) {\n"
        "  if (!m || !x || !%s || n < 1 || n > m->max_batch) return NAN;\n",
    N, N, y_type, label ? "y" : "t", label ? "y" : "t");
  if (label) P(&e, "  for (int i = 0; i < n; i++)\n    if (y[i] < 0 || y[i] >= N_CLASSES) return NAN;\n");
  P(&e, "  train(m, x, %s, n, 1);\n", label ? "y" : "t");
  P(&e, "  float loss = (float)m->fixed[%zu];\n", e.plan.store[g->loss].offset);
  P(&e, "  return loss;\n}\n\n");
  P(&e, "uint64_t %s_steps(const %s *m) { return m->step; }\n\n", N, N);
  /* checkpoints: the generator's state is packed into integers so the file has no padding */
  emit_param_table(&e);
  P(&e, "#define N_SECTIONS 7\n"
        "static void sections(const %s *m, nnrt_section *s, uint64_t *step, uint64_t *rng) {\n"
        "  nnrt_section all[N_SECTIONS] = {\n"
        "      {\"param_table\", (void *)param_table, sizeof param_table, 1},\n"
        "      {\"params\", m->params, sizeof(nn_real) * N_PARAMS, 0},\n"
        "      {\"buffers\", m->buffers, sizeof(nn_real) * N_BUFFERS, 0},\n"
        "      {\"opt.m\", m->opt_m, sizeof(nn_real) * N_PARAMS, 0},\n"
        "      {\"opt.v\", m->opt_v, sizeof(nn_real) * N_PARAMS, 0},\n"
        "      {\"step\", step, sizeof *step, 0},\n"
        "      {\"rng\", rng, sizeof(uint64_t) * 6, 0},\n"
        "  };\n"
        "  memcpy(s, all, sizeof all);\n}\n\n",
    N);
  P(&e, "int %s_save(const %s *m, const char *path) {\n"
        "  if (!m || !path) return -1;\n"
        "  uint64_t step = m->step, rng[6];\n"
        "  memcpy(rng, m->rng.s, sizeof m->rng.s);\n"
        "  memcpy(&rng[4], &m->rng.spare_normal, sizeof(double));\n"
        "  rng[5] = (uint64_t)m->rng.has_spare;\n"
        "  nnrt_section s[N_SECTIONS];\n"
        "  sections(m, s, &step, rng);\n"
        "  return nnrt_checkpoint_save(path, \"%s\", MODEL_HASH, s, N_SECTIONS) == 0 ? 0 : -1;\n}\n\n",
    N, N, N);
  P(&e, "int %s_load(%s *m, const char *path) {\n"
        "  if (!m || !path) return -1;\n"
        "  uint64_t step = 0, rng[6] = {0};\n"
        "  nnrt_section s[N_SECTIONS];\n"
        "  sections(m, s, &step, rng);\n"
        "  if (nnrt_checkpoint_load(path, \"%s\", MODEL_HASH, s, N_SECTIONS) != 0) return -1;\n"
        "  m->step = step;\n"
        "  memcpy(m->rng.s, rng, sizeof m->rng.s);\n"
        "  memcpy(&m->rng.spare_normal, &rng[4], sizeof(double));\n"
        "  m->rng.has_spare = (int)rng[5];\n"
        "  return 0;\n}\n",
    N, N, N);
  if (opt->debug_api) {
    P(&e, "\nlong %s_debug_n_params(void) { return (long)N_PARAMS; }\n", N);
    P(&e, "%s *%s_debug_params(%s *m) { return m->params; }\n", e.real, N, N);
    P(&e, "%s *%s_debug_grads(%s *m) { return m->grads; }\n", e.real, N, N);
    P(&e, "double %s_debug_loss_grad(%s *m, const float *x, const %s *%s, int n, int freeze_masks) {\n"
          "  train(m, x, %s, n, 0);\n  m->freeze_masks = freeze_masks;\n"
          "  return (double)m->fixed[%zu];\n}\n",
      N, N, y_type, label ? "y" : "t", label ? "y" : "t", e.plan.store[g->loss].offset);
    emit_debug_dropout_mask(&e);
  }
}

void emit_train_main(Compilation *c, FILE *out) {
  Graph *g = &c->graph;
  const char *N = g->model_name;
  bool label = g->label != NO_NODE;
  const Node *in = &g->nodes[g->input];
  double flops = 0;
  for (int i = 0; i < g->n_layers; i++) flops += g->layers[i].flops;
  long long n_params = 0;
  for (int i = 0; i < g->n_params; i++)
    if (g->params[i].trainable) n_params += (long long)g->params[i].size;
  fprintf(out,
          "/* train_main.c — generated by nnc: the training driver's entry for model %s; do not edit. */\n"
          "#include \"nnrt_train.h\"\n#include \"%s.h\"\n\n"
          "static void *create(int max_batch, uint64_t seed) { return %s_new(max_batch, seed); }\n"
          "static void destroy(void *m) { %s_free(m); }\n"
          "static void forward(void *m, const float *x, int n, float *out) { %s_forward(m, x, n, out); }\n"
          "static float step(void *m, const float *x, const %s *y, int n) { return %s_train_step(m, x, y, n); }\n"
          "static int save(const void *m, const char *path) { return %s_save(m, path); }\n"
          "static int load(void *m, const char *path) { return %s_load(m, path); }\n"
          "static uint64_t steps(const void *m) { return %s_steps(m); }\n\n"
          "int main(int argc, char **argv) {\n"
          "  nnrt_model_api api = {0};\n"
          "  api.name = \"%s\";\n"
          "  api.in_size = %lld;\n"
          "  api.in_rank = %d;\n",
          N, N, N, N, N, label ? "int32_t" : "float", N, N, N, N, N, (long long)shape_count(in->shape),
          in->shape.rank - 1);
  for (int i = 1; i < in->shape.rank; i++) fprintf(out, "  api.in_shape[%d] = %d;\n", i - 1, (int)in->shape.dim[i]);
  fprintf(out,
          "  api.out_size = %lld;\n"
          "  api.n_classes = %d;\n"
          "  api.target_size = %lld;\n"
          "  api.n_params = %lld;\n"
          "  api.flops_per_example = %.17g;\n"
          "  api.create = create;\n  api.destroy = destroy;\n  api.forward = forward;\n"
          "  api.%s = step;\n"
          "  api.save = save;\n  api.load = load;\n  api.steps = steps;\n"
          "  return nnrt_train_main(&api, argc, argv);\n}\n",
          (long long)shape_count(g->nodes[g->output].shape), label ? g->n_classes : 0,
          label ? 0LL : (long long)shape_count(g->nodes[g->target].shape), n_params, flops,
          label ? "train_step_label" : "train_step_target");
}

void emit_bench_main(Compilation *c, FILE *out) {
  Graph *g = &c->graph;
  const char *N = g->model_name;
  bool label = g->label != NO_NODE;
  double flops = 0;
  for (int i = 0; i < g->n_layers; i++) flops += g->layers[i].flops;
  long long in_size = (long long)shape_count(g->nodes[g->input].shape);
  long long out_size = (long long)shape_count(g->nodes[g->output].shape);
  fprintf(out,
          "/* bench_main.c — generated by nnc: times %s's train_step and forward on random data. */\n"
          "#define _POSIX_C_SOURCE 200809L\n"
          "#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>\n\n"
          "#include \"nnrt.h\"\n#include \"%s.h\"\n\n"
          "#ifdef NNRT_OPENBLAS\nextern void openblas_set_num_threads(int);\nextern int openblas_get_num_threads(void);\n"
          "extern char *openblas_get_corename(void);\n#endif\n\n"
          "static double now(void) {\n  struct timespec ts;\n  clock_gettime(CLOCK_MONOTONIC, &ts);\n"
          "  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;\n}\n\n"
          "static int by_value(const void *a, const void *b) {\n"
          "  double x = *(const double *)a, y = *(const double *)b;\n  return (x > y) - (x < y);\n}\n\n"
          "int main(int argc, char **argv) {\n"
          "  if (argc != 5) return 2;\n"
          "  int batch = atoi(argv[1]), steps = atoi(argv[2]), runs = atoi(argv[3]), threads = atoi(argv[4]);\n"
          "#ifdef NNRT_OPENBLAS\n  openblas_set_num_threads(threads);\n#else\n  (void)threads;\n#endif\n"
          "  const double flops_fwd = %.17g; /* per example */\n"
          "  %s *m = %s_new(batch, 1);\n"
          "  float *x = malloc(sizeof(float) * (size_t)batch * %lld), *out = malloc(sizeof(float) * (size_t)batch * %lld);\n",
          N, N, flops, N, N, in_size, out_size);
  if (label)
    fprintf(out, "  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);\n");
  else
    fprintf(out, "  float *y = malloc(sizeof(float) * (size_t)batch * %lld);\n",
            (long long)shape_count(g->nodes[g->target].shape));
  fprintf(out,
          "  double *rates = malloc(sizeof(double) * (size_t)runs);\n"
          "  if (!m || !x || !out || !y || !rates) {\n    fprintf(stderr, \"bench: out of memory\\n\");\n    return 1;\n  }\n"
          "  nnrt_rng rng;\n  nnrt_rng_seed(&rng, 42);\n"
          "  for (size_t i = 0; i < (size_t)batch * %lld; i++) x[i] = (float)nnrt_rng_normal(&rng);\n",
          in_size);
  if (label)
    fprintf(out, "  for (int i = 0; i < batch; i++) y[i] = (int32_t)(nnrt_rng_next(&rng) %% %d);\n", g->n_classes);
  else
    fprintf(out, "  for (size_t i = 0; i < (size_t)batch * %lld; i++) y[i] = (float)nnrt_rng_uniform(&rng);\n",
            (long long)shape_count(g->nodes[g->target].shape));
  fprintf(out,
          "  printf(\"model %s: batch %%d, %%d thread%%s, median of %%d runs of %%d steps\\n\", batch, threads,\n"
          "         threads == 1 ? \"\" : \"s\", runs, steps);\n"
          "#ifdef NNRT_OPENBLAS\n"
          "  printf(\"blas: OpenBLAS %%s, %%d thread(s)\\n\", openblas_get_corename(), openblas_get_num_threads());\n"
          "#endif\n"
          "  for (int phase = 0; phase < 2; phase++) {\n"
          "    for (int w = 0; w < 3; w++) phase ? %s_forward(m, x, batch, out) : (void)%s_train_step(m, x, y, batch);\n"
          "    for (int r = 0; r < runs; r++) {\n"
          "      double t0 = now();\n"
          "      for (int s = 0; s < steps; s++) {\n"
          "        if (phase) %s_forward(m, x, batch, out);\n"
          "        else %s_train_step(m, x, y, batch);\n"
          "      }\n"
          "      rates[r] = (double)steps * batch / (now() - t0);\n"
          "    }\n"
          "    qsort(rates, (size_t)runs, sizeof *rates, by_value);\n"
          "    double median = runs %% 2 ? rates[runs / 2] : 0.5 * (rates[runs / 2 - 1] + rates[runs / 2]);\n"
          "    /* training costs about three forward passes: forward, and backward for data and weights */\n"
          "    double gflops = median * flops_fwd * (phase ? 1 : 3) / 1e9;\n"
          "    printf(\"%%-8s %%10.0f examples/s  %%7.2f GFLOP/s  (runs: %%.0f .. %%.0f)\\n\", phase ? \"forward\" : \"train\",\n"
          "           median, gflops, rates[0], rates[runs - 1]);\n"
          "  }\n"
          "  %s_free(m);\n  free(x);\n  free(out);\n  free(y);\n  free(rates);\n  return 0;\n}\n",
          N, N, N, N, N, N);
}
