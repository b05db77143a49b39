/* lower.c — AST → forward IR: scopes, statements, expressions, blocks and repeats.
 *
 * Lowering is an interpreter over the AST that emits IR nodes instead of computing: `repeat` runs
 * its body N times, a block call runs the block's body in a fresh scope, so every call of a layer
 * creates its own nodes and parameters (named by where they were created: "basic.2/conv2d.1/weight").
 * Shapes are checked as each node is made (builtin.c, shape.c), so every error points at the call
 * that caused it; inside blocks a note names each call site. After an error the name is bound to an
 * error value that stays silent, so independent errors are all reported but cascades are not.
 * Expansion is bounded (nodes, statements and expressions evaluated, expression and block depth)
 * and names are found through hash indexes, so no input can hang the compiler or overflow its stack.
 */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

#define MAX_REPEAT 1000000       /* iterations of one repeat */
#define MAX_STEPS 2000000        /* statements executed and expressions evaluated, in all */
#define MAX_BLOCK_DEPTH 64
#define MAX_BLOCK_PARAMS 64
#define MAX_EVAL_DEPTH 256       /* nested expression evaluations, across block calls */
#define MAX_ELEMENTS (1 << 28)   /* per-example elements of one value, and parameters in all */

typedef struct Binding {
  const char *name;
  Value v;
  SrcLoc loc;        /* where it was bound */
  bool used;
  const char *what;  /* "value", "constant", "parameter", "input", ... for messages */
} Binding;

typedef struct Counter { const char *name; int count; } Counter;

/* Name → array index, open addressing; each array that is searched by name keeps one. */
typedef struct NameSlot { const char *name; int index; } NameSlot;
typedef struct NameIndex { NameSlot *slots; int n, cap; } NameIndex;

typedef struct Scope {
  struct Scope *global;  /* NULL at top level; blocks see the top level's constants only */
  Binding *b; int n_b, cap_b;
  NameIndex b_index;
  Counter *counters; int n_counters, cap_counters;
  NameIndex counter_index;
  const char *prefix;    /* "" at top level, "down.1/basic.2" inside blocks */
  const char *block;     /* the block's name, NULL at top level */
} Scope;

typedef struct BlockDef { const char *name; Stmt *def; bool used; bool bad; } BlockDef;

/* A block body's result: set by its 'return'. */
typedef struct Return { bool done; Value v; } Return;

struct Lowerer {
  Compilation *c;
  Arena *arena;
  Arena scratch;                      /* scopes' tables: released when their block call returns */
  Diag *diag;
  Graph *g;
  Scope *scope;
  BlockDef *blocks; int n_blocks, cap_blocks;
  NameIndex block_index;
  const char *active[MAX_BLOCK_DEPTH]; int n_active; /* blocks being expanded, for recursion checks */
  SrcLoc calls[MAX_BLOCK_DEPTH];      /* their call sites, for notes */
  long steps;
  int eval_depth;
  bool aborted;                       /* a limit was hit: stop lowering */
  unsigned char *warned;              /* one bit per source byte: unused warning given */
  Stmt *input_stmt, *label_stmt, *target_stmt, *loss_stmt, *opt_stmt, *output_stmt;
  bool saw_broken;                    /* a statement with a syntax error (it may have swallowed
                                         the next ones: an unclosed '(' spans lines) */
  int64_t total_params;
};

Compilation *lower_compilation(Lowerer *L) { return L->c; }

Value value_error(void) {
  Value v;
  memset(&v, 0, sizeof v);
  v.kind = VAL_ERROR;
  return v;
}

Value value_int(int64_t i) {
  Value v = value_error();
  v.kind = VAL_INT;
  v.i = i;
  return v;
}

Value value_tensor(NodeId n) {
  Value v = value_error();
  v.kind = VAL_TENSOR;
  v.node = n;
  return v;
}

/* ---------------- name indexes ---------------- */

static uint32_t name_hash(const char *name) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
  return h;
}

static int name_index_get(const NameIndex *ix, const char *name) {
  if (!ix->cap) return -1;
  for (uint32_t i = name_hash(name) & (uint32_t)(ix->cap - 1);; i = (i + 1) & (uint32_t)(ix->cap - 1)) {
    const NameSlot *slot = &ix->slots[i];
    if (!slot->name) return -1;
    if (strcmp(slot->name, name) == 0) return slot->index;
  }
}

/* Adds a name that is not in the index yet. */
static void name_index_put(Arena *a, NameIndex *ix, const char *name, int index) {
  if (2 * (ix->n + 1) > ix->cap) {
    NameIndex bigger = {NULL, 0, ix->cap ? 2 * ix->cap : 16};
    bigger.slots = arena_alloc(a, sizeof(NameSlot) * (size_t)bigger.cap);
    for (int i = 0; i < ix->cap; i++)
      if (ix->slots[i].name) name_index_put(a, &bigger, ix->slots[i].name, ix->slots[i].index);
    *ix = bigger;
  }
  uint32_t i = name_hash(name) & (uint32_t)(ix->cap - 1);
  while (ix->slots[i].name) i = (i + 1) & (uint32_t)(ix->cap - 1);
  ix->slots[i].name = name;
  ix->slots[i].index = index;
  ix->n++;
}

