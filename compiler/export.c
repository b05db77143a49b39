/* export.c — `nnc export --torch`: the PyTorch twin of a model, as Python source.
 *
 * Works from the lowered forward Graph (blocks inlined, repeats expanded): NAME_torch.py holds an
 * nn.Module whose parameters carry nnc's hierarchical names ('basic.2/conv2d.1/weight' becomes
 * the attribute path basic_2.conv2d_1.weight, and PARAMS maps one to the other), initialised by
 * the same schemes, and a straight-line forward() and loss() with one statement per node; plus the
 * torch.optim optimizer with the same settings and the model's checkpoint identity (name, hash,
 * parameter layout). What every twin shares — checkpoint conversion, nnc's generator, the
 * benchmark — is runtime/nnc_twin.py, written beside it. Numerics follow spec §4's last
 * paragraph: batchnorm's momentum becomes 1 - momentum, rmsprop's rho is torch's alpha.
 * Requires a graph with a loss and an optimizer (compile_front's output); param offsets are set here.
 */
#include <math.h>
#include <string.h>

#include "nnc.h"

typedef struct Export {
  Compilation *c;
  Graph *g;
  FILE *out;
  int *users;        /* per forward node: how many forward nodes read it */
  bool *folded;      /* per node: computed inside its single user's statement (matmul/conv + bias) */
  int *dropout_index;/* per node: its place among the dropout calls, for injected masks */
} Export;

/* "basic.2/conv2d.1/weight" -> "basic_2.conv2d_1.weight": '.' and '/' are not Python identifier
 * characters, and every scope name ends in ".N", so the result never collides or is a keyword. */
static const char *attr_path(Arena *a, const char *name) {
  char *s = arena_strndup(a, name, strlen(name));
  for (char *p = s; *p; p++) *p = *p == '.' ? '_' : *p == '/' ? '.' : *p;
  return s;
}

/* A shape as a Python tuple: "(256, 784)", "(10,)"; per_example drops the batch dimension. */
static const char *py_shape(Arena *a, Shape s, bool per_example) {
  int first = per_example && s.rank > 0 && s.dim[0] == DIM_BATCH ? 1 : 0;
  char *text = arena_printf(a, "(");
  for (int i = first; i < s.rank; i++) text = arena_printf(a, "%s%s%d", text, i > first ? ", " : "", (int)s.dim[i]);
  return arena_printf(a, "%s%s)", text, s.rank - first == 1 ? "," : "");
}

/* The Python expression of a node's value. */
static const char *ref(Export *x, NodeId id) {
  const Node *n = &x->g->nodes[id];
  if (n->op == OP_PARAM || n->op == OP_BUFFER) return arena_printf(&x->c->arena, "self.%s", attr_path(&x->c->arena, n->name));
  return arena_printf(&x->c->arena, "t%u", (unsigned)id);
}

