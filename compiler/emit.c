/* emit.c — the C99 emitter: NAME.h and NAME.c for a differentiated, planned graph.
 *
 * The generated code reads like llm.c: one struct whose parameters, gradients, optimizer state
 * and activations are each one allocation carved into regions; one kernel (loop nest or
 * cblas_sgemm call) per node, preceded by the .nn line it comes from; backward kernels after
 * forward ones in a single train function, which then checks that the loss and every gradient are
 * finite and only then updates each parameter (the optimizer is one loop over a parameter slice, so
 * all parameters share one code path). Every internal C name starts with nnc_ or NNC_ (model names
 * cannot: lower.c), and the struct's tag is nnc_NAME, so no model name collides with them.
 * Output is deterministic: no timestamps, names are node ids. Requires plan.c's Plan. Sections:
 * helpers, element-wise groups, dense and loss kernels, the convolutional family (conv2d as
 * grouped im2col + gemm, batchnorm, pooling), the train/infer functions, the optimizer, the file
 * (with the generated helpers' text and the run-time dispatch macro).
 */
#include <errno.h>
#include <float.h>
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
  const char *name;   /* the model's name: the public C prefix and typedef */
  const char *upper;  /* the name in capitals: the public macros' prefix */
  const char *tag;    /* the struct's tag, nnc_NAME (a tag like `tm` would clash with <time.h>) */
  const char *real;   /* "float" or "double" */
  const char *fsuf;   /* "f" for float literals and libm calls, "" for double */
  bool *folded;       /* nodes computed by an earlier kernel of the function being emitted */
  /* parallel loops (par_begin, par_end) */
  FILE *tasks;        /* the task functions, written before the functions that run them */
  int n_tasks;
  FILE *par_outer;    /* the function's stream while a task's body is being written */
  char *par_body;
  size_t par_len;
  const bool *in_fn;  /* the function being emitted: its nodes and fusion */
  const Fusion *fu;
  const char *yname;  /* its label or target argument: "y" or "t" */
  bool par_direct;    /* the task calls compiler/kernels/conv3x3.c: compiled where NNC_C3 is */
  FILE *fn_file;      /* where the function goes once its body (fn_body) is known */
  char *fn_body;
  size_t fn_len;
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

/* ---------------- parallel loops ----------------
 * A kernel's loop over items [0, count) that may run on several threads (NAME_set_threads):
 * par_begin sends what P() writes to the body of a task function, nnc_taskK(arg, nnc_begin,
 * nnc_end, nnc_thread), whose loop runs items [nnc_begin, nnc_end); par_end writes that function
 * (before the train and infer functions) with the pointers its text names, and in the loop's
 * place the call nnrt_pool_run(m->pool, count, nnc_grain(work), nnc_taskK, ...). Each item must
 * write apart from the others and compute its values in an order that does not depend on the
 * split, so that results are bit-identical for any thread count. `work` is an item's cost in
 * elements: nnc_grain gives a thread at least NNC_MIN_WORK of it, so small loops stay on one. */
static void par_begin(Emit *e) {
  e->par_outer = e->out;
  e->out = open_memstream(&e->par_body, &e->par_len);
  if (!e->out) nn_die("open_memstream failed");
}

static void emit_pointers(Emit *e, const bool *in_fn, const Fusion *fu);

static bool is_ident_char(char ch) {
  return ch == '_' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* marks the nodes whose pointer tN the text's code names (outside the direct convolutions' #ifdef
   NNC_C3 branches when portable is set) */
static void mark_named(Emit *e, const char *text, bool *used, bool portable) {
  for (const char *s = text; *s; s++) {
    if (portable && strncmp(s, "#ifdef NNC_C3\n", 14) == 0) {
      const char *close = strstr(s, "#endif\n");
      if (!close) return;
      s = close + 6;
      continue;
    }
    if (s[0] == '/' && s[1] == '*') { /* comments name nodes too */
      const char *close = strstr(s + 2, "*/");
      if (!close) return;
      s = close + 1;
      continue;
    }
    if (*s != 't' || (s > text && is_ident_char(s[-1])) || !(s[1] >= '0' && s[1] <= '9')) continue;
    char *end;
    unsigned long id = strtoul(s + 1, &end, 10);
    if (is_ident_char(*end)) continue;
    if (id < (unsigned long)e->g->n_nodes && e->in_fn[id]) used[id] = true;
  }
}

/* setup: declarations the body needs besides the pointers (each thread's scratch) */
static void par_end(Emit *e, const char *count, const char *work, const char *setup) {
  fclose(e->out);
  bool *used = arena_alloc(&e->c->arena, sizeof(bool) * (size_t)(e->g->n_nodes + 1));
  memset(used, 0, sizeof(bool) * (size_t)(e->g->n_nodes + 1));
  mark_named(e, setup, used, false);
  mark_named(e, e->par_body, used, false);
  int k = e->n_tasks++;
  e->out = e->tasks;
  if (e->par_direct) P(e, "#ifdef NNC_C3\n");
  P(e, "NNC_HOT static void nnc_task%d(void *nnc_arg, long nnc_begin, long nnc_end, int nnc_thread) {\n"
       "  const struct nnc_args *nnc_a = nnc_arg;\n"
       "  struct %s *m = nnc_a->m;\n  const float *x = nnc_a->x;\n  const %s *%s = nnc_a->y;\n  const int n = nnc_a->n;\n"
       "  (void)m; (void)x; (void)%s; (void)n; (void)nnc_thread;\n",
    k, e->tag, e->yname[0] == 'y' ? "int32_t" : "float", e->yname, e->yname);
  emit_pointers(e, used, e->fu);
  P(e, "%s%s}\n%s\n", setup, e->par_body, e->par_direct ? "#endif\n" : "");
  e->par_direct = false;
  e->out = e->par_outer;
  int indent = 0; /* the loop's */
  while (indent < 8 && e->par_body[indent] == ' ') indent++;
  P(e, "%*s{\n%*s  struct nnc_args nnc_a = {m, x, %s, n};\n%*s  nnrt_pool_run(m->pool, (long)(%s), nnc_grain(%s), nnc_task%d, &nnc_a);\n%*s}\n",
    indent, "", indent, "", e->yname, indent, "", count, work, k, indent, "");
  free(e->par_body);
}

/* ---------------- kernels ---------------- */

/* A product on the generated code's side: cblas_sgemm, or the plain nnc_gemm() helper (--no-blas and
 * --double). Row-major C[M,N] = op(A) op(B) + beta C. */
static void emit_gemm(Emit *e, const char *indent, bool ta, bool tb, const char *M, const char *N, const char *K,
                      const char *A, const char *lda, const char *B, const char *ldb, const char *beta,
                      const char *C, const char *ldc) {
  if (e->opt->blas)
    P(e, "%scblas_sgemm(CblasRowMajor, %s, %s, %s, %s, %s, 1.0f, %s, %s, %s, %s, %s, %s, %s);\n", indent,
      ta ? "CblasTrans" : "CblasNoTrans", tb ? "CblasTrans" : "CblasNoTrans", M, N, K, A, lda, B, ldb, beta, C, ldc);
  else
    P(e, "%snnc_gemm_par(m->pool, %d, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\n", indent, ta, tb, M, N, K, A, lda, B, ldb, beta, C,
      ldc);
}

/* In a BLAS build, the batch size up to which a dense product uses nnc_matmul() instead of
 * cblas_sgemm (0: never). Measured on an AMD EPYC (Zen 3, OpenBLAS 0.3.21 Zen kernels), one thread,
 * per product: with one or two rows, an untransposed B and K >= 64, nnc's kernel runs 1.3-2.4x
 * faster than cblas_sgemm (whose per-call packing dominates such a product); with 4 or more rows,
 * a transposed operand or a short K (the 10-wide layer's backward), cblas_sgemm is faster. */
static int matmul_own_below(const Node *n, const Node *a) {
  bool rows_are_batch = n->shape.dim[0] == DIM_BATCH;
  long long k = n->attr.trans_a ? a->shape.dim[0] : a->shape.dim[1];
  return rows_are_batch && !n->attr.trans_a && !n->attr.trans_b && k >= 64 ? 2 : 0;
}

/* Small-batch training in one pass (README "Small-batch training"): the parameter whose gradient
 * node id is, when that gradient is a weight's G[M,N] = A^T B over the batch (A [B,M], B [B,N]);
 * -1 otherwise. At a batch of n <= fused_batch_limit() such a gradient is never written: the n rows
 * of A and of B wait in its place in the gradient block (n (M + N) <= M N elements) and
 * nnc_update_outer() computes it a block at a time where the optimizer needs it. MPI builds sum the
 * gradient block across ranks before the update, so they keep the written gradient. */
static int fused_weight_of(const Emit *e, NodeId id) {
  const Graph *g = e->g;
  const Node *n = &g->nodes[id];
  if (e->opt->mpi || n->op != OP_MATMUL || !n->attr.trans_a || n->attr.trans_b || e->plan.store[id].kind != STORE_GRAD)
    return -1;
  const Node *a = &g->nodes[n->in[0]], *b = &g->nodes[n->in[1]];
  int M = n->shape.dim[0], N = n->shape.dim[1];
  if (a->shape.rank != 2 || b->shape.rank != 2 || a->shape.dim[0] != DIM_BATCH || b->shape.dim[0] != DIM_BATCH ||
      M < 2 || N < 2)
    return -1;
  for (int p = 0; p < g->n_params; p++)
    if (g->param_grad[p] == id)
      return g->params[p].trainable && g->params[p].size == (size_t)M * (size_t)N &&
                     e->plan.store[id].offset == g->params[p].offset
                 ? p
                 : -1;
  return -1;
}

/* The largest batch that takes the one-pass step. Measured on an AMD EPYC (Zen 3, OpenBLAS 0.3.21
 * Zen kernels), one thread, fashion_snn (784 x 256 and 256 x 256 weights), training steps against
 * the written gradient (cblas_sgemm, then the update): 1.26x at a batch of 16, 1.17x at 64, 1.05x
 * at 128 (a 256 x 256 weight's place holds no more rows of dy and x). */
#define FUSED_MAX_BATCH 128

/* the batches up to which parameter p's weight takes its step in one pass: n rows of A and B fit
 * in its gradient's place */
static int fused_batch_limit(const Emit *e, int p) {
  const Node *grad = &e->g->nodes[e->g->param_grad[p]];
  long long M = grad->shape.dim[0], N = grad->shape.dim[1], fit = M * N / (M + N);
  return (int)(fit < FUSED_MAX_BATCH ? fit : FUSED_MAX_BATCH);
}

static bool any_fused_weight(const Emit *e) {
  for (int p = 0; e->g->param_grad && p < e->g->n_params; p++)
    if (e->g->param_grad[p] != NO_NODE && fused_weight_of(e, e->g->param_grad[p]) == p) return true;
  return false;
}

bool matmul_is_dense_forward(const Graph *g, const Node *matmul) {
  return matmul->op == OP_MATMUL && matmul->shape.dim[0] == DIM_BATCH && !matmul->attr.trans_a && matmul->attr.trans_b &&
         g->nodes[matmul->in[1]].op == OP_PARAM;
}

size_t dense_packed_size(int N, int K) { return (size_t)(N + 15) / 16 * 16 * (size_t)K; }

size_t packed_size_of(const Graph *g, const Node *n) {
  if (n->op == OP_CONV2D) { /* 3x3 same: C = channels in, F = out, shape [B, F, H, W] */
    int C = g->nodes[n->in[0]].shape.dim[1], F = n->shape.dim[1], H = n->shape.dim[2], W = n->shape.dim[3];
    return conv3x3_packed_size(C, H, W, F) + 2 * (size_t)F;
  }
  return dense_packed_size(n->shape.dim[1], g->nodes[n->in[0]].shape.dim[1]);
}

/* Where in the fixed block the flag of packed weights (Storage.packed) is: the float after them;
 * 0 after NAME_new, every training step and NAME_load, 1 once inference has packed them. */
static size_t packed_flag(const Emit *e, NodeId id) {
  return e->plan.store[id].packed + packed_size_of(e->g, &e->g->nodes[id]);
}

static void emit_packed_stale(Emit *e) {
  for (int i = 0; i < e->g->n_nodes; i++)
    if (e->plan.store[i].packed != SIZE_MAX) P(e, "  m->fixed[%zu] = 0;\n", packed_flag(e, i));
}

static bool any_packed(const Emit *e) {
  for (int i = 0; i < e->g->n_nodes; i++)
    if (e->plan.store[i].packed != SIZE_MAX) return true;
  return false;
}

static void emit_matmul(Emit *e, NodeId id, bool training) {
  const Node *n = &e->g->nodes[id];
  const Node *a = &e->g->nodes[n->in[0]], *b = &e->g->nodes[n->in[1]];
  bool ta = n->attr.trans_a, tb = n->attr.trans_b;
  const char *M = dim_expr(e, n->shape.dim[0]), *N = dim_expr(e, n->shape.dim[1]);
  const char *K = dim_expr(e, ta ? a->shape.dim[0] : a->shape.dim[1]);
  const char *lda = dim_expr(e, a->shape.dim[1]), *ldb = dim_expr(e, b->shape.dim[1]);
  P(e, "  /* %s[%s,%s] = %s%s · %s%s */\n", ref(e, id), M, N, ref(e, n->in[0]), ta ? "^T" : "", ref(e, n->in[1]),
    tb ? "^T" : "");
  const int fused = fused_weight_of(e, id);
  if (fused >= 0)
    P(e, "  if (nnc_fused && n <= %d) { /* one pass: the update computes it from %s and %s (nnc_update_outer) */\n"
         "    nnc_pack_blocks(%s, %s, n, %s, 6);\n    nnc_pack_blocks(%s + (size_t)n * %s, %s, n, %s, 16);\n"
         "  } else {\n",
      fused_batch_limit(e, fused), ref(e, n->in[0]), ref(e, n->in[1]), ref(e, id), ref(e, n->in[0]), M, ref(e, id), M,
      ref(e, n->in[1]), N);
  size_t packed = e->plan.store[id].packed;
  if (packed != SIZE_MAX && !training) {
    /* three rows or more: nnc's kernel over the weights packed once (compiler/kernels/gemm.c); at a
       batch of 128 1.04-1.18x cblas_sgemm's speed, 1.7-1.9x at 16 (which packs the weights anew on
       every call), its 16-column panels split between the threads; one or two rows take the paths
       below */
    size_t flag = packed_flag(e, id);
    P(e, "#ifdef NNC_G\n"
         "  if (n >= 3 && nnc_g_usable()) {\n"
         "    if (m->fixed[%zu] == 0) {\n"
         "      nnc_g_pack(m->fixed + %zu, %s, %s, %s, %s);\n"
         "      m->fixed[%zu] = 1;\n"
         "    }\n"
         "    struct nnc_g_args a = {%s, %s, m->fixed + %zu, %s, %s, n, %s, %s};\n"
         "    nnrt_pool_run(m->pool, (long)(%s + 15) / 16, nnc_grain((size_t)16 * n * %s), nnc_g_panels, &a);\n"
         "  } else\n"
         "#endif\n",
      flag, packed, ref(e, n->in[1]), N, K, ldb, flag, ref(e, id), ref(e, n->in[0]), packed, N, lda, N, K, N, K);
  }
  const char *own = arena_printf(&e->c->arena, "nnc_matmul(%d, %d, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s);\n", ta, tb, M,
                                 N, K, ref(e, n->in[0]), lda, ref(e, n->in[1]), ldb, ref(e, id), N);
  if (!e->opt->blas) {
    P(e, "  nnc_matmul_par(m->pool, %s", own + strlen("nnc_matmul(")); /* nnc's own kernel (emit_dense.c) */
  } else if (n->shape.dim[0] == DIM_BATCH && !ta && tb) {
    /* one example: a matrix-vector product. cblas_sgemm would first copy all of B (the weights)
       into its packed layout, 60 % of fashion_snn's batch-1 forward (OpenBLAS 0.3.21) */
    P(e, "  if (n == 1)\n    cblas_sgemv(CblasRowMajor, CblasNoTrans, %s, %s, 1.0f, %s, %s, %s, 1, 0.0f, %s, 1);\n  else\n",
      N, K, ref(e, n->in[1]), ldb, ref(e, n->in[0]), ref(e, id));
    emit_gemm(e, "    ", ta, tb, M, N, K, ref(e, n->in[0]), lda, ref(e, n->in[1]), ldb, "0.0f", ref(e, id), N);
  } else if (ta && !tb && a->shape.dim[0] == DIM_BATCH) {
    /* one example: the weight gradient is an outer product, each element one product, written
       once (cblas_sgemm zeroes C, packs both operands and then adds into C) */
    P(e, "  if (n == 1)\n    for (int i = 0; i < %s; i++)\n      for (int j = 0; j < %s; j++) %s[(size_t)i * %s + j] = %s[i] * %s[j];\n"
         "  else\n", M, N, ref(e, id), N, ref(e, n->in[0]), ref(e, n->in[1]));
    emit_gemm(e, "    ", ta, tb, M, N, K, ref(e, n->in[0]), lda, ref(e, n->in[1]), ldb, "0.0f", ref(e, id), N);
  } else if (matmul_own_below(n, a) > 0) {
    P(e, "  if (n <= %d) /* a row or two: nnc's kernel is faster than cblas_sgemm's call (emit_dense.c) */\n    %s  else\n",
      matmul_own_below(n, a), own);
    emit_gemm(e, "    ", ta, tb, M, N, K, ref(e, n->in[0]), lda, ref(e, n->in[1]), ldb, "0.0f", ref(e, id), N);
  } else {
    emit_gemm(e, "  ", ta, tb, M, N, K, ref(e, n->in[0]), lda, ref(e, n->in[1]), ldb, "0.0f", ref(e, id), N);
  }
  if (fused >= 0) P(e, "  }\n");
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
  case OP_SCALE: return arena_printf(ar, "(nnc_real)%.17g * %s", (double)n->attr.scale, a);
  /* NaN compares false, so `v < 0 ? 0 : v` keeps a NaN as torch.relu does (and stays a max).
   * nnc_select, not ?:, wherever an arm computes or loads (fast_select below). */
  case OP_RELU: return arena_printf(ar, "nnc_select(%s < 0, 0, %s)", a, a);
  case OP_SELU:
    return arena_printf(ar, "nnc_select(%s > 0, (nnc_real)" SELU_LAMBDA " * %s, (nnc_real)(" SELU_LAMBDA " * " SELU_ALPHA
                            ") * nnc_expm1(%s))", a, a, a);
  case OP_ELU: return arena_printf(ar, "nnc_select(%s > 0, %s, (nnc_real)%.17g * nnc_expm1(%s))", a, a, alpha, a);
  case OP_LEAKY_RELU: return arena_printf(ar, "nnc_select(%s > 0, %s, (nnc_real)%.17g * %s)", a, a, alpha, a);
  case OP_SIGMOID: return arena_printf(ar, "nnc_sigmoid(%s)", a);
  case OP_TANH: return arena_printf(ar, "tanh%s(%s)", f, a);
  /* backward: a = dy, b = y (or x for leaky_relu) */
  /* torch's threshold_backward: dy where y is not <= 0, so a NaN y passes dy on */
  case OP_RELU_BWD: return arena_printf(ar, "nnc_select(%s <= 0, 0, %s)", b, a);
  case OP_SELU_BWD:
    return arena_printf(ar, "nnc_select(%s > 0, (nnc_real)" SELU_LAMBDA " * %s, %s * (%s + (nnc_real)(" SELU_LAMBDA " * " SELU_ALPHA
                            ")))", b, a, a, b);
  case OP_ELU_BWD: return arena_printf(ar, "nnc_select(%s > 0, %s, %s * (%s + (nnc_real)%.17g))", b, a, a, b, alpha);
  case OP_LEAKY_RELU_BWD: return arena_printf(ar, "nnc_select(%s > 0, %s, (nnc_real)%.17g * %s)", b, a, alpha, a);
  case OP_SIGMOID_BWD: return arena_printf(ar, "%s * %s * (1 - %s)", a, b, b);
  case OP_TANH_BWD: return arena_printf(ar, "%s * (1 - %s * %s)", a, b, b);
  default: nn_die("%s is not element-wise", op_name(n->op));
  }
}

