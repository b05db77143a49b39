/* shape.c — FLOP counts and the `nnc check` summary table.
 *
 * Shapes themselves are checked where nodes are made (builtin.c); this file owns what is derived
 * from them. FLOPs per example follow one convention: a multiply-add counts 2 (matmul, conv2d),
 * every other element-wise operation 1 per output element, softmax 3, batchnorm 2 (its inference
 * form), a pooling window k*k per output. Reshapes and leaves are free.
 */
#include <string.h>

#include "nnc.h"

double node_flops(const Graph *g, const Node *n) {
  double out = (double)shape_count(n->shape);
  switch (n->op) {
  case OP_MATMUL: {
    const Node *x = &g->nodes[n->in[0]];
    double k = (double)shape_count(x->shape);
    return 2 * k * out;
  }
  case OP_CONV2D: {
    const Node *w = &g->nodes[n->in[1]];
    double per_output = (double)w->shape.dim[1] * w->shape.dim[2] * w->shape.dim[3];
    return 2 * per_output * out;
  }
  case OP_BIAS_ADD: case OP_ADD: case OP_SUB: case OP_MUL: case OP_SCALE:
  case OP_RELU: case OP_SELU: case OP_ELU: case OP_LEAKY_RELU: case OP_SIGMOID: case OP_TANH:
  case OP_DROPOUT: case OP_ALPHA_DROPOUT:
    return out;
  case OP_SOFTMAX: return 3 * out;
  case OP_BATCHNORM: return 2 * out;
  case OP_MAX_POOL: case OP_AVG_POOL: return (double)n->attr.kernel * n->attr.kernel * out;
  case OP_GLOBAL_AVG_POOL: return (double)shape_count(g->nodes[n->in[0]].shape);
  default: return 0;
  }
}

/* 1234567 → "1,234,567" */
static const char *grouped(char *buf, size_t size, long long v) {
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%lld", v < 0 ? -v : v);
  size_t len = strlen(tmp), o = 0;
  if (v < 0 && o < size - 1) buf[o++] = '-';
  for (size_t i = 0; i < len && o < size - 1; i++) {
    if (i && (len - i) % 3 == 0 && o < size - 1) buf[o++] = ',';
    buf[o++] = tmp[i];
  }
  buf[o] = 0;
  return buf;
}

static const char *scaled(char *buf, size_t size, double v, const char *unit) {
  if (v >= 1e9) snprintf(buf, size, "%.2f G%s", v / 1e9, unit);
  else if (v >= 1e6) snprintf(buf, size, "%.2f M%s", v / 1e6, unit);
  else if (v >= 1e3) snprintf(buf, size, "%.2f k%s", v / 1e3, unit);
  else snprintf(buf, size, "%.0f %s", v, unit);
  return buf;
}

static void per_example_shape(Arena *a, Shape s, char *buf, size_t size) {
  Shape e = s;
  if (e.rank > 0 && e.dim[0] == DIM_BATCH) {
    memmove(e.dim, e.dim + 1, sizeof(e.dim[0]) * (size_t)(e.rank - 1));
    e.rank--;
  }
  snprintf(buf, size, "%s", shape_str(a, e));
}