static void emit_init(Export *x) {
  Graph *g = x->g;
  Arena *a = &x->c->arena;
  FILE *o = x->out;
  fprintf(o, "    def __init__(self):\n        super().__init__()\n");
  /* every scope once, parents first: "basic_2", then "basic_2.conv2d_1" */
  size_t n_scopes = 1; /* at most one per '/' of every name */
  for (int i = 0; i < g->n_params; i++)
    for (const char *s = g->params[i].name; *s; s++) n_scopes += *s == '/';
  const char **made = arena_alloc(a, sizeof(char *) * n_scopes);
  int n_made = 0;
  for (int i = 0; i < g->n_params; i++) {
    const char *path = attr_path(a, g->params[i].name);
    for (const char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
      const char *scope = arena_strndup(a, path, (size_t)(dot - path));
      bool seen = false;
      for (int k = 0; k < n_made && !seen; k++) seen = strcmp(made[k], scope) == 0;
      if (seen) continue;
      made[n_made++] = scope;
      fprintf(o, "        self.%s = nn.Module()\n", scope);
    }
    const Param *p = &g->params[i];
    const char *leaf = strrchr(path, '.') + 1;
    const char *owner = arena_strndup(a, path, (size_t)(leaf - 1 - path));
    if (p->trainable)
      fprintf(o, "        self.%s.%s = nn.Parameter(torch.empty%s)\n", owner, leaf, py_shape(a, p->shape, false));
    else
      fprintf(o, "        self.%s.register_buffer(\"%s\", torch.empty%s)\n", owner, leaf, py_shape(a, p->shape, false));
  }
  fprintf(o, "        self.dropout_masks = None  # nnc's masks for the dropout calls, in order (tests)\n");
  fprintf(o, "        self.reset_parameters()\n\n");

  fprintf(o, "    def reset_parameters(self):\n"
             "        \"\"\"The .nn file's initialisers (spec §4), drawn from torch's generator.\"\"\"\n"
             "        with torch.no_grad():\n");
  if (g->n_params == 0) fprintf(o, "            pass\n");
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    const char *t = ref(x, p->node);
    switch (p->init) {
    case INIT_ZEROS: fprintf(o, "            nn.init.zeros_(%s)\n", t); break;
    case INIT_ONES: fprintf(o, "            nn.init.ones_(%s)\n", t); break;
    case INIT_GLOROT_UNIFORM:
      fprintf(o, "            nn.init.uniform_(%s, -%.17g, %.17g)  # glorot_uniform: sqrt(6 / (%d + %d))\n", t,
              sqrt(6.0 / (p->fan_in + p->fan_out)), sqrt(6.0 / (p->fan_in + p->fan_out)), p->fan_in, p->fan_out);
      break;
    case INIT_LECUN_NORMAL:
      fprintf(o, "            nn.init.normal_(%s, 0.0, %.17g)  # lecun_normal: sqrt(1 / %d)\n", t, sqrt(1.0 / p->fan_in),
              p->fan_in);
      break;
    case INIT_HE_NORMAL:
      fprintf(o, "            nn.init.normal_(%s, 0.0, %.17g)  # he_normal: sqrt(2 / %d)\n", t, sqrt(2.0 / p->fan_in),
              p->fan_in);
      break;
    case INIT_NORMAL: fprintf(o, "            nn.init.normal_(%s, 0.0, %.17g)\n", t, p->init_std); break;
    }
  }
  fprintf(o, "\n");
}