/* --stats: the accumulating lines for value `v` of node id, inside its loop (stats.c's layout) */
static bool emit_ew_stats(Emit *e, NodeId id, const char *indent, const char *v, bool declare) {
  int layers[64], n_act = stats_layers_of(e->g, id, false, layers, 64);
  bool any = false;
  for (int k = 0; k < n_act; k++, any = true) {
    if (declare) P(e, "%sdouble nnc_sum%d = 0, nnc_sq%d = 0, nnc_zeros%d = 0;\n", indent, layers[k], layers[k], layers[k]);
    else if (!indent) P(e, "  m->nnc_stats_acc[%d] += nnc_sum%d;\n  m->nnc_stats_acc[%d] += nnc_sq%d;\n"
                           "  m->nnc_stats_acc[%d] += nnc_zeros%d;\n",
                        4 * layers[k], layers[k], 4 * layers[k] + 1, layers[k], 4 * layers[k] + 2, layers[k]);
    else P(e, "%snnc_sum%d += %s;\n%snnc_sq%d += (double)%s * %s;\n%snnc_zeros%d += %s == 0;\n", indent, layers[k], v,
           indent, layers[k], v, v, indent, layers[k], v);
  }
  int n_grad = stats_layers_of(e->g, id, true, layers, 64);
  for (int k = 0; k < n_grad; k++, any = true) {
    if (declare) P(e, "%sdouble nnc_gsq%d = 0;\n", indent, layers[k]);
    else if (!indent) P(e, "  m->nnc_stats_acc[%d] += nnc_gsq%d;\n", 4 * layers[k] + 3, layers[k]);
    else P(e, "%snnc_gsq%d += (double)%s * %s;\n", indent, layers[k], v, v);
  }
  return any;
}

/* One loop computing `root` and every node fused into it (fuse.c), intermediates in locals.
 * A bias_add or batchnorm in the group makes the loop run over batch, channel and position. With `stats`
 * (a --stats build's train()), a group holding a layer's output or its gradient is emitted
 * twice: the plain loop, and one that also accumulates the statistics, run on recorded steps. */
static void emit_ew_loop(Emit *e, NodeId root, const Fusion *fu, const NodeId *members, int n_members, bool stats);
static void emit_ew_group(Emit *e, NodeId root, const Fusion *fu, bool stats) {
  Graph *g = e->g;
  NodeId members[256];
  int n_members = 0;
  for (NodeId m = 0; m < root && n_members < 255; m++)
    if (fu->inlined[m] && fu->root[m] == root) members[n_members++] = m;
  members[n_members++] = root;
  if (n_members > 1) {
    P(e, "  /* fused:");
    for (int k = 0; k < n_members; k++) P(e, " %%%u %s", members[k], op_name(g->nodes[members[k]].op));
    P(e, " */\n");
  }
  bool recorded = false;
  int layers[64];
  for (int k = 0; stats && k < n_members; k++)
    recorded |= stats_layers_of(g, members[k], false, layers, 64) + stats_layers_of(g, members[k], true, layers, 64) > 0;
  if (recorded) {
    P(e, "  if (m->stats_on) {\n");
    /* the loop keeps its usual indentation, and so do these lines (-Wmisleading-indentation) */
    for (int k = 0; k < n_members; k++) emit_ew_stats(e, members[k], "  ", NULL, true);
    emit_ew_loop(e, root, fu, members, n_members, true);
    for (int k = 0; k < n_members; k++) emit_ew_stats(e, members[k], NULL, NULL, false);
    P(e, "  } else\n");
  }
  emit_ew_loop(e, root, fu, members, n_members, false);
}

static void emit_ew_loop(Emit *e, NodeId root, const Fusion *fu, const NodeId *members, int n_members, bool stats) {
  Graph *g = e->g;
  const Node *channel = NULL; /* the group's bias_add or batchnorm (fuse.c: at most one) */
  for (int k = 0; k < n_members; k++)
    if (fuse_per_channel(g->nodes[members[k]].op)) channel = &g->nodes[members[k]];
  const char *indent, *close;
  /* examples (or runs of elements) apart, when there can be enough of them (NNC_MIN_WORK); not
     with --stats's sums, which run in order */
  const char *batch = channel && is_batched(channel->shape) ? "n" : "1";
  bool batched = is_batched(g->nodes[root].shape);
  bool parallel = !stats && (channel ? strcmp(batch, "n") == 0 : true) && count_of(&g->nodes[root]) >= (batched ? 256 : 65536);
  const char *first = parallel ? "(int)nnc_begin" : "0", *last = parallel ? "(int)nnc_end" : batch;
  if (parallel) par_begin(e);
  if (channel) {
    long long ch = channel->shape.dim[1], spatial = count_of(channel) / ch;
    /* a batchnorm's scale and shift, left in its statistics by emit_batchnorm */
    const char *bn = channel->op != OP_BATCHNORM ? NULL
                   : arena_printf(&e->c->arena, "const nnc_real bn_scale = m->fixed[%zu + c], bn_shift = m->fixed[%zu + c];\n",
                                  e->plan.store[channel - g->nodes].stats + 3 * (size_t)ch,
                                  e->plan.store[channel - g->nodes].stats + 4 * (size_t)ch);
    if (spatial == 1) {
      P(e, "  for (int b = %s; b < %s; b++)\n    for (int c = 0; c < %lld; c++) {\n      size_t i = (size_t)b * %lld + c;\n",
        first, last, ch, ch);
      if (bn) P(e, "      %s", bn);
      indent = "      ", close = "    }\n";
    } else if (bn) {
      P(e, "  for (int b = %s; b < %s; b++)\n    for (int c = 0; c < %lld; c++) {\n      %s"
           "      for (int s = 0; s < %lld; s++) {\n        size_t i = ((size_t)b * %lld + c) * %lld + s;\n",
        first, last, ch, bn, spatial, ch, spatial);
      indent = "        ", close = "      }\n    }\n";
    } else {
      P(e, "  for (int b = %s; b < %s; b++)\n    for (int c = 0; c < %lld; c++)\n      for (int s = 0; s < %lld; s++) {\n"
           "        size_t i = ((size_t)b * %lld + c) * %lld + s;\n",
        first, last, ch, spatial, ch, spatial);
      indent = "        ", close = "      }\n";
    }
  } else if (parallel) {
    P(e, "  for (size_t i = (size_t)nnc_begin; i < (size_t)nnc_end; i++) {\n");
    indent = "    ", close = "  }\n";
  } else {
    P(e, "  for (size_t i = 0; i < %s; i++) {\n", elems(e, &g->nodes[root]));
    indent = "    ", close = "  }\n";
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
    const char *value = n->op == OP_BATCHNORM ? arena_printf(&e->c->arena, "%s * bn_scale + bn_shift", operand[0])
                                              : ew_expr(e, n, operand[0], operand[1]);
    if (id == root) P(e, "%s%s[i] = %s;\n", indent, ref(e, id), value);
    else P(e, "%snnc_real v%u = %s;\n", indent, id, value);
    if (stats)
      emit_ew_stats(e, id, indent, id == root ? arena_printf(&e->c->arena, "%s[i]", ref(e, id)) : arena_printf(&e->c->arena, "v%u", id),
                    false);
  }
  P(e, "%s", close);
  if (parallel && channel)
    par_end(e, "n", arena_printf(&e->c->arena, "%lld", count_of(channel)), "");
  else if (parallel)
    par_end(e, elems(e, &g->nodes[root]), "1", "");
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
         "      %s[c] += nnc_sum(%s + ((size_t)b * %lld + c) * %lld, %lld);\n",
      ch, db, d, ch, spatial, spatial);
}

static void emit_softmax(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long k = count_of(n);
  const char *y = ref(e, id), *x = ref(e, n->in[0]), *f = e->fsuf;
  P(e, "  for (int b = 0; b < n; b++) {\n"
       "    const nnc_real *row = %s + (size_t)b * %lld;\n"
       "    nnc_real *out = %s + (size_t)b * %lld, mx = row[0], sum = 0;\n"
       "    for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
       "    for (int j = 0; j < %lld; j++) sum += out[j] = exp%s(row[j] - mx);\n"
       "    for (int j = 0; j < %lld; j++) out[j] /= sum;\n  }\n",
    x, k, y, k, k, k, f, k);
}

static void emit_softmax_bwd(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long k = count_of(n);
  P(e, "  for (int b = 0; b < n; b++) {\n"
       "    const nnc_real *dy = %s + (size_t)b * %lld, *y = %s + (size_t)b * %lld;\n"
       "    nnc_real *dx = %s + (size_t)b * %lld, dot = 0;\n"
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
    P(e, "  memcpy(%s, %s, sizeof(nnc_real) * %s);\n", y, x, elems(e, n));
    return;
  }
  P(e, "  {\n    nnc_real *mask = m->acts + (size_t)m->max_batch * %zu;\n", e->plan.store[id].aux);
  /* with MPI the global batch's masks are drawn in order, this rank's share from its place in it */
  if (e->opt->mpi) P(e, "    if (!m->freeze_masks) nnc_skip_draws(&m->rng, (uint64_t)m->mpi_before * %lld);\n", count_of(n));
  if (n->op == OP_DROPOUT) {
    P(e, "    const nnc_real keep = (nnc_real)(1.0 / (1.0 - %.17g));\n", p);
    P(e, "    for (size_t i = 0; i < %s; i++) {\n"
         "      if (!m->freeze_masks) mask[i] = nnrt_rng_uniform(&m->rng) < %.17g ? 0 : keep;\n"
         "      %s[i] = %s[i] * mask[i];\n    }\n  }\n",
      elems(e, n), p, y, x);
  } else {
    /* torch.nn.AlphaDropout: y = a*(x*m + alpha'*(1-m)) + b keeps mean 0 and variance 1 */
    P(e, "    const double alpha_p = 1.7580993408473766, p = %.17g;\n"
         "    const double a = 1.0 / sqrt((alpha_p * alpha_p * p + 1) * (1 - p));\n"
         "    const nnc_real kept_shift = (nnc_real)(alpha_p * a * p), dropped = (nnc_real)(alpha_p * a * (p - 1));\n"
         "    for (size_t i = 0; i < %s; i++) {\n"
         "      if (!m->freeze_masks) mask[i] = nnrt_rng_uniform(&m->rng) < p ? 0 : (nnc_real)a;\n"
         "      %s[i] = mask[i] != 0 ? %s[i] * mask[i] + kept_shift : dropped;\n    }\n  }\n",
      p, elems(e, n), y, x);
  }
  if (e->opt->mpi)
    P(e, "  if (!m->freeze_masks) nnc_skip_draws(&m->rng, (uint64_t)m->mpi_after * %lld);\n", count_of(n));
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
         "      const nnc_real *row = %s + (size_t)b * %lld;\n"
         "      nnc_real mx = row[0], sum = 0;\n"
         "      for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
         "      for (int j = 0; j < %lld; j++) sum += exp%s(row[j] - mx);\n"
         "      total += (double)(mx + log%s(sum) - row[%s[b]]);\n    }\n"
         "    %s[0] = (nnc_real)(total / n);\n  }\n",
      zr, k, k, k, f, f, tr, l);
    break;
  case OP_MSE:
    P(e, "  {\n    double total = 0;\n    for (size_t i = 0; i < %s; i++) {\n"
         "      double d = (double)%s[i] - (double)%s[i];\n      total += d * d;\n    }\n"
         "    %s[0] = (nnc_real)(total / ((double)n * %lld));\n  }\n",
      elems(e, z), zr, tr, l, k);
    break;
  case OP_BCE_LOGITS:
    /* max(z,0) - z*t + log1p(exp(-|z|)): stable for large |z| */
    P(e, "  {\n    double total = 0;\n    for (size_t i = 0; i < %s; i++) {\n"
         "      double z = %s[i], t = %s[i];\n"
         "      total += (z > 0 ? z : 0) - z * t + log1p(exp(-fabs(z)));\n    }\n"
         "    %s[0] = (nnc_real)(total / ((double)n * %lld));\n  }\n",
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
         "    const nnc_real *row = %s + (size_t)b * %lld;\n"
         "    nnc_real *d = %s + (size_t)b * %lld, mx = row[0], sum = 0;\n"
         "    const nnc_real scale = %s[0] / (nnc_real)n;\n"
         "    for (int j = 1; j < %lld; j++) if (row[j] > mx) mx = row[j];\n"
         "    for (int j = 0; j < %lld; j++) sum += d[j] = exp%s(row[j] - mx);\n"
         "    for (int j = 0; j < %lld; j++) d[j] = d[j] / sum * scale;\n"
         "    d[%s[b]] -= scale;\n  }\n",
      zr, k, dz, k, dl, k, k, f, k, tr);
    break;
  case OP_MSE_BWD:
    P(e, "  {\n    const nnc_real scale = 2 * %s[0] / (nnc_real)((double)n * %lld);\n"
         "    for (size_t i = 0; i < %s; i++) %s[i] = (%s[i] - %s[i]) * scale;\n  }\n",
      dl, k, elems(e, n), dz, zr, tr);
    break;
  case OP_BCE_LOGITS_BWD:
    P(e, "  {\n    const nnc_real scale = %s[0] / (nnc_real)((double)n * %lld);\n"
         "    for (size_t i = 0; i < %s; i++) {\n"
         "      nnc_real z = %s[i], s = z >= 0 ? 1 / (1 + exp%s(-z)) : exp%s(z) / (1 + exp%s(z));\n"
         "      %s[i] = (s - %s[i]) * scale;\n    }\n  }\n",
      dl, k, elems(e, n), zr, f, f, f, dz, tr);
    break;
  default: nn_unreachable();
  }
}

/* ---------------- the convolutional family ---------------- */

bool conv2d_is_pointwise(const Node *conv) {
  return conv->attr.kernel == 1 && conv->attr.stride == 1 && conv->attr.pad == 0;
}

bool conv2d_is_3x3_same(const Node *conv) {
  return conv->attr.kernel == 3 && conv->attr.stride == 1 && conv->attr.pad == 1;
}

/* compiler/kernels/conv3x3.c's nnc_c3_grid and nnc_c3_plane: the positions computed for an H x W
 * image, and the floats of one zero-bordered input plane */
static size_t c3_grid(int H, int W) { return (size_t)(H * (W + 1) + 7) / 8 * 8; }
static size_t c3_plane(int H, int W) { return c3_grid(H, W) + 2 * (size_t)(W + 1) + 2; }

/* Winograd F(2x2, 3x3) (compiler/kernels/winograd.c) rather than the direct kernel for a 3x3 "same"
 * convolution of Ci channels into Fo, where it measured faster on one core (Zen 3): the transforms
 * cost per channel and the products per channel pair, so it needs many channels (16 into 16 at 28x28:
 * 0.8-0.95x the direct kernel's speed; 32 into 32 at 14x14: 1.05-1.2x), and more for odd sizes,
 * whose tiles compute a row and a column of dropped outputs (32 at 7x7: 0.85x; 64 at 7x7: 1.15-1.45x). */
bool conv3x3_winograd(int Ci, int H, int W, int Fo) {
  if (Ci < 32 || Fo < 32) return false;
  return (Ci >= 64 && Fo >= 64) || (H % 2 == 0 && W % 2 == 0);
}

/* the packed weights: nnc_c3_packed (4 output channels x 9 taps), or nnc_c3_wpacked (Winograd's
 * 16 transformed values) */
static size_t c3_packed(int Ci, int Fo, bool winograd) {
  return (size_t)(Fo + 3) / 4 * 4 * (size_t)Ci * (winograd ? 16 : 9);
}

/* compiler/kernels/winograd.c's nnc_c3_wpacked + nnc_c3_wscratch (with nnc_c3_wrow's row, nnc_c3_wchunk's
 * tile rows a chunk and nnc_c3_wlanes's lanes) */
static size_t c3_wscratch(int Ci, int H, int W, int Fo) {
  const int th = (H + 1) / 2, tw = (W + 1) / 2, row = 2 * ((tw + 16) / 8 * 8), chunk = 64 / tw < 1 ? 1 : 64 / tw > th ? th : 64 / tw;
  const size_t lanes = (size_t)((((chunk * tw + 7) / 8 + 1) | 1) * 8), Fo4 = (size_t)(Fo + 3) / 4 * 4;
  return c3_packed(Ci, Fo, true) + (size_t)Ci * (size_t)(2 * th + 2) * (size_t)row + 16 * lanes * ((size_t)Ci + Fo4) +
         2 * (size_t)chunk * (size_t)row;
}

/* those of inference's kernel */
size_t conv3x3_packed_size(int Ci, int H, int W, int Fo) { return c3_packed(Ci, Fo, conv3x3_winograd(Ci, H, W, Fo)); }

/* what one example's call of either needs apart from the packed weights, which the threads share:
 * each thread's own (NNC_THREAD_SCRATCH); the larger of the two where Winograd's layers take the
 * direct kernel on small batches */
static size_t conv3x3_thread_scratch(int Ci, int H, int W, int Fo) {
  const size_t direct = (size_t)Ci * c3_plane(H, W) + 4 * c3_grid(H, W);
  if (!conv3x3_winograd(Ci, H, W, Fo)) return direct;
  const size_t wino = c3_wscratch(Ci, H, W, Fo) - c3_packed(Ci, Fo, true);
  return wino > direct ? wino : direct;
}

/* the scratch of one call of nnc_c3_conv: the packed weights, Ci planes and a 4-channel output
 * block; or of nnc_c3_wconv, or either where Winograd's layers take the direct kernel on small
 * batches */
size_t conv3x3_scratch(int Ci, int H, int W, int Fo) {
  const size_t direct = c3_packed(Ci, Fo, false) + (size_t)Ci * c3_plane(H, W) + 4 * c3_grid(H, W);
  if (!conv3x3_winograd(Ci, H, W, Fo)) return direct;
  return c3_wscratch(Ci, H, W, Fo) > direct ? c3_wscratch(Ci, H, W, Fo) : direct;
}

/* The weight gradient of a 3x3 convolution with padding 1 and stride 1 or 2 reads x channels last
 * (nnc_c3_weight_grad_cl) when C is a multiple of 8: 1.15-1.5x the grid kernel's speed on
 * resnet20's stride-1 layers, layouts included (one core, Zen 3), and no unfolding for the stride-2
 * ones; with fewer channels the lanes would be mostly zero. */
static bool c3_weight_grad_cl(int C) { return C % 8 == 0; }

bool conv3x3_weight_channels_last(const Graph *g, const Node *conv, bool double_precision) {
  return !double_precision && conv->attr.kernel == 3 && conv->attr.pad == 1 && (conv->attr.stride == 1 || conv->attr.stride == 2) &&
         c3_weight_grad_cl(g->nodes[conv->in[0]].shape.dim[1]);
}

/* compiler/kernels/conv3x3.c's nnc_c3_cl_size: one example's x, channels last */
static size_t c3_cl_size(int C, int H, int W) { return ((size_t)(H + 2) * (size_t)(W + 1) + 1) * (size_t)C; }

/* Examples per call of the weight gradient. Channels last: as many as keep about 160 KB of x in the
 * L2 cache, which every block of output channels reads again. On the grid: enough for some 768 grid
 * positions, so that small images' sums are not dominated by the final sums across lanes. */
int conv3x3_weight_group(int C, int H, int W) {
  if (c3_weight_grad_cl(C)) return c3_cl_size(C, H, W) >= 40960 ? 1 : (int)(40960 / c3_cl_size(C, H, W));
  return (int)((768 + c3_grid(H, W) - 1) / c3_grid(H, W));
}

/* its scratch: the group's x (channels last), or x planes and dy grids */
size_t conv3x3_weight_scratch(int C, int H, int W, int F) {
  const size_t group = (size_t)conv3x3_weight_group(C, H, W);
  if (c3_weight_grad_cl(C)) return group * c3_cl_size(C, H, W);
  return group * ((size_t)C * c3_plane(H, W) + (size_t)F * c3_grid(H, W));
}

