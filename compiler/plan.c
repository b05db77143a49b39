/* plan.c — storage and schedule: which function computes each node, and where it lives.
 *
 * Parameters are carved out of one block (trainable first, in creation order), their gradients
 * out of a mirror block, so the optimizer is one loop over all of them. Every other value gets
 * its own region of the activation arena: batched values scale with max_batch, unbatched ones
 * (scalars, intermediate parameter gradients) go to a small fixed block. Reshapes alias their
 * input. Requires grad.c's output. (Liveness-based reuse of arena regions is a later pass; the
 * plan is the one place it changes.)
 */
#include <string.h>

#include "nnc.h"

static void mark_needed(const Graph *g, bool *need, NodeId root) {
  if (root == NO_NODE) return;
  need[root] = true;
  for (int i = (int)root; i >= 0; i--) {
    if (!need[i]) continue;
    const Node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) need[n->in[k]] = true;
  }
}

static bool batched(Shape s) { return s.rank > 0 && s.dim[0] == DIM_BATCH; }

Plan plan_build(Compilation *c, bool copy_input) {
  Graph *g = &c->graph;
  int n = g->n_nodes;
  Plan p;
  memset(&p, 0, sizeof p);
  p.copy_input = copy_input;
  p.store = arena_alloc(&c->arena, sizeof(Storage) * (size_t)n);
  p.in_train = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
  p.in_infer = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);

  mark_needed(g, p.in_infer, g->output);
  /* the forward nodes of training that feed nothing (an unused output) are skipped too */
  mark_needed(g, p.in_train, g->loss);
  for (int i = 0; i < g->n_params; i++) mark_needed(g, p.in_train, g->param_grad ? g->param_grad[i] : NO_NODE);

  for (int i = 0; i < g->n_params; i++) {
    Param *pa = &g->params[i];
    if (pa->trainable) {
      pa->offset = p.n_params;
      p.n_params += pa->size;
    }
  }
  for (int i = 0; i < g->n_params; i++) {
    Param *pa = &g->params[i];
    if (!pa->trainable) {
      pa->offset = p.n_buffers;
      p.n_buffers += pa->size;
    }
  }

  /* A parameter's final gradient is computed straight into the gradient block. */
  if (g->param_grad)
    for (int i = 0; i < g->n_params; i++) {
      NodeId d = g->param_grad[i];
      if (d == NO_NODE) continue;
      p.store[d].kind = STORE_GRAD;
      p.store[d].offset = g->params[i].offset;
    }

  for (int i = 0; i < n; i++) {
    Node *nd = &g->nodes[i];
    Storage *st = &p.store[i];
    st->aux = SIZE_MAX;
    st->alias = NO_NODE;
    if (st->kind == STORE_GRAD || (!p.in_train[i] && !p.in_infer[i])) continue;
    size_t count = (size_t)shape_count(nd->shape);
    switch (nd->op) {
    case OP_INPUT:
      if (!copy_input) {
        st->kind = STORE_USER;
        continue;
      }
      break;
    case OP_LABEL: st->kind = STORE_USER; continue;
    case OP_TARGET:
      if (!copy_input) {
        st->kind = STORE_USER;
        continue;
      }
      break;
    case OP_PARAM:
    case OP_BUFFER:
      st->kind = nd->op == OP_PARAM ? STORE_PARAM : STORE_BUFFER;
      st->offset = g->params[nd->attr.param].offset;
      continue;
    case OP_RESHAPE:
      st->kind = STORE_ALIAS;
      st->alias = p.store[nd->in[0]].kind == STORE_ALIAS ? p.store[nd->in[0]].alias : nd->in[0];
      continue;
    default: break;
    }
    if (batched(nd->shape)) {
      st->kind = STORE_BATCHED;
      st->offset = p.batched_per_example;
      p.batched_per_example += count;
    } else {
      st->kind = STORE_FIXED;
      st->offset = p.fixed;
      p.fixed += count;
    }
    if (nd->op == OP_DROPOUT || nd->op == OP_ALPHA_DROPOUT) {
      st->aux = p.batched_per_example;
      p.batched_per_example += count;
    }
  }
  return p;
}
