/* ir.c — building, printing and verifying the IR graph.
 *
 * A Graph is an array of Nodes in topological order (every input precedes its user); nodes refer
 * to each other by NodeId index. ir_print's text format is stable (golden tests and `--dump-ir`
 * depend on it); ir_verify is the checker run between passes.
 */
#include <string.h>

#include "nnc.h"

static const struct {
  const char *name;
  int arity;
  OpKind kind;
} op_table[OP_COUNT] = {
#define OP(name, text, arity, kind) {text, arity, kind},
#include "ops.h"
#undef OP
};

const char *op_name(Op op) { return op_table[op].name; }
int op_arity(Op op) { return op_table[op].arity; }
OpKind op_kind(Op op) { return op_table[op].kind; }

bool shape_eq(Shape a, Shape b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; i++)
    if (a.dim[i] != b.dim[i]) return false;
  return true;
}

int64_t shape_count(Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++)
    if (s.dim[i] != DIM_BATCH) n *= s.dim[i];
  return n;
}

Shape shape_make(int rank, const int32_t *dims) {
  Shape s;
  memset(&s, 0, sizeof s);
  s.rank = rank;
  for (int i = 0; i < rank; i++) s.dim[i] = dims[i];
  return s;
}

char *shape_str(Arena *a, Shape s) {
  char buf[128];
  size_t n = 0;
  buf[n++] = '[';
  for (int i = 0; i < s.rank; i++) {
    if (i) n += (size_t)snprintf(buf + n, sizeof buf - n, ", ");
    if (s.dim[i] == DIM_BATCH)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "B");
    else
      n += (size_t)snprintf(buf + n, sizeof buf - n, "%d", (int)s.dim[i]);
  }
  snprintf(buf + n, sizeof buf - n, "]");
  return arena_strndup(a, buf, strlen(buf));
}

NodeId ir_add(Compilation *c, Op op, const NodeId *in, int n_in, Shape shape, SrcLoc loc) {
  Graph *g = &c->graph;
  if (n_in > NN_MAX_IN) nn_die("too many inputs for %s", op_name(op));
  ARRAY_GROW(&c->arena, g->nodes, g->n_nodes, g->cap_nodes);
  NodeId id = (NodeId)g->n_nodes++;
  Node *n = &g->nodes[id];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->n_in = n_in;
  for (int i = 0; i < n_in; i++) n->in[i] = in[i];
  n->shape = shape;
  n->loc = loc;
  n->layer = -1;
  n->attr.fwd = NO_NODE;
  n->attr.param = -1;
  return id;
}

static void print_shape(FILE *out, Shape s) {
  fputc('[', out);
  for (int i = 0; i < s.rank; i++) {
    if (i) fputs(", ", out);
    if (s.dim[i] == DIM_BATCH)
      fputc('B', out);
    else
      fprintf(out, "%d", (int)s.dim[i]);
  }
  fputc(']', out);
}

/* One line per node: %id = op(inputs) [shape] attrs  # name */
void ir_print(const Graph *g, FILE *out) {
  fprintf(out, "model %s\n", g->model_name ? g->model_name : "?");
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    fprintf(out, "%s %s ", p->trainable ? "param" : "buffer", p->name);
    print_shape(out, p->shape);
    fputc('\n', out);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *n = &g->nodes[i];
    if (i == g->n_forward && g->n_forward < g->n_nodes) fputs("# backward\n", out);
    fprintf(out, "%%%d = %s(", i, op_name(n->op));
    for (int k = 0; k < n->n_in; k++) fprintf(out, "%s%%%u", k ? ", " : "", n->in[k]);
    fputs(") ", out);
    print_shape(out, n->shape);
    const Attr *a = &n->attr;
    switch (n->op) {
    case OP_MATMUL:
      if (a->trans_a) fputs(" trans_a", out);
      if (a->trans_b) fputs(" trans_b", out);
      break;
    case OP_SCALE: fprintf(out, " c=%g", a->scale); break;
    case OP_ELU: case OP_ELU_BWD: fprintf(out, " alpha=%g", a->alpha); break;
    case OP_LEAKY_RELU: case OP_LEAKY_RELU_BWD: fprintf(out, " slope=%g", a->alpha); break;
    case OP_DROPOUT: case OP_ALPHA_DROPOUT: fprintf(out, " p=%g", a->alpha); break;
    case OP_CONV2D: fprintf(out, " k=%d stride=%d pad=%d", a->kernel, a->stride, a->pad); break;
    case OP_MAX_POOL: case OP_AVG_POOL: fprintf(out, " k=%d stride=%d", a->kernel, a->stride); break;
    case OP_BATCHNORM: fprintf(out, " momentum=%g eps=%g", a->momentum, a->eps); break;
    default: break;
    }
    if (a->fwd != NO_NODE) fprintf(out, " of=%%%u", a->fwd);
    if (n->name) fprintf(out, "  # %s", n->name);
    fputc('\n', out);
  }
  if (g->loss != NO_NODE) fprintf(out, "loss %%%u\n", g->loss);
  if (g->output != NO_NODE) fprintf(out, "output %%%u\n", g->output);
}

bool ir_verify(const Graph *g, FILE *err) {
  bool ok = true;
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *n = &g->nodes[i];
    int arity = op_arity(n->op);
    if (arity >= 0 && n->n_in != arity && !(n->op == OP_SOFTMAX_XENT_BWD)) {
      fprintf(err, "ir: %%%d %s has %d inputs, expected %d\n", i, op_name(n->op), n->n_in, arity);
      ok = false;
    }
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= (NodeId)i) {
        fprintf(err, "ir: %%%d %s uses %%%u, which does not precede it\n", i, op_name(n->op), n->in[k]);
        ok = false;
      }
    if (n->shape.rank < 0 || n->shape.rank > NN_MAX_RANK) {
      fprintf(err, "ir: %%%d has rank %d\n", i, n->shape.rank);
      ok = false;
    }
    for (int k = 0; k < n->shape.rank; k++)
      if (n->shape.dim[k] == 0 || n->shape.dim[k] < DIM_BATCH) {
        fprintf(err, "ir: %%%d has a bad dimension %d\n", i, (int)n->shape.dim[k]);
        ok = false;
      }
    if ((n->op == OP_PARAM || n->op == OP_BUFFER) &&
        (n->attr.param < 0 || n->attr.param >= g->n_params)) {
      fprintf(err, "ir: %%%d names no parameter\n", i);
      ok = false;
    }
    if (op_kind(n->op) == OPK_EW && n->n_in >= 1 && n->op != OP_BIAS_ADD) {
      for (int k = 0; k < n->n_in; k++)
        if (shape_count(g->nodes[n->in[k]].shape) != shape_count(n->shape)) {
          fprintf(err, "ir: %%%d %s: input %d has another size\n", i, op_name(n->op), k);
          ok = false;
        }
    }
  }
  return ok;
}