int conv2d_group(const Node *conv) {
  if (conv2d_is_pointwise(conv)) return 1;
  int positions = conv->shape.dim[2] * conv->shape.dim[3];
  return (CONV_GROUP_COLUMNS + positions - 1) / positions;
}

/* The sizes of a convolution, from its forward node. */
typedef struct ConvDims {
  int C, H, W, F, k, s, p, OH, OW;
  long long in, out, unfolded_rows, positions; /* per example: C H W, F OH OW, C k k, OH OW */
  bool pointwise;    /* 1x1, stride 1, no padding: x itself is the unfolded matrix */
  bool direct;       /* 3x3 "same", float: compiler/kernels/conv3x3.c where the CPU allows */
  bool weight_cl;    /* its weight gradient channels last (conv3x3_weight_channels_last) */
  int group;         /* examples per product (conv2d_group) */
} ConvDims;

static ConvDims conv_dims(const Graph *g, const Node *conv, bool double_precision) {
  const Node *x = &g->nodes[conv->in[0]];
  ConvDims d;
  d.C = x->shape.dim[1], d.H = x->shape.dim[2], d.W = x->shape.dim[3];
  d.F = conv->shape.dim[1], d.OH = conv->shape.dim[2], d.OW = conv->shape.dim[3];
  d.k = conv->attr.kernel, d.s = conv->attr.stride, d.p = conv->attr.pad;
  d.in = (long long)d.C * d.H * d.W;
  d.out = (long long)d.F * d.OH * d.OW;
  d.unfolded_rows = (long long)d.C * d.k * d.k;
  d.positions = (long long)d.OH * d.OW;
  d.pointwise = conv2d_is_pointwise(conv);
  d.group = conv2d_group(conv);
  d.direct = conv2d_is_3x3_same(conv) && !double_precision;
  d.weight_cl = conv3x3_weight_channels_last(g, conv, double_precision);
  return d;
}

static const char *num(Emit *e, long long v) { return arena_printf(&e->c->arena, "%lld", v); }

/* The loop over groups of G examples (the last one smaller), with the scratch buffers: col, the
 * unfolded group [C k k, g OH OW], and, when G > 1, tmp, the group's [F, g OH OW] output or
 * output gradient (the products' layout; the model's is example by example). */
static void emit_group_loop(Emit *e, const ConvDims *d) {
  if (d->pointwise) {
    P(e, "  for (int b = 0; b < n; b++) {\n");
    return;
  }
  P(e, "  for (int b0 = 0; b0 < n; b0 += %d) {\n"
       "    const int g = n - b0 < %d ? n - b0 : %d;\n"
       "    const int cols = g * %lld;\n"
       "    nnc_real *col = m->fixed + %zu;\n",
    d->group, d->group, d->group, d->positions, e->plan.fixed);
  if (d->group > 1) P(e, "    nnc_real *tmp = col + %lld;\n", d->unfolded_rows * d->group * d->positions);
}

static void emit_unfold(Emit *e, const ConvDims *d, const char *x) {
  P(e, "    for (int j = 0; j < g; j++)\n"
       "      nnc_im2col(col + (size_t)j * %lld, cols, %s + (size_t)(b0 + j) * %lld, %d, %d, %d, %d, %d, %d, %d, %d);\n",
    d->positions, x, d->in, d->C, d->H, d->W, d->k, d->s, d->p, d->OH, d->OW);
}

/* tmp[f, j OH OW + i] <-> y[b0 + j, f, i]: between the group's layout and the model's */
static void emit_regroup(Emit *e, const ConvDims *d, const char *y, bool to_model) {
  P(e, "    for (int j = 0; j < g; j++)\n"
       "      for (int f = 0; f < %d; f++)\n"
       "        for (int i = 0; i < %lld; i++)\n", d->F, d->positions);
  const char *model = arena_printf(&e->c->arena, "%s[((size_t)(b0 + j) * %d + f) * %lld + i]", y, d->F, d->positions);
  const char *group = arena_printf(&e->c->arena, "tmp[(size_t)f * cols + (size_t)j * %lld + i]", d->positions);
  P(e, "          %s = %s;\n", to_model ? model : group, to_model ? group : model);
}

/* The direct kernel of compiler/kernels/conv3x3.c for a 3x3 "same" convolution (float builds, on
 * CPUs with AVX2 and FMA): out[b] = conv(in[b]) with w packed as it is or, for the input gradient,
 * transposed and flipped. Opens the else branch that the unfolding path fills; emit_direct_end
 * closes it. */
/* The direct path is compiled where the kernel is (NNC_C3) and taken where the CPU allows; the
 * portable code that follows direct_else is the other branch. */
static const char *const direct_if = "#ifdef NNC_C3\n  if (nnc_c3_usable()) {\n";
static const char *const direct_else = "  } else\n#endif\n  {\n";

static void emit_batchnorm(Emit *e, NodeId id, bool training, bool apply);
static void emit_ew_group(Emit *e, NodeId root, const Fusion *fu, bool stats);

/* out[b] = conv(in[b]) and, for the forward pass, the epilogue of fold (fuse.c): its bias, or in
 * inference the batchnorm with the bias folded in as one per-channel scale and shift, then that
 * batchnorm's add (of fold->residual) and relu. */
static bool emit_direct_begin(Emit *e, const ConvDims *d, bool data_grad, const char *in, const char *w, const char *out,
                              const ConvFold *fold, bool training, NodeId conv) {
  if (!d->direct) return false;
  int Ci = data_grad ? d->F : d->C, Fo = data_grad ? d->C : d->F;
  const bool wino = conv3x3_winograd(Ci, d->H, d->W, Fo);
  /* inference packs (and folds the batchnorm) once, until a step or a load changes the weights:
     Winograd's transform of the weights alone took longer than a one-example forward */
  const bool cached = !training && !data_grad && e->plan.store[conv].packed != SIZE_MAX;
  const size_t at = cached ? e->plan.store[conv].packed : e->plan.fixed;
  /* training transforms the weights on every step, which small batches do not repay: below
     CONV3X3_WINOGRAD_MIN_BATCH examples they take the direct kernel */
  const bool both = wino && !cached;
  P(e, "%s", direct_if);
  for (int pass = 0; pass < (both ? 2 : 1); pass++) {
    const char *kernel = wino && pass == 0 ? "w" : ""; /* nnc_c3_wpack and so on */
    if (both && pass == 0) P(e, "  if (n >= %d) {\n", CONV3X3_WINOGRAD_MIN_BATCH);
    if (both && pass == 1) P(e, "  } else {\n");
    if (cached) P(e, "  if (m->fixed[%zu] == 0) {\n", packed_flag(e, conv));
    P(e, "    float *packed = m->fixed + %zu;\n"
         "    nnc_c3_%spack(packed, %s, %d, %d, %d);\n",
      at, kernel, w, d->F, d->C, data_grad);
    /* the task's view: the packed weights (and folded batchnorm) shared, the scratch its thread's */
    const char *setup = arena_printf(&e->c->arena, "  const float *packed = m->fixed + %zu;\n"
                                     "  float *scratch = m->scratch + (size_t)nnc_thread * NNC_THREAD_SCRATCH;\n",
                                     at);
    const char *scale = "NULL", *shift = "NULL", *residual = "NULL";
    const Node *bias_add = fold && fold->bias_add != NO_NODE ? &e->g->nodes[fold->bias_add] : NULL;
    if (fold && fold->batchnorm != NO_NODE) { /* y = (conv + bias - mean) gamma / sqrt(var + eps) + beta */
      const Node *bn = &e->g->nodes[fold->batchnorm];
      P(e, "    float *scale = packed + nnc_c3_%spacked(%d, %d), *shift = scale + %d;\n"
           "    for (int f = 0; f < %d; f++) {\n"
           "      scale[f] = %s[f] / sqrtf(%s[f] + %.9gf);\n"
           "      shift[f] = %s[f] + (%s%s - %s[f]) * scale[f];\n"
           "    }\n",
        kernel, Fo, Ci, d->F, d->F, ref(e, bn->in[1]), ref(e, bn->in[4]), bn->attr.eps, ref(e, bn->in[2]),
        bias_add ? ref(e, bias_add->in[1]) : "0", bias_add ? "[f]" : "", ref(e, bn->in[3]));
      scale = "scale", shift = "shift";
      setup = arena_printf(&e->c->arena, "%s  const float *scale = packed + nnc_c3_%spacked(%d, %d), *shift = scale + %d;\n",
                           setup, kernel, Fo, Ci, d->F);
    } else if (bias_add) {
      shift = ref(e, bias_add->in[1]);
    }
    if (cached) P(e, "    m->fixed[%zu] = 1;\n  }\n", packed_flag(e, conv));
    if (fold && fold->residual != NO_NODE)
      residual = arena_printf(&e->c->arena, "%s + (size_t)b * %lld", ref(e, fold->residual), d->out);
    par_begin(e); /* examples apart */
    e->par_direct = true;
    P(e, "    for (int b = (int)nnc_begin; b < (int)nnc_end; b++)\n"
         "      nnc_c3_%sconv(%s + (size_t)b * %lld, %s + (size_t)b * %lld, packed, %d, %d, %d, %d, scratch, %s, %s, %s, %d);\n",
      kernel, out, data_grad ? d->in : d->out, in, data_grad ? d->out : d->in, Ci, d->H, d->W, Fo, scale, shift, residual,
      fold && fold->relu != NO_NODE);
    par_end(e, "n", arena_printf(&e->c->arena, "(size_t)%lld", 9LL * Ci * Fo * d->H * d->W), setup);
  }
  if (both) P(e, "  }\n");
  if (training && e->opt->stats && fold && fold->last != NO_NODE) { /* the portable path's loop records them */
    const Node *last = &e->g->nodes[fold->last];
    stats_emit_pass(e->out, e->g, fold->last, out, elems(e, last));
  }
  P(e, "%s", direct_else);
  return true;
}

/* The portable path's version of a direct convolution's epilogue: its nodes as they are. */
static void emit_folded(Emit *e, const ConvFold *fold, bool training, const Fusion *fu) {
  if (fold->bias_add != NO_NODE) {
    emit_ew_group(e, fold->bias_add, fu, training && e->opt->stats);
    e->folded[fold->bias_add] = true;
  }
  if (fold->batchnorm != NO_NODE) {
    emit_batchnorm(e, fold->batchnorm, training, !fu->inlined[fold->batchnorm]);
    e->folded[fold->batchnorm] = true;
  }
  if (fold->relu != NO_NODE) {
    emit_ew_group(e, fold->relu, fu, false);
    e->folded[fold->relu] = true;
  }
}

static void emit_direct_end(Emit *e, bool direct) {
  if (direct) P(e, "  }\n");
}

