/* grad.c — reverse-mode symbolic differentiation on the IR.
 *
 * Appends backward nodes after the forward graph (it never edits forward nodes) and records
 * grad_of[] per forward node and param_grad[] per parameter. Only nodes that both depend on a
 * trainable parameter and reach the loss get gradients, so e.g. no d/dinput is computed. A value
 * used more than once (a skip connection) gets the sum of its contributions through add nodes.
 * Backward nodes inherit their forward node's source location and summary row. Each rule is the
 * derivative stated beside the op in ops.h. Requires a graph whose ops all have gradient rules:
 * output.c reports the others at their calls before it differentiates.
 */
#include <string.h>

#include "nnc.h"

typedef struct Grad {
  Compilation *c;
  Graph *g;
  bool *needs;      /* depends on a trainable parameter */
} Grad;

/* A backward node of forward node fwd: its location, summary row and attributes (kernel, stride,
 * pad, alpha ...), with attr.fwd naming fwd. */
static NodeId emit_node_n(Grad *gr, Op op, const NodeId *in, Shape shape, NodeId fwd) {
  NodeId id = ir_add(gr->c, op, in, op_arity(op), shape, gr->g->nodes[fwd].loc);
  Node *n = &gr->g->nodes[id];
  n->attr = gr->g->nodes[fwd].attr;
  n->attr.trans_a = n->attr.trans_b = false;
  n->attr.fwd = fwd;
  n->layer = gr->g->nodes[fwd].layer;
  return id;
}

static NodeId emit_node(Grad *gr, Op op, NodeId a, NodeId b, NodeId c3, Shape shape, NodeId fwd) {
  NodeId in[3] = {a, b, c3};
  return emit_node_n(gr, op, in, shape, fwd);
}

/* Adds contribution `d` to the gradient of forward node `x`. */
static void accumulate(Grad *gr, NodeId x, NodeId d, NodeId fwd) {
  Graph *g = gr->g;
  if (!gr->needs[x]) return;
  if (g->grad_of[x] == NO_NODE) {
    g->grad_of[x] = d;
    return;
  }
  g->grad_of[x] = emit_node(gr, OP_ADD, g->grad_of[x], d, NO_NODE, g->nodes[x].shape, fwd);
}

/* C = op(A) op(B), op = transpose when flagged. */
static void grad_matmul(Grad *gr, NodeId id, NodeId dc) {
  Graph *g = gr->g;
  Node n = g->nodes[id];
  NodeId a = n.in[0], b = n.in[1];
  bool ta = n.attr.trans_a, tb = n.attr.trans_b;
  if (gr->needs[a]) {
    Shape sa = g->nodes[a].shape;
    NodeId d;
    if (!ta) { /* dA = dC op(B)^T */
      d = emit_node(gr, OP_MATMUL, dc, b, NO_NODE, sa, id);
      g->nodes[d].attr.trans_b = !tb;
    } else { /* dA = op(B) dC^T */
      d = emit_node(gr, OP_MATMUL, b, dc, NO_NODE, sa, id);
      g->nodes[d].attr.trans_a = tb;
      g->nodes[d].attr.trans_b = true;
    }
    accumulate(gr, a, d, id);
  }
  if (gr->needs[b]) {
    Shape sb = g->nodes[b].shape;
    NodeId d;
    if (!tb) { /* dB = op(A)^T dC */
      d = emit_node(gr, OP_MATMUL, a, dc, NO_NODE, sb, id);
      g->nodes[d].attr.trans_a = !ta;
    } else { /* dB = dC^T op(A) */
      d = emit_node(gr, OP_MATMUL, dc, a, NO_NODE, sb, id);
      g->nodes[d].attr.trans_a = true;
      g->nodes[d].attr.trans_b = ta;
    }
    accumulate(gr, b, d, id);
  }
}

static Op activation_bwd(Op op) {
  switch (op) {
  case OP_RELU: return OP_RELU_BWD;
  case OP_SELU: return OP_SELU_BWD;
  case OP_ELU: return OP_ELU_BWD;
  case OP_LEAKY_RELU: return OP_LEAKY_RELU_BWD;
  case OP_SIGMOID: return OP_SIGMOID_BWD;
  case OP_TANH: return OP_TANH_BWD;
  case OP_SOFTMAX: return OP_SOFTMAX_BWD;
  default: return OP_COUNT;
  }
}

