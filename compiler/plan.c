/* plan.c — storage and schedule: which function computes each node, and where it lives.
 *
 * Parameters are carved out of one block (trainable first, in creation order), their gradients
 * out of a mirror block. Unbatched temporaries (scalars, intermediate parameter gradients) get a
 * small fixed block. Batched values — activations, their gradients, dropout masks — share the
 * activation arena by liveness: a value occupies its region from the kernel that writes it (a
 * direct convolution writes the last node of its epilogue) to the last kernel that reads it, in
 * train() or infer() (both run nodes in id order, so one
 * placement serves both), and regions of values whose lifetimes overlap never overlap. A value
 * computed inside a fused loop in both functions needs no region at all. Reshapes alias their
 * input. Requires grad.c's output.
 */
#include <string.h>

#include "nnc.h"

/* Marks everything the already-marked nodes depend on: one sweep, inputs precede their users. */
static void mark_inputs(const Graph *g, bool *need) {
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    if (!need[i]) continue;
    const Node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++) need[n->in[k]] = true;
  }
}

static bool batched(Shape s) { return s.rank > 0 && s.dim[0] == DIM_BATCH; }

/* A region of the activation arena and the kernels between which it must stay intact. */
typedef struct Item {
  NodeId node;
  bool aux;          /* the dropout mask of node, not its value (masks live throughout) */
  size_t size;       /* elements per example */
  long first, last;  /* positions (node ids; -1: copied in before the first kernel) */
  size_t offset;
} Item;

/* Where each function reads node j: at the kernel of every user that is not fused with it. */
static void note_reads(const Graph *g, const Plan *p, const bool *in_fn, const Fusion *fu, long *last) {
  for (int k = 0; k < g->n_nodes; k++) {
    if (!in_fn[k]) continue;
    const Node *nd = &g->nodes[k];
    long at = (long)fu->root[k];
    for (int j = 0; j < nd->n_in; j++) {
      NodeId in = nd->in[j];
      if (fu->inlined[in] && fu->root[in] == fu->root[k]) continue; /* a register in the same loop */
      if (p->store[in].kind == STORE_ALIAS) in = p->store[in].alias;
      if (last[in] < at) last[in] = at;
    }
  }
}

/* First fit by offset among the regions still live: O(values x live values). Places the values
 * of train() and infer() together, or with infer_only, measures what infer() alone would need
 * (nnc check reports it) without placing anything. Returns the arena's floats per example. */