/* A value's shape as users write it, per example: [B, 16, 28, 28] → "[16, 28, 28]". */
static const char *example_shape(Lowerer *L, Shape s) {
  if (s.rank > 0 && s.dim[0] == DIM_BATCH) {
    memmove(s.dim, s.dim + 1, sizeof(s.dim[0]) * (size_t)(s.rank - 1));
    s.rank--;
  }
  return shape_str(L->arena, s);
}

/* ---------------- scopes ---------------- */

static Binding *find_local(Scope *s, const char *name) {
  int i = name_index_get(&s->b_index, name);
  return i < 0 ? NULL : &s->b[i];
}

/* Unused-name warnings are given only while no error has been reported: after an error, parts of
 * the model were skipped and "never used" would mostly be a consequence. */
static void warn_unused(Lowerer *L, Binding *b) {
  if (b->used || b->v.kind == VAL_ERROR || b->loc == NO_LOC || L->diag->n_errors) return;
  if (L->warned[b->loc / 8] & (1u << (b->loc % 8))) return;
  L->warned[b->loc / 8] |= (unsigned char)(1u << (b->loc % 8));
  diag_warning(L->diag, b->loc, "%s '%s' is never used", b->what, b->name);
}

static void bind(Lowerer *L, const char *name, Value v, SrcLoc loc, const char *what) {
  Scope *s = L->scope;
  Binding *b = find_local(s, name);
  if (b) {
    warn_unused(L, b);
  } else {
    ARRAY_GROW(&L->scratch, s->b, s->n_b, s->cap_b);
    name_index_put(&L->scratch, &s->b_index, name, s->n_b);
    b = &s->b[s->n_b++];
  }
  b->name = name;
  b->v = v;
  b->loc = loc;
  b->used = false;
  b->what = what;
}

static void close_scope(Lowerer *L, Scope *s) {
  for (int i = 0; i < s->n_b; i++) warn_unused(L, &s->b[i]);
}

static Value lookup(Lowerer *L, const char *name, SrcLoc loc) {
  Binding *b = find_local(L->scope, name);
  if (!b && L->scope->global) {
    b = find_local(L->scope->global, name);
    if (b && strcmp(b->what, "constant") != 0) {
      diag_error(L->diag, loc, "'%s' is not visible inside block '%s' (a block sees its parameters and constants only)",
                 name, L->scope->block);
      return value_error();
    }
  }
  if (!b) {
    if (builtin_exists(name))
      diag_error(L->diag, loc, "'%s' is a built-in function; call it as %s(...)", name, name);
    else if (L->c->program.syntax_ok) /* else its definition may be what a syntax error swallowed */
      diag_error(L->diag, loc, "undefined name '%s'", name);
    return value_error();
  }
  b->used = true;
  return b->v;
}

/* ---------------- layers and parameters ---------------- */

/* Counts a call of op in the current scope: 1 for its first, 2 for its second, ... */
static int count_call(Lowerer *L, const char *op) {
  Scope *s = L->scope;
  Counter *ctr = NULL;
  int found = name_index_get(&s->counter_index, op);
  if (found >= 0) ctr = &s->counters[found];
  if (!ctr) {
    ARRAY_GROW(&L->scratch, s->counters, s->n_counters, s->cap_counters);
    name_index_put(&L->scratch, &s->counter_index, op, s->n_counters);
    ctr = &s->counters[s->n_counters++];
    ctr->name = op;
    ctr->count = 0;
  }
  return ++ctr->count;
}

int lower_begin_layer(Lowerer *L, const char *op, SrcLoc loc) {
  Scope *s = L->scope;
  int count = count_call(L, op);
  Graph *g = L->g;
  ARRAY_GROW(L->arena, g->layers, g->n_layers, g->cap_layers);
  Layer *ly = &g->layers[g->n_layers];
  memset(ly, 0, sizeof *ly);
  ly->name = s->prefix[0] ? arena_printf(L->arena, "%s/%s.%d", s->prefix, op, count)
                          : arena_printf(L->arena, "%s.%d", op, count);
  ly->op = op;
  ly->loc = loc;
  ly->out = NO_NODE;
  return g->n_layers++;
}

void lower_end_layer(Lowerer *L, int layer, NodeId first_node, NodeId out) {
  Graph *g = L->g;
  Layer *ly = &g->layers[layer];
  ly->out = out;
  for (NodeId i = first_node; i < (NodeId)g->n_nodes; i++) {
    Node *n = &g->nodes[i];
    if (n->layer < 0) n->layer = layer;
    if (n->layer == layer && (n->op == OP_PARAM) ) ly->n_params += shape_count(n->shape);
    if (n->layer == layer) ly->flops += node_flops(g, n);
  }
}

bool lower_check_size(Lowerer *L, Shape s, SrcLoc loc) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++) {
    if (s.dim[i] == DIM_BATCH) continue;
    if (s.dim[i] <= 0 || n > MAX_ELEMENTS / s.dim[i]) {
      diag_error(L->diag, loc, "value of shape %s is too large (more than %d elements per example)",
                 example_shape(L, s), MAX_ELEMENTS);
      return false;
    }
    n *= s.dim[i];
  }
  return true;
}

