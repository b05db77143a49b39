/* builtin.c — the built-in functions of spec §4: argument binding, validation, and the IR each
 * call lowers to.
 *
 * Each built-in has a signature (names, types, defaults); binding positional and keyword arguments
 * against it reports every mismatch at the argument's token. The build functions then check values
 * and shapes and make nodes: dense → [reshape] matmul(x, W^T) [+ bias_add]; conv2d → conv2d
 * [+ bias_add]; activations one node each. Every call gets a summary row (Layer) and every
 * parameter-owning call its own parameters, named after the row.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nnc.h"

typedef enum ArgType { A_TENSOR, A_INT, A_REAL, A_BOOL, A_INIT } ArgType;

typedef struct ArgSpec {
  const char *name;
  ArgType type;
  bool required;
  double def;        /* default for numbers and booleans; InitKind for A_INIT */
} ArgSpec;

typedef struct Arg {
  bool given;
  SrcLoc loc;
  Value v;           /* A_TENSOR, A_INT (v.i), A_REAL (v.r), A_BOOL (v.i) */
  InitKind init;     /* A_INIT */
  double init_std;
} Arg;

typedef enum BuiltinClass { B_LAYER, B_LOSS, B_OPTIMIZER } BuiltinClass;

typedef struct Builtin Builtin;
typedef Value (*BuildFn)(Lowerer *L, const Builtin *b, Ast *call, Arg *a);

struct Builtin {
  const char *name;
  BuiltinClass cls;
  Op op;             /* the node it makes, where that is one */
  BuildFn build;
  int n_args;
  ArgSpec args[8];
};

#define MAX_UNITS (1 << 20)
#define MAX_KERNEL 64

/* ---------------- helpers ---------------- */

static Node *node_of(Lowerer *L, NodeId id) { return &lower_compilation(L)->graph.nodes[id]; }
static Diag *diag(Lowerer *L) { return &lower_compilation(L)->diag; }
static Arena *arena(Lowerer *L) { return &lower_compilation(L)->arena; }

static Shape shape4(int32_t a, int32_t b, int32_t c, int32_t d, int rank) {
  int32_t dims[4] = {a, b, c, d};
  return shape_make(rank, dims);
}

/* A shape as users write it, per example: [B, 16, 28, 28] → "[16, 28, 28]". */
static const char *example_shape(Lowerer *L, Shape s) {
  if (s.rank > 0 && s.dim[0] == DIM_BATCH) {
    memmove(s.dim, s.dim + 1, sizeof(s.dim[0]) * (size_t)(s.rank - 1));
    s.rank--;
  }
  return shape_str(arena(L), s);
}

static NodeId add_node(Lowerer *L, Op op, NodeId a, NodeId b, Shape s, SrcLoc loc) {
  NodeId in[2] = {a, b};
  return ir_add(lower_compilation(L), op, in, op_arity(op), s, loc);
}

/* The argument must be a value that layers may consume (not a label or target). */
static bool layer_input(Lowerer *L, const Builtin *b, Arg *a, const char *need_desc, int min_rank, int max_rank) {
  Node *n = node_of(L, a->v.node);
  if (n->op == OP_LABEL || n->op == OP_TARGET) {
    diag_error(diag(L), a->loc, "%s '%s' can only be used in the loss", n->op == OP_LABEL ? "label" : "target", n->name);
    return false;
  }
  int rank = n->shape.rank - 1; /* per example */
  if (rank < min_rank || rank > max_rank) {
    diag_error(diag(L), a->loc, "%s() needs %s per example, got shape %s", b->name, need_desc,
               example_shape(L, n->shape));
    return false;
  }
  return true;
}

static bool positive(Lowerer *L, const Builtin *b, const ArgSpec *spec, Arg *a, int64_t max) {
  if (a->v.i < 1 || a->v.i > max) {
    diag_error(diag(L), a->loc, "%s() argument '%s' must be between 1 and %lld (got %lld)", b->name, spec->name,
               (long long)max, (long long)a->v.i);
    return false;
  }
  return true;
}