static size_t place_batched(Compilation *c, Plan *p, bool infer_only) {
  Graph *g = &c->graph;
  int n = g->n_nodes;
  long *last = arena_alloc(&c->arena, sizeof(long) * (size_t)n);
  for (int i = 0; i < n; i++) last[i] = -2;
  if (!infer_only) note_reads(g, p, p->in_train, &p->fuse_train, last);
  note_reads(g, p, p->in_infer, &p->fuse_infer, last);
  /* infer() returns its output's storage: it must outlive every kernel */
  NodeId out = p->store[g->output].kind == STORE_ALIAS ? p->store[g->output].alias : g->output;
  last[out] = n;

  /* a direct convolution writes the last node of its epilogue (fuse.c's ConvFold) when it runs */
  long *first_write = arena_alloc(&c->arena, sizeof(long) * (size_t)n);
  for (int i = 0; i < n; i++) first_write[i] = i;
  for (int f = infer_only ? 1 : 0; f < 2; f++) {
    const Fusion *fu = f == 0 ? &p->fuse_train : &p->fuse_infer;
    const bool *in_fn = f == 0 ? p->in_train : p->in_infer;
    for (int i = 0; i < n; i++) {
      NodeId last_folded = in_fn[i] && g->nodes[i].op == OP_CONV2D ? fu->fold[i].last : NO_NODE;
      if (last_folded != NO_NODE && first_write[last_folded] > i) first_write[last_folded] = i;
    }
  }

  Item *items = arena_alloc(&c->arena, sizeof(Item) * (size_t)(2 * n + 1));
  int n_items = 0;
  /* in order of the first write: the copied-in input and target, then kernel by kernel */
  for (int pass = 0; pass < 2; pass++)
  for (int i = 0; i < n; i++) {
    Storage *st = &p->store[i];
    bool copied_in = g->nodes[i].op == OP_INPUT || g->nodes[i].op == OP_TARGET;
    if (st->kind != STORE_BATCHED || copied_in != (pass == 0)) continue;
    bool needs_region = (!infer_only && p->in_train[i] && !p->fuse_train.inlined[i]) ||
                        (p->in_infer[i] && !p->fuse_infer.inlined[i]);
    if (!needs_region) continue;
    Op op = g->nodes[i].op;
    long first = op == OP_INPUT || op == OP_TARGET ? -1 : first_write[i];
    size_t size = (size_t)shape_count(g->nodes[i].shape);
    items[n_items++] = (Item){(NodeId)i, false, size, first, last[i] < first ? first : last[i], 0};
  }
  for (int it = 1; it < n_items; it++) { /* stable, by first write: folds move a few items earlier */
    Item x = items[it];
    int k = it;
    for (; k > 0 && items[k - 1].first > x.first; k--) items[k] = items[k - 1];
    items[k] = x;
  }
  /* Dropout masks are kept across calls: the gradient-check hook reuses them (freeze_masks). They
     are placed first and live throughout, so no other value ever shares their region. */
  for (int i = 0; i < n; i++) {
    Op op = g->nodes[i].op;
    if ((op == OP_DROPOUT || op == OP_ALPHA_DROPOUT) && p->store[i].kind == STORE_BATCHED && p->in_train[i] &&
        !infer_only) {
      memmove(items + 1, items, sizeof(Item) * (size_t)n_items);
      items[0] = (Item){(NodeId)i, true, (size_t)shape_count(g->nodes[i].shape), -1, n, 0};
      n_items++;
    }
  }
  int *live = arena_alloc(&c->arena, sizeof(int) * (size_t)(n_items + 1)); /* sorted by offset */
  int n_live = 0;
  size_t arena_size = 0;
  for (int it = 0; it < n_items; it++) {
    Item *x = &items[it];
    int kept = 0; /* drop regions whose last reader ran before x is written */
    for (int k = 0; k < n_live; k++)
      if (items[live[k]].last >= x->first) live[kept++] = live[k];
    n_live = kept;
    size_t at = 0;
    int pos = 0;
    for (; pos < n_live; pos++) {
      const Item *y = &items[live[pos]];
      if (y->offset >= at + x->size) break; /* the gap before y fits */
      if (y->offset + y->size > at) at = y->offset + y->size;
    }
    x->offset = at;
    memmove(live + pos + 1, live + pos, sizeof(int) * (size_t)(n_live - pos));
    live[pos] = it;
    n_live++;
    if (at + x->size > arena_size) arena_size = at + x->size;
    if (infer_only) continue;
    if (x->aux) p->store[x->node].aux = at;
    else p->store[x->node].offset = at;
  }
  return arena_size;
}

void plan_param_offsets(Graph *g, size_t *n_params, size_t *n_buffers) {
  *n_params = *n_buffers = 0;
  for (int i = 0; i < g->n_params; i++) {
    Param *pa = &g->params[i];
    size_t *used = pa->trainable ? n_params : n_buffers;
    pa->offset = *used;
    *used += pa->size;
  }
}