NodeId lower_add_param(Lowerer *L, int layer, const char *leaf, Shape shape, InitKind init, double std,
                       int fan_in, int fan_out, bool trainable) {
  Graph *g = L->g;
  const char *name = arena_printf(L->arena, "%s/%s", g->layers[layer].name, leaf);
  int64_t size = shape_count(shape);
  L->total_params += size;
  if (L->total_params > MAX_ELEMENTS && L->total_params - size <= MAX_ELEMENTS)
    diag_error(L->diag, g->layers[layer].loc, "the model has too many parameters (more than %d)", MAX_ELEMENTS);
  ARRAY_GROW(L->arena, g->params, g->n_params, g->cap_params);
  int idx = g->n_params++;
  Param *p = &g->params[idx];
  memset(p, 0, sizeof *p);
  p->name = name;
  p->shape = shape;
  p->init = init;
  p->init_std = std;
  p->fan_in = fan_in;
  p->fan_out = fan_out;
  p->trainable = trainable;
  p->loc = g->layers[layer].loc;
  p->size = (size_t)size;
  NodeId id = ir_add(L->c, trainable ? OP_PARAM : OP_BUFFER, NULL, 0, shape, p->loc);
  g->nodes[id].attr.param = idx;
  g->nodes[id].name = name;
  g->nodes[id].layer = layer;
  p->node = id;
  return id;
}

/* ---------------- expressions ---------------- */

static bool checked_arith(int op, int64_t a, int64_t b, int64_t *out) {
  switch (op) {
  case '+': return !__builtin_add_overflow(a, b, out);
  case '-': return !__builtin_sub_overflow(a, b, out);
  case '*': return !__builtin_mul_overflow(a, b, out);
  default: nn_unreachable();
  }
}

static bool is_number(Value v) { return v.kind == VAL_INT || v.kind == VAL_REAL; }
static double as_real(Value v) { return v.kind == VAL_INT ? (double)v.i : v.r; }

static const char *kind_word(Value v) {
  switch (v.kind) {
  case VAL_INT: return "an integer";
  case VAL_REAL: return "a number";
  case VAL_BOOL: return "a boolean";
  case VAL_TENSOR: return "a value";
  default: return "an error";
  }
}

/* Label and target nodes feed losses only. */
static bool check_operand(Lowerer *L, Value v, SrcLoc loc) {
  if (v.kind != VAL_TENSOR) return true;
  Op op = L->g->nodes[v.node].op;
  if (op == OP_LABEL || op == OP_TARGET) {
    diag_error(L->diag, loc, "%s '%s' can only be used in the loss", op == OP_LABEL ? "label" : "target",
               L->g->nodes[v.node].name);
    return false;
  }
  return true;
}

static Value tensor_binary(Lowerer *L, Ast *e, Value a, Value b) {
  Graph *g = L->g;
  Shape sa = g->nodes[a.node].shape, sb = g->nodes[b.node].shape;
  static const char *verbs[] = {"add", "subtract", "multiply"};
  int which = e->op == '+' ? 0 : e->op == '-' ? 1 : 2;
  if (!shape_eq(sa, sb)) {
    diag_error(L->diag, e->loc, "cannot %s values of shape %s and %s", verbs[which], example_shape(L, sa),
               example_shape(L, sb));
    return value_error();
  }
  static const char *ops[] = {"add", "sub", "mul"};
  static const Op ir_ops[] = {OP_ADD, OP_SUB, OP_MUL};
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, ops[which], e->loc);
  NodeId in[2] = {a.node, b.node};
  NodeId out = ir_add(L->c, ir_ops[which], in, 2, sa, e->loc);
  lower_end_layer(L, layer, first, out);
  return value_tensor(out);
}

static Value scale_tensor(Lowerer *L, SrcLoc loc, Value t, double c) {
  Graph *g = L->g;
  if (!isfinite(c) || fabs(c) > FLT_MAX) {
    diag_error(L->diag, loc, "the factor %g is out of range", c);
    return value_error();
  }
  NodeId first = (NodeId)g->n_nodes;
  int layer = lower_begin_layer(L, "scale", loc);
  NodeId out = ir_add(L->c, OP_SCALE, &t.node, 1, g->nodes[t.node].shape, loc);
  g->nodes[out].attr.scale = c;
  lower_end_layer(L, layer, first, out);
  return value_tensor(out);
}