/* y[b] (F x OH OW) = w (F x C k k) · unfold(x[b]) (C k k x OH OW), for groups of examples at once */
static void emit_conv2d(Emit *e, NodeId id, bool training, const Fusion *fu) {
  const Node *n = &e->g->nodes[id];
  ConvDims d = conv_dims(e->g, n, e->opt->double_precision);
  const char *x = ref(e, n->in[0]), *w = ref(e, n->in[1]), *y = ref(e, id);
  const char *zero = e->opt->blas ? "0.0f" : "0";
  P(e, "  /* %s[b] (%d x %lld) = %s (%d x %lld) · unfold(%s[b]) (%lld x %lld): k=%d stride=%d pad=%d, %d example%s a product */\n",
    y, d.F, d.positions, w, d.F, d.unfolded_rows, x, d.unfolded_rows, d.positions, d.k, d.s, d.p, d.group,
    d.group > 1 ? "s" : "");
  const ConvFold *fold = d.direct && fu->fold[id].last != NO_NODE ? &fu->fold[id] : NULL;
  bool direct = emit_direct_begin(e, &d, false, x, w, fold ? ref(e, fold->last) : y, fold, training, id);
  emit_group_loop(e, &d);
  if (d.pointwise) {
    emit_gemm(e, "    ", false, false, num(e, d.F), num(e, d.positions), num(e, d.unfolded_rows), w, num(e, d.unfolded_rows),
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", x, d.in), num(e, d.positions), zero,
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", y, d.out), num(e, d.positions));
  } else {
    emit_unfold(e, &d, x);
    const char *out = d.group > 1 ? "tmp" : arena_printf(&e->c->arena, "%s + (size_t)b0 * %lld", y, d.out);
    emit_gemm(e, "    ", false, false, num(e, d.F), "cols", num(e, d.unfolded_rows), w, num(e, d.unfolded_rows), "col",
              "cols", zero, out, "cols");
    if (d.group > 1) emit_regroup(e, &d, y, true);
  }
  P(e, "  }\n");
  if (fold) emit_folded(e, fold, training, fu);
  emit_direct_end(e, direct);
}

/* dx[b] = fold(w^T (C k k x F) · dy[b] (F x OH OW)): the unfolded gradient summed back onto the
 * positions it was read from */
static void emit_conv2d_bwd_data(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  ConvDims d = conv_dims(e->g, &e->g->nodes[n->attr.fwd], e->opt->double_precision);
  const char *dy = ref(e, n->in[0]), *w = ref(e, n->in[1]), *dx = ref(e, id);
  const char *zero = e->opt->blas ? "0.0f" : "0";
  P(e, "  /* %s[b] = fold(%s^T · %s[b]) */\n", dx, w, dy);
  bool direct = emit_direct_begin(e, &d, true, dy, w, dx, NULL, false, n->attr.fwd);
  emit_group_loop(e, &d);
  if (d.pointwise) {
    emit_gemm(e, "    ", true, false, num(e, d.unfolded_rows), num(e, d.positions), num(e, d.F), w, num(e, d.unfolded_rows),
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", dy, d.out), num(e, d.positions), zero,
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", dx, d.in), num(e, d.positions));
  } else {
    if (d.group > 1) emit_regroup(e, &d, dy, false);
    const char *grad = d.group > 1 ? "tmp" : arena_printf(&e->c->arena, "%s + (size_t)b0 * %lld", dy, d.out);
    emit_gemm(e, "    ", true, false, num(e, d.unfolded_rows), "cols", num(e, d.F), w, num(e, d.unfolded_rows), grad,
              "cols", zero, "col", "cols");
    P(e, "    for (int j = 0; j < g; j++)\n"
         "      nnc_col2im(%s + (size_t)(b0 + j) * %lld, col + (size_t)j * %lld, cols, %d, %d, %d, %d, %d, %d, %d, %d);\n",
      dx, d.in, d.positions, d.C, d.H, d.W, d.k, d.s, d.p, d.OH, d.OW);
  }
  P(e, "  }\n");
  emit_direct_end(e, direct);
}

/* dw (F x C k k) = Σ_b dy[b] (F x OH OW) · unfold(x[b])^T */
static void emit_conv2d_bwd_weight(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  ConvDims d = conv_dims(e->g, &e->g->nodes[n->attr.fwd], e->opt->double_precision);
  const char *dy = ref(e, n->in[0]), *x = ref(e, n->in[1]), *dw = ref(e, id);
  P(e, "  /* %s = Σ_b %s[b] · unfold(%s[b])^T */\n", dw, dy, x);
  const bool direct = d.direct || d.weight_cl;
  if (direct) {
    int group = conv3x3_weight_group(d.C, d.H, d.W);
    P(e, "%s", direct_if);
    /* split by blocks of 4 output channels (the kernel's), each thread summing over all examples
       in order: the same sums for any thread count. Each lays out the examples' x itself. */
    par_begin(e);
    e->par_direct = true;
    P(e, "    const int f0 = 4 * (int)nnc_begin, f1 = 4 * (int)nnc_end < %d ? 4 * (int)nnc_end : %d, nf = f1 - f0;\n", d.F, d.F);
    if (d.weight_cl) {
      P(e, "    const size_t xs = nnc_c3_cl_size(%d, %d, %d);\n"
           "    float *xt = m->scratch + (size_t)nnc_thread * NNC_THREAD_SCRATCH;\n"
           "    for (int b0 = 0; b0 < n; b0 += %d) {\n"
           "      const int g = n - b0 < %d ? n - b0 : %d;\n"
           "      for (int j = 0; j < g; j++) nnc_c3_layout_cl(xt + j * xs, %s + (size_t)(b0 + j) * %lld, %d, %d, %d);\n"
           "      nnc_c3_weight_grad_cl(%s + (size_t)f0 * %d, %s + (size_t)b0 * %lld + (size_t)f0 * %lld, %lld, xt, %d, %d, %d, %d, nf, g, b0 > 0);\n"
           "    }\n",
        d.C, d.H, d.W, group, group, group, x, d.in, d.C, d.H, d.W, dw, 9 * d.C, dy, d.out, d.positions, d.out, d.C, d.H, d.W, d.s);
    } else {
      P(e, "    const size_t planes = (size_t)%d * nnc_c3_plane(%d, %d), grids = (size_t)nf * nnc_c3_grid(%d, %d);\n"
           "    float *xp = m->scratch + (size_t)nnc_thread * NNC_THREAD_SCRATCH, *dyg = xp + %d * planes;\n"
           "    for (int b0 = 0; b0 < n; b0 += %d) {\n"
           "      const int g = n - b0 < %d ? n - b0 : %d;\n"
           "      for (int j = 0; j < g; j++) {\n"
           "        nnc_c3_layout(xp + j * planes, %s + (size_t)(b0 + j) * %lld, %d, %d, %d, 0);\n"
           "        nnc_c3_layout(dyg + j * grids, %s + (size_t)(b0 + j) * %lld + (size_t)f0 * %lld, nf, %d, %d, 1);\n"
           "      }\n"
           "      nnc_c3_weight_grad(%s + (size_t)f0 * %d, dyg, xp, %d, %d, %d, nf, g, b0 > 0);\n"
           "    }\n",
        d.C, d.H, d.W, d.H, d.W, group, group, group, group, x, d.in, d.C, d.H, d.W, dy, d.out, d.positions,
        d.H, d.W, dw, 9 * d.C, d.C, d.H, d.W);
    }
    par_end(e, num(e, (d.F + 3) / 4), arena_printf(&e->c->arena, "(size_t)n * %lld", 36LL * d.C * d.positions), "");
    P(e, "%s", direct_else);
  }
  emit_group_loop(e, &d);
  if (d.pointwise) {
    emit_gemm(e, "    ", false, true, num(e, d.F), num(e, d.unfolded_rows), num(e, d.positions),
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", dy, d.out), num(e, d.positions),
              arena_printf(&e->c->arena, "%s + (size_t)b * %lld", x, d.in), num(e, d.positions),
              e->opt->blas ? "b ? 1.0f : 0.0f" : "b ? 1 : 0", dw, num(e, d.unfolded_rows));
  } else {
    emit_unfold(e, &d, x);
    if (d.group > 1) emit_regroup(e, &d, dy, false);
    const char *grad = d.group > 1 ? "tmp" : arena_printf(&e->c->arena, "%s + (size_t)b0 * %lld", dy, d.out);
    emit_gemm(e, "    ", false, true, num(e, d.F), num(e, d.unfolded_rows), "cols", grad, "cols", "col", "cols",
              e->opt->blas ? "b0 ? 1.0f : 0.0f" : "b0 ? 1 : 0", dw, num(e, d.unfolded_rows));
  }
  P(e, "  }\n");
  emit_direct_end(e, direct);
}

/* Per channel c of x [B, C, S...]: the loop heads over the batch and positions of one channel. */
static void bn_dims(Emit *e, const Node *x, long long *ch, long long *spatial) {
  (void)e;
  *ch = x->shape.dim[1];
  *spatial = (long long)shape_count(x->shape) / *ch;
}

/* y = x scale + shift per channel: from the batch's statistics in training (kept for the backward
 * pass), the running ones in inference. Without apply (the batchnorm is inlined into its user's
 * loop, fuse.c), the scale and shift are left in its statistics instead. */
static void emit_batchnorm(Emit *e, NodeId id, bool training, bool apply) {
  const Node *n = &e->g->nodes[id];
  long long C, S;
  bn_dims(e, n, &C, &S);
  const char *x = ref(e, n->in[0]), *gamma = ref(e, n->in[1]), *beta = ref(e, n->in[2]);
  const char *f = e->fsuf;
  /* channels apart; the statistics and scale of one channel are its thread's alone */
  par_begin(e);
  P(e, "  for (int c = (int)nnc_begin; c < (int)nnc_end; c++) {\n");
  const char *work = arena_printf(&e->c->arena, "(size_t)n * %lld", S * ((training ? 2 : 0) + (apply ? 1 : 0)) + 1);
  if (training || !apply)
    P(e, "    nnc_real *stats = m->fixed + %zu;  /* mean, biased variance, 1/sqrt(var + eps) (training); scale, shift */\n",
      e->plan.store[id].stats);
  if (training) {
    /* two passes, summed in double across planes: the mean, then the variance around it */
    P(e, "    double sum = 0, squares = 0;\n");
    if (S == 1)
      P(e, "    for (int b = 0; b < n; b++) sum += %s[(size_t)b * %lld + c];\n"
           "    const double count = n, mean = sum / count;\n"
           "    for (int b = 0; b < n; b++) {\n"
           "      double d = %s[(size_t)b * %lld + c] - mean;\n"
           "      squares += d * d;\n    }\n", x, C, x, C);
    else
      P(e, "    for (int b = 0; b < n; b++) sum += nnc_sum(%s + ((size_t)b * %lld + c) * %lld, %lld);\n"
           "    const double count = (double)n * %lld, mean = sum / count;\n"
           "    for (int b = 0; b < n; b++) {\n"
           "      const nnc_real *plane = %s + ((size_t)b * %lld + c) * %lld;\n"
           "      squares += nnc_dot_centered(plane, (nnc_real)mean, plane, (nnc_real)mean, %lld, NULL);\n    }\n",
        x, C, S, S, S, x, C, S, S);
    P(e, "    const double var = squares / count, inv_std = 1 / sqrt(var + %.17g);\n"
         "    stats[c] = (nnc_real)mean;\n    stats[%lld + c] = (nnc_real)var;\n    stats[%lld + c] = (nnc_real)inv_std;\n"
         "    const nnc_real scale = %s[c] * (nnc_real)inv_std, shift = %s[c] - (nnc_real)mean * scale;\n",
      n->attr.eps, C, 2 * C, gamma, beta);
  } else {
    P(e, "    const nnc_real scale = %s[c] / sqrt%s(%s[c] + (nnc_real)%.17g), shift = %s[c] - %s[c] * scale;\n", gamma, f,
      ref(e, n->in[4]), n->attr.eps, beta, ref(e, n->in[3]));
  }
  if (!apply) {
    P(e, "    stats[%lld + c] = scale;\n    stats[%lld + c] = shift;\n  }\n", 3 * C, 4 * C);
    par_end(e, num(e, C), work, "");
    return;
  }
  P(e, "    for (int b = 0; b < n; b++)\n"
       "      for (int s = 0; s < %lld; s++) {\n"
       "        size_t i = ((size_t)b * %lld + c) * %lld + s;\n"
       "        %s[i] = %s[i] * scale + shift;\n      }\n  }\n",
    S, C, S, ref(e, id), x);
  par_end(e, num(e, C), work, "");
}

/* running = momentum running + (1 - momentum) batch, with the unbiased batch variance (spec §4) */
static void emit_running_stats(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  long long C, S;
  bn_dims(e, n, &C, &S);
  double mom = n->attr.momentum;
  P(e, "  { /* running statistics of %s */\n"
       "    const nnc_real *stats = m->fixed + %zu;\n"
       "    const double count = (double)n * %lld, unbias = count > 1 ? count / (count - 1) : 1;\n"
       "    for (int c = 0; c < %lld; c++) {\n"
       "      %s[c] = (nnc_real)(%.17g * %s[c] + %.17g * stats[c]);\n"
       "      %s[c] = (nnc_real)(%.17g * %s[c] + %.17g * stats[%lld + c] * unbias);\n    }\n  }\n",
    e->g->layers[n->layer].name, e->plan.store[id].stats, S, C, ref(e, n->in[3]), mom, ref(e, n->in[3]), 1 - mom,
    ref(e, n->in[4]), mom, ref(e, n->in[4]), 1 - mom, C);
}

/* A bias gradient of train() that sums `of` over batch and positions ([B, C, S], S > 1) and is
 * emitted after `after`: the batchnorm's beta gradient, which its gamma gradient's loop also
 * computes, or the gradient of the convolution bias before it, which the loop that writes its
 * input gradient computes. The same sums in the same order as emit_bias_grad's. */
static NodeId bias_grad_of(Emit *e, NodeId of, NodeId after, long long C, long long S) {
  if (S == 1) return NO_NODE;
  for (int j = (int)after + 1; j < e->g->n_nodes; j++) {
    const Node *n = &e->g->nodes[j];
    if (e->plan.in_train[j] && n->op == OP_BIAS_GRAD && n->in[0] == of && count_of(n) == C &&
        !e->plan.fuse_train.inlined[j])
      return (NodeId)j;
  }
  return NO_NODE;
}

/* Marks a node computed by the kernel being emitted; its --stats pass follows that kernel. */
static void fold_into_kernel(Emit *e, NodeId id) {
  e->folded[id] = true;
  if (e->opt->stats) stats_emit_pass(e->out, e->g, id, ref(e, id), elems(e, &e->g->nodes[id]));
}

/* dgamma[c] = Σ dy x^ (and dbeta[c] = Σ dy), and dx = gamma / (N sqrt(var + eps)) (N dy - dbeta -
 * x^ dgamma) (and the bias gradient of the convolution before, Σ dx) */
static void emit_batchnorm_bwd(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  const Node *x = &e->g->nodes[n->in[1]];
  long long C, S;
  bn_dims(e, x, &C, &S);
  size_t stats = e->plan.store[n->attr.fwd].stats;
  const char *dy = ref(e, n->in[0]), *xr = ref(e, n->in[1]), *out = ref(e, id);
  NodeId bias_grad = bias_grad_of(e, n->op == OP_BATCHNORM_GAMMA_GRAD ? n->in[0] : id, id, C, S);
  par_begin(e); /* channels apart */
  P(e, "  for (int c = (int)nnc_begin; c < (int)nnc_end; c++) {\n"
       "    const nnc_real *stats = m->fixed + %zu, mean = stats[c], inv_std = stats[%lld + c];\n",
    stats, 2 * C);
  if (bias_grad != NO_NODE) P(e, "    nnc_real bias_sum = 0;\n");
  if (n->op == OP_BATCHNORM_GAMMA_GRAD) {
    P(e, "    nnc_real sum = 0;\n"
         "    for (int b = 0; b < n; b++) {\n"
         "      size_t at = ((size_t)b * %lld + c) * %lld;\n"
         "      %ssum += nnc_dot_centered(%s + at, 0, %s + at, mean, %lld, %s);\n",
      C, S, bias_grad != NO_NODE ? "nnc_real dy_sum;\n      " : "", dy, xr, S, bias_grad != NO_NODE ? "&dy_sum" : "NULL");
    /* the same sum as nnc_sum's, taken in the pass that reads dy for dgamma */
    if (bias_grad != NO_NODE) P(e, "      bias_sum += dy_sum;\n");
    P(e, "    }\n    %s[c] = sum * inv_std;\n", out);
  } else {
    const char *gamma = ref(e, n->in[2]), *dgamma = ref(e, n->in[3]), *dbeta = ref(e, n->in[4]);
    P(e, "    const nnc_real count = (nnc_real)n * %lld, k = %s[c] * inv_std / count;\n"
         "    const nnc_real db = %s[c], dg = %s[c] * inv_std;\n"
         "    for (int b = 0; b < n; b++) {\n"
         "      size_t at = ((size_t)b * %lld + c) * %lld;\n"
         "      for (int s = 0; s < %lld; s++) {\n"
         "        size_t i = at + s;\n"
         "        %s[i] = k * (count * %s[i] - db - (%s[i] - mean) * dg);\n      }\n",
      S, gamma, dbeta, dgamma, C, S, S, out, dy, xr);
    if (bias_grad != NO_NODE) P(e, "      bias_sum += nnc_sum(%s + at, %lld);\n", out, S);
    P(e, "    }\n");
  }
  if (bias_grad != NO_NODE) P(e, "    %s[c] = bias_sum;\n", ref(e, bias_grad));
  P(e, "  }\n");
  par_end(e, num(e, C), arena_printf(&e->c->arena, "(size_t)n * %lld", 2 * S), "");
  if (bias_grad != NO_NODE) fold_into_kernel(e, bias_grad);
}

/* max and average pooling, k x k windows at stride s, no padding; one plane (b, c) at a time */
static void emit_pool(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  bool bwd = n->op == OP_MAX_POOL_BWD || n->op == OP_AVG_POOL_BWD;
  const Node *fwd = bwd ? &e->g->nodes[n->attr.fwd] : n;
  const Node *x = &e->g->nodes[fwd->in[0]];
  bool is_max = fwd->op == OP_MAX_POOL;
  int C = x->shape.dim[1], H = x->shape.dim[2], W = x->shape.dim[3], OH = fwd->shape.dim[2], OW = fwd->shape.dim[3];
  int k = fwd->attr.kernel, s = fwd->attr.stride;
  const char *xr = bwd ? (is_max ? ref(e, n->in[1]) : NULL) : ref(e, n->in[0]);
  const char *out = ref(e, id), *dy = bwd ? ref(e, n->in[0]) : NULL;
  if (bwd) P(e, "  memset(%s, 0, sizeof(nnc_real) * %s);\n", out, elems(e, n));
  P(e, "  for (size_t plane = 0; plane < (size_t)n * %d; plane++)\n"
       "    for (int i = 0; i < %d; i++)\n"
       "      for (int j = 0; j < %d; j++) {\n", C, OH, OW);
  const char *at = arena_printf(&e->c->arena, "plane * %d + (size_t)(%d * i + u) * %d + %d * j + v", H * W, s, W, s);
  const char *o = arena_printf(&e->c->arena, "plane * %d + (size_t)i * %d + j", OH * OW, OW);
  if (is_max) {
    /* as torch: NaN wins, otherwise the first maximum in row-major order */
    P(e, "        size_t best = plane * %d + (size_t)(%d * i) * %d + %d * j;\n"
         "        for (int u = 0; u < %d; u++)\n"
         "          for (int v = 0; v < %d; v++) {\n"
         "            size_t at = %s;\n"
         "            if (%s[at] > %s[best] || %s[at] != %s[at]) best = at;\n          }\n",
      H * W, s, W, s, k, k, at, xr, xr, xr, xr);
    if (bwd) P(e, "        %s[best] += %s[%s];\n      }\n", out, dy, o);
    else P(e, "        %s[%s] = %s[best];\n      }\n", out, o, xr);
  } else if (bwd) {
    P(e, "        const nnc_real g = %s[%s] * (nnc_real)%.17g;\n"
         "        for (int u = 0; u < %d; u++)\n"
         "          for (int v = 0; v < %d; v++) %s[%s] += g;\n      }\n",
      dy, o, 1.0 / (k * k), k, k, out, at);
  } else {
    P(e, "        nnc_real sum = 0;\n"
         "        for (int u = 0; u < %d; u++)\n"
         "          for (int v = 0; v < %d; v++) sum += %s[%s];\n"
         "        %s[%s] = sum / %d;\n      }\n",
      k, k, xr, at, out, o, k * k);
  }
}

/* y[b,c] = mean of x[b,c,:,:]; dx[b,c,:,:] = dy[b,c] / (H W) */
static void emit_global_avg_pool(Emit *e, NodeId id) {
  const Node *n = &e->g->nodes[id];
  bool bwd = n->op == OP_GLOBAL_AVG_POOL_BWD;
  const Node *img = bwd ? n : &e->g->nodes[n->in[0]];
  long long planes = img->shape.dim[1], S = (long long)img->shape.dim[2] * img->shape.dim[3];
  const char *a = ref(e, n->in[0]), *out = ref(e, id);
  P(e, "  for (size_t plane = 0; plane < (size_t)n * %lld; plane++) {\n", planes);
  if (bwd)
    P(e, "    const nnc_real g = %s[plane] / %lld;\n"
         "    for (int s = 0; s < %lld; s++) %s[plane * %lld + s] = g;\n  }\n", a, S, S, out, S);
  else
    P(e, "    %s[plane] = nnc_sum(%s + plane * %lld, %lld) / %lld;\n  }\n", out, a, S, S, S);
}

static void emit_node(Emit *e, NodeId id, bool training, const Fusion *fu) {
  const Node *n = &e->g->nodes[id];
  const char *y = ref(e, id);
  const char *a = n->n_in > 0 ? ref(e, n->in[0]) : NULL;
  if (e->folded[id]) return; /* computed by an earlier kernel */
  if (fu->inlined[id]) {     /* computed in its user's loop; a batchnorm's statistics are not */
    if (n->op == OP_BATCHNORM) {
      source_comment(e, n, "batchnorm statistics");
      emit_batchnorm(e, id, training, false);
    }
    return;
  }
  switch (n->op) {
  case OP_INPUT: case OP_LABEL: case OP_TARGET: case OP_PARAM: case OP_BUFFER: case OP_RESHAPE:
    /* storage only; a flatten's output is a layer's all the same */
    if (n->op == OP_RESHAPE && training && e->opt->stats) stats_emit_pass(e->out, e->g, id, y, elems(e, n));
    return;
  default: break;
  }
  source_comment(e, n, op_name(n->op));
  if (op_kind(n->op) == OPK_EW) {
    emit_ew_group(e, id, fu, training && e->opt->stats);
    return;
  }
  switch (n->op) {
  case OP_ONES_SCALAR: P(e, "  %s[0] = 1;\n", y); break;
  case OP_MATMUL: emit_matmul(e, id, training); break;
  case OP_BIAS_GRAD: emit_bias_grad(e, id); break;
  case OP_SOFTMAX: emit_softmax(e, id); break;
  case OP_DROPOUT: case OP_ALPHA_DROPOUT: emit_dropout(e, id, training); break;
  case OP_SOFTMAX_BWD: emit_softmax_bwd(e, id); break;
  case OP_DROPOUT_BWD:
    P(e, "  {\n    const nnc_real *mask = m->acts + (size_t)m->max_batch * %zu;\n", e->plan.store[n->attr.fwd].aux);
    P(e, "    for (size_t i = 0; i < %s; i++) %s[i] = %s[i] * mask[i];\n  }\n", elems(e, n), y, a);
    break;
  case OP_CONV2D: emit_conv2d(e, id, training, fu); break;
  case OP_CONV2D_BWD_DATA: emit_conv2d_bwd_data(e, id); break;
  case OP_CONV2D_BWD_WEIGHT: emit_conv2d_bwd_weight(e, id); break;
  case OP_BATCHNORM: emit_batchnorm(e, id, training, true); break;
  case OP_BATCHNORM_GAMMA_GRAD: case OP_BATCHNORM_BWD: emit_batchnorm_bwd(e, id); break;
  case OP_MAX_POOL: case OP_MAX_POOL_BWD: case OP_AVG_POOL: case OP_AVG_POOL_BWD: emit_pool(e, id); break;
  case OP_GLOBAL_AVG_POOL: case OP_GLOBAL_AVG_POOL_BWD: emit_global_avg_pool(e, id); break;
  case OP_SOFTMAX_XENT: case OP_MSE: case OP_BCE_LOGITS: emit_loss(e, id); break;
  case OP_SOFTMAX_XENT_BWD: case OP_MSE_BWD: case OP_BCE_LOGITS_BWD: emit_loss_bwd(e, id); break;
  default: nn_die("no kernel for %s", op_name(n->op));
  }
  if (training && e->opt->stats) stats_emit_pass(e->out, e->g, id, y, elems(e, n));
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
      else P(e, "  const nnc_real *t%d = %s;       /* %s %s */\n", i, n->op == OP_INPUT ? "x" : "t", label, shape);
      break;
    case STORE_PARAM: P(e, "  nnc_real *t%d = m->params + %zu;  /* %s %s */\n", i, st->offset, label, shape); break;
    case STORE_BUFFER: P(e, "  nnc_real *t%d = m->buffers + %zu;  /* %s %s */\n", i, st->offset, label, shape); break;
    case STORE_GRAD: {
      const char *param = "?";
      for (int k = 0; k < g->n_params; k++)
        if (g->param_grad[k] == (NodeId)i) param = g->params[k].name;
      P(e, "  nnc_real *t%d = m->grads + %zu;  /* d loss / d %s */\n", i, st->offset, param);
      break;
    }
    case STORE_BATCHED:
      P(e, "  nnc_real *t%d = m->acts + (size_t)m->max_batch * %zu;  /* %s %s %s */\n", i, st->offset, op_name(n->op),
        label, shape);
      break;
    case STORE_FIXED:
      P(e, "  nnc_real *t%d = m->fixed + %zu;  /* %s %s %s */\n", i, st->offset, op_name(n->op), label, shape);
      break;
    }
  }
}

/* Converts the caller's float x (and t) into the arena when nnc_real is not float. */
static void emit_input_copies(Emit *e, const bool *in_fn) {
  Graph *g = e->g;
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *n = &g->nodes[i];
    if (!in_fn[i] || (n->op != OP_INPUT && n->op != OP_TARGET) || e->plan.store[i].kind != STORE_BATCHED) continue;
    P(e, "  for (size_t i = 0; i < %s; i++) t%d[i] = (nnc_real)%s[i];\n", elems(e, n), i, n->op == OP_INPUT ? "x" : "t");
  }
}

/* The optimizer step on the gradient block, after batchnorm's running statistics take in the
 * batch statistics of the fixed block (n examples' worth). */
static void emit_apply_body(Emit *e) {
  Graph *g = e->g;
  P(e, "  nnc_begin_step(m);\n");
  /* batchnorm's batch statistics stay in the fixed block until here */
  for (int k = 0; k < g->n_nodes; k++)
    if (g->nodes[k].op == OP_BATCHNORM && e->plan.in_train[k]) emit_running_stats(e, (NodeId)k);
  /* parameters the loss does not reach are left alone, as torch.optim does */
  for (int p = 0; p < g->n_params; p++) {
    if (!g->params[p].trainable || g->param_grad[p] == NO_NODE) continue;
    if (fused_weight_of(e, g->param_grad[p]) == p) {
      const Node *w = &g->nodes[g->param_grad[p]];
      P(e, "  if (nnc_fused && n <= %d)\n    nnc_update_outer(m, %zu, %d, %d, n);  /* %s */\n  else\n  ",
        fused_batch_limit(e, p), g->params[p].offset, w->shape.dim[0], w->shape.dim[1], g->params[p].name);
    }
    P(e, "  nnc_update(m, %zu, %zu);  /* %s */\n", g->params[p].offset, g->params[p].offset + g->params[p].size,
      g->params[p].name);
  }
}

/* The pointers of the nodes that the function's body (in fn_body) names, then the body. */
static void end_function(Emit *e) {
  fclose(e->out);
  e->out = e->fn_file;
  size_t size = sizeof(bool) * (size_t)(e->g->n_nodes + 1);
  bool *used = arena_alloc(&e->c->arena, size), *direct_only = arena_alloc(&e->c->arena, size);
  memset(used, 0, size);
  memset(direct_only, 0, size);
  mark_named(e, e->fn_body, used, true);
  mark_named(e, e->fn_body, direct_only, false);
  bool any = false;
  for (int i = 0; i < e->g->n_nodes; i++) any |= direct_only[i] &= !used[i];
  emit_pointers(e, used, e->fu);
  if (any) { /* named only where the direct kernels are compiled */
    P(e, "#ifdef NNC_C3\n");
    emit_pointers(e, direct_only, e->fu);
    P(e, "#endif\n");
  }
  P(e, "%s", e->fn_body);
  free(e->fn_body);
}