Plan plan_build(Compilation *c, bool double_precision, bool blas) {
  Graph *g = &c->graph;
  int n = g->n_nodes;
  Plan p;
  memset(&p, 0, sizeof p);
  p.store = arena_alloc(&c->arena, sizeof(Storage) * (size_t)n);
  p.in_train = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);
  p.in_infer = arena_alloc(&c->arena, sizeof(bool) * (size_t)n);

  if (g->output != NO_NODE) p.in_infer[g->output] = true;
  mark_inputs(g, p.in_infer);
  /* the forward nodes of training that feed nothing (an unused output) are skipped too */
  if (g->loss != NO_NODE) p.in_train[g->loss] = true;
  for (int i = 0; i < g->n_params; i++)
    if (g->param_grad && g->param_grad[i] != NO_NODE) p.in_train[g->param_grad[i]] = true;
  mark_inputs(g, p.in_train);

  plan_param_offsets(g, &p.n_params, &p.n_buffers);

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
    st->packed = SIZE_MAX;
    st->alias = NO_NODE;
    if (st->kind == STORE_GRAD || (!p.in_train[i] && !p.in_infer[i])) continue;
    size_t count = (size_t)shape_count(nd->shape);
    switch (nd->op) {
    case OP_INPUT:
    case OP_TARGET:
      if (!double_precision) {
        st->kind = STORE_USER;
        continue;
      }
      break;
    case OP_LABEL: st->kind = STORE_USER; continue;
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
      st->kind = STORE_BATCHED; /* placed below */
    } else {
      st->kind = STORE_FIXED;
      st->offset = p.fixed;
      p.fixed += count;
    }
  }
  /* Batch statistics kept from a batchnorm's forward kernel for its backward ones and the running
     statistics' update; for the convolutions, shared by all, one group of examples unfolded
     (im2col) and, for groups of several, their output in the products' layout, or what the direct
     3x3 kernels need (float builds), whichever is more. */
  for (int i = 0; i < n; i++) {
    Node *nd = &g->nodes[i];
    if (nd->op == OP_BATCHNORM && (p.in_train[i] || p.in_infer[i])) {
      p.store[i].stats = p.fixed;
      p.fixed += 5 * (size_t)nd->shape.dim[1];
    }
    if ((nd->op == OP_CONV2D || nd->op == OP_CONV2D_BWD_DATA || nd->op == OP_CONV2D_BWD_WEIGHT) &&
        (p.in_train[i] || p.in_infer[i])) {
      const Node *conv = nd->op == OP_CONV2D ? nd : &g->nodes[nd->attr.fwd];
      size_t group = (size_t)conv2d_group(conv), positions = (size_t)(conv->shape.dim[2] * conv->shape.dim[3]);
      size_t unfolded_rows = (size_t)shape_count(g->nodes[conv->in[1]].shape) / (size_t)conv->shape.dim[1];
      size_t need = group * positions * (unfolded_rows + (group > 1 ? (size_t)conv->shape.dim[1] : 0));
      if (conv2d_is_pointwise(conv)) need = 0;
      if (conv2d_is_3x3_same(conv) && !double_precision) {
        int C = g->nodes[conv->in[0]].shape.dim[1], H = conv->shape.dim[2], W = conv->shape.dim[3], F = conv->shape.dim[1];
        size_t direct = nd->op == OP_CONV2D        ? conv3x3_scratch(C, H, W, F) + 2 * (size_t)F /* batchnorm folded */
                        : nd->op == OP_CONV2D_BWD_DATA ? conv3x3_scratch(F, H, W, C)
                                                       : conv3x3_weight_scratch(C, H, W, F);
        if (direct > need) need = direct;
      } else if (nd->op == OP_CONV2D_BWD_WEIGHT && conv3x3_weight_channels_last(g, conv, double_precision)) {
        const Shape *x = &g->nodes[conv->in[0]].shape; /* stride 2: the input's size, not the output's */
        size_t direct = conv3x3_weight_scratch(x->dim[1], x->dim[2], x->dim[3], conv->shape.dim[1]);
        if (direct > need) need = direct;
      }
      if (need > p.scratch) p.scratch = need;
    }
    /* inference reuses the packed weights until a step or a load changes them */
    if (p.in_infer[i] && !double_precision &&
        ((nd->op == OP_MATMUL && blas && matmul_is_dense_forward(g, nd)) || (nd->op == OP_CONV2D && conv2d_is_3x3_same(nd)))) {
      /* on a cache line (the block is NNRT_ALIGN-aligned): the kernels' loads of a 64-byte row of
         16 weights then never split across two lines */
      p.fixed = (p.fixed + 15) / 16 * 16;
      p.store[i].packed = p.fixed;
      p.fixed += packed_size_of(g, nd) + 1;
    }
  }
  p.fuse_train = fuse_plan(c, &p, p.in_train, g->loss, true, double_precision);
  p.fuse_infer = fuse_plan(c, &p, p.in_infer, g->output, false, double_precision);
  p.batched_per_example = place_batched(c, &p, false);
  p.infer_per_example = place_batched(c, &p, true);
  return p;
}