static Value eval_binary(Lowerer *L, Ast *e) {
  Value a = lower_eval(L, e->lhs);
  Value b = lower_eval(L, e->rhs);
  if (a.kind == VAL_ERROR || b.kind == VAL_ERROR) return value_error();
  if (!check_operand(L, a, e->lhs->loc) || !check_operand(L, b, e->rhs->loc)) return value_error();
  if (a.kind == VAL_INT && b.kind == VAL_INT) {
    int64_t r;
    if (e->op == '/') {
      if (b.i == 0) {
        diag_error(L->diag, e->loc, "division by zero");
        return value_error();
      }
      if (a.i == INT64_MIN && b.i == -1) {
        diag_error(L->diag, e->loc, "integer overflow");
        return value_error();
      }
      return value_int(a.i / b.i);
    }
    if (!checked_arith(e->op, a.i, b.i, &r)) {
      diag_error(L->diag, e->loc, "integer overflow");
      return value_error();
    }
    return value_int(r);
  }
  if (is_number(a) && is_number(b)) {
    Value v = value_error();
    v.kind = VAL_REAL;
    double x = as_real(a), y = as_real(b);
    if (e->op == '/' && y == 0) {
      diag_error(L->diag, e->loc, "division by zero");
      return value_error();
    }
    v.r = e->op == '+' ? x + y : e->op == '-' ? x - y : e->op == '*' ? x * y : x / y;
    return v;
  }
  if (a.kind == VAL_TENSOR && b.kind == VAL_TENSOR) {
    if (e->op == '/') {
      diag_error(L->diag, e->loc, "cannot divide a value by a value (only by a number)");
      return value_error();
    }
    return tensor_binary(L, e, a, b);
  }
  if (e->op == '*' && a.kind == VAL_TENSOR && is_number(b)) return scale_tensor(L, e->loc, a, as_real(b));
  if (e->op == '*' && b.kind == VAL_TENSOR && is_number(a)) return scale_tensor(L, e->loc, b, as_real(a));
  if (e->op == '/' && a.kind == VAL_TENSOR && is_number(b)) {
    if (as_real(b) == 0) {
      diag_error(L->diag, e->loc, "division by zero");
      return value_error();
    }
    return scale_tensor(L, e->loc, a, 1.0 / as_real(b));
  }
  if ((a.kind == VAL_TENSOR && is_number(b)) || (b.kind == VAL_TENSOR && is_number(a))) {
    diag_error(L->diag, e->loc, "cannot %s a number and a value (no broadcasting; only number * value)",
               e->op == '+' ? "add" : e->op == '-' ? "subtract" : "divide");
    return value_error();
  }
  diag_error(L->diag, e->loc, "operator '%c' cannot combine %s and %s", e->op, kind_word(a), kind_word(b));
  return value_error();
}

static Value call_block(Lowerer *L, BlockDef *bd, Ast *call);

static BlockDef *find_block(Lowerer *L, const char *name) {
  int i = name_index_get(&L->block_index, name);
  return i < 0 ? NULL : &L->blocks[i];
}

static bool step(Lowerer *L, SrcLoc loc);
static Value eval(Lowerer *L, Ast *e);

/* Evaluates one expression. Depth is bounded (a long chain like x+x+...+x nests deeply on the
 * left without deepening the parser's stack) and every evaluation counts against the budget. */
Value lower_eval(Lowerer *L, Ast *e) {
  if (!step(L, e->loc)) return value_error();
  if (L->eval_depth >= MAX_EVAL_DEPTH) {
    diag_error(L->diag, e->loc, "expression nested too deeply");
    L->aborted = true;
    return value_error();
  }
  L->eval_depth++;
  Value v = eval(L, e);
  L->eval_depth--;
  return v;
}

static Value eval(Lowerer *L, Ast *e) {
  switch (e->kind) {
  case AST_INT: return value_int(e->ival);
  case AST_REAL: {
    Value v = value_error();
    v.kind = VAL_REAL;
    v.r = e->rval;
    return v;
  }
  case AST_BOOL: {
    Value v = value_int(e->ival);
    v.kind = VAL_BOOL;
    return v;
  }
  case AST_NAME: return lookup(L, e->name, e->loc);
  case AST_NEG: {
    Value v = lower_eval(L, e->lhs);
    if (v.kind == VAL_INT) {
      if (v.i == INT64_MIN) {
        diag_error(L->diag, e->loc, "integer overflow");
        return value_error();
      }
      v.i = -v.i;
      return v;
    }
    if (v.kind == VAL_REAL) {
      v.r = -v.r;
      return v;
    }
    if (v.kind == VAL_TENSOR) {
      if (!check_operand(L, v, e->lhs->loc)) return value_error();
      return scale_tensor(L, e->loc, v, -1.0);
    }
    if (v.kind == VAL_BOOL) diag_error(L->diag, e->loc, "cannot negate a boolean");
    return value_error();
  }
  case AST_BINARY: return eval_binary(L, e);
  case AST_CALL: {
    BlockDef *bd = find_block(L, e->name);
    if (bd) return call_block(L, bd, e);
    return builtin_call(L, e, CTX_VALUE);
  }
  case AST_KWARG:
    diag_error(L->diag, e->loc, "keyword argument '%s' outside a call", e->name);
    return value_error();
  }
  nn_unreachable();
}

/* An integer expression: constants, literals, + - * / */
static bool eval_int(Lowerer *L, Ast *e, const char *what, int64_t lo, int64_t hi, int64_t *out) {
  Value v = lower_eval(L, e);
  if (v.kind == VAL_ERROR) return false;
  if (v.kind != VAL_INT) {
    diag_error(L->diag, e->loc, "%s must be an integer, not %s", what, kind_word(v));
    return false;
  }
  if (v.i < lo || v.i > hi) {
    if (hi == INT64_MAX)
      diag_error(L->diag, e->loc, "%s must be at least %lld (got %lld)", what, (long long)lo, (long long)v.i);
    else
      diag_error(L->diag, e->loc, "%s must be between %lld and %lld (got %lld)", what, (long long)lo,
                 (long long)hi, (long long)v.i);
    return false;
  }
  *out = v.i;
  return true;
}

/* ---------------- statements ---------------- */