static void grad_node(Grad *gr, NodeId id) {
  Graph *g = gr->g;
  NodeId dy = g->grad_of[id];
  Node n = g->nodes[id];
  NodeId x = n.n_in > 0 ? n.in[0] : NO_NODE;
  switch (n.op) {
  case OP_MATMUL: grad_matmul(gr, id, dy); return;
  case OP_BIAS_ADD:
    accumulate(gr, x, dy, id);
    if (gr->needs[n.in[1]])
      accumulate(gr, n.in[1], emit_node(gr, OP_BIAS_GRAD, dy, NO_NODE, NO_NODE, g->nodes[n.in[1]].shape, id), id);
    return;
  case OP_ADD:
    accumulate(gr, x, dy, id);
    accumulate(gr, n.in[1], dy, id);
    return;
  case OP_SUB:
    accumulate(gr, x, dy, id);
    if (gr->needs[n.in[1]]) {
      NodeId d = emit_node(gr, OP_SCALE, dy, NO_NODE, NO_NODE, n.shape, id);
      g->nodes[d].attr.scale = -1;
      accumulate(gr, n.in[1], d, id);
    }
    return;
  case OP_MUL:
    if (gr->needs[x]) accumulate(gr, x, emit_node(gr, OP_MUL, dy, n.in[1], NO_NODE, n.shape, id), id);
    if (gr->needs[n.in[1]]) accumulate(gr, n.in[1], emit_node(gr, OP_MUL, dy, x, NO_NODE, n.shape, id), id);
    return;
  case OP_SCALE: {
    NodeId d = emit_node(gr, OP_SCALE, dy, NO_NODE, NO_NODE, n.shape, id);
    g->nodes[d].attr.scale = n.attr.scale;
    accumulate(gr, x, d, id);
    return;
  }
  case OP_RELU: case OP_SELU: case OP_ELU: case OP_SIGMOID: case OP_TANH: case OP_SOFTMAX: case OP_LEAKY_RELU: {
    /* leaky_relu's slope may be 0..1: its sign test needs x; the others read y */
    NodeId arg = n.op == OP_LEAKY_RELU ? x : id;
    accumulate(gr, x, emit_node(gr, activation_bwd(n.op), dy, arg, NO_NODE, n.shape, id), id);
    return;
  }
  case OP_DROPOUT:
  case OP_ALPHA_DROPOUT:
    accumulate(gr, x, emit_node(gr, OP_DROPOUT_BWD, dy, NO_NODE, NO_NODE, n.shape, id), id);
    return;
  case OP_RESHAPE:
    accumulate(gr, x, emit_node(gr, OP_RESHAPE, dy, NO_NODE, NO_NODE, g->nodes[x].shape, id), id);
    return;
  case OP_CONV2D:
    if (gr->needs[x]) accumulate(gr, x, emit_node(gr, OP_CONV2D_BWD_DATA, dy, n.in[1], NO_NODE, g->nodes[x].shape, id), id);
    if (gr->needs[n.in[1]])
      accumulate(gr, n.in[1], emit_node(gr, OP_CONV2D_BWD_WEIGHT, dy, x, NO_NODE, g->nodes[n.in[1]].shape, id), id);
    return;
  case OP_BATCHNORM: {
    /* gamma and beta are always trainable; dx reuses their sums */
    Shape cs = g->nodes[n.in[1]].shape;
    NodeId in[5] = {dy, x, n.in[1], NO_NODE, NO_NODE};
    in[3] = emit_node(gr, OP_BATCHNORM_GAMMA_GRAD, dy, x, NO_NODE, cs, id);
    in[4] = emit_node(gr, OP_BIAS_GRAD, dy, NO_NODE, NO_NODE, cs, id);
    accumulate(gr, n.in[1], in[3], id);
    accumulate(gr, n.in[2], in[4], id);
    if (gr->needs[x]) accumulate(gr, x, emit_node_n(gr, OP_BATCHNORM_BWD, in, g->nodes[x].shape, id), id);
    return;
  }
  case OP_MAX_POOL:
    accumulate(gr, x, emit_node(gr, OP_MAX_POOL_BWD, dy, x, NO_NODE, g->nodes[x].shape, id), id);
    return;
  case OP_AVG_POOL:
    accumulate(gr, x, emit_node(gr, OP_AVG_POOL_BWD, dy, NO_NODE, NO_NODE, g->nodes[x].shape, id), id);
    return;
  case OP_GLOBAL_AVG_POOL:
    accumulate(gr, x, emit_node(gr, OP_GLOBAL_AVG_POOL_BWD, dy, NO_NODE, NO_NODE, g->nodes[x].shape, id), id);
    return;
  case OP_SOFTMAX_XENT:
    accumulate(gr, x, emit_node(gr, OP_SOFTMAX_XENT_BWD, dy, x, n.in[1], g->nodes[x].shape, id), id);
    return;
  case OP_MSE:
    accumulate(gr, x, emit_node(gr, OP_MSE_BWD, dy, x, n.in[1], g->nodes[x].shape, id), id);
    return;
  case OP_BCE_LOGITS:
    accumulate(gr, x, emit_node(gr, OP_BCE_LOGITS_BWD, dy, x, n.in[1], g->nodes[x].shape, id), id);
    return;
  default:
    nn_die("no gradient rule for %s (output.c checks support first)", op_name(n.op));
  }
}

bool grad_build(Compilation *c) {
  Graph *g = &c->graph;
  if (g->loss == NO_NODE) return false;
  int n_fwd = g->n_forward;
  Grad gr = {c, g, arena_alloc(&c->arena, sizeof(bool) * (size_t)n_fwd)};
  for (int i = 0; i < n_fwd; i++) {
    Node *n = &g->nodes[i];
    if (n->op == OP_PARAM) gr.needs[i] = true;
    for (int k = 0; k < n->n_in; k++)
      if (gr.needs[n->in[k]]) gr.needs[i] = true;
  }
  /* nodes appended below may index grad_of only for forward ids */
  g->grad_of = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)n_fwd);
  for (int i = 0; i < n_fwd; i++) g->grad_of[i] = NO_NODE;
  g->param_grad = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)(g->n_params ? g->n_params : 1));
  for (int i = 0; i < g->n_params; i++) g->param_grad[i] = NO_NODE;

  if (!gr.needs[g->loss]) return true; /* nothing trainable reaches the loss */
  g->grad_of[g->loss] = ir_add(c, OP_ONES_SCALAR, NULL, 0, g->nodes[g->loss].shape, g->nodes[g->loss].loc);
  for (int i = (int)g->loss; i >= 0; i--) {
    if (g->grad_of[i] == NO_NODE) continue;
    Op op = g->nodes[i].op;
    if (op == OP_PARAM || op == OP_INPUT || op == OP_BUFFER) continue;
    grad_node(&gr, (NodeId)i);
  }
  for (int i = 0; i < g->n_params; i++)
    if (g->params[i].trainable) g->param_grad[i] = g->grad_of[g->params[i].node];
  if (!ir_verify(g, stderr)) nn_die("the IR failed verification after differentiation");
  return true;
}