static bool real_in(Lowerer *L, const Builtin *b, const ArgSpec *spec, Arg *a, double lo, bool lo_open, double hi,
                    bool hi_open) {
  double x = a->v.r;
  bool ok = isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  if (ok && x > FLT_MAX) { /* kept as a float */
    diag_error(diag(L), a->loc, "%s() argument '%s' is too large (got %g)", b->name, spec->name, x);
    return false;
  }
  if (!ok) {
    char range[96];
    if (isinf(hi))
      snprintf(range, sizeof range, "%s %g", lo_open ? "greater than" : "at least", lo);
    else
      snprintf(range, sizeof range, "in %c%g, %g%c", lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
    diag_error(diag(L), a->loc, "%s() argument '%s' must be %s (got %g)", b->name, spec->name, range, x);
  }
  return ok;
}

static NodeId flatten_to_vector(Lowerer *L, NodeId x, SrcLoc loc) {
  Node *n = node_of(L, x);
  if (n->shape.rank == 2) return x;
  int32_t count = (int32_t)shape_count(n->shape);
  return add_node(L, OP_RESHAPE, x, NO_NODE, shape4(DIM_BATCH, count, 0, 0, 2), loc);
}

/* ---------------- layers ---------------- */

static Value build_dense(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "a vector or an image", 1, 3) || !positive(L, b, &b->args[1], &a[1], MAX_UNITS))
    return value_error();
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, "dense", call->loc);
  NodeId x = flatten_to_vector(L, a[0].v.node, call->loc);
  int32_t in = node_of(L, x)->shape.dim[1], units = (int32_t)a[1].v.i;
  Shape ws = shape4(units, in, 0, 0, 2);
  if (!lower_check_size(L, ws, call->loc)) return value_error();
  NodeId w = lower_add_param(L, layer, "weight", ws, a[3].init, a[3].init_std, in, units, true);
  NodeId y = add_node(L, OP_MATMUL, x, w, shape4(DIM_BATCH, units, 0, 0, 2), call->loc);
  node_of(L, y)->attr.trans_b = true;
  if (a[2].v.i) {
    NodeId bias = lower_add_param(L, layer, "bias", shape4(units, 0, 0, 0, 1), INIT_ZEROS, 0, in, units, true);
    y = add_node(L, OP_BIAS_ADD, y, bias, node_of(L, y)->shape, call->loc);
  }
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

static Value build_conv2d(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "an image [C, H, W]", 3, 3)) return value_error();
  bool ok = positive(L, b, &b->args[1], &a[1], MAX_UNITS);
  ok &= positive(L, b, &b->args[2], &a[2], MAX_KERNEL);
  ok &= positive(L, b, &b->args[3], &a[3], MAX_KERNEL);
  if (!ok) return value_error();
  if (a[4].v.i < 0 || a[4].v.i > a[2].v.i / 2) {
    diag_error(diag(L), a[4].loc, "conv2d() argument 'pad' must be between 0 and kernel/2 = %lld (got %lld)",
               (long long)(a[2].v.i / 2), (long long)a[4].v.i);
    return value_error();
  }
  Shape xs = node_of(L, a[0].v.node)->shape;
  int32_t c = xs.dim[1], h = xs.dim[2], w = xs.dim[3];
  int32_t f = (int32_t)a[1].v.i, k = (int32_t)a[2].v.i, s = (int32_t)a[3].v.i, p = (int32_t)a[4].v.i;
  if (k > h + 2 * p || k > w + 2 * p) {
    diag_error(diag(L), a[2].loc, "conv2d() kernel %d is larger than the padded input %dx%d (pad %d)", k, h + 2 * p,
               w + 2 * p, p);
    return value_error();
  }
  int32_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, "conv2d", call->loc);
  Shape ws = shape4(f, c, k, k, 4), ys = shape4(DIM_BATCH, f, oh, ow, 4);
  if (!lower_check_size(L, ws, call->loc) || !lower_check_size(L, ys, call->loc)) return value_error();
  NodeId wt = lower_add_param(L, layer, "weight", ws, a[6].init, a[6].init_std, c * k * k, f * k * k, true);
  NodeId y = add_node(L, OP_CONV2D, a[0].v.node, wt, ys, call->loc);
  Attr *at = &node_of(L, y)->attr;
  at->kernel = k;
  at->stride = s;
  at->pad = p;
  if (a[5].v.i) {
    NodeId bias = lower_add_param(L, layer, "bias", shape4(f, 0, 0, 0, 1), INIT_ZEROS, 0, c * k * k, f * k * k, true);
    y = add_node(L, OP_BIAS_ADD, y, bias, ys, call->loc);
  }
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