static void run_stmts(Lowerer *L, Stmt *s, bool top, Return *ret);

/* Counts one statement or evaluation against the expansion budget; false once lowering stops
 * (a limit was hit, or so many errors were reported that further ones would not be shown). */
static bool step(Lowerer *L, SrcLoc loc) {
  if (L->aborted) return false;
  int max_errors = L->diag->max_errors ? L->diag->max_errors : 50;
  if (L->diag->n_errors > max_errors) {
    L->aborted = true;
    return false;
  }
  if (++L->steps > MAX_STEPS || L->g->n_nodes > L->c->max_nodes) {
    diag_error(L->diag, loc, "the model expands to more than %s; reduce the repeat counts or nested block calls",
               L->steps > MAX_STEPS ? "2000000 steps" : arena_printf(L->arena, "%d nodes", L->c->max_nodes));
    L->aborted = true;
    return false;
  }
  return true;
}

static Value call_block(Lowerer *L, BlockDef *bd, Ast *call) {
  bd->used = true;
  if (bd->bad) return value_error();
  for (int i = 0; i < L->n_active; i++)
    if (strcmp(L->active[i], bd->name) == 0) {
      if (i == L->n_active - 1) {
        diag_error(L->diag, call->loc, "block '%s' calls itself (recursion is not allowed)", bd->name);
      } else {
        char *cycle = arena_printf(L->arena, "%s", bd->name);
        for (int k = i + 1; k < L->n_active; k++) cycle = arena_printf(L->arena, "%s -> %s", cycle, L->active[k]);
        diag_error(L->diag, call->loc, "block '%s' calls itself through %s -> %s (recursion is not allowed)",
                   bd->name, cycle, bd->name);
      }
      return value_error();
    }
  if (L->n_active >= MAX_BLOCK_DEPTH) {
    diag_error(L->diag, call->loc, "blocks nested more than %d deep", MAX_BLOCK_DEPTH);
    return value_error();
  }
  int n_params = 0, n_args = 0;
  for (Ident *p = bd->def->params; p; p = p->next) n_params++;
  for (Ast *a = call->args; a; a = a->next) {
    if (a->kind == AST_KWARG) {
      diag_error(L->diag, a->loc, "block '%s' takes positional arguments only", bd->name);
      return value_error();
    }
    n_args++;
  }
  if (n_args != n_params) {
    diag_error(L->diag, call->loc, "block '%s' takes %d argument%s (%d given)", bd->name, n_params,
               n_params == 1 ? "" : "s", n_args);
    return value_error();
  }
  Value args[MAX_BLOCK_PARAMS]; /* n_args == n_params <= MAX_BLOCK_PARAMS (collect_blocks) */
  int k = 0;
  bool bad = false;
  for (Ast *a = call->args; a; a = a->next, k++) {
    args[k] = lower_eval(L, a);
    if (args[k].kind == VAL_ERROR || !check_operand(L, args[k], a->loc)) bad = true;
  }
  if (bad) return value_error();

  Scope *caller = L->scope;
  /* everything of the call's own scope goes in scratch memory, given back when it returns: a
     program that expands blocks millions of times must not keep millions of scopes */
  int count = count_call(L, bd->name);
  ArenaMark mark = arena_mark(&L->scratch);
  const char *prefix = caller->prefix[0] ? arena_printf(&L->scratch, "%s/%s.%d", caller->prefix, bd->name, count)
                                         : arena_printf(&L->scratch, "%s.%d", bd->name, count);

  Scope inner;
  memset(&inner, 0, sizeof inner);
  inner.global = caller->global ? caller->global : caller;
  inner.prefix = prefix;
  inner.block = bd->name;
  L->scope = &inner;
  k = 0;
  for (Ident *p = bd->def->params; p; p = p->next, k++) bind(L, p->name, args[k], p->loc, "parameter");
  L->calls[L->n_active] = call->loc;
  L->active[L->n_active++] = bd->name;
  L->diag->call_stack = L->calls;
  L->diag->n_call_stack = L->n_active;

  Return ret = {false, value_error()};
  run_stmts(L, bd->def->body, false, &ret);

  L->n_active--;
  L->diag->n_call_stack = L->n_active;
  close_scope(L, &inner);
  L->scope = caller;
  arena_release(&L->scratch, mark);
  return ret.v;
}

static void stmt_top_only(Lowerer *L, Stmt *s, const char *kw) {
  diag_error(L->diag, s->loc, "'%s' is only allowed at the top level", kw);
}

static Shape eval_dims(Lowerer *L, Ast *dims, bool *ok) {
  Shape shape;
  memset(&shape, 0, sizeof shape);
  shape.dim[shape.rank++] = DIM_BATCH;
  *ok = true;
  for (Ast *d = dims; d; d = d->next) {
    int64_t v;
    if (shape.rank == 4) {
      diag_error(L->diag, d->loc, "at most 3 dimensions per example are supported");
      *ok = false;
      break;
    }
    if (!eval_int(L, d, "a dimension", 1, MAX_ELEMENTS, &v)) {
      *ok = false;
      continue;
    }
    shape.dim[shape.rank++] = (int32_t)v;
  }
  return shape;
}