/* train() computes the loss and the gradients and, when `apply` is set and the loss and every
 * gradient are finite, takes the optimizer step (returning 0 when it refuses one); infer()
 * returns the output's storage. */
static void emit_function(Emit *e, const char *fn, const bool *in_fn, bool training, const char *y_type) {
  Graph *g = e->g;
  const char *yname = y_type[0] == 'i' ? "y" : "t";
  if (training)
    P(e, "NNC_HOT static int %s(struct %s *m, const float *x, const %s *%s, int n, int apply) {\n", fn, e->tag, y_type, yname);
  else
    P(e, "NNC_HOT static const nnc_real *%s(struct %s *m, const float *x, const %s *%s, int n) {\n", fn, e->tag, y_type, yname);
  P(e, "  (void)m; (void)x; (void)%s; (void)n;\n", yname);
  if (training) P(e, "  const nnrt_rng rng_at_start = m->rng; /* restored when the step is refused */\n");
  const bool fused = training && any_fused_weight(e);
  if (fused)
    P(e, "  /* small batches: dense weights take their step in one pass, their gradients never written */\n"
         "  const int nnc_fused = apply%s;\n", e->opt->stats ? " && !m->stats_on" : "");
  if (training && any_packed(e)) P(e, "  nnc_packed_stale(m); /* the step changes the weights */\n");
  if (training && e->opt->stats) P(e, "  if (m->stats_on) memset(m->nnc_stats_acc, 0, sizeof m->nnc_stats_acc);\n");
  Fusion fu = training ? e->plan.fuse_train : e->plan.fuse_infer;
  e->in_fn = in_fn, e->fu = &fu, e->yname = yname;
  /* the body first: its pointers are those it names (some nodes are touched by tasks alone) */
  e->fn_file = e->out;
  e->out = open_memstream(&e->fn_body, &e->fn_len);
  if (!e->out) nn_die("open_memstream failed");
  emit_input_copies(e, in_fn);
  memset(e->folded, 0, sizeof(bool) * (size_t)g->n_nodes);
  for (int i = 0; i < g->n_nodes; i++)
    if (in_fn[i]) emit_node(e, (NodeId)i, training, &fu);
  if (!training) {
    P(e, "  return %s;\n}\n\n", ref(e, g->output));
    end_function(e);
    return;
  }
  /* the step runs after every gradient is known, so that one non-finite value refuses all of it */
  P(e, "  /* the step is applied only when the loss and every gradient are finite; a refused step\n"
       "     leaves everything as it was, the generator's state included */\n"
       "  if (apply && !(isfinite(%s[0]) && %s)) {\n"
       "    m->rng = rng_at_start;\n    return 0;\n  }\n"
       "  if (!apply) return 1;\n",
    ref(e, g->loss),
    fused ? "(nnc_fused ? nnc_fused_finite(m->grads, NNC_N_PARAMS, n) : nnc_all_finite(m->grads, NNC_N_PARAMS))"
          : "nnc_all_finite(m->grads, NNC_N_PARAMS)");
  if (e->opt->mpi) {
    for (int k = 0; k < g->n_nodes; k++) /* nnc_apply() updates the running statistics */
      if (g->nodes[k].op == OP_BATCHNORM && in_fn[k])
        P(e, "  (void)%s;\n  (void)%s;\n", ref(e, g->nodes[k].in[3]), ref(e, g->nodes[k].in[4]));
    P(e, "  nnc_apply(m, n);\n");
  } else {
    emit_apply_body(e);
  }
  P(e, "  return 1;\n}\n\n");
  end_function(e);
}

/* ---------------- initialisation and the optimizer ---------------- */

static void emit_init(Emit *e) {
  Graph *g = e->g;
  P(e, "/* Parameters in creation order, each from the model's own generator. */\n");
  P(e, "static void nnc_init_params(struct %s *m) {\n", e->tag);
  if (g->n_params == 0) P(e, "  (void)m;\n");
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    const char *base = p->trainable ? "m->params" : "m->buffers";
    P(e, "  /* %s %s */\n", p->name, shape_str(&e->c->arena, p->shape));
    switch (p->init) {
    case INIT_ZEROS: break; /* the block starts zeroed */
    case INIT_ONES: P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = 1;\n", p->size, base, p->offset); break;
    case INIT_GLOROT_UNIFORM: {
      double a = sqrt(6.0 / (p->fan_in + p->fan_out));
      P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = (nnc_real)(%.17g * (2 * nnrt_rng_uniform(&m->rng) - 1));  /* glorot_uniform */\n",
        p->size, base, p->offset, a);
      break;
    }
    case INIT_LECUN_NORMAL: case INIT_HE_NORMAL: case INIT_NORMAL: {
      double std = p->init == INIT_NORMAL ? p->init_std
                   : p->init == INIT_HE_NORMAL ? sqrt(2.0 / p->fan_in) : sqrt(1.0 / p->fan_in);
      const char *what = p->init == INIT_NORMAL ? "normal" : p->init == INIT_HE_NORMAL ? "he_normal" : "lecun_normal";
      P(e, "  for (size_t i = 0; i < %zu; i++) %s[%zu + i] = (nnc_real)(%.17g * nnrt_rng_normal(&m->rng));  /* %s */\n",
        p->size, base, p->offset, std, what);
      break;
    }
    }
  }
  P(e, "}\n\n");
}

/* The optimizer's rule, torch.optim's: its state's pointers, then `loop` (which opens a loop over
 * the elements i of the parameter block), the step of element i from its gradient `grad` (an
 * expression), and `close`. */
static void emit_update_rule(Emit *e, const char *loop, const char *grad, const char *close) {
  const Optimizer *o = &e->g->opt;
  const char *in = close[2] == ' ' ? "      " : "    "; /* the body's indentation: a loop or two deep */
  const char *wd = "";
  if (o->weight_decay > 0) wd = arena_printf(&e->c->arena, " + (nnc_real)%.17g * p[i]", o->weight_decay);
  switch (o->kind) {
  case OPT_SGD:
    P(e, "  /* sgd(lr=%g, momentum=%g, nesterov=%s, weight_decay=%g) */\n", o->lr, o->momentum,
      o->nesterov ? "true" : "false", o->weight_decay);
    if (o->momentum == 0) {
      P(e, "%s%sp[i] -= (nnc_real)%.17g * (%s%s);\n%s", loop, in, o->lr, grad, wd, close);
    } else {
      P(e, "  nnc_real *buf = m->opt_m;\n");
      P(e, "%s%snnc_real d = %s%s;\n"
           "%sbuf[i] = (nnc_real)%.17g * buf[i] + d;\n"
           "%sp[i] -= (nnc_real)%.17g * %s;\n%s",
        loop, in, grad, wd, in, o->momentum, in, o->lr,
        o->nesterov ? arena_printf(&e->c->arena, "(d + (nnc_real)%.17g * buf[i])", o->momentum) : "buf[i]", close);
    }
    break;
  case OPT_RMSPROP:
    P(e, "  /* rmsprop(lr=%g, rho=%g, eps=%g, weight_decay=%g) */\n", o->lr, o->rho, o->eps, o->weight_decay);
    P(e, "  nnc_real *sq = m->opt_m;\n");
    P(e, "%s%snnc_real d = %s%s;\n"
         "%ssq[i] = (nnc_real)%.17g * sq[i] + (nnc_real)%.17g * d * d;\n"
         "%sp[i] -= (nnc_real)%.17g * d / (sqrt%s(sq[i]) + (nnc_real)%.17g);\n%s",
      loop, in, grad, wd, in, o->rho, 1 - o->rho, in, o->lr, e->fsuf, o->eps, close);
    break;
  case OPT_ADAM:
    P(e, "  /* adam(lr=%g, beta1=%g, beta2=%g, eps=%g, weight_decay=%g), bias-corrected */\n", o->lr, o->beta1,
      o->beta2, o->eps, o->weight_decay);
    P(e, "  nnc_real *m1 = m->opt_m, *m2 = m->opt_v;\n");
    P(e, "  const nnc_real step_size = m->step_size, root_c2 = m->root_c2;\n");
    P(e, "%s%snnc_real d = %s%s;\n"
         "%sm1[i] = (nnc_real)%.17g * m1[i] + (nnc_real)%.17g * d;\n"
         "%sm2[i] = (nnc_real)%.17g * m2[i] + (nnc_real)%.17g * d * d;\n"
         "%sp[i] -= step_size * m1[i] / (sqrt%s(m2[i]) / root_c2 + (nnc_real)%.17g);\n%s",
      loop, in, grad, wd, in, o->beta1, 1 - o->beta1, in, o->beta2, 1 - o->beta2, in, e->fsuf, o->eps, close);
    break;
  }
}

static void emit_update(Emit *e) {
  const Optimizer *o = &e->g->opt;
  P(e, "/* Starts an optimizer step: counts it and fixes its constants. */\n");
  P(e, "static void nnc_begin_step(struct %s *m) {\n  m->step++;\n", e->tag);
  if (o->kind == OPT_ADAM) {
    P(e, "  const double c1 = 1 - pow(%.17g, (double)m->step), c2 = 1 - pow(%.17g, (double)m->step);\n", o->beta1,
      o->beta2);
    P(e, "  m->step_size = (nnc_real)(%.17g / c1);\n  m->root_c2 = (nnc_real)sqrt(c2);\n", o->lr);
  }
  P(e, "}\n\n");
  /* no parameter the loss reaches: nothing calls nnc_update() (an unused static function warns) */
  bool any_update = false;
  for (int i = 0; i < e->g->n_params; i++)
    any_update |= e->g->params[i].trainable && e->g->param_grad && e->g->param_grad[i] != NO_NODE;
  if (!any_update) return;
  P(e, "/* The optimizer on parameters [begin, end), torch.optim's update rules. nnc_train() calls it\n"
       "   for each parameter the loss reaches, once every gradient is known to be finite. */\n");
  P(e, "NNC_HOT static void nnc_update_range(struct %s *m, size_t begin, size_t end) {\n", e->tag);
  P(e, "  nnc_real *p = m->params, *g = m->grads;\n");
  emit_update_rule(e, "  for (size_t i = begin; i < end; i++) {\n", "g[i]", "  }\n");
  P(e, "}\n\n");
  /* elements apart, so any split gives the same values */
  P(e, "struct nnc_update_args {\n  struct %s *m;\n  size_t begin;\n};\n\n"
       "static void nnc_update_part(void *arg, long begin, long end, int thread) {\n"
       "  const struct nnc_update_args *a = arg;\n  (void)thread;\n"
       "  nnc_update_range(a->m, a->begin + (size_t)begin, a->begin + (size_t)end);\n}\n\n"
       "/* nnc_update_range on the pool's threads */\n"
       "static void nnc_update(struct %s *m, size_t begin, size_t end) {\n"
       "  struct nnc_update_args a;\n  a.m = m, a.begin = begin;\n"
       "  nnrt_pool_run(m->pool, (long)(end - begin), nnc_grain(4), nnc_update_part, &a);\n}\n\n",
    e->tag, e->tag);
  if (!any_fused_weight(e)) return;
  const bool float_kernel = !e->opt->double_precision; /* compiler/kernels/gemm.c's nnc_g_outer */
  /* whole rows where they fit: the update then walks the parameters and their state in one run */
  P(e, "#define NNC_OUTER_COLS 1008 /* a multiple of 16 (nnc_g_outer), its rows not 4 KiB apart */\n\n");
  P(e, "/* to = from [n][width] in blocks of `block` columns, each block's n rows side by side (block j0\n"
       "   at to + j0 n, its rows min(block, width - j0) long): nnc_outer_block then reads dy (blocks of\n"
       "   6) and x (of 16) in order. At n = 1 the same as from. */\n"
       "static void nnc_pack_blocks(nnc_real *to, const nnc_real *from, int n, int width, int block) {\n"
       "  for (int j0 = 0; j0 < width; j0 += block) {\n"
       "    const int w = width - j0 < block ? width - j0 : block;\n"
       "    for (int b = 0; b < n; b++)\n"
       "      for (int k = 0; k < w; k++) to[(size_t)j0 * n + (size_t)b * w + k] = from[(size_t)b * width + j0 + k];\n"
       "  }\n}\n\n");
  P(e, "/* t [rows][NNC_OUTER_COLS] (rows = min(6, R - r0), r0 a multiple of 6; cols <= NNC_OUTER_COLS of them, c0 a\n"
       "   multiple of 16) = the block at row r0 and column c0 of a dense weight's gradient dy^T x [R][C] over\n"
       "   the n examples, dy and x as nnc_pack_blocks leaves them: each element the sum of its products in\n"
       "   the examples' order, from 0 */\n"
       "NNC_HOT static void nnc_outer_block(nnc_real *t, const nnc_real *dyp, const nnc_real *xp, int C, int n, int r0, int rows,\n"
       "                                    int c0, int cols) {\n"
       "  const nnc_real *a = dyp + (size_t)r0 * n; /* the block's rows, `rows` values each */\n");
  if (float_kernel)
    P(e, "#ifdef NNC_G\n  if (nnc_g_usable()) {\n    nnc_g_outer(t, NNC_OUTER_COLS, a, xp, C, c0, cols, n, rows);\n    return;\n  }\n#endif\n");
  P(e, "  for (int r = 0; r < rows; r++) {\n    nnc_real *tr = t + r * NNC_OUTER_COLS;\n"
       "    for (int c = 0; c < cols; c++) tr[c] = 0;\n"
       "    for (int b = 0; b < n; b++) {\n"
       "      const nnc_real s = a[(size_t)b * rows + r];\n"
       "      for (int j0 = c0; j0 < c0 + cols; j0 += 16) {\n"
       "        const int w = C - j0 < 16 ? C - j0 : 16;\n"
       "        const nnc_real *xb = xp + (size_t)j0 * n + (size_t)b * w;\n"
       "        for (int k = 0; k < w; k++) tr[j0 - c0 + k] += s * xb[k];\n"
       "      }\n    }\n  }\n}\n\n");
  P(e, "/* the optimizer's step of rows elements [at + r stride, + cols) of the parameters, r < rows, whose\n"
       "   gradients are t [rows][NNC_OUTER_COLS] */\n");
  P(e, "NNC_HOT static void nnc_update_block(struct %s *m, size_t at, const nnc_real *t, int rows, int cols, int stride) {\n",
    e->tag);
  P(e, "  nnc_real *p = m->params;\n");
  emit_update_rule(e,
                   "  for (int r = 0; r < rows; r++) {\n"
                   "    for (size_t c = 0, i = at + (size_t)r * stride; c < (size_t)cols; c++, i++) {\n",
                   "t[r * NNC_OUTER_COLS + c]", "    }\n  }\n");
  P(e, "}\n\n");
  P(e, "/* nnc_update() of a weight [rows, cols] whose gradient over the batch, dy^T x, was not written:\n"
       "   the n rows of dy and of x wait in its place (fused_weight_of() in nnc's emit.c; packed by\n"
       "   nnc_pack_blocks), and the gradient is computed a block at a time where the rule takes it;\n"
       "   rows [r_begin, r_end) */\n"
       "static void nnc_update_outer_rows(struct %s *m, size_t begin, int rows, int cols, int n, int r_begin, int r_end) {\n"
       "  nnc_real t[6 * NNC_OUTER_COLS];\n"
       "  const nnc_real *dy = m->grads + begin, *x = dy + (size_t)n * rows;\n"
       "  for (int r0 = r_begin; r0 < r_end; r0 += 6)\n"
       "    for (int c0 = 0; c0 < cols; c0 += NNC_OUTER_COLS) {\n"
       "      const int nr = r_end - r0 < 6 ? r_end - r0 : 6, nc = cols - c0 < NNC_OUTER_COLS ? cols - c0 : NNC_OUTER_COLS;\n"
       "      nnc_outer_block(t, dy, x, cols, n, r0, nr, c0, nc);\n"
       "      nnc_update_block(m, begin + (size_t)r0 * cols + c0, t, nr, nc, cols);\n"
       "    }\n}\n\n",
    e->tag);
  /* blocks of 6 rows apart: each element is computed alike in any split */
  P(e, "struct nnc_outer_args {\n  struct %s *m;\n  size_t begin;\n  int rows, cols, n;\n};\n\n"
       "static void nnc_update_outer_part(void *arg, long begin, long end, int thread) {\n"
       "  const struct nnc_outer_args *a = arg;\n  const int r1 = (int)end * 6 < a->rows ? (int)end * 6 : a->rows;\n"
       "  (void)thread;\n  nnc_update_outer_rows(a->m, a->begin, a->rows, a->cols, a->n, (int)begin * 6, r1);\n}\n\n"
       "/* nnc_update_outer_rows on the pool's threads, in blocks of 6 rows */\n"
       "static void nnc_update_outer(struct %s *m, size_t begin, int rows, int cols, int n) {\n"
       "  struct nnc_outer_args a;\n  a.m = m, a.begin = begin, a.rows = rows, a.cols = cols, a.n = n;\n"
       "  nnrt_pool_run(m->pool, (long)(rows + 5) / 6, nnc_grain((size_t)6 * cols * (size_t)(n + 4)), nnc_update_outer_part, &a);\n"
       "}\n\n",
    e->tag, e->tag);
  /* the finiteness test of the step, for the gradient block as it is after a one-pass step */
  P(e, "/* the largest magnitude in v[0..n) (finite values), in 8 lanes: a reduction of one value would\n"
       "   not vectorize */\n"
       "NNC_HOT static nnc_real nnc_max_abs(const nnc_real *v, size_t n) {\n"
       "  nnc_real lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n  size_t i = 0;\n"
       "  for (; i + 8 <= n; i += 8)\n"
       "    for (int l = 0; l < 8; l++) {\n"
       "      const nnc_real a = v[i + l] < 0 ? -v[i + l] : v[i + l];\n      lane[l] = a > lane[l] ? a : lane[l];\n    }\n"
       "  for (; i < n; i++) {\n    const nnc_real a = v[i] < 0 ? -v[i] : v[i];\n    lane[0] = a > lane[0] ? a : lane[0];\n  }\n"
       "  for (int l = 1; l < 8; l++) lane[0] = lane[l] > lane[0] ? lane[l] : lane[0];\n"
       "  return lane[0];\n}\n\n");
  P(e, "/* 1 when every element of dy^T x over the n examples (dy [n][rows], x [n][cols], packed by\n"
       "   nnc_pack_blocks) is finite. When dy and x are, each sum of n products is at most\n"
       "   n top_a top_b, grown by at most n roundings:\n"
       "   below the largest finite value, no element overflows; else each is computed as the update\n"
       "   computes it and tested */\n"
       "NNC_HOT static int nnc_outer_finite(const nnc_real *dy, int rows, const nnc_real *x, int cols, int n) {\n"
       "  nnc_real top_a, top_b, t[6 * NNC_OUTER_COLS];\n"
       "  if (!nnc_all_finite(dy, (size_t)n * rows) || !nnc_all_finite(x, (size_t)n * cols)) return 0;\n"
       "  top_a = nnc_max_abs(dy, (size_t)n * rows), top_b = nnc_max_abs(x, (size_t)n * cols);\n"
       "  if ((double)top_a * (double)top_b * n * 1.001 <= %.17g) return 1;\n"
       "  for (int r0 = 0; r0 < rows; r0 += 6)\n"
       "    for (int c0 = 0; c0 < cols; c0 += NNC_OUTER_COLS) {\n"
       "      const int nr = rows - r0 < 6 ? rows - r0 : 6, nc = cols - c0 < NNC_OUTER_COLS ? cols - c0 : NNC_OUTER_COLS;\n"
       "      nnc_outer_block(t, dy, x, cols, n, r0, nr, c0, nc);\n"
       "      for (int r = 0; r < nr; r++)\n"
       "        if (!nnc_all_finite(t + r * NNC_OUTER_COLS, (size_t)nc)) return 0;\n"
       "    }\n  return 1;\n}\n\n",
    e->opt->double_precision ? DBL_MAX : (double)FLT_MAX);
  P(e, "/* nnc_all_finite(g, size) after a step in which the weights of up to n examples took their step\n"
       "   in one pass: their gradients by their dy and x, the rest as written */\n"
       "NNC_HOT static int nnc_fused_finite(const nnc_real *g, size_t size, int n) {\n  return ");
  size_t at = 0;
  for (int p = 0; p < e->g->n_params; p++) { /* offsets ascend with p (plan.c) */
    NodeId d = e->g->param_grad[p];
    if (d == NO_NODE || fused_weight_of(e, d) != p) continue;
    const Param *w = &e->g->params[p];
    int rows = e->g->nodes[d].shape.dim[0], cols = e->g->nodes[d].shape.dim[1];
    if (w->offset > at) P(e, "nnc_all_finite(g + %zu, %zu) &&\n         ", at, w->offset - at);
    P(e, "(n <= %d ? nnc_outer_finite(g + %zu, %d, g + %zu + (size_t)n * %d, %d, n) : nnc_all_finite(g + %zu, %zu)) &&  /* %s */\n         ",
      fused_batch_limit(e, p), w->offset, rows, w->offset, rows, cols, w->offset, w->size, w->name);
    at = w->offset + w->size;
  }
  P(e, "nnc_all_finite(g + %zu, size - %zu);\n}\n\n", at, at);
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

/* ---------------- data parallel (nnc build --mpi) ---------------- */

/* Dropout's random draws per example in training: with MPI every rank steps the generator past
 * the whole global batch's draws, so the generators stay identical across ranks. */
static long long draws_per_example(Emit *e) {
  long long draws = 0;
  for (int i = 0; i < e->g->n_nodes; i++) {
    const Node *n = &e->g->nodes[i];
    if (e->plan.in_train[i] && (n->op == OP_DROPOUT || n->op == OP_ALPHA_DROPOUT) && n->attr.alpha != 0)
      draws += count_of(n);
  }
  return draws;
}

/* Batchnorm layers whose statistics the ranks combine: values per channel pair (mean, E[x^2]). */
static long long bn_channels(Emit *e) {
  long long channels = 0;
  for (int i = 0; i < e->g->n_nodes; i++)
    if (e->g->nodes[i].op == OP_BATCHNORM && e->plan.in_train[i]) channels += e->g->nodes[i].shape.dim[1];
  return channels;
}

static void emit_mpi_helpers(Emit *e) {
  if (draws_per_example(e))
    P(e, "/* Steps the generator past k draws: the dropout masks of other ranks' examples. */\n"
         "static void nnc_skip_draws(nnrt_rng *rng, uint64_t k) {\n"
         "  while (k--) (void)nnrt_rng_next(rng);\n}\n\n");
  P(e, "/* The optimizer step; the batch statistics in the fixed block are those of n examples. */\n"
       "NNC_HOT static void nnc_apply(struct %s *m, int n) {\n  (void)n;\n", e->tag);
  /* the running statistics, under the names nnc_train() gives them */
  for (int i = 0; i < e->g->n_nodes; i++) {
    const Node *bn = &e->g->nodes[i];
    if (bn->op != OP_BATCHNORM || !e->plan.in_train[i]) continue;
    for (int k = 3; k <= 4; k++)
      P(e, "  nnc_real *%s = m->buffers + %zu;\n", ref(e, bn->in[k]), e->plan.store[bn->in[k]].offset);
  }
  emit_apply_body(e);
  P(e, "}\n\n");
}

/* Every batchnorm's batch statistics in sums[] (from 1 on, per channel the mean, then E[x^2]):
 * packed as this rank's share of the global batch's (weighted by n / total), or, after the sum
 * over the ranks, unpacked as the global batch's mean and biased variance. */
static void emit_mpi_bn_sums(Emit *e, bool pack) {
  const Graph *g = e->g;
  long long at = 1;
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *bn = &g->nodes[i];
    if (bn->op != OP_BATCHNORM || !e->plan.in_train[i]) continue;
    long long C = bn->shape.dim[1];
    size_t mean = e->plan.store[i].stats, var = mean + (size_t)C;
    if (pack)
      P(e, "    for (int c = 0; c < %lld; c++) { /* %s: mean, biased variance */\n"
           "      const double mean = m->fixed[%zu + c], var = m->fixed[%zu + c];\n"
           "      sums[%lld + c] = weight * mean;\n      sums[%lld + c] = weight * (var + mean * mean);\n    }\n",
        C, g->layers[bn->layer].name, mean, var, at, at + C);
    else
      P(e, "  for (int c = 0; c < %lld; c++) { /* the global batch's statistics, for the running ones */\n"
           "    const double mean = sums[%lld + c], var = sums[%lld + c] - mean * mean;\n"
           "    m->fixed[%zu + c] = (nnc_real)mean;\n    m->fixed[%zu + c] = (nnc_real)(var > 0 ? var : 0);\n  }\n",
        C, at, at + C, mean, var);
    at += 2 * C;
  }
}

