/* lint.c — warnings about networks that will not train well although they compile: the conditions
 * of self-normalizing networks (Klambauer et al., 2017) and of deep plain ReLU stacks (He et al.,
 * 2015). Runs on the forward graph after lowering (compile_front); each warning points at the call
 * to change, with diag.c's location and caret, and -Werror (Diag.werror) makes them errors.
 *
 *   selu fed by a dense or conv2d whose weights are not lecun_normal
 *   dropout (not alpha_dropout) in a network with selu
 *   batchnorm right before or after selu
 *   more than LINT_MAX_PLAIN_RELU ReLU layers in a row with no skip connection (a sum of two paths)
 */
#include "nnc.h"

#define LINT_MAX_PLAIN_RELU 20

/* The weight parameter of the dense or conv2d whose output node is (through its bias_add), with
 * *layer_node its matmul or conv2d node; NULL for any other node. */
static const Param *weight_of(const Graph *g, NodeId node, NodeId *layer_node) {
  const Node *n = &g->nodes[node];
  if (n->op == OP_BIAS_ADD) n = &g->nodes[n->in[0]];
  if (n->op != OP_MATMUL && n->op != OP_CONV2D) return NULL;
  const Node *w = &g->nodes[n->in[1]];
  if (w->op != OP_PARAM || w->attr.param < 0) return NULL;
  *layer_node = (NodeId)(n - g->nodes);
  return &g->params[w->attr.param];
}

static const char *init_name(InitKind k) {
  switch (k) {
  case INIT_GLOROT_UNIFORM: return "glorot_uniform";
  case INIT_LECUN_NORMAL: return "lecun_normal";
  case INIT_HE_NORMAL: return "he_normal";
  case INIT_ZEROS: return "zeros";
  case INIT_ONES: return "ones";
  case INIT_NORMAL: return "normal";
  }
  return "?";
}

static const char *layer_name(const Graph *g, NodeId id) {
  int l = g->nodes[id].layer;
  return l >= 0 ? g->layers[l].name : op_name(g->nodes[id].op);
}

static SrcLoc layer_loc(const Graph *g, NodeId id) {
  int l = g->nodes[id].layer;
  return l >= 0 ? g->layers[l].loc : g->nodes[id].loc;
}

void lint_graph(Compilation *c) {
  Graph *g = &c->graph;
  Diag *d = &c->diag;
  int n = g->n_forward ? g->n_forward : g->n_nodes;
  bool any_selu = false;
  for (int i = 0; i < n; i++) any_selu |= g->nodes[i].op == OP_SELU;

  int *plain = arena_alloc(&c->arena, sizeof(int) * (size_t)(n > 0 ? n : 1)); /* ReLUs since the last skip */
  bool deep_reported = false;
  for (int i = 0; i < n; i++) {
    const Node *nd = &g->nodes[i];
    /* ReLUs in a row on the deepest path since the last sum of two paths (a skip connection) */
    int deepest = 0;
    for (int k = 0; k < nd->n_in; k++)
      if (plain[nd->in[k]] > deepest) deepest = plain[nd->in[k]];
    plain[i] = nd->op == OP_RELU ? deepest + 1 : (nd->op == OP_ADD || nd->op == OP_SUB) ? 0 : deepest;
    if (nd->op == OP_RELU && plain[i] > LINT_MAX_PLAIN_RELU && !deep_reported) {
      deep_reported = true;
      diag_warning(d, layer_loc(g, (NodeId)i),
                   "%s is ReLU layer %d of a plain stack (no skip connection since the input or the last one): "
                   "plain ReLU networks this deep train poorly; add residual connections (relu(f(h) + h)) "
                   "or use selu with init=lecun_normal",
                   layer_name(g, (NodeId)i), plain[i]);
    }

    if (nd->op == OP_SELU) {
      NodeId layer_node;
      const Param *w = weight_of(g, nd->in[0], &layer_node);
      if (w && w->init != INIT_LECUN_NORMAL)
        diag_warning(d, layer_loc(g, layer_node),
                     "%s feeds selu but draws its weights with %s%s; selu keeps mean 0 and variance 1 only "
                     "with init=lecun_normal",
                     layer_name(g, layer_node), init_name(w->init),
                     w->init == INIT_GLOROT_UNIFORM ? " (the default)" : "");
      const Node *in = &g->nodes[nd->in[0]];
      if (in->op == OP_BATCHNORM)
        diag_warning(d, layer_loc(g, nd->in[0]),
                     "batchnorm feeding selu: a self-normalizing network needs no batchnorm, and its batch "
                     "statistics work against selu's fixed point; drop it (or use relu)");
    }
    if (nd->op == OP_BATCHNORM && g->nodes[nd->in[0]].op == OP_SELU)
      diag_warning(d, layer_loc(g, (NodeId)i),
                   "batchnorm after selu: a self-normalizing network needs no batchnorm, and its batch "
                   "statistics work against selu's fixed point; drop it (or use relu)");
    if (nd->op == OP_DROPOUT && any_selu)
      diag_warning(d, layer_loc(g, (NodeId)i),
                   "dropout in a network with selu shifts the mean and variance selu keeps at 0 and 1; "
                   "use alpha_dropout");
  }
}