/* One statement for node id (nothing for leaves and folded nodes). */
static void emit_node(Export *x, NodeId id) {
  const Node *n = &x->g->nodes[id];
  FILE *o = x->out;
  Arena *ar = &x->c->arena;
  if (x->folded[id]) return;
  const char *a = n->n_in > 0 ? ref(x, n->in[0]) : NULL, *b = n->n_in > 1 ? ref(x, n->in[1]) : NULL;
  const char *y = ref(x, id);
  const char *layer = n->layer >= 0 ? x->g->layers[n->layer].name : NULL;
  switch (n->op) {
  case OP_INPUT: fprintf(o, "        %s = x\n", y); return;
  case OP_LABEL: case OP_TARGET: fprintf(o, "        %s = y\n", y); return;
  case OP_PARAM: case OP_BUFFER: return;
  default: break;
  }
  fprintf(o, "        %s = ", y);
  switch (n->op) {
  case OP_MATMUL:
    if (n->attr.trans_b && !n->attr.trans_a) fprintf(o, "F.linear(%s, %s)", a, b);
    else fprintf(o, "torch.matmul(%s%s, %s%s)", a, n->attr.trans_a ? ".t()" : "", b, n->attr.trans_b ? ".t()" : "");
    break;
  case OP_CONV2D:
    fprintf(o, "F.conv2d(%s, %s, None, %d, %d)", a, b, n->attr.stride, n->attr.pad);
    break;
  case OP_BIAS_ADD: {
    const Node *in = &x->g->nodes[n->in[0]];
    if (x->folded[n->in[0]] && in->op == OP_MATMUL)
      fprintf(o, "F.linear(%s, %s, %s)", ref(x, in->in[0]), ref(x, in->in[1]), b);
    else if (x->folded[n->in[0]])
      fprintf(o, "F.conv2d(%s, %s, %s, %d, %d)", ref(x, in->in[0]), ref(x, in->in[1]), b, in->attr.stride, in->attr.pad);
    else if (n->shape.rank == 2) fprintf(o, "%s + %s", a, b);
    else fprintf(o, "%s + %s.view(1, -1%s)", a, b, n->shape.rank == 4 ? ", 1, 1" : ", 1");
    break;
  }
  case OP_ADD: fprintf(o, "%s + %s", a, b); break;
  case OP_SUB: fprintf(o, "%s - %s", a, b); break;
  case OP_MUL: fprintf(o, "%s * %s", a, b); break;
  case OP_SCALE: fprintf(o, "%.17g * %s", n->attr.scale, a); break;
  case OP_RELU: fprintf(o, "F.relu(%s)", a); break;
  case OP_SELU: fprintf(o, "F.selu(%s)", a); break;
  case OP_ELU: fprintf(o, "F.elu(%s, %.17g)", a, n->attr.alpha); break;
  case OP_LEAKY_RELU: fprintf(o, "F.leaky_relu(%s, %.17g)", a, n->attr.alpha); break;
  case OP_SIGMOID: fprintf(o, "torch.sigmoid(%s)", a); break;
  case OP_TANH: fprintf(o, "torch.tanh(%s)", a); break;
  case OP_SOFTMAX: fprintf(o, "torch.softmax(%s, 1)", a); break;
  case OP_DROPOUT: case OP_ALPHA_DROPOUT:
    fprintf(o, "nnc_twin.dropout(%s, %.17g, self.training, self.dropout_masks, %d, %s)", a, n->attr.alpha,
            x->dropout_index[id], n->op == OP_ALPHA_DROPOUT ? "True" : "False");
    break;
  case OP_RESHAPE: fprintf(o, "%s.reshape(%s.shape[0], *%s)", a, a, py_shape(ar, n->shape, true)); break;
  case OP_BATCHNORM:
    /* nnc: running = momentum * running + (1 - momentum) * batch, as torch with 1 - momentum */
    fprintf(o, "F.batch_norm(%s, %s, %s, %s, %s, self.training, %.17g, %.17g)", a, ref(x, n->in[3]), ref(x, n->in[4]),
            b, ref(x, n->in[2]), 1 - n->attr.momentum, n->attr.eps);
    break;
  case OP_MAX_POOL: fprintf(o, "F.max_pool2d(%s, %d, %d)", a, n->attr.kernel, n->attr.stride); break;
  case OP_AVG_POOL: fprintf(o, "F.avg_pool2d(%s, %d, %d)", a, n->attr.kernel, n->attr.stride); break;
  case OP_GLOBAL_AVG_POOL: fprintf(o, "%s.mean((2, 3))", a); break;
  case OP_SOFTMAX_XENT: fprintf(o, "F.cross_entropy(%s, %s.long())", a, b); break;
  case OP_MSE: fprintf(o, "F.mse_loss(%s, %s)", a, b); break;
  case OP_BCE_LOGITS: fprintf(o, "F.binary_cross_entropy_with_logits(%s, %s)", a, b); break;
  default: nn_die("export: %s is not a forward op", op_name(n->op));
  }
  if (layer) fprintf(o, "  # %s", layer);
  fprintf(o, "\n");
}

/* A method computing `result` from x (and y): the nodes it needs, in graph order. */
static void emit_method(Export *x, const char *signature, const char *doc, NodeId result) {
  Graph *g = x->g;
  bool *need = arena_alloc(&x->c->arena, sizeof(bool) * (size_t)g->n_forward);
  need[result] = true;
  for (int i = (int)result; i >= 0; i--)
    if (need[i])
      for (int k = 0; k < g->nodes[i].n_in; k++) need[g->nodes[i].in[k]] = true;
  fprintf(x->out, "    def %s:\n        \"\"\"%s\"\"\"\n", signature, doc);
  for (int i = 0; i < g->n_forward; i++)
    if (need[i]) emit_node(x, (NodeId)i);
  fprintf(x->out, "        return %s\n\n", ref(x, result));
}