static Value build_batchnorm(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "a vector or an image", 1, 3)) return value_error();
  if (!real_in(L, b, &b->args[1], &a[1], 0, false, 1, true) || !real_in(L, b, &b->args[2], &a[2], 0, true, INFINITY, false))
    return value_error();
  Shape xs = node_of(L, a[0].v.node)->shape;
  if (xs.rank == 3) {
    diag_error(diag(L), a[0].loc, "batchnorm() needs a vector [N] or an image [C, H, W], got shape %s",
               example_shape(L, xs));
    return value_error();
  }
  int32_t ch = xs.dim[1];
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, "batchnorm", call->loc);
  Shape cs = shape4(ch, 0, 0, 0, 1);
  NodeId in[5];
  in[0] = a[0].v.node;
  in[1] = lower_add_param(L, layer, "weight", cs, INIT_ONES, 0, ch, ch, true);
  in[2] = lower_add_param(L, layer, "bias", cs, INIT_ZEROS, 0, ch, ch, true);
  in[3] = lower_add_param(L, layer, "running_mean", cs, INIT_ZEROS, 0, ch, ch, false);
  in[4] = lower_add_param(L, layer, "running_var", cs, INIT_ONES, 0, ch, ch, false);
  NodeId y = ir_add(lower_compilation(L), OP_BATCHNORM, in, 5, xs, call->loc);
  node_of(L, y)->attr.momentum = a[1].v.r;
  node_of(L, y)->attr.eps = a[2].v.r;
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

static Value build_pool(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "an image [C, H, W]", 3, 3) || !positive(L, b, &b->args[1], &a[1], MAX_KERNEL))
    return value_error();
  int32_t k = (int32_t)a[1].v.i;
  int32_t s = a[2].given ? (int32_t)a[2].v.i : k;
  if (a[2].given && !positive(L, b, &b->args[2], &a[2], MAX_KERNEL)) return value_error();
  Shape xs = node_of(L, a[0].v.node)->shape;
  if (k > xs.dim[2] || k > xs.dim[3]) {
    diag_error(diag(L), a[1].loc, "%s() window %d is larger than the input %dx%d", b->name, k, xs.dim[2], xs.dim[3]);
    return value_error();
  }
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, b->name, call->loc);
  Shape ys = shape4(DIM_BATCH, xs.dim[1], (xs.dim[2] - k) / s + 1, (xs.dim[3] - k) / s + 1, 4);
  NodeId y = add_node(L, b->op, a[0].v.node, NO_NODE, ys, call->loc);
  node_of(L, y)->attr.kernel = k;
  node_of(L, y)->attr.stride = s;
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

static Value build_global_avg_pool(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "an image [C, H, W]", 3, 3)) return value_error();
  Shape xs = node_of(L, a[0].v.node)->shape;
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, b->name, call->loc);
  NodeId y = add_node(L, OP_GLOBAL_AVG_POOL, a[0].v.node, NO_NODE, shape4(DIM_BATCH, xs.dim[1], 0, 0, 2), call->loc);
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

static Value build_flatten(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "a value", 1, 3)) return value_error();
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, b->name, call->loc);
  NodeId y = flatten_to_vector(L, a[0].v.node, call->loc);
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