/* NAME_train_step_mpi: counts and offsets first (every rank learns whether all arguments are good
 * before any computes), then each rank's gradients, scaled by its share n / total and summed in
 * one MPI_Allreduce over the gradient block; the loss and batchnorm's statistics are combined in
 * double. Batchnorm normalises with each rank's own batch statistics (as PyTorch's
 * DistributedDataParallel does by default); the running statistics take in the global batch's
 * mean and variance, the same on every rank. */
static void emit_mpi_step(Emit *e, const char *y_type) {
  Graph *g = e->g;
  const char *N = e->name, *yname = y_type[0] == 'i' ? "y" : "t";
  bool label = g->label != NO_NODE;
  long long draws = draws_per_example(e), channels = bn_channels(e);
  P(e, "float %s_train_step_mpi(%s *m, const float *x, const %s *%s, int n, MPI_Comm comm) {\n"
       "  int rank = 0;\n"
       "  long share[2] = {n, 0}, total[2] = {0, 0}, before = 0; /* examples, ranks with bad arguments */\n"
       "  int bad = !m || n < 0 || (m && n > m->max_batch) || (n > 0 && (!x || !%s));\n",
    N, N, y_type, yname, yname);
  if (label)
    P(e, "  for (int i = 0; !bad && i < n; i++) bad = y[i] < 0 || y[i] >= %s_N_CLASSES;\n", e->upper);
  P(e, "  if (bad) share[0] = 0, share[1] = 1;\n"
       "  /* every rank takes part in these, bad arguments or not, so that none waits for ever */\n"
       "  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS ||\n"
       "      MPI_Exscan(share, &before, 1, MPI_LONG, MPI_SUM, comm) != MPI_SUCCESS ||\n"
       "      MPI_Allreduce(share, total, 2, MPI_LONG, MPI_SUM, comm) != MPI_SUCCESS)\n"
       "    return NAN;\n"
       "  if (rank == 0) before = 0; /* MPI_Exscan leaves rank 0's undefined */\n"
       "  if (total[1] || total[0] < 1 || total[0] > INT32_MAX) return NAN;\n"
       "  const nnrt_rng rng_at_start = m->rng; /* restored when the step is refused */\n"
       "  m->mpi_before = before;\n  m->mpi_after = total[0] - before - n;\n"
       "  if (n > 0) {\n    nnc_train(m, x, %s, n, 0);\n  } else {\n"
       "    memset(m->grads, 0, sizeof(nnc_real) * NNC_N_PARAMS);\n",
    yname);
  if (draws) P(e, "    nnc_skip_draws(&m->rng, (uint64_t)total[0] * %lld);\n", draws);
  P(e, "  }\n  m->mpi_before = m->mpi_after = 0;\n");
  P(e, "  /* this rank's loss and gradients are means over its n examples: weighted by n / total, their\n"
       "     sum over the ranks is the global batch's mean */\n"
       "  const double weight = (double)n / (double)total[0];\n"
       "  double sums[%lld] = {0}; /* the loss, then per batchnorm channel the mean and E[x^2] */\n"
       "  if (n > 0) {\n    sums[0] = weight * (double)m->fixed[%zu];\n",
    1 + 2 * channels, e->plan.store[g->loss].offset);
  emit_mpi_bn_sums(e, true);
  P(e, "  }\n"
       "  const nnc_real scale = (nnc_real)weight;\n"
       "  for (size_t i = 0; i < NNC_N_PARAMS; i++) m->grads[i] *= scale;\n"
       "  if (MPI_Allreduce(MPI_IN_PLACE, sums, %lld, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS ||\n"
       "      MPI_Allreduce(MPI_IN_PLACE, m->grads, NNC_N_PARAMS, %s, MPI_SUM, comm) != MPI_SUCCESS) {\n"
       "    m->rng = rng_at_start;\n    return NAN;\n  }\n"
       "  /* every rank holds the same sums, so every rank makes the same decision */\n"
       "  if (!(isfinite(sums[0]) && nnc_all_finite(m->grads, NNC_N_PARAMS))) {\n"
       "    m->rng = rng_at_start;\n    return NAN;\n  }\n",
    1 + 2 * channels, e->opt->double_precision ? "MPI_DOUBLE" : "MPI_FLOAT");
  emit_mpi_bn_sums(e, false);
  P(e, "  nnc_apply(m, (int)total[0]);\n  return (float)sums[0];\n}\n\n");
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
  P(e, "static const unsigned char nnc_param_table[%zu] = {", n);
  for (size_t i = 0; i < n; i++) P(e, "%s%u,", i % 24 ? "" : "\n   ", bytes[i]);
  P(e, "\n};\n\n");
}