static void emit_optimizer(Export *x) {
  const Optimizer *o = &x->g->opt;
  FILE *out = x->out;
  switch (o->kind) {
  case OPT_SGD:
    fprintf(out, "OPTIMIZER = {\"kind\": \"sgd\", \"lr\": %.17g, \"momentum\": %.17g, \"nesterov\": %s, \"weight_decay\": %.17g}\n",
            o->lr, o->momentum, o->nesterov ? "True" : "False", o->weight_decay);
    fprintf(out, "\ndef make_optimizer(model):\n    \"\"\"torch.optim with the .nn file's settings.\"\"\"\n"
                 "    return torch.optim.SGD(model.parameters(), lr=%.17g, momentum=%.17g, nesterov=%s, weight_decay=%.17g)\n",
            o->lr, o->momentum, o->nesterov ? "True" : "False", o->weight_decay);
    break;
  case OPT_RMSPROP:
    fprintf(out, "OPTIMIZER = {\"kind\": \"rmsprop\", \"lr\": %.17g, \"rho\": %.17g, \"eps\": %.17g, \"weight_decay\": %.17g}\n",
            o->lr, o->rho, o->eps, o->weight_decay);
    fprintf(out, "\ndef make_optimizer(model):\n    \"\"\"torch.optim with the .nn file's settings (nnc's rho is torch's alpha).\"\"\"\n"
                 "    return torch.optim.RMSprop(model.parameters(), lr=%.17g, alpha=%.17g, eps=%.17g, weight_decay=%.17g)\n",
            o->lr, o->rho, o->eps, o->weight_decay);
    break;
  case OPT_ADAM:
    fprintf(out, "OPTIMIZER = {\"kind\": \"adam\", \"lr\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, "
                 "\"weight_decay\": %.17g}\n",
            o->lr, o->beta1, o->beta2, o->eps, o->weight_decay);
    fprintf(out, "\ndef make_optimizer(model):\n    \"\"\"torch.optim with the .nn file's settings.\"\"\"\n"
                 "    return torch.optim.Adam(model.parameters(), lr=%.17g, betas=(%.17g, %.17g), eps=%.17g, weight_decay=%.17g)\n",
            o->lr, o->beta1, o->beta2, o->eps, o->weight_decay);
    break;
  }
}