void summary_print(const Graph *g, FILE *out) {
  Arena scratch = {0};
  int name_w = 5, op_w = 2, shape_w = 6;
  char buf[64], buf2[64], buf3[64];
  for (int i = 0; i < g->n_layers; i++) {
    const Layer *l = &g->layers[i];
    int nl = (int)strlen(l->name), ol = (int)strlen(l->op);
    if (nl > name_w) name_w = nl;
    if (ol > op_w) op_w = ol;
    per_example_shape(&scratch, g->nodes[l->out].shape, buf, sizeof buf);
    if ((int)strlen(buf) > shape_w) shape_w = (int)strlen(buf);
  }
  if (name_w > 60) name_w = 60;
  const Node *in = g->input != NO_NODE ? &g->nodes[g->input] : NULL;
  fprintf(out, "model %s", g->model_name);
  if (in) {
    per_example_shape(&scratch, in->shape, buf, sizeof buf);
    fprintf(out, ": input %s", buf);
  }
  if (g->label != NO_NODE) fprintf(out, ", label class[%d]", g->n_classes);
  if (g->target != NO_NODE) {
    per_example_shape(&scratch, g->nodes[g->target].shape, buf, sizeof buf);
    fprintf(out, ", target %s", buf);
  }
  fputs("\n\n", out);
  fprintf(out, "%-*s  %-*s  %-*s  %12s  %14s\n", name_w, "layer", op_w, "op", shape_w, "output", "params", "FLOPs");
  long long total_params = 0, total_buffers = 0;
  double total_flops = 0;
  for (int i = 0; i < g->n_layers; i++) {
    const Layer *l = &g->layers[i];
    per_example_shape(&scratch, g->nodes[l->out].shape, buf, sizeof buf);
    fprintf(out, "%-*s  %-*s  %-*s  %12s  %14s\n", name_w, l->name, op_w, l->op, shape_w, buf, grouped(buf2, sizeof buf2, l->n_params),
            grouped(buf3, sizeof buf3, (long long)l->flops));
    total_flops += l->flops;
  }
  for (int i = 0; i < g->n_params; i++) {
    if (g->params[i].trainable) total_params += (long long)g->params[i].size;
    else total_buffers += (long long)g->params[i].size;
  }
  fputc('\n', out);
  fprintf(out, "total: %d layers, %s parameters (%s)", g->n_layers, grouped(buf, sizeof buf, total_params),
          scaled(buf2, sizeof buf2, (double)total_params * 4, "B"));
  if (total_buffers) fprintf(out, " + %s buffer values", grouped(buf3, sizeof buf3, total_buffers));
  fprintf(out, ", %s per example (forward)\n", scaled(buf3, sizeof buf3, total_flops, "FLOP"));
  if (g->loss != NO_NODE) {
    const Optimizer *o = &g->opt;
    fprintf(out, "loss: %s; optimizer: ", op_name(g->nodes[g->loss].op));
    if (o->kind == OPT_SGD)
      fprintf(out, "sgd(lr=%g, momentum=%g, nesterov=%s, weight_decay=%g)\n", o->lr, o->momentum,
              o->nesterov ? "true" : "false", o->weight_decay);
    else if (o->kind == OPT_RMSPROP)
      fprintf(out, "rmsprop(lr=%g, rho=%g, eps=%g, weight_decay=%g)\n", o->lr, o->rho, o->eps, o->weight_decay);
    else
      fprintf(out, "adam(lr=%g, beta1=%g, beta2=%g, eps=%g, weight_decay=%g)\n", o->lr, o->beta1, o->beta2, o->eps,
              o->weight_decay);
  }
  arena_free(&scratch);
}

void summary_print_memory(const Graph *g, const Plan *p, FILE *out) {
  char a[32], b[32], c[32], d[32];
  long long optimizer_copies = g->opt.kind == OPT_ADAM ? 2 : g->opt.kind == OPT_SGD && g->opt.momentum == 0 ? 0 : 1;
  fprintf(out, "memory: activations %s floats (%s) per example in training, %s (%s) in inference\n",
          grouped(a, sizeof a, (long long)p->batched_per_example), scaled(b, sizeof b, 4.0 * (double)p->batched_per_example, "B"),
          grouped(c, sizeof c, (long long)p->infer_per_example), scaled(d, sizeof d, 4.0 * (double)p->infer_per_example, "B"));
  double fixed = 4.0 * ((double)p->n_params * (2 + (double)optimizer_copies) + (double)p->n_buffers + (double)p->fixed +
                        (double)p->scratch);
  fprintf(out, "        parameters, gradients, optimizer state, buffers and scratch: %s, whatever the batch\n",
          scaled(a, sizeof a, fixed, "B"));
}
