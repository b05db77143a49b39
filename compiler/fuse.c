/* fuse.c — element-wise fusion: which nodes are computed inside their consumer's loop.
 *
 * A chain of element-wise nodes (bias_add → selu, add → relu, the *_bwd products …) becomes one
 * loop whose intermediate values live in registers: node n is inlined into its user u when n is
 * element-wise, has exactly one use in the function, lives in the activation arena (not a
 * parameter gradient or the caller's memory), is not the function's result, and has as many
 * elements as u. A group holds at most one bias_add, whose channel layout shapes the loop.
 * Decided per function (train, infer), since use counts differ between them. Requires plan.c.
 */
#include <string.h>

#include "nnc.h"

Fusion fuse_plan(Compilation *c, const Plan *p, const bool *in_fn, NodeId result) {
  Graph *g = &c->graph;
  int n = g->n_nodes;
  Fusion f;
  f.inlined = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
  f.root = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)n);
  int *uses = arena_alloc(&c->arena, sizeof(int) * (size_t)n);
  NodeId *user = arena_alloc(&c->arena, sizeof(NodeId) * (size_t)n);
  bool *has_bias = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
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
    if (!in_fn[i] || op_kind(nd->op) != OPK_EW) continue;
    bool bias = nd->op == OP_BIAS_ADD;
    has_bias[i] = bias;
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
    if (batched != user_batched || (bias && has_bias[root])) continue;
    f.inlined[i] = true;
    f.root[i] = root;
    has_bias[root] |= bias;
  }
  return f;
}