/* relu, selu, elu, leaky_relu, sigmoid, tanh, softmax, dropout, alpha_dropout, identity */
static Value build_unary(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  if (!layer_input(L, b, &a[0], "a value", 1, 3)) return value_error();
  double alpha = 0;
  if (b->op == OP_ELU) {
    if (!real_in(L, b, &b->args[1], &a[1], 0, true, INFINITY, false)) return value_error();
    alpha = a[1].v.r;
  } else if (b->op == OP_LEAKY_RELU) {
    if (!real_in(L, b, &b->args[1], &a[1], 0, false, 1, true)) return value_error();
    alpha = a[1].v.r;
  } else if (b->op == OP_DROPOUT || b->op == OP_ALPHA_DROPOUT) {
    if (!real_in(L, b, &b->args[1], &a[1], 0, false, 1, true)) return value_error();
    alpha = a[1].v.r;
  }
  Shape xs = node_of(L, a[0].v.node)->shape;
  if (b->op == OP_SOFTMAX && xs.rank != 2) {
    diag_error(diag(L), a[0].loc, "softmax() needs a vector per example, got shape %s (flatten it first)",
               example_shape(L, xs));
    return value_error();
  }
  /* identity, and dropout that drops nothing (no mask to draw or to differentiate through) */
  if (b->op == OP_COUNT || ((b->op == OP_DROPOUT || b->op == OP_ALPHA_DROPOUT) && alpha == 0)) return a[0].v;
  Graph *g = &lower_compilation(L)->graph;
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, b->name, call->loc);
  NodeId y = add_node(L, b->op, a[0].v.node, NO_NODE, xs, call->loc);
  node_of(L, y)->attr.alpha = alpha;
  lower_end_layer(L, layer, first, y);
  return value_tensor(y);
}

/* ---------------- losses ---------------- */

static Value build_loss(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  Node *p = node_of(L, a[0].v.node), *t = node_of(L, a[1].v.node);
  if (!layer_input(L, b, &a[0], "a value", 1, 3)) return value_error();
  Graph *g = &lower_compilation(L)->graph;
  if (b->op == OP_SOFTMAX_XENT) {
    if (t->op != OP_LABEL) {
      diag_error(diag(L), a[1].loc, "softmax_cross_entropy() needs a label (label y : class[K]) as its second argument");
      return value_error();
    }
    if (p->shape.rank != 2 || p->shape.dim[1] != g->n_classes) {
      diag_error(diag(L), a[0].loc, "softmax_cross_entropy() logits have shape %s, but label '%s' has %d classes",
                 example_shape(L, p->shape), t->name, g->n_classes);
      return value_error();
    }
  } else {
    if (t->op != OP_TARGET) {
      diag_error(diag(L), a[1].loc, "%s() needs a target (target t : [...]) as its second argument%s", b->name,
                 t->op == OP_LABEL ? ", not a label" : "");
      return value_error();
    }
    if (!shape_eq(p->shape, t->shape)) {
      diag_error(diag(L), call->loc, "%s() prediction has shape %s but target '%s' has shape %s", b->name,
                 example_shape(L, p->shape), t->name, example_shape(L, t->shape));
      return value_error();
    }
  }
  Shape scalar = shape4(0, 0, 0, 0, 0);
  return value_tensor(add_node(L, b->op, a[0].v.node, a[1].v.node, scalar, call->loc));
}

/* ---------------- optimizers ---------------- */

static Value build_optimizer(Lowerer *L, const Builtin *b, Ast *call, Arg *a) {
  Optimizer *o = &lower_compilation(L)->graph.opt;
  memset(o, 0, sizeof *o);
  o->loc = call->loc;
  bool ok = real_in(L, b, &b->args[0], &a[0], 0, true, INFINITY, false);
  o->lr = a[0].v.r;
  if (strcmp(b->name, "sgd") == 0) {
    o->kind = OPT_SGD;
    ok &= real_in(L, b, &b->args[1], &a[1], 0, false, 1, false);
    ok &= real_in(L, b, &b->args[3], &a[3], 0, false, INFINITY, false);
    o->momentum = a[1].v.r;
    o->nesterov = a[2].v.i != 0;
    o->weight_decay = a[3].v.r;
    if (ok && o->nesterov && o->momentum == 0) {
      diag_error(diag(L), a[2].loc, "sgd() with nesterov=true needs a momentum greater than 0");
      ok = false;
    }
  } else if (strcmp(b->name, "rmsprop") == 0) {
    o->kind = OPT_RMSPROP;
    ok &= real_in(L, b, &b->args[1], &a[1], 0, false, 1, true);
    ok &= real_in(L, b, &b->args[2], &a[2], 0, true, INFINITY, false);
    ok &= real_in(L, b, &b->args[3], &a[3], 0, false, INFINITY, false);
    o->rho = a[1].v.r;
    o->eps = a[2].v.r;
    o->weight_decay = a[3].v.r;
  } else {
    o->kind = OPT_ADAM;
    ok &= real_in(L, b, &b->args[1], &a[1], 0, false, 1, true);
    ok &= real_in(L, b, &b->args[2], &a[2], 0, false, 1, true);
    ok &= real_in(L, b, &b->args[3], &a[3], 0, true, INFINITY, false);
    ok &= real_in(L, b, &b->args[4], &a[4], 0, false, INFINITY, false);
    o->beta1 = a[1].v.r;
    o->beta2 = a[2].v.r;
    o->eps = a[3].v.r;
    o->weight_decay = a[4].v.r;
  }
  Value v = value_error();
  if (ok) v.kind = VAL_INT;
  return v;
}

