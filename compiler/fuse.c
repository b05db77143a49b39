/* fuse.c — element-wise fusion: which nodes are computed inside their consumer's loop, and what
 * the direct 3x3 convolutions compute in their epilogues.
 *
 * A chain of element-wise nodes (bias_add → selu, add → relu, the *_bwd products …) becomes one
 * loop whose intermediate values live in registers: node n is inlined into its user u when n is
 * element-wise, has exactly one use in the function, lives in the activation arena (not a
 * parameter gradient or the caller's memory), is not the function's result, and has as many
 * elements as u. A batchnorm is inlined the same way (its statistics are still computed in a
 * kernel of their own; the loop applies its per-channel scale and shift): batchnorm + relu, and
 * batchnorm + add + relu of a residual block, are one pass. A group holds at most one per-channel
 * node (bias_add or batchnorm), whose channel layout shapes the loop.
 *
 * A direct 3x3 "same" convolution (float builds; compiler/kernels/conv3x3.c) writes its bias_add
 * too when that is its only reader, and in inference also the batchnorm after it, and that
 * batchnorm's relu or add + relu group: conv2d → bias_add → batchnorm → add → relu is one kernel.
 * Decided per function (train, infer), since use counts differ between them. Requires plan.c's
 * storage kinds.
 */
#include <string.h>

#include "nnc.h"

bool fuse_per_channel(Op op) { return op == OP_BIAS_ADD || op == OP_BATCHNORM; }

/* What the direct kernel of convolution `conv` can compute after it (see the file comment). */
static ConvFold conv_fold(const Graph *g, const Fusion *f, const int *uses, const NodeId *user, NodeId conv,
                          bool training) {
  ConvFold fold = {NO_NODE, NO_NODE, NO_NODE, NO_NODE, NO_NODE, NO_NODE};
  NodeId at = conv;
  NodeId next = uses[conv] == 1 ? user[conv] : NO_NODE;
  if (next != NO_NODE && g->nodes[next].op == OP_BIAS_ADD && g->nodes[next].in[0] == conv && !f->inlined[next]) {
    fold.bias_add = at = next;
    next = uses[at] == 1 ? user[at] : NO_NODE;
  }
  if (!training && next != NO_NODE && g->nodes[next].op == OP_BATCHNORM && g->nodes[next].in[0] == at) {
    NodeId bn = next, root = f->root[bn];
    if (!f->inlined[bn]) {
      fold.batchnorm = at = bn;
    } else if (g->nodes[root].op == OP_RELU) { /* the group must be relu(bn) or relu(bn + r) */
      const Node *relu = &g->nodes[root];
      NodeId add = relu->in[0], residual = NO_NODE;
      bool fits = add == bn;
      if (!fits && g->nodes[add].op == OP_ADD && f->inlined[add] && f->root[add] == root) {
        const Node *a = &g->nodes[add];
        residual = a->in[0] == bn ? a->in[1] : a->in[1] == bn ? a->in[0] : NO_NODE;
        fits = residual != NO_NODE && residual < conv && !(f->inlined[residual] && f->root[residual] == root) &&
               shape_count(g->nodes[residual].shape) == shape_count(a->shape);
      }
      int members = 0; /* nothing else may be computed in the group's loop */
      for (int i = 0; i < g->n_nodes; i++) members += f->inlined[i] && f->root[i] == root;
      if (fits && members == (residual == NO_NODE ? 1 : 2)) {
        fold.batchnorm = bn, fold.relu = root;
        if (residual != NO_NODE) fold.residual_add = add, fold.residual = residual;
        at = root;
      }
    }
  }
  fold.last = at == conv ? NO_NODE : at;
  return fold;
}

Fusion fuse_plan(Compilation *c, const Plan *p, const bool *in_fn, NodeId result, bool training, bool double_precision) {
  Graph *g = &c->graph;
  int n = g->n_nodes;
  Fusion f;
  f.inlined = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
  f.root = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)n);
  f.fold = arena_alloc(&c->arena, sizeof(ConvFold) * (size_t)n);
  int *uses = arena_alloc(&c->arena, sizeof(int) * (size_t)n);
  NodeId *user = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)n);
  bool *has_channel = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
  for (int i = 0; i < n; i++) {
    f.root[i] = (NodeId)i;
    if (!in_fn[i]) continue;
    const Node *nd = &g->nodes[i];
    for (int k = 0; k < nd->n_in; k++) {
      uses[nd->in[k]]++;
      user[nd->in[k]] = (NodeId)i;
    }
  }
  for (int i = n - 1; i >= 0; i--) {
    const Node *nd = &g->nodes[i];
    if (!in_fn[i] || (op_kind(nd->op) != OPK_EW && nd->op != OP_BATCHNORM)) continue;
    bool channel = fuse_per_channel(nd->op);
    has_channel[i] = channel;
    if (uses[i] != 1 || (NodeId)i == result) continue;
    StorageKind kind = p->store[i].kind;
    if (kind != STORE_BATCHED && kind != STORE_FIXED) continue;
    NodeId u = user[i];
    const Node *un = &g->nodes[u];
    if (op_kind(un->op) != OPK_EW || shape_count(un->shape) != shape_count(nd->shape)) continue;
    if (un->op == OP_BIAS_ADD && un->in[1] == (NodeId)i) continue; /* the bias vector itself */
    bool batched = nd->shape.rank > 0 && nd->shape.dim[0] == DIM_BATCH;
    bool user_batched = un->shape.rank > 0 && un->shape.dim[0] == DIM_BATCH;
    NodeId root = f.root[u];
    if (batched != user_batched || (channel && has_channel[root])) continue;
    if (nd->op == OP_BATCHNORM && (!batched || nd->shape.rank < 2)) continue;
    f.inlined[i] = true;
    f.root[i] = root;
    has_channel[root] |= channel;
  }
  for (int i = 0; i < n; i++) {
    f.fold[i] = (ConvFold){NO_NODE, NO_NODE, NO_NODE, NO_NODE, NO_NODE, NO_NODE};
    if (in_fn[i] && g->nodes[i].op == OP_CONV2D && conv2d_is_3x3_same(&g->nodes[i]) && !double_precision)
      f.fold[i] = conv_fold(g, &f, uses, user, (NodeId)i, training);
  }
  return f;
}