static void emit_header(Emit *e, FILE *h) {
  Graph *g = e->g;
  const char *upper = e->upper;
  bool label = g->label != NO_NODE;
  const Node *out = &g->nodes[g->output];
  fprintf(h,
          "/* %s.h — generated by nnc from %s; do not edit. */\n"
          "#ifndef NNC_%s_H\n#define NNC_%s_H\n\n#include <stdint.h>\n\n"
          "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
          "#define %s_IN_SIZE %lld   /* floats per example of the input */\n"
          "#define %s_OUT_SIZE %lld  /* floats per example that forward() writes */\n",
          e->name, e->opt->source_name, e->name, e->name, upper, (long long)shape_count(g->nodes[g->input].shape), upper,
          count_of(out));
  if (label) fprintf(h, "#define %s_N_CLASSES %d\n", upper, g->n_classes);
  else fprintf(h, "#define %s_TARGET_SIZE %lld\n", upper, (long long)shape_count(g->nodes[g->target].shape));
  fprintf(h,
          "\ntypedef struct nnc_%s %s; /* opaque */\n\n"
          "/* Allocates and initialises the weights from seed; NULL on failure or max_batch < 1. */\n"
          "%s *%s_new(int max_batch, uint64_t seed);\n"
          "void %s_free(%s *m);\n"
          "/* Inference on n examples (any n >= 1; done in chunks of max_batch): out gets n * %s_OUT_SIZE floats. */\n"
          "void %s_forward(%s *m, const float *x, int n, float *out);\n"
          "/* One optimizer step on n <= max_batch examples; returns the mean loss. Returns NaN and\n"
          "   changes nothing for bad arguments%s, or when the loss or a gradient is not finite. */\n"
          "float %s_train_step(%s *m, const float *x, const %s, int n);\n"
          "/* Checkpoints: 0 on success; on failure -1, nnrt_last_error() says why, and the model\n"
          "   (or the previous file) is untouched. */\n"
          "int %s_save(const %s *m, const char *path);\n"
          "int %s_load(%s *m, const char *path);\n"
          "/* Optimizer steps taken so far. */\n"
          "uint64_t %s_steps(const %s *m);\n"
          "/* Threads for nnc's own kernels (not the BLAS library's): 1, the default, to 256. The results\n"
          "   do not depend on it. 0 on success; -1 (nnrt_last_error() says why) and nothing changed on\n"
          "   failure. A model is used by one thread at a time; each model has its own threads. */\n"
          "int %s_set_threads(%s *m, int threads);\n",
          e->name, e->name, e->name, e->name, e->name, e->name, upper, e->name, e->name,
          label ? " (or a label outside 0..K-1)" : "", e->name, e->name, label ? "int32_t *y" : "float *t", e->name,
          e->name, e->name, e->name, e->name, e->name, e->name, e->name);
  if (e->opt->stats) stats_emit_header(h, g, e->name, upper);
  if (e->opt->mpi)
    fprintf(h,
            "\n#include <mpi.h>\n"
            "/* Data parallel (nnc build --mpi): a collective over comm. Every rank calls it with its own\n"
            "   share of the global batch (0 <= n <= max_batch; shares may differ), after the same seed or\n"
            "   checkpoint. The gradients of the global batch (each rank's mean weighted by n / total) are\n"
            "   summed with one MPI_Allreduce and every rank takes the same step, so the models stay\n"
            "   identical. Returns the global batch's mean loss on every rank; NaN on every rank, changing\n"
            "   nothing, when any rank's arguments are bad or the loss or a gradient is not finite. */\n"
            "float %s_train_step_mpi(%s *m, const float *x, const %s, int n, MPI_Comm comm);\n",
            e->name, e->name, label ? "int32_t *y" : "float *t");
  if (e->opt->debug_api)
    fprintf(h,
            "\n/* Test hooks: the parameters and gradients as nnc_real (%s) arrays, and one forward and\n"
            "   backward pass without an update (masks frozen after the first call when freeze is set). */\n"
            "long %s_debug_n_params(void);\n"
            "%s *%s_debug_params(%s *m);\n"
            "%s *%s_debug_grads(%s *m);\n"
            "double %s_debug_loss_grad(%s *m, const float *x, const %s, int n, int freeze_masks);\n"
            "/* Inference on n <= max_batch examples in nnc_real precision (NULL for a bad n). */\n"
            "const %s *%s_debug_forward(%s *m, const float *x, int n);\n"
            "/* The k-th dropout call's mask from the last training pass (NULL past the last): *count\n"
            "   values per example, 0 where dropped, else the kept values' factor. */\n"
            "%s *%s_debug_dropout_mask(%s *m, int k, long *count);\n",
            e->real, e->name, e->real, e->name, e->name, e->real, e->name, e->name, e->name, e->name,
            label ? "int32_t *y" : "float *t", e->real, e->name, e->name, e->real, e->name, e->name);
  if (e->opt->debug_api)
    fprintf(h, "/* The buffers (batchnorm's running statistics) as nnc_real values. */\n%s *%s_debug_buffers(%s *m);\n",
            e->real, e->name, e->name);
  fprintf(h, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

static const char *gemm_helper =
    "/* C[M,N] = op(A) op(B) + beta C, row-major, op = transpose when ta/tb (cblas_sgemm's meaning,\n"
    "   without BLAS). Loop orders keep the inner loop contiguous. */\n"
    "NNC_HOT static void nnc_gemm(int ta, int tb, int M, int N, int K, const nnc_real *A, int lda, const nnc_real *B, int ldb,\n"
    "                 nnc_real beta, nnc_real *C, int ldc) {\n"
    "  for (int i = 0; i < M; i++) {\n"
    "    nnc_real *c = C + (size_t)i * ldc;\n"
    "    if (tb) {\n"
    "      for (int j = 0; j < N; j++) {\n"
    "        const nnc_real *b = B + (size_t)j * ldb;\n"
    "        nnc_real sum = 0;\n"
    "        if (ta) for (int k = 0; k < K; k++) sum += A[(size_t)k * lda + i] * b[k];\n"
    "        else for (int k = 0; k < K; k++) sum += A[(size_t)i * lda + k] * b[k];\n"
    "        c[j] = beta != 0 ? beta * c[j] + sum : sum;\n"
    "      }\n"
    "    } else {\n"
    "      for (int j = 0; j < N; j++) c[j] = beta != 0 ? beta * c[j] : 0;\n"
    "      for (int k = 0; k < K; k++) {\n"
    "        nnc_real a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];\n"
    "        const nnc_real *b = B + (size_t)k * ldb;\n"
    "        for (int j = 0; j < N; j++) c[j] += a * b[j];\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n\n";

/* Products on several threads (NAME_set_threads): nnc_gemm by rows of C, nnc_matmul by its
 * 16-column panels (each thread packs only its own panels of B). Each element of C is summed in
 * the same order as on one thread. */
static const char *gemm_par_helper =
    "struct nnc_gemm_args {\n"
    "  int ta, tb, N, K, lda, ldb, ldc;\n"
    "  const nnc_real *A, *B;\n"
    "  nnc_real beta, *C;\n"
    "};\n\n"
    "static void nnc_gemm_rows(void *arg, long begin, long end, int thread) {\n"
    "  const struct nnc_gemm_args *a = arg;\n"
    "  (void)thread;\n"
    "  nnc_gemm(a->ta, a->tb, (int)(end - begin), a->N, a->K, a->ta ? a->A + begin : a->A + (size_t)begin * a->lda, a->lda,\n"
    "           a->B, a->ldb, a->beta, a->C + (size_t)begin * a->ldc, a->ldc);\n"
    "}\n\n"
    "/* nnc_gemm with C's rows split between the pool's threads */\n"
    "static void nnc_gemm_par(nnrt_pool *pool, int ta, int tb, int M, int N, int K, const nnc_real *A, int lda,\n"
    "                         const nnc_real *B, int ldb, nnc_real beta, nnc_real *C, int ldc) {\n"
    "  struct nnc_gemm_args a;\n"
    "  a.ta = ta, a.tb = tb, a.N = N, a.K = K, a.lda = lda, a.ldb = ldb, a.ldc = ldc;\n"
    "  a.A = A, a.B = B, a.beta = beta, a.C = C;\n"
    "  nnrt_pool_run(pool, M, nnc_grain((size_t)N * (size_t)K), nnc_gemm_rows, &a);\n"
    "}\n\n";

static const char *matmul_par_helper =
    "struct nnc_matmul_args {\n"
    "  int ta, tb, M, N, K, lda, ldb, ldc;\n"
    "  const nnc_real *A, *B;\n"
    "  nnc_real beta, *C;\n"
    "};\n\n"
    "static void nnc_matmul_panels(void *arg, long begin, long end, int thread) {\n"
    "  const struct nnc_matmul_args *a = arg;\n"
    "  const long j0 = begin * NNC_NR, j1 = end * NNC_NR < a->N ? end * NNC_NR : a->N;\n"
    "  (void)thread;\n"
    "  nnc_matmul(a->ta, a->tb, a->M, (int)(j1 - j0), a->K, a->A, a->lda, a->tb ? a->B + (size_t)j0 * a->ldb : a->B + j0,\n"
    "             a->ldb, a->beta, a->C + j0, a->ldc);\n"
    "}\n\n"
    "/* nnc_matmul with C's column panels split between the pool's threads */\n"
    "static void nnc_matmul_par(nnrt_pool *pool, int ta, int tb, int M, int N, int K, const nnc_real *A, int lda,\n"
    "                           const nnc_real *B, int ldb, nnc_real beta, nnc_real *C, int ldc) {\n"
    "  struct nnc_matmul_args a;\n"
    "  a.ta = ta, a.tb = tb, a.M = M, a.N = N, a.K = K, a.lda = lda, a.ldb = ldb, a.ldc = ldc;\n"
    "  a.A = A, a.B = B, a.beta = beta, a.C = C;\n"
    "  nnrt_pool_run(pool, (N + NNC_NR - 1) / NNC_NR, nnc_grain((size_t)M * (size_t)K * NNC_NR), nnc_matmul_panels, &a);\n"
    "}\n\n";

/* Unfolding one example for a convolution as a product, and folding a gradient back. Row (c, u, v)
 * of the unfolded matrix reads x[c] shifted by (u - p, v - p) at stride s; the columns j whose
 * input column s j + v - p falls inside x form one run [j0, j1), copied (stride 1) or gathered,
 * with zeros (padding) around it. */
static const char *unfold_range_helper =
    "/* the output columns j in [*j0, *j1) whose input column s j + v - p lies in [0, W) */\n"
    "static void nnc_unfold_range(int W, int s, int p, int v, int OW, int *j0, int *j1) {\n"
    "  int lo = p - v > 0 ? (p - v + s - 1) / s : 0, hi = W - 1 + p - v < 0 ? 0 : (W - 1 + p - v) / s + 1;\n"
    "  *j0 = lo < OW ? lo : OW;\n"
    "  *j1 = hi < *j0 ? *j0 : hi > OW ? OW : hi;\n"
    "}\n\n";

static const char *im2col_helper =
    "/* col[(c k + u) k + v][i OW + j] = x[c][s i + u - p][s j + v - p], 0 outside x [C,H,W]; col's rows\n"
    "   are ld apart (several examples side by side) */\n"
    "NNC_HOT static void nnc_im2col(nnc_real *col, int ld, const nnc_real *x, int C, int H, int W, int k, int s, int p, int OH,\n"
    "                          int OW) {\n"
    "  for (int c = 0; c < C; c++)\n"
    "    for (int u = 0; u < k; u++)\n"
    "      for (int v = 0; v < k; v++, col += ld) {\n"
    "        int j0, j1;\n"
    "        nnc_unfold_range(W, s, p, v, OW, &j0, &j1);\n"
    "        const nnc_real *plane = x + (size_t)c * H * W;\n"
    "        if (s == 1 && OW == W) {\n"
    "          /* a 'same' convolution: the rows inside x are one shifted run of the plane, then the\n"
    "             columns that wrapped around a row's end are zeroed */\n"
    "          int i0 = p - u > 0 ? p - u : 0, i1 = H + p - u < OH ? H + p - u : OH;\n"
    "          if (i1 < i0) i1 = i0;\n"
    "          const ptrdiff_t shift = (ptrdiff_t)(u - p) * W + (v - p);\n"
    "          const ptrdiff_t first = (ptrdiff_t)i0 * OW + j0, last = i1 > i0 ? (ptrdiff_t)(i1 - 1) * OW + j1 : first;\n"
    "          for (ptrdiff_t i = 0; i < first; i++) col[i] = 0;\n"
    "          for (ptrdiff_t i = first; i < last; i++) col[i] = plane[i + shift];\n"
    "          for (ptrdiff_t i = last; i < (ptrdiff_t)OH * OW; i++) col[i] = 0;\n"
    "          for (int i = i0; i < i1; i++) {\n"
    "            for (int j = 0; j < j0; j++) col[(size_t)i * OW + j] = 0;\n"
    "            for (int j = j1; j < OW; j++) col[(size_t)i * OW + j] = 0;\n"
    "          }\n"
    "          continue;\n"
    "        }\n"
    "        for (int i = 0; i < OH; i++) {\n"
    "          nnc_real *out = col + (size_t)i * OW;\n"
    "          int h = s * i + u - p;\n"
    "          if (h < 0 || h >= H) {\n"
    "            for (int j = 0; j < OW; j++) out[j] = 0;\n"
    "            continue;\n"
    "          }\n"
    "          /* short runs: plain loops (vectorized in the clones) beat memcpy's call */\n"
    "          const nnc_real *row = plane + (size_t)h * W;\n"
    "          for (int j = 0; j < j0; j++) out[j] = 0;\n"
    "          if (s == 1) for (int j = j0; j < j1; j++) out[j] = row[j + v - p];\n"
    "          else for (int j = j0; j < j1; j++) out[j] = row[s * j + v - p];\n"
    "          for (int j = j1; j < OW; j++) out[j] = 0;\n"
    "        }\n"
    "      }\n"
    "}\n\n";

static const char *col2im_helper =
    "/* dx [C,H,W] = the sum of col's entries onto the positions im2col read them from (rows ld apart;\n"
    "   col is scratch: its entries that fall outside x may be overwritten) */\n"
    "NNC_HOT static void nnc_col2im(nnc_real *dx, nnc_real *col, int ld, int C, int H, int W, int k, int s, int p, int OH,\n"
    "                          int OW) {\n"
    "  /* a 'same' convolution's centre tap reads every position once: it initialises dx */\n"
    "  const int same = s == 1 && OW == W && OH == H && 2 * p == k - 1;\n"
    "  if (!same) memset(dx, 0, sizeof(nnc_real) * (size_t)C * H * W);\n"
    "  for (int c = 0; c < C; c++) {\n"
    "    nnc_real *plane = dx + (size_t)c * H * W;\n"
    "    if (same) {\n"
    "      const nnc_real *centre = col + ((size_t)(c * k + p) * k + p) * ld;\n"
    "      for (size_t i = 0; i < (size_t)H * W; i++) plane[i] = centre[i];\n"
    "    }\n"
    "    for (int u = 0; u < k; u++)\n"
    "      for (int v = 0; v < k; v++) {\n"
    "        nnc_real *tap = col + ((size_t)(c * k + u) * k + v) * ld;\n"
    "        if (same && u == p && v == p) continue;\n"
    "        int j0, j1;\n"
    "        nnc_unfold_range(W, s, p, v, OW, &j0, &j1);\n"
    "        if (s == 1 && OW == W) {\n"
    "          /* as in im2col: zero what wrapped around, then add one shifted run */\n"
    "          int i0 = p - u > 0 ? p - u : 0, i1 = H + p - u < OH ? H + p - u : OH;\n"
    "          if (i1 < i0) i1 = i0;\n"
    "          for (int i = i0; i < i1; i++) {\n"
    "            for (int j = 0; j < j0; j++) tap[(size_t)i * OW + j] = 0;\n"
    "            for (int j = j1; j < OW; j++) tap[(size_t)i * OW + j] = 0;\n"
    "          }\n"
    "          const ptrdiff_t shift = (ptrdiff_t)(u - p) * W + (v - p);\n"
    "          const ptrdiff_t first = (ptrdiff_t)i0 * OW + j0, last = i1 > i0 ? (ptrdiff_t)(i1 - 1) * OW + j1 : first;\n"
    "          for (ptrdiff_t i = first; i < last; i++) plane[i + shift] += tap[i];\n"
    "          continue;\n"
    "        }\n"
    "        for (int i = 0; i < OH; i++) {\n"
    "          int h = s * i + u - p;\n"
    "          if (h < 0 || h >= H) continue;\n"
    "          const nnc_real *in = tap + (size_t)i * OW;\n"
    "          nnc_real *row = plane + (size_t)h * W;\n"
    "          if (s == 1) for (int j = j0; j < j1; j++) row[j + v - p] += in[j];\n"
    "          else for (int j = j0; j < j1; j++) row[s * j + v - p] += in[j];\n"
    "        }\n"
    "      }\n"
    "  }\n"
    "}\n\n";

/* Sums over one channel's positions, in eight independent lanes so that they vectorize without
 * reassociation (IEEE order fixed by the code, whatever the instruction set). */
static const char *dot_centered_helper =
    "/* Σ (a[i] - sa) (b[i] - sb), and Σ a[i] in *sum_a unless it is NULL (one pass over a) */\n"
    "NNC_HOT static nnc_real nnc_dot_centered(const nnc_real *a, nnc_real sa, const nnc_real *b, nnc_real sb, int len,\n"
    "                                         nnc_real *sum_a) {\n"
    "  nnc_real lane[8] = {0, 0, 0, 0, 0, 0, 0, 0}, plain[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n"
    "  int i = 0;\n"
    "  if (sum_a)\n"
    "    for (; i + 8 <= len; i += 8)\n"
    "      for (int l = 0; l < 8; l++) lane[l] += (a[i + l] - sa) * (b[i + l] - sb), plain[l] += a[i + l];\n"
    "  else\n"
    "    for (; i + 8 <= len; i += 8)\n"
    "      for (int l = 0; l < 8; l++) lane[l] += (a[i + l] - sa) * (b[i + l] - sb);\n"
    "  for (; i < len; i++) lane[0] += (a[i] - sa) * (b[i] - sb), plain[0] += a[i];\n"
    "  if (sum_a) *sum_a = ((plain[0] + plain[4]) + (plain[1] + plain[5])) + ((plain[2] + plain[6]) + (plain[3] + plain[7]));\n"
    "  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));\n"
    "}\n\n";

static const char *sum_helper =
    "/* Σ a[i] */\n"
    "NNC_HOT static nnc_real nnc_sum(const nnc_real *a, int len) {\n"
    "  nnc_real lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n"
    "  int i = 0;\n"
    "  for (; i + 8 <= len; i += 8)\n"
    "    for (int l = 0; l < 8; l++) lane[l] += a[i + l];\n"
    "  for (; i < len; i++) lane[0] += a[i];\n"
    "  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));\n"
    "}\n\n";

/* Run-time dispatch: hot functions are compiled for AVX2 and the baseline, and the loader picks
 * one for the CPU (GCC and Clang, x86-64 with ifunc support), so that the generated code is fast
 * at the plain `cc -O2` of spec §7. GCC also gets the "cheap" vectorizer cost model for them (-O2
 * alone vectorizes only loops that need no run-time alias check): fashion_snn runs as fast as with
 * -O3 clones, and resnet20.c compiles in 23 s of CPU instead of 34 (8 s without dispatch); an
 * AVX-512 clone would add half again, which a build that times its compiler cannot afford. Every
 * clone computes the same IEEE operations in the same order (no reassociation, no contraction
 * across clones), so results do not depend on which one runs. NNC_NO_DISPATCH turns it off. */
static const char *dispatch_macro =
    "#if !defined(NNC_NO_DISPATCH) && defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)\n"
    "#if __has_attribute(target_clones) && defined(__clang__)\n"
    "#define NNC_HOT __attribute__((target_clones(\"avx2\", \"default\")))\n"
    "#elif __has_attribute(target_clones) && defined(__GNUC__)\n"
    "#define NNC_HOT __attribute__((target_clones(\"avx2\", \"default\"), optimize(\"-fvect-cost-model=cheap\")))\n"
    "#endif\n"
    "#endif\n"
    "#ifndef NNC_HOT\n#define NNC_HOT\n#endif\n\n";

/* expm1f without branches or calls, so the loops of selu and elu vectorize: e^x = 2^k e^r with
 * r = x - k ln2 in [-ln2/2, ln2/2] (Cody–Waite split of ln2), e^r - 1 by its Taylor polynomial
 * to r^7 (truncation below 2e-8 relative), and 2^k e^r - 1 = 2^k (e^r - 1) + (2^k - 1), which is
 * exact for k = 0 and so keeps the relative accuracy near x = 0. Within 2 ulp of expm1f; NaN
 * stays NaN, as in expm1f. */
static const char *fast_expm1 =
    "static inline float nnc_expm1(float x) {\n"
    "  /* clamped (NaN to -87 too: k stays a small integer) by nnc_select: after a ?: GCC would\n"
    "     specialise the arithmetic below for the constant arms, and the loop would not vectorize */\n"
    "  float lo = nnc_select(x > -87.0f, x, -87.0f), xc = nnc_select(lo < 88.0f, lo, 88.0f);\n"
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
    "  return nnc_select(x != x, x, two_k.f * p + (two_k.f - 1.0f)); /* NaN in, NaN out */\n"
    "}\n\n";

/* c ? a : b (c is 0 or 1) as a bitwise choice between two computed values. GCC does not turn a ?:
 * whose arm does floating-point arithmetic (which might trap under its default -ftrapping-math) or
 * loads an array element (which might fault) into a vector select, so the loops of the activations
 * and their gradients, and nnc_expm1, would stay scalar and branchy at cc -O2: relu's gradient
 * `y <= 0 ? 0 : dy[i]` alone took 11 % of resnet20's training step. The value is the ?:'s to the bit. */
static const char *fast_select =
    "/* c ? a : b, chosen bit by bit, so that GCC vectorizes the loops that use it at -O2 */\n"
    "static inline nnc_real nnc_select(int c, nnc_real a, nnc_real b) {\n"
    "  %s ua, ub, mask = 0 - (%s)c;\n"
    "  memcpy(&ua, &a, sizeof ua);\n"
    "  memcpy(&ub, &b, sizeof ub);\n"
    "  ua = (ua & mask) | (ub & ~mask);\n"
    "  memcpy(&a, &ua, sizeof a);\n"
    "  return a;\n"
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
  e.tag = arena_printf(&c->arena, "nnc_%s", e.name);
  char *upper = arena_printf(&c->arena, "%s", e.name);
  for (char *u = upper; *u; u++)
    if (*u >= 'a' && *u <= 'z') *u = (char)(*u - 'a' + 'A');
  e.upper = upper;
  e.real = opt->double_precision ? "double" : "float";
  e.fsuf = opt->double_precision ? "" : "f";
  e.plan = plan_build(c, opt->double_precision, opt->blas);
  e.folded = arena_alloc(&c->arena, sizeof(bool) * (size_t)(g->n_nodes + 1));
  bool label = g->label != NO_NODE;
  const char *y_type = label ? "int32_t" : "float";
  uint64_t hash = model_hash(g) ^ (opt->double_precision ? 0x9e3779b97f4a7c15ull : 0);

  emit_header(&e, h);

  P(&e, "/* %s.c — generated by nnc from %s; do not edit.\n"
        " * Training: nnc_train() runs the forward and backward kernels, then the optimizer step when\n"
        " * the loss and every gradient are finite. Inference: nnc_infer().\n"
        " * Every internal name starts with nnc_ or NNC_, which model names cannot.\n"
        " * Parameters, gradients, optimizer state and activations are one allocation each. */\n",
    e.name, opt->source_name);
  P(&e, "#include <math.h>\n#include <stddef.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
  if (opt->blas) P(&e, "#include <cblas.h>\n");
  P(&e, "#include \"nnrt.h\"\n#include \"%s.h\"\n\n", e.name);
  P(&e, "typedef %s nnc_real;\n\n", e.real);
  P(&e, "%s", dispatch_macro);
  /* helpers only when a kernel calls them: clang's -Wall warns about unused static functions */
  bool use_expm1 = false, use_sigmoid = false, use_gemm = false, use_unfold = false, use_fold = false;
  bool use_sum = false, use_dot = false, use_direct = false, use_matmul = false, use_select = false, use_winograd = false;
  size_t thread_scratch = 1; /* what a thread of the direct convolutions needs apart (NNC_THREAD_SCRATCH) */
  for (int i = 0; i < g->n_nodes; i++) {
    if (!e.plan.in_train[i] && !e.plan.in_infer[i]) continue;
    use_expm1 |= g->nodes[i].op == OP_SELU || g->nodes[i].op == OP_ELU;
    use_select |= g->nodes[i].op == OP_RELU || g->nodes[i].op == OP_SELU || g->nodes[i].op == OP_ELU || g->nodes[i].op == OP_LEAKY_RELU ||
                  g->nodes[i].op == OP_RELU_BWD || g->nodes[i].op == OP_SELU_BWD || g->nodes[i].op == OP_ELU_BWD || g->nodes[i].op == OP_LEAKY_RELU_BWD;
    use_sigmoid |= g->nodes[i].op == OP_SIGMOID;
    Op op = g->nodes[i].op;
    bool conv = op == OP_CONV2D || op == OP_CONV2D_BWD_DATA || op == OP_CONV2D_BWD_WEIGHT;
    use_gemm |= conv;
    use_matmul |= op == OP_MATMUL && (!opt->blas || matmul_own_below(&g->nodes[i], &g->nodes[g->nodes[i].in[0]]) > 0);
    bool unfolds = conv && !conv2d_is_pointwise(op == OP_CONV2D ? &g->nodes[i] : &g->nodes[g->nodes[i].attr.fwd]);
    use_unfold |= unfolds && op != OP_CONV2D_BWD_DATA;
    use_fold |= unfolds && op == OP_CONV2D_BWD_DATA;
    const Node *fwd = conv ? (op == OP_CONV2D ? &g->nodes[i] : &g->nodes[g->nodes[i].attr.fwd]) : NULL;
    const ConvDims d = conv ? conv_dims(g, fwd, opt->double_precision) : (ConvDims){0};
    bool direct = conv && (d.direct || (op == OP_CONV2D_BWD_WEIGHT && d.weight_cl));
    use_direct |= direct;
    if (direct) {
      int Ci = op == OP_CONV2D ? d.C : d.F, Fo = op == OP_CONV2D ? d.F : d.C;
      use_winograd |= op != OP_CONV2D_BWD_WEIGHT && conv3x3_winograd(Ci, d.H, d.W, Fo);
      size_t need = op == OP_CONV2D_BWD_WEIGHT ? conv3x3_weight_scratch(d.C, d.H, d.W, d.F) : conv3x3_thread_scratch(Ci, d.H, d.W, Fo);
      if (need > thread_scratch) thread_scratch = need;
    }
    bool bn_image_stats = op == OP_BATCHNORM && e.plan.in_train[i] && g->nodes[i].shape.rank > 2;
    use_sum |= bn_image_stats || op == OP_GLOBAL_AVG_POOL ||
               (op == OP_BIAS_GRAD && count_of(&g->nodes[g->nodes[i].in[0]]) != count_of(&g->nodes[i]));
    use_dot |= bn_image_stats || op == OP_BATCHNORM_GAMMA_GRAD;
  }
  const char *bits = opt->double_precision ? "uint64_t" : "uint32_t";
  if (use_select) P(&e, fast_select, bits, bits);
  if (use_expm1 && opt->double_precision)
    P(&e, "#define nnc_expm1 expm1\n\n");
  else if (use_expm1)
    P(&e, "%s", fast_expm1);
  if (use_sigmoid)
    P(&e, "/* logistic function, stable for large |x| */\n"
          "static inline nnc_real nnc_sigmoid(nnc_real x) {\n"
          "  return x >= 0 ? 1 / (1 + exp%s(-x)) : exp%s(x) / (1 + exp%s(x));\n}\n\n",
      e.fsuf, e.fsuf, e.fsuf);
  P(&e, "#define NNC_N_PARAMS %zu   /* trainable values */\n", e.plan.n_params);
  P(&e, "#define NNC_N_BUFFERS %zu  /* non-trainable state */\n", e.plan.n_buffers);
  P(&e, "#define NNC_ACTS_PER_EXAMPLE %zu\n", e.plan.batched_per_example);
  P(&e, "#define NNC_N_FIXED %zu%s\n", e.plan.fixed + e.plan.scratch + 1,
    e.plan.scratch ? "  /* and, after them, the convolutions' unfolding buffer */" : "");
  P(&e, "#define NNC_THREAD_SCRATCH %zu  /* floats of each thread's own scratch */\n", thread_scratch);
  P(&e, "#define NNC_MODEL_HASH UINT64_C(0x%016llx)\n\n", (unsigned long long)hash);
  /* an OR over the exponent bits, which vectorizes where a loop of isfinite() calls would not;
     NNC_HOT: nnc_fused_finite() calls it too, and a scalar check was a third of a batch-16 step */
  P(&e, "/* 1 when no value in v[0..n) is infinite or NaN (all exponent bits set) */\n"
        "NNC_HOT static int nnc_all_finite(const nnc_real *v, size_t n) {\n"
        "  const %s exponent = %s;\n  %s any = 0;\n"
        "  for (size_t i = 0; i < n; i++) {\n    %s bits;\n    memcpy(&bits, &v[i], sizeof bits);\n"
        "    any |= (bits & exponent) == exponent;\n  }\n  return !any;\n}\n\n",
    opt->double_precision ? "uint64_t" : "uint32_t", opt->double_precision ? "UINT64_C(0x7ff0000000000000)" : "UINT32_C(0x7f800000)",
    opt->double_precision ? "uint64_t" : "uint32_t", opt->double_precision ? "uint64_t" : "uint32_t");
  P(&e, "struct nnc_%s {\n"
        "  int max_batch;\n"
        "  uint64_t step;      /* optimizer steps taken */\n"
        "  nnrt_rng rng;       /* initialisation, then dropout masks */\n"
        "  int freeze_masks;   /* tests: reuse the last dropout masks */\n"
        "  nnc_real *params;    /* NNC_N_PARAMS */\n"
        "  nnc_real *grads;     /* NNC_N_PARAMS, mirrors params */\n"
        "  nnc_real *opt_m;     /* NNC_N_PARAMS: momentum / first moment / square average */\n"
        "  nnc_real *opt_v;     /* NNC_N_PARAMS: adam's second moment */\n"
        "  nnc_real *buffers;   /* NNC_N_BUFFERS */\n"
        "  nnc_real *acts;      /* max_batch * NNC_ACTS_PER_EXAMPLE */\n"
        "  nnc_real *fixed;     /* NNC_N_FIXED: scalars and unbatched temporaries */\n"
        "  nnc_real step_size, root_c2; /* adam's constants for the current step */\n"
        "  nnrt_pool *pool;     /* NAME_set_threads's threads; NULL: one */\n"
        "  nnc_real *scratch;   /* threads * NNC_THREAD_SCRATCH: each thread's own */\n"
        "%s",
    e.name,
    opt->mpi ? "  long mpi_before, mpi_after; /* examples of the global batch before and after this rank's share */\n" : "");
  if (opt->stats) stats_emit_fields(out, g);
  P(&e, "};\n\n");
  if (opt->stats) stats_emit_helpers(out);
  P(&e, "/* The items of a parallel loop (nnrt_pool_run) a thread takes at least, each costing `work`, so\n"
        "   that it has NNC_MIN_WORK elements' worth: splitting smaller loops costs more than it saves. */\n"
        "#ifndef NNC_MIN_WORK /* tests set 1: every loop split as far as it goes */\n#define NNC_MIN_WORK 32768\n#endif\n"
        "static inline long nnc_grain(size_t work) {\n"
        "  return work >= NNC_MIN_WORK ? 1 : work == 0 ? NNC_MIN_WORK : (long)((NNC_MIN_WORK + work - 1) / work);\n}\n\n");
  if (!opt->blas && use_gemm) P(&e, "%s%s", gemm_helper, gemm_par_helper);
  if (use_matmul) P(&e, "%s", dense_matmul_helper);
  if (use_matmul && !opt->blas) P(&e, "%s", matmul_par_helper);
  if (use_unfold || use_fold) P(&e, "%s", unfold_range_helper);
  if (use_unfold) P(&e, "%s", im2col_helper);
  if (use_fold) P(&e, "%s", col2im_helper);
  if (use_direct) {
    const EmbeddedFile *k = embedded_file("conv3x3.c");
    P(&e, "%.*s\n", (int)k->size, (const char *)k->data);
    if (use_winograd) {
      k = embedded_file("winograd.c");
      P(&e, "%.*s\n", (int)k->size, (const char *)k->data);
    }
  }
  if (any_packed(&e) || (!opt->double_precision && any_fused_weight(&e))) {
    const EmbeddedFile *k = embedded_file("gemm.c");
    P(&e, "%.*s\n", (int)k->size, (const char *)k->data);
  }
  if (any_packed(&e)) {
    P(&e, "/* the packed weights are no longer current: NAME_new, every training step, NAME_load */\n"
          "static void nnc_packed_stale(struct %s *m) {\n", e.tag);
    emit_packed_stale(&e);
    P(&e, "}\n\n");
  }
  if (use_dot) P(&e, "%s", dot_centered_helper);
  if (use_sum) P(&e, "%s", sum_helper);

  emit_init(&e);
  emit_update(&e);
  if (opt->mpi) emit_mpi_helpers(&e);
  /* the functions go to a buffer, so that the task functions of their parallel loops precede them */
  FILE *file = e.out;
  char *fn_text = NULL, *task_text = NULL;
  size_t fn_len = 0, task_len = 0;
  e.out = open_memstream(&fn_text, &fn_len);
  e.tasks = open_memstream(&task_text, &task_len);
  if (!e.out || !e.tasks) nn_die("open_memstream failed");
  emit_function(&e, "nnc_train", e.plan.in_train, true, y_type);
  emit_function(&e, "nnc_infer", e.plan.in_infer, false, y_type);
  fclose(e.out);
  fclose(e.tasks);
  e.out = file;
  if (e.n_tasks > 0)
    P(&e, "/* What the tasks (the kernels' parallel loops, run by nnrt_pool_run) read: the arguments of\n"
          "   nnc_train or nnc_infer. */\n"
          "struct nnc_args {\n  struct %s *m;\n  const float *x;\n  const %s *y;\n  int n;\n};\n\n",
      e.tag, y_type);
  fwrite(task_text, 1, task_len, file);
  fwrite(fn_text, 1, fn_len, file);
  free(task_text);
  free(fn_text);

  const char *N = e.name;
  /* the public API */
  P(&e, "%s *%s_new(int max_batch, uint64_t seed) {\n"
        "  if (max_batch < 1 || (size_t)max_batch > ((size_t)-1 / sizeof(nnc_real)) / (NNC_ACTS_PER_EXAMPLE + 1)) return NULL;\n"
        "  struct %s *m = calloc(1, sizeof *m);\n"
        "  if (!m) return NULL;\n"
        "  m->max_batch = max_batch;\n"
        "  m->params = nnrt_alloc(sizeof(nnc_real) * (NNC_N_PARAMS + 1));\n"
        "  m->grads = nnrt_alloc(sizeof(nnc_real) * (NNC_N_PARAMS + 1));\n"
        "  m->opt_m = nnrt_alloc(sizeof(nnc_real) * (NNC_N_PARAMS + 1));\n"
        "  m->opt_v = nnrt_alloc(sizeof(nnc_real) * (NNC_N_PARAMS + 1));\n"
        "  m->buffers = nnrt_alloc(sizeof(nnc_real) * (NNC_N_BUFFERS + 1));\n"
        "  m->acts = nnrt_alloc(sizeof(nnc_real) * ((size_t)max_batch * NNC_ACTS_PER_EXAMPLE + 1));\n"
        "  m->fixed = nnrt_alloc(sizeof(nnc_real) * NNC_N_FIXED);\n"
        "  m->scratch = nnrt_alloc(sizeof(nnc_real) * NNC_THREAD_SCRATCH);\n"
        "  if (!m->params || !m->grads || !m->opt_m || !m->opt_v || !m->buffers || !m->acts ||\n"
        "      !m->fixed || !m->scratch) {\n"
        "    %s_free(m);\n    return NULL;\n  }\n"
        "  nnrt_rng_seed(&m->rng, seed);\n"
        "  nnc_init_params(m);\n"
        "%s"
        "  return m;\n}\n\n",
    N, N, e.tag, N, any_packed(&e) ? "  nnc_packed_stale(m);\n" : "");
  P(&e, "void %s_free(%s *m) {\n"
        "  if (!m) return;\n"
        "  nnrt_free(m->params);\n  nnrt_free(m->grads);\n  nnrt_free(m->opt_m);\n  nnrt_free(m->opt_v);\n"
        "  nnrt_free(m->buffers);\n  nnrt_free(m->acts);\n  nnrt_free(m->fixed);\n"
        "  nnrt_pool_free(m->pool);\n  nnrt_free(m->scratch);\n  free(m);\n}\n\n",
    N, N);
  P(&e, "int %s_set_threads(%s *m, int threads) {\n"
        "  if (!m) {\n    nnrt_set_error(\"%s_set_threads: the model is NULL\");\n    return -1;\n  }\n"
        "  if (threads < 1 || threads > NNRT_MAX_THREADS) {\n"
        "    nnrt_set_error(\"%s_set_threads: threads must be 1..%%d, not %%d\", NNRT_MAX_THREADS, threads);\n"
        "    return -1;\n  }\n"
        "  if (threads == nnrt_pool_threads(m->pool)) return 0;\n"
        "  nnrt_pool *pool = NULL;\n"
        "  if (threads > 1 && !(pool = nnrt_pool_new(threads))) return -1;\n"
        "  nnc_real *scratch = nnrt_alloc(sizeof(nnc_real) * NNC_THREAD_SCRATCH * (size_t)threads);\n"
        "  if (!scratch) {\n    nnrt_pool_free(pool);\n    nnrt_set_error(\"%s_set_threads: out of memory\");\n    return -1;\n  }\n"
        "  nnrt_pool_free(m->pool);\n  nnrt_free(m->scratch);\n"
        "  m->pool = pool;\n  m->scratch = scratch;\n  return 0;\n}\n\n",
    N, N, N, N, N);
  P(&e, "void %s_forward(%s *m, const float *x, int n, float *out) {\n"
        "  if (!m || !x || !out || n < 1) return;\n"
        "  for (int start = 0; start < n; start += m->max_batch) {\n"
        "    int chunk = n - start < m->max_batch ? n - start : m->max_batch;\n"
        "    const nnc_real *result = nnc_infer(m, x + (size_t)start * %s_IN_SIZE, NULL, chunk);\n"
        "    for (size_t i = 0; i < (size_t)chunk * %s_OUT_SIZE; i++) out[(size_t)start * %s_OUT_SIZE + i] = (float)result[i];\n"
        "  }\n}\n\n",
    N, N, e.upper, e.upper, e.upper);
  P(&e, "float %s_train_step(%s *m, const float *x, const %s *%s, int n) {\n"
        "  if (!m || !x || !%s || n < 1 || n > m->max_batch) return NAN;\n",
    N, N, y_type, label ? "y" : "t", label ? "y" : "t");
  if (label) P(&e, "  for (int i = 0; i < n; i++)\n    if (y[i] < 0 || y[i] >= %s_N_CLASSES) return NAN;\n", e.upper);
  if (opt->stats) P(&e, "  if (m->stats_on) m->stats_step = 0; /* until the step succeeds */\n");
  P(&e, "  if (!nnc_train(m, x, %s, n, 1)) return NAN; /* a refused step */\n", label ? "y" : "t");
  if (opt->stats) P(&e, "  if (m->stats_on) {\n    m->stats_step = m->step;\n    m->stats_n = n;\n  }\n");
  P(&e, "  return (float)m->fixed[%zu];\n}\n\n", e.plan.store[g->loss].offset);
  if (opt->mpi) emit_mpi_step(&e, y_type);
  P(&e, "uint64_t %s_steps(const %s *m) { return m->step; }\n\n", N, N);
  if (opt->stats) stats_emit_api(out, g, N, e.plan.in_train);
  /* checkpoints: the generator's state is packed into integers so the file has no padding */
  emit_param_table(&e);
  P(&e, "#define NNC_N_SECTIONS 7\n"
        "static void nnc_sections(const struct %s *m, nnrt_section *s, uint64_t *step, uint64_t *rng) {\n"
        "  nnrt_section all[NNC_N_SECTIONS] = {\n"
        "      {\"param_table\", (void *)nnc_param_table, sizeof nnc_param_table, 1},\n"
        "      {\"params\", m->params, sizeof(nnc_real) * NNC_N_PARAMS, 0},\n"
        "      {\"buffers\", m->buffers, sizeof(nnc_real) * NNC_N_BUFFERS, 0},\n"
        "      {\"opt.m\", m->opt_m, sizeof(nnc_real) * NNC_N_PARAMS, 0},\n"
        "      {\"opt.v\", m->opt_v, sizeof(nnc_real) * NNC_N_PARAMS, 0},\n"
        "      {\"step\", step, sizeof *step, 0},\n"
        "      {\"rng\", rng, sizeof(uint64_t) * 6, 0},\n"
        "  };\n"
        "  memcpy(s, all, sizeof all);\n}\n\n",
    e.tag);
  P(&e, "int %s_save(const %s *m, const char *path) {\n"
        "  if (!m || !path) {\n    nnrt_set_error(\"%s_save: %%s is NULL\", !m ? \"the model\" : \"the path\");\n    return -1;\n  }\n"
        "  uint64_t step = m->step, rng[6];\n"
        "  memcpy(rng, m->rng.s, sizeof m->rng.s);\n"
        "  memcpy(&rng[4], &m->rng.spare_normal, sizeof(double));\n"
        "  rng[5] = (uint64_t)m->rng.has_spare;\n"
        "  nnrt_section s[NNC_N_SECTIONS];\n"
        "  nnc_sections(m, s, &step, rng);\n"
        "  return nnrt_checkpoint_save(path, \"%s\", NNC_MODEL_HASH, s, NNC_N_SECTIONS) == 0 ? 0 : -1;\n}\n\n",
    N, N, N, N);
  P(&e, "int %s_load(%s *m, const char *path) {\n"
        "  if (!m || !path) {\n    nnrt_set_error(\"%s_load: %%s is NULL\", !m ? \"the model\" : \"the path\");\n    return -1;\n  }\n"
        "  uint64_t step = 0, rng[6] = {0};\n"
        "  nnrt_section s[NNC_N_SECTIONS];\n"
        "  nnc_sections(m, s, &step, rng);\n"
        "%s"
        "  if (nnrt_checkpoint_load(path, \"%s\", NNC_MODEL_HASH, s, NNC_N_SECTIONS) != 0) return -1;\n"
        "  m->step = step;\n"
        "  memcpy(m->rng.s, rng, sizeof m->rng.s);\n"
        "  memcpy(&m->rng.spare_normal, &rng[4], sizeof(double));\n"
        "  m->rng.has_spare = (int)rng[5];\n"
        "  return 0;\n}\n",
    N, N, N, any_packed(&e) ? "  nnc_packed_stale(m); /* whether or not the load succeeds */\n" : "", N);
  if (opt->debug_api) {
    P(&e, "\nlong %s_debug_n_params(void) { return (long)NNC_N_PARAMS; }\n", N);
    /* the caller may write through these: inference then packs the weights anew */
    const char *stale = any_packed(&e) ? "nnc_packed_stale(m); " : "";
    P(&e, "%s *%s_debug_params(%s *m) { %sreturn m->params; }\n", e.real, N, N, stale);
    P(&e, "%s *%s_debug_grads(%s *m) { return m->grads; }\n", e.real, N, N);
    P(&e, "%s *%s_debug_buffers(%s *m) { %sreturn m->buffers; }\n", e.real, N, N, stale);
    P(&e, "double %s_debug_loss_grad(%s *m, const float *x, const %s *%s, int n, int freeze_masks) {\n"
          "  nnc_train(m, x, %s, n, 0);\n  m->freeze_masks = freeze_masks;\n"
          "  return (double)m->fixed[%zu];\n}\n",
      N, N, y_type, label ? "y" : "t", label ? "y" : "t", e.plan.store[g->loss].offset);
    P(&e, "const %s *%s_debug_forward(%s *m, const float *x, int n) {\n"
          "  if (!m || !x || n < 1 || n > m->max_batch) return NULL;\n"
          "  %s\n  return nnc_infer(m, x, NULL, n);\n}\n",
      e.real, N, N, any_packed(&e) ? "nnc_packed_stale(m);" : "/* nothing packed to renew */");
    emit_debug_dropout_mask(&e);
  }
}

void emit_train_main(Compilation *c, FILE *out, bool stats, bool mpi) {
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
          "#include \"%s\"\n#include \"%s.h\"\n\n"
          "/* internal names start with nnc_, which model names cannot */\n"
          "static void *nnc_create(int max_batch, uint64_t seed) { return %s_new(max_batch, seed); }\n"
          "static void nnc_destroy(void *m) { %s_free(m); }\n"
          "static void nnc_forward(void *m, const float *x, int n, float *out) { %s_forward(m, x, n, out); }\n"
          "static float nnc_step(void *m, const float *x, const %s *y, int n) { return %s_train_step%s(m, x, y, n%s); }\n"
          "static int nnc_save(const void *m, const char *path) { return %s_save(m, path); }\n"
          "static int nnc_load(void *m, const char *path) { return %s_load(m, path); }\n"
          "static uint64_t nnc_steps(const void *m) { return %s_steps(m); }\n"
          "static int nnc_set_threads(void *m, int threads) { return %s_set_threads(m, threads); }\n\n",
          N, mpi ? "nnrt_mpi.h" : "nnrt_train.h", N, N, N, N, label ? "int32_t" : "float", N, mpi ? "_mpi" : "",
          mpi ? ", MPI_COMM_WORLD" : "", N, N, N, N);
  char *upper = arena_printf(&c->arena, "%s", N);
  for (char *u = upper; *u; u++)
    if (*u >= 'a' && *u <= 'z') *u = (char)(*u - 'a' + 'A');
  if (stats) stats_emit_train_glue(out, g, upper);
  fprintf(out,
          "int main(int argc, char **argv) {\n"
          "  nnrt_model_api api = {0};\n"
          "  api.name = \"%s\";\n"
          "  api.in_size = %lld;\n"
          "  api.in_rank = %d;\n",
          N, (long long)shape_count(in->shape), in->shape.rank - 1);
  if (stats)
    fprintf(out, "  api.n_layers = %s_N_LAYERS;\n  api.stats_record = nnc_stats_record;\n  api.stats = nnc_stats_read;\n",
            upper);
  for (int i = 1; i < in->shape.rank; i++) fprintf(out, "  api.in_shape[%d] = %d;\n", i - 1, (int)in->shape.dim[i]);
  fprintf(out,
          "  api.out_size = %lld;\n"
          "  api.n_classes = %d;\n"
          "  api.target_size = %lld;\n"
          "  api.n_params = %lld;\n"
          "  api.flops_per_example = %.17g;\n"
          "  api.create = nnc_create;\n  api.destroy = nnc_destroy;\n  api.forward = nnc_forward;\n"
          "  api.%s = nnc_step;\n"
          "  api.save = nnc_save;\n  api.load = nnc_load;\n  api.steps = nnc_steps;\n  api.set_threads = nnc_set_threads;\n"
          "  return nnrt_%strain_main(&api, argc, argv);\n}\n",
          (long long)shape_count(g->nodes[g->output].shape), label ? g->n_classes : 0,
          label ? 0LL : (long long)shape_count(g->nodes[g->target].shape), n_params, flops,
          label ? "train_step_label" : "train_step_target", mpi ? "mpi_" : "");
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
          "static double nnc_now(void) {\n  struct timespec ts;\n  clock_gettime(CLOCK_MONOTONIC, &ts);\n"
          "  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;\n}\n\n"
          "static int nnc_by_value(const void *a, const void *b) {\n"
          "  double x = *(const double *)a, y = *(const double *)b;\n  return (x > y) - (x < y);\n}\n\n"
          "int main(int argc, char **argv) {\n"
          "  if (argc != 5) return 2;\n"
          "  int batch = atoi(argv[1]), steps = atoi(argv[2]), runs = atoi(argv[3]), threads = atoi(argv[4]);\n"
          "#ifdef NNRT_OPENBLAS\n  openblas_set_num_threads(threads);\n#else\n  (void)threads;\n#endif\n"
          "  const double flops_fwd = %.17g; /* per example */\n"
          "  void *m = %s_new(batch, 1); /* void: a local may hide the model's type name */\n"
          "  if (m && %s_set_threads(m, threads) != 0) {\n    fprintf(stderr, \"bench: %%s\\n\", nnrt_last_error());\n    return 1;\n  }\n"
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
          "      double t0 = nnc_now();\n"
          "      for (int s = 0; s < steps; s++) {\n"
          "        if (phase) %s_forward(m, x, batch, out);\n"
          "        else %s_train_step(m, x, y, batch);\n"
          "      }\n"
          "      rates[r] = (double)steps * batch / (nnc_now() - t0);\n"
          "    }\n"
          "    qsort(rates, (size_t)runs, sizeof *rates, nnc_by_value);\n"
          "    double median = runs %% 2 ? rates[runs / 2] : 0.5 * (rates[runs / 2 - 1] + rates[runs / 2]);\n"
          "    /* training costs about three forward passes: forward, and backward for data and weights */\n"
          "    double gflops = median * flops_fwd * (phase ? 1 : 3) / 1e9;\n"
          "    printf(\"%%-8s %%10.0f examples/s  %%7.2f GFLOP/s  (runs: %%.0f .. %%.0f)\\n\", phase ? \"forward\" : \"train\",\n"
          "           median, gflops, rates[0], rates[runs - 1]);\n"
          "  }\n"
          "  %s_free(m);\n  free(x);\n  free(out);\n  free(y);\n  free(rates);\n  return 0;\n}\n",
          N, N, N, N, N, N);
}