/* ---------------- the table ---------------- */

#define T(n) {n, A_TENSOR, true, 0}
#define REQ_INT(n) {n, A_INT, true, 0}
#define REQ_REAL(n) {n, A_REAL, true, 0}
#define INT(n, d) {n, A_INT, false, d}
#define REAL(n, d) {n, A_REAL, false, d}
#define BOOL(n, d) {n, A_BOOL, false, d}
#define INIT {"init", A_INIT, false, INIT_GLOROT_UNIFORM}

static const Builtin builtins[] = {
    {"dense", B_LAYER, OP_MATMUL, build_dense, 4, {T("x"), REQ_INT("units"), BOOL("bias", 1), INIT}},
    {"conv2d", B_LAYER, OP_CONV2D, build_conv2d, 7,
     {T("x"), REQ_INT("filters"), REQ_INT("kernel"), INT("stride", 1), INT("pad", 0), BOOL("bias", 1), INIT}},
    {"batchnorm", B_LAYER, OP_BATCHNORM, build_batchnorm, 3, {T("x"), REAL("momentum", 0.9), REAL("eps", 1e-5)}},
    {"max_pool2d", B_LAYER, OP_MAX_POOL, build_pool, 3, {T("x"), REQ_INT("k"), INT("stride", 0)}},
    {"avg_pool2d", B_LAYER, OP_AVG_POOL, build_pool, 3, {T("x"), REQ_INT("k"), INT("stride", 0)}},
    {"global_avg_pool", B_LAYER, OP_GLOBAL_AVG_POOL, build_global_avg_pool, 1, {T("x")}},
    {"flatten", B_LAYER, OP_RESHAPE, build_flatten, 1, {T("x")}},
    {"relu", B_LAYER, OP_RELU, build_unary, 1, {T("x")}},
    {"selu", B_LAYER, OP_SELU, build_unary, 1, {T("x")}},
    {"elu", B_LAYER, OP_ELU, build_unary, 2, {T("x"), REAL("alpha", 1.0)}},
    {"leaky_relu", B_LAYER, OP_LEAKY_RELU, build_unary, 2, {T("x"), REAL("slope", 0.01)}},
    {"sigmoid", B_LAYER, OP_SIGMOID, build_unary, 1, {T("x")}},
    {"tanh", B_LAYER, OP_TANH, build_unary, 1, {T("x")}},
    {"softmax", B_LAYER, OP_SOFTMAX, build_unary, 1, {T("x")}},
    {"identity", B_LAYER, OP_COUNT, build_unary, 1, {T("x")}},
    {"dropout", B_LAYER, OP_DROPOUT, build_unary, 2, {T("x"), REQ_REAL("p")}},
    {"alpha_dropout", B_LAYER, OP_ALPHA_DROPOUT, build_unary, 2, {T("x"), REQ_REAL("p")}},
    {"softmax_cross_entropy", B_LOSS, OP_SOFTMAX_XENT, build_loss, 2, {T("logits"), T("y")}},
    {"mse", B_LOSS, OP_MSE, build_loss, 2, {T("pred"), T("t")}},
    {"bce_with_logits", B_LOSS, OP_BCE_LOGITS, build_loss, 2, {T("logits"), T("t")}},
    {"sgd", B_OPTIMIZER, OP_COUNT, build_optimizer, 4,
     {REQ_REAL("lr"), REAL("momentum", 0), BOOL("nesterov", 0), REAL("weight_decay", 0)}},
    {"rmsprop", B_OPTIMIZER, OP_COUNT, build_optimizer, 4,
     {REQ_REAL("lr"), REAL("rho", 0.9), REAL("eps", 1e-8), REAL("weight_decay", 0)}},
    {"adam", B_OPTIMIZER, OP_COUNT, build_optimizer, 5,
     {REQ_REAL("lr"), REAL("beta1", 0.9), REAL("beta2", 0.999), REAL("eps", 1e-8), REAL("weight_decay", 0)}},
};
#define N_BUILTINS (int)(sizeof builtins / sizeof builtins[0])