static void run_leaf_decl(Lowerer *L, Stmt *s, Stmt **slot, const char *kw) {
  if (*slot) {
    diag_error(L->diag, s->loc, "a model has only one '%s'", kw);
    diag_note(L->diag, (*slot)->loc, "the first '%s' is here", kw);
    return;
  }
  *slot = s;
  bool ok = true;
  Shape shape;
  Op op;
  const char *what;
  if (s->kind == ST_LABEL) {
    int64_t k = 0;
    ok = eval_int(L, s->expr, "the number of classes", 2, 1 << 24, &k);
    Shape sh = {1, {DIM_BATCH}};
    shape = sh;
    op = OP_LABEL;
    what = "label";
    if (ok) L->g->n_classes = (int)k;
  } else {
    shape = eval_dims(L, s->dims, &ok);
    if (ok) ok = lower_check_size(L, shape, s->name_loc);
    op = s->kind == ST_INPUT ? OP_INPUT : OP_TARGET;
    what = s->kind == ST_INPUT ? "input" : "target";
  }
  if (!ok) {
    bind(L, s->name, value_error(), s->name_loc, what);
    return;
  }
  NodeId n = ir_add(L->c, op, NULL, 0, shape, s->name_loc);
  L->g->nodes[n].name = s->name;
  if (op == OP_INPUT) L->g->input = n;
  if (op == OP_LABEL) L->g->label = n;
  if (op == OP_TARGET) L->g->target = n;
  bind(L, s->name, value_tensor(n), s->name_loc, what);
}

/* A statement with a syntax error (already reported): what it would have defined becomes an error
 * value, so that later statements using it report nothing more, and a missing 'input' or 'loss'
 * is not reported either. */
static void run_broken(Lowerer *L, Stmt *s, bool in_block, Return *ret) {
  L->saw_broken = true;
  if (s->kind == ST_RETURN && in_block) {
    ret->v = value_error();
    ret->done = true;
  }
  if (s->name && (s->kind == ST_ASSIGN || s->kind == ST_CONST || s->kind == ST_INPUT || s->kind == ST_LABEL ||
                  s->kind == ST_TARGET)) {
    bind(L, s->name, value_error(), s->name_loc, s->kind == ST_CONST ? "constant" : "value");
    find_local(L->scope, s->name)->used = true;
  }
}

static void run_stmt(Lowerer *L, Stmt *s, bool top, bool in_block, Return *ret) {
  if (!step(L, s->loc)) return;
  if (s->broken) {
    run_broken(L, s, in_block, ret);
    return;
  }
  switch (s->kind) {
  case ST_MODEL:
    if (!top) stmt_top_only(L, s, "model");
    else if (s != L->c->program.stmts) diag_error(L->diag, s->loc, "'model' must be the first statement, and only one");
    return;
  case ST_CONST: {
    int64_t v;
    Binding *old = find_local(L->scope, s->name);
    if (old && strcmp(old->what, "constant") == 0) {
      diag_error(L->diag, s->name_loc, "constant '%s' is already defined", s->name);
      diag_note(L->diag, old->loc, "'%s' was defined here", s->name);
      return;
    }
    if (eval_int(L, s->expr, "a constant", INT64_MIN, INT64_MAX, &v))
      bind(L, s->name, value_int(v), s->name_loc, "constant");
    else
      bind(L, s->name, value_error(), s->name_loc, "constant");
    return;
  }
  case ST_INPUT:
  case ST_LABEL:
  case ST_TARGET: {
    const char *kw = s->kind == ST_INPUT ? "input" : s->kind == ST_LABEL ? "label" : "target";
    if (!top) {
      stmt_top_only(L, s, kw);
      return;
    }
    if (s->kind != ST_INPUT && (s->kind == ST_LABEL ? L->target_stmt : L->label_stmt)) {
      diag_error(L->diag, s->loc, "a model has a 'label' or a 'target', not both");
      return;
    }
    run_leaf_decl(L, s, s->kind == ST_INPUT ? &L->input_stmt : s->kind == ST_LABEL ? &L->label_stmt : &L->target_stmt, kw);
    return;
  }
  case ST_ASSIGN: {
    Binding *old = find_local(L->scope, s->name);
    if (old && (strcmp(old->what, "constant") == 0)) {
      diag_error(L->diag, s->name_loc, "cannot assign to constant '%s'", s->name);
      return;
    }
    if (find_block(L, s->name) || builtin_exists(s->name)) {
      diag_error(L->diag, s->name_loc, "'%s' is the name of a %s", s->name,
                 find_block(L, s->name) ? "block" : "built-in function");
      return;
    }
    Value v = lower_eval(L, s->expr);
    bind(L, s->name, v, s->name_loc, "value");
    return;
  }
  case ST_REPEAT: {
    int64_t n;
    if (!eval_int(L, s->expr, "a repeat count", 0, MAX_REPEAT, &n)) return;
    /* after syntax errors only errors are wanted, and one pass shows the body's; more passes
       would only expand values that are errors already */
    if (!L->c->program.syntax_ok && n > 1) n = 1;
    for (int64_t i = 0; i < n && !L->aborted; i++) {
      if (!step(L, s->loc)) return;
      int errors_before = L->diag->n_errors;
      run_stmts(L, s->body, false, in_block ? ret : NULL);
      if (in_block && ret->done) return;
      if (L->diag->n_errors > errors_before) return; /* the next iterations would repeat them */
    }
    return;
  }
  case ST_BLOCK:
    if (!top) stmt_top_only(L, s, "block");
    return; /* collected before the run */
  case ST_RETURN:
    if (!in_block) {
      diag_error(L->diag, s->loc, "'return' outside a block");
      return;
    }
    if (s->next) {
      diag_error(L->diag, s->loc, "'return' must be the last statement of a block");
      return;
    }
    ret->v = lower_eval(L, s->expr);
    ret->done = true;
    return;
  case ST_OUTPUT: {
    if (!top) {
      stmt_top_only(L, s, "output");
      return;
    }
    if (L->output_stmt) {
      diag_error(L->diag, s->loc, "a model has only one 'output'");
      diag_note(L->diag, L->output_stmt->loc, "the first 'output' is here");
      return;
    }
    L->output_stmt = s;
    Value v = lookup(L, s->name, s->name_loc);
    if (v.kind == VAL_TENSOR) {
      if (check_operand(L, v, s->name_loc)) L->g->output = v.node;
    } else if (v.kind != VAL_ERROR) {
      diag_error(L->diag, s->name_loc, "output '%s' must be a value, not %s", s->name, kind_word(v));
    }
    return;
  }
  case ST_LOSS: {
    if (!top) {
      stmt_top_only(L, s, "loss");
      return;
    }
    if (L->loss_stmt) {
      diag_error(L->diag, s->loc, "a model has only one 'loss'");
      diag_note(L->diag, L->loss_stmt->loc, "the first 'loss' is here");
      return;
    }
    L->loss_stmt = s;
    if (s->expr->kind != AST_CALL) {
      diag_error(L->diag, s->expr->loc, "'loss' takes a call of softmax_cross_entropy, mse or bce_with_logits");
      return;
    }
    Value v = builtin_call(L, s->expr, CTX_LOSS);
    if (v.kind == VAL_TENSOR) L->g->loss = v.node;
    return;
  }
  case ST_OPTIMIZER:
    if (!top) {
      stmt_top_only(L, s, "optimizer");
      return;
    }
    if (L->opt_stmt) {
      diag_error(L->diag, s->loc, "a model has only one 'optimizer'");
      diag_note(L->diag, L->opt_stmt->loc, "the first 'optimizer' is here");
      return;
    }
    L->opt_stmt = s;
    if (s->expr->kind != AST_CALL) {
      diag_error(L->diag, s->expr->loc, "'optimizer' takes a call of sgd, rmsprop or adam");
      return;
    }
    builtin_optimizer(L, s->expr);
    return;
  case ST_UNKNOWN:
    return; /* only broken statements have this kind */
  }
}