void export_torch(Compilation *c, const char *source_name, FILE *out) {
  Graph *g = &c->graph;
  Arena *a = &c->arena;
  Export x = {c, g, out, NULL, NULL, NULL};
  size_t n_values[2];
  plan_param_offsets(g, &n_values[0], &n_values[1]);
  x.users = arena_alloc(a, sizeof(int) * (size_t)g->n_forward);
  x.folded = arena_alloc(a, sizeof(bool) * (size_t)g->n_forward);
  x.dropout_index = arena_alloc(a, sizeof(int) * (size_t)g->n_forward);
  int n_dropout = 0;
  for (int i = 0; i < g->n_forward; i++) {
    for (int k = 0; k < g->nodes[i].n_in; k++) x.users[g->nodes[i].in[k]]++;
    if (g->nodes[i].op == OP_DROPOUT || g->nodes[i].op == OP_ALPHA_DROPOUT) x.dropout_index[i] = n_dropout++;
  }
  /* dense and conv2d: the product and its bias in one call (torch's addmm / fused conv bias) */
  for (int i = 0; i < g->n_forward; i++) {
    const Node *n = &g->nodes[i];
    if (n->op != OP_BIAS_ADD) continue;
    const Node *in = &g->nodes[n->in[0]];
    bool linear = in->op == OP_MATMUL && in->attr.trans_b && !in->attr.trans_a && n->shape.rank == 2;
    if ((linear || in->op == OP_CONV2D) && x.users[n->in[0]] == 1 && n->in[0] != g->output) x.folded[n->in[0]] = true;
  }
  const char *N = g->model_name;
  bool label = g->label != NO_NODE;
  fprintf(out,
          "#!/usr/bin/python3\n"
          "\"\"\"%s_torch.py — the PyTorch twin of %s, written by nnc %s (nnc export --torch); do not edit.\n"
          "\n"
          "Model is an nn.Module with nnc's layers, in nnc's order: one statement per node of nnc's lowered\n"
          "graph (blocks inlined, repeats expanded), parameters named after nnc's hierarchical names (PARAMS\n"
          "maps each to its state_dict key), the same initialisers, loss (Model.loss) and optimizer\n"
          "(make_optimizer). load_checkpoint / save_checkpoint convert between an nnc checkpoint and the\n"
          "state_dict (and torch.optim's state). `python3 %s_torch.py bench [...]` times it (nnc_twin.bench).\n"
          "Needs PyTorch (Debian's python3-torch, 1.13) and nnc_twin.py, written beside this file.\n"
          "\"\"\"\n"
          "import os\nimport sys\nimport types\n\n"
          "if __name__ == \"__main__\" and \"--threads\" in sys.argv[:-1]:\n"
          "    # Debian's torch multiplies matrices in OpenBLAS, which reads this once, when it loads\n"
          "    os.environ[\"OPENBLAS_NUM_THREADS\"] = sys.argv[sys.argv.index(\"--threads\") + 1]\n\n"
          "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
          "import torch  # noqa: E402\nimport torch.nn.functional as F  # noqa: E402\nfrom torch import nn  # noqa: E402\n\n"
          "import nnc_twin  # noqa: E402\n\n"
          "NAME = \"%s\"\n"
          "HASH = 0x%016llx  # nnc's structure hash (a checkpoint of a --double build has HASH ^ nnc_twin.DOUBLE_HASH_FLIP)\n"
          "INPUT_SHAPE = %s\n"
          "N_CLASSES = %d  # 0: a model with a target\n"
          "TARGET_SHAPE = %s\n"
          "OUTPUT_SHAPE = %s\n",
          N, source_name, NNC_VERSION, N, N, (unsigned long long)model_hash(g), py_shape(a, g->nodes[g->input].shape, true),
          label ? g->n_classes : 0, label ? "None" : py_shape(a, g->nodes[g->target].shape, true),
          py_shape(a, g->nodes[g->output].shape, true));
  fprintf(out, "# nnc's hierarchical name: (state_dict key, checkpoint block, shape), in creation order\nPARAMS = {\n");
  for (int i = 0; i < g->n_params; i++) {
    const Param *p = &g->params[i];
    fprintf(out, "    \"%s\": (\"%s\", \"%s\", %s),\n", p->name, attr_path(a, p->name), p->trainable ? "params" : "buffers",
            py_shape(a, p->shape, false));
  }
  fprintf(out, "}\nNNC_NAMES = {name: key for name, (key, _, _) in PARAMS.items()}\n");
  emit_optimizer(&x);
  fprintf(out, "\n\nclass Model(nn.Module):\n"
               "    \"\"\"%s as a torch module: train() / eval() switch dropout and batchnorm as nnc's\n"
               "    train_step / forward do.\"\"\"\n\n", N);
  emit_init(&x);
  emit_method(&x, "forward(self, x)", "The output (nnc's NAME_forward in eval mode).", g->output);
  emit_method(&x, "loss(self, x, y)", "The mean loss over the batch (what nnc's NAME_train_step minimises).", g->loss);
  fprintf(out,
          "\ndef _this():\n    \"\"\"This module's description for nnc_twin (also when it is loaded under another name).\"\"\"\n"
          "    return types.SimpleNamespace(**globals())\n\n\n"
          "def load_checkpoint(model, path, optimizer=None):\n"
          "    \"\"\"An nnc checkpoint into model (and optimizer); see nnc_twin.load_checkpoint.\"\"\"\n"
          "    return nnc_twin.load_checkpoint(_this(), model, path, optimizer)\n\n\n"
          "def save_checkpoint(model, path, optimizer=None, **kwargs):\n"
          "    \"\"\"model (and optimizer) as an nnc checkpoint that %s_load accepts; see nnc_twin.save_checkpoint.\"\"\"\n"
          "    nnc_twin.save_checkpoint(_this(), model, path, optimizer, **kwargs)\n\n\n"
          "if __name__ == \"__main__\":\n"
          "    sys.exit(nnc_twin.main(_this(), sys.argv[1:]))\n",
          N);
}