static const Builtin *find_builtin(const char *name) {
  for (int i = 0; i < N_BUILTINS; i++)
    if (strcmp(builtins[i].name, name) == 0) return &builtins[i];
  return NULL;
}

bool builtin_exists(const char *name) { return find_builtin(name) != NULL; }

/* Edit distance, for "did you mean" hints. */
static int distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 32 || lb > 32) return 99;
  int d[33][33];
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

static const char *suggest_builtin(const char *name, BuiltinClass cls) {
  const char *best = NULL;
  int best_d = 3;
  for (int i = 0; i < N_BUILTINS; i++) {
    if (builtins[i].cls != cls) continue;
    int d = distance(name, builtins[i].name);
    if (d < best_d) {
      best_d = d;
      best = builtins[i].name;
    }
  }
  return best;
}

static bool bind_init(Lowerer *L, Ast *e, Arg *out) {
  static const struct { const char *name; InitKind kind; } inits[] = {
      {"glorot_uniform", INIT_GLOROT_UNIFORM}, {"lecun_normal", INIT_LECUN_NORMAL},
      {"he_normal", INIT_HE_NORMAL}, {"zeros", INIT_ZEROS}};
  if (e->kind == AST_NAME) {
    for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++)
      if (strcmp(e->name, inits[i].name) == 0) {
        out->init = inits[i].kind;
        return true;
      }
  }
  if (e->kind == AST_CALL && strcmp(e->name, "normal") == 0) {
    int n = 0;
    for (Ast *a = e->args; a; a = a->next) n++;
    Ast *std = e->args;
    if (n == 1 && std->kind == AST_KWARG && strcmp(std->name, "std") == 0) std = std->lhs;
    if (n != 1 || std->kind == AST_KWARG) {
      diag_error(diag(L), e->loc, "normal() takes one argument, the standard deviation");
      return false;
    }
    Value v = lower_eval(L, std);
    if (v.kind == VAL_ERROR) return false;
    double s = v.kind == VAL_INT ? (double)v.i : v.kind == VAL_REAL ? v.r : -1;
    if (!(s > 0) || !(s <= FLT_MAX)) {
      diag_error(diag(L), std->loc, "normal() standard deviation must be a number greater than 0");
      return false;
    }
    out->init = INIT_NORMAL;
    out->init_std = s;
    return true;
  }
  diag_error(diag(L), e->loc,
             "unknown initializer (known: glorot_uniform, lecun_normal, he_normal, zeros, normal(std))");
  return false;
}

static bool bind_value(Lowerer *L, const Builtin *b, const ArgSpec *spec, Ast *e, Arg *out) {
  out->given = true;
  out->loc = e->loc;
  if (spec->type == A_INIT) return bind_init(L, e, out);
  Value v = lower_eval(L, e);
  if (v.kind == VAL_ERROR) return false;
  const char *need = NULL;
  switch (spec->type) {
  case A_TENSOR: if (v.kind != VAL_TENSOR) need = "a value (a tensor)"; break;
  case A_INT: if (v.kind != VAL_INT) need = "an integer"; break;
  case A_REAL:
    if (v.kind == VAL_INT) {
      v.kind = VAL_REAL;
      v.r = (double)v.i;
    }
    if (v.kind != VAL_REAL) need = "a number";
    break;
  case A_BOOL: if (v.kind != VAL_BOOL) need = "true or false"; break;
  case A_INIT: break;
  }
  if (need) {
    diag_error(diag(L), e->loc, "%s() argument '%s' must be %s", b->name, spec->name, need);
    return false;
  }
  out->v = v;
  return true;
}