static void run_stmts(Lowerer *L, Stmt *s, bool top, Return *ret) {
  bool in_block = ret != NULL;
  for (; s && !L->aborted; s = s->next) {
    run_stmt(L, s, top, in_block, ret);
    if (in_block && ret->done) return;
  }
}

/* Blocks are visible everywhere in the file (before and after their definition). */
static void collect_blocks(Lowerer *L, Stmt *stmts) {
  for (Stmt *s = stmts; s; s = s->next) {
    if (s->kind != ST_BLOCK || !s->name) continue;
    BlockDef *old = find_block(L, s->name);
    if (old) {
      diag_error(L->diag, s->name_loc, "block '%s' is already defined", s->name);
      diag_note(L->diag, old->def->name_loc, "the first definition is here");
      continue;
    }
    if (builtin_exists(s->name)) {
      diag_error(L->diag, s->name_loc, "block '%s' has the name of a built-in function", s->name);
      continue;
    }
    int n_params = 0;
    bool bad = false;
    for (Ident *p = s->params; p && !bad; p = p->next, n_params++) {
      if (n_params == MAX_BLOCK_PARAMS) {
        diag_error(L->diag, p->loc, "block '%s' has more than %d parameters", s->name, MAX_BLOCK_PARAMS);
        bad = true;
      }
      for (Ident *q = s->params; q != p && !bad; q = q->next)
        if (strcmp(q->name, p->name) == 0) diag_error(L->diag, p->loc, "parameter '%s' appears twice", p->name);
    }
    Stmt *last = s->body, *early_return = NULL;
    bool broken = s->broken;
    for (; last && last->next; last = last->next) {
      if (last->kind == ST_RETURN && !early_return) early_return = last;
      broken |= last->broken;
    }
    if (broken || (last && last->broken)) {
      bad = true; /* its syntax error is reported; calls of it give error values, silently */
    } else if (early_return) {
      diag_error(L->diag, early_return->loc, "'return' must be the last statement of a block");
      bad = true;
    } else if (!last || last->kind != ST_RETURN) {
      diag_error(L->diag, s->name_loc, "block '%s' does not end with 'return'", s->name);
      bad = true;
    }
    ARRAY_GROW(L->arena, L->blocks, L->n_blocks, L->cap_blocks);
    name_index_put(L->arena, &L->block_index, s->name, L->n_blocks);
    BlockDef *bd = &L->blocks[L->n_blocks++];
    bd->name = s->name;
    bd->def = s;
    bd->used = false;
    bd->bad = bad;
  }
}