/* Binds call arguments to the signature; false after reporting every mismatch. */
static bool bind_args(Lowerer *L, const Builtin *b, Ast *call, Arg *args) {
  bool ok = true, seen_kw = false;
  int pos = 0;
  for (Ast *e = call->args; e; e = e->next) {
    int slot = -1;
    if (e->kind == AST_KWARG) {
      seen_kw = true;
      for (int i = 0; i < b->n_args; i++)
        if (strcmp(b->args[i].name, e->name) == 0) slot = i;
      if (slot < 0) {
        const char *best = NULL;
        int best_d = 3;
        for (int i = 0; i < b->n_args; i++) {
          int d = distance(e->name, b->args[i].name);
          if (d < best_d) best_d = d, best = b->args[i].name;
        }
        if (best)
          diag_error(diag(L), e->loc, "%s() has no argument '%s'; did you mean '%s'?", b->name, e->name, best);
        else
          diag_error(diag(L), e->loc, "%s() has no argument '%s'", b->name, e->name);
        ok = false;
        continue;
      }
      if (args[slot].given) {
        diag_error(diag(L), e->loc, "%s() argument '%s' is given twice", b->name, e->name);
        ok = false;
        continue;
      }
      ok &= bind_value(L, b, &b->args[slot], e->lhs, &args[slot]);
      args[slot].loc = e->loc;
      continue;
    }
    if (seen_kw) {
      diag_error(diag(L), e->loc, "%s(): positional argument after keyword arguments", b->name);
      ok = false;
      continue;
    }
    if (pos >= b->n_args) {
      diag_error(diag(L), e->loc, "%s() takes at most %d argument%s", b->name, b->n_args, b->n_args == 1 ? "" : "s");
      ok = false;
      break;
    }
    slot = pos++;
    ok &= bind_value(L, b, &b->args[slot], e, &args[slot]);
  }
  for (int i = 0; i < b->n_args; i++) {
    if (args[i].given) continue;
    if (b->args[i].required) {
      diag_error(diag(L), call->loc, "%s() needs argument '%s'", b->name, b->args[i].name);
      ok = false;
      continue;
    }
    args[i].loc = call->loc;
    switch (b->args[i].type) {
    case A_INT: args[i].v.kind = VAL_INT; args[i].v.i = (int64_t)b->args[i].def; break;
    case A_REAL: args[i].v.kind = VAL_REAL; args[i].v.r = b->args[i].def; break;
    case A_BOOL: args[i].v.kind = VAL_BOOL; args[i].v.i = (int64_t)b->args[i].def; break;
    case A_INIT: args[i].init = (InitKind)(int)b->args[i].def; break;
    case A_TENSOR: break;
    }
  }
  return ok;
}

static const char *class_word(BuiltinClass cls) {
  return cls == B_LOSS ? "a loss" : cls == B_OPTIMIZER ? "an optimizer" : "a layer";
}

static Value call_checked(Lowerer *L, Ast *call, CallContext ctx, BuiltinClass want) {
  const Builtin *b = find_builtin(call->name);
  /* after a syntax error the function may be a block whose definition the error swallowed */
  if (!b && !lower_compilation(L)->program.syntax_ok) return value_error();
  if (!b) {
    const char *hint = suggest_builtin(call->name, want);
    if (hint)
      diag_error(diag(L), call->loc, "unknown function '%s'; did you mean '%s'?", call->name, hint);
    else
      diag_error(diag(L), call->loc, "unknown function '%s'", call->name);
    return value_error();
  }
  if (b->cls != want) {
    if (b->cls == B_LOSS)
      diag_error(diag(L), call->loc, "%s() is a loss; use it as 'loss %s(...)'", b->name, b->name);
    else if (b->cls == B_OPTIMIZER)
      diag_error(diag(L), call->loc, "%s() is an optimizer; use it as 'optimizer %s(...)'", b->name, b->name);
    else
      diag_error(diag(L), call->loc, "%s() is %s, but '%s' takes %s", b->name, class_word(b->cls),
                 ctx == CTX_LOSS ? "loss" : "optimizer", class_word(want));
    return value_error();
  }
  Arg args[8];
  memset(args, 0, sizeof args);
  if (!bind_args(L, b, call, args)) return value_error();
  return b->build(L, b, call, args);
}

Value builtin_call(Lowerer *L, Ast *call, CallContext ctx) {
  return call_checked(L, call, ctx, ctx == CTX_LOSS ? B_LOSS : B_LAYER);
}

void builtin_optimizer(Lowerer *L, Ast *call) {
  call_checked(L, call, CTX_OPTIMIZER, B_OPTIMIZER);
}