/* Identifiers the headers of the generated code declare (scripts/c_names writes the list). */
static const char *const c_library_names[] = {
#include "c_names.inc"
};

static int compare_names(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static bool is_c_library_name(const char *name) {
  return bsearch(&name, c_library_names, sizeof c_library_names / sizeof c_library_names[0], sizeof c_library_names[0],
                 compare_names) != NULL;
}

static bool has_prefix_nocase(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++)
    if (tolower((unsigned char)*s) != *prefix) return false;
  return true;
}

/* Why NAME cannot be a model's name (it becomes the typedef NAME and the prefix of NAME_new, ...),
 * or NULL. The generated code's own names all start with nnc_/NNC_, so the model name may not. */
static const char *model_name_problem(Arena *arena, const char *name) {
  static const char *keywords[] = {
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
      "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
      "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
      "volatile", "while", NULL};
  for (int i = 0; keywords[i]; i++)
    if (strcmp(name, keywords[i]) == 0) return "is a C keyword";
  if (strlen(name) > 64) return "is over 64 characters";
  if (name[0] == '_') return "is reserved (C reserves names starting with '_')";
  if (strcmp(name, "main") == 0) return "would clash with the trainer's main()";
  for (const char *const *own = (const char *const[]){"nnc", "nnrt", NULL}; *own; own++) {
    size_t len = strlen(*own);
    if (has_prefix_nocase(name, *own) && (name[len] == 0 || name[len] == '_'))
      return "is reserved (names starting with 'nnc_' or 'nnrt_' are the generated code's and the runtime's)";
  }
  /* NAME.h must not hide a header that the generated code, the runtime or the trainer include
     when its folder is on the include path */
  static const char *headers[] = {
      "assert", "complex", "ctype", "errno", "fenv", "float", "inttypes", "iso646", "limits", "locale", "math",
      "setjmp", "signal", "stdalign", "stdarg", "stdatomic", "stdbool", "stddef", "stdint", "stdio", "stdlib",
      "stdnoreturn", "string", "tgmath", "threads", "time", "uchar", "wchar", "wctype", "cblas", "openblas_config",
      "unistd", "fcntl", "dirent", "zlib", NULL};
  for (int i = 0; headers[i]; i++)
    if (strcmp(name, headers[i]) == 0)
      return arena_printf(arena, "would make the generated %s.h hide the header <%s.h>", name, name);
  static const char *suffixes[] = {"", "_new", "_free", "_forward", "_train_step", "_save", "_load", "_steps", NULL};
  for (int i = 0; suffixes[i]; i++) {
    const char *symbol = arena_printf(arena, "%s%s", name, suffixes[i]);
    if (is_c_library_name(symbol))
      return arena_printf(arena, "would clash with '%s' of the C library or CBLAS, which the generated code includes",
                          symbol);
  }
  return NULL;
}

bool lower_program(Compilation *c) {
  Lowerer L;
  memset(&L, 0, sizeof L);
  L.c = c;
  L.arena = &c->arena;
  L.diag = &c->diag;
  L.g = &c->graph;
  L.warned = arena_alloc(&c->arena, c->len / 8 + 1);
  Graph *g = &c->graph;
  g->input = g->label = g->target = g->loss = g->output = NO_NODE;
  int errors_before = c->diag.n_errors;

  Stmt *first = c->program.stmts;
  if (first && first->kind == ST_MODEL && (first->broken || !first->name)) return false; /* reported */
  if (!first || first->kind != ST_MODEL) {
    diag_error(&c->diag, first ? first->loc : 0, "a model file starts with 'model NAME'");
    return false;
  }
  g->model_name = first->name;
  const char *problem = model_name_problem(&c->arena, first->name);
  if (problem) diag_error(&c->diag, first->name_loc, "model name '%s' %s", first->name, problem);

  Scope top;
  memset(&top, 0, sizeof top);
  top.prefix = "";
  L.scope = &top;
  collect_blocks(&L, first);
  run_stmts(&L, first, true, NULL);
  if (L.aborted) {
    arena_free(&L.scratch);
    return false;
  }

  SrcLoc end = first->loc;
  /* after a syntax error, a missing statement may be inside the broken one */
  if (!L.input_stmt && !L.saw_broken) diag_error(&c->diag, end, "model '%s' has no 'input'", g->model_name);
  if (!L.label_stmt && !L.target_stmt && !L.saw_broken)
    diag_error(&c->diag, end, "model '%s' has no 'label' or 'target'", g->model_name);
  if (!L.loss_stmt && !L.saw_broken) diag_error(&c->diag, end, "model '%s' has no 'loss'", g->model_name);
  if (!L.opt_stmt && !L.saw_broken) diag_error(&c->diag, end, "model '%s' has no 'optimizer'", g->model_name);
  if (g->output == NO_NODE && g->loss != NO_NODE) g->output = g->nodes[g->loss].in[0];

  close_scope(&L, &top);
  arena_free(&L.scratch);
  for (int i = 0; i < L.n_blocks && !c->diag.n_errors; i++)
    if (!L.blocks[i].used) diag_warning(&c->diag, L.blocks[i].def->name_loc, "block '%s' is never used", L.blocks[i].name);
  g->n_forward = g->n_nodes;
  return c->diag.n_errors == errors_before;
}
