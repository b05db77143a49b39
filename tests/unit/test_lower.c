/* test_lower.c — lowering (lower.c, builtin.c): the forward graph a model becomes.
 *
 * Parameter names and counts of the spec's models, repeat expansion, rebinding, blocks with
 * integer parameters and nested scopes, constant arithmetic, and the limits that keep every input
 * finite. Models are small inline strings; the spec's own models are read from models/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/resource.h>
#include <time.h>

#include "front_util.h"

#define HEAD "model m\ninput x : [8]\nlabel y : class[3]\n"
#define TAIL "loss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=0.1)\n"

/* Compiles src and asserts that it succeeds without errors or warnings. */
static void compiles(Front *f, const char *src) {
  front_run(f, src);
  if (!f->ok || f->c.diag.n_warnings) fprintf(stderr, "unexpected diagnostics:\n%s", f->diag);
  assert_true(f->ok);
  assert_int_equal(f->c.diag.n_errors, 0);
  assert_int_equal(f->c.diag.n_warnings, 0);
}

static void compile_file(Front *f, const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", NNC_REPO_DIR, rel);
  size_t len = 0;
  char *src = front_read_file(path, &len);
  assert_non_null(src);
  front_run_n(f, rel, src, len);
  free(src);
  if (!f->ok) fprintf(stderr, "%s", f->diag);
  assert_true(f->ok);
}

static const Param *param_named(const Graph *g, const char *name) {
  for (int i = 0; i < g->n_params; i++)
    if (strcmp(g->params[i].name, name) == 0) return &g->params[i];
  return NULL;
}

static int count_layers(const Graph *g, const char *op) {
  int n = 0;
  for (int i = 0; i < g->n_layers; i++) n += strcmp(g->layers[i].op, op) == 0;
  return n;
}

static int count_nodes(const Graph *g, Op op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].op == op;
  return n;
}

static long long total_params(const Graph *g, bool trainable) {
  long long n = 0;
  for (int i = 0; i < g->n_params; i++)
    if (g->params[i].trainable == trainable) n += (long long)g->params[i].size;
  return n;
}

static void assert_shape(Shape s, int rank, int d0, int d1, int d2, int d3) {
  int32_t want[4] = {d0, d1, d2, d3};
  assert_int_equal(s.rank, rank);
  for (int i = 0; i < rank && i < 4; i++) assert_int_equal(s.dim[i], want[i]);
}

static void test_fashion_snn(void **state) {
  (void)state;
  Front f;
  compile_file(&f, "models/fashion_snn.nn");
  const Graph *g = &f.c.graph;
  assert_string_equal(g->model_name, "fashion_snn");
  assert_int_equal(count_layers(g, "dense"), 9);
  assert_int_equal(count_layers(g, "selu"), 8);
  assert_int_equal(g->n_params, 18);
  assert_int_equal(total_params(g, true), 664074);
  assert_int_equal(total_params(g, false), 0);
  const Param *w1 = param_named(g, "dense.1/weight");
  assert_non_null(w1);
  assert_shape(w1->shape, 2, 256, 784, 0, 0);
  assert_int_equal(w1->init, INIT_LECUN_NORMAL);
  assert_int_equal(w1->fan_in, 784);
  const Param *w9 = param_named(g, "dense.9/weight");
  assert_non_null(w9);
  assert_shape(w9->shape, 2, 10, 256, 0, 0);
  assert_int_equal(w9->init, INIT_GLOROT_UNIFORM); /* the default */
  assert_int_equal(param_named(g, "dense.9/bias")->init, INIT_ZEROS);
  assert_int_equal(g->n_classes, 10);
  assert_int_equal(g->opt.kind, OPT_SGD);
  assert_true(g->opt.lr == 0.01 && g->opt.momentum == 0.9);
  /* The output defaults to the loss's first argument: the logits. */
  assert_int_equal(g->output, g->nodes[g->loss].in[0]);
  assert_int_equal(g->nodes[g->output].layer, g->n_layers - 1);
  front_free(&f);
}

static void test_resnet20_names(void **state) {
  (void)state;
  Front f;
  compile_file(&f, "models/resnet20.nn");
  const Graph *g = &f.c.graph;
  /* 21 convolutions (weight, bias), 21 batchnorms (weight, bias, running mean and variance), 1 dense. */
  assert_int_equal(count_layers(g, "conv2d"), 21);
  assert_int_equal(count_layers(g, "batchnorm"), 21);
  assert_int_equal(count_layers(g, "add"), 9);
  assert_int_equal(g->n_params, 21 * 2 + 21 * 4 + 2);
  assert_int_equal(total_params(g, true), 272970);
  assert_int_equal(total_params(g, false), 1568);
  static const char *names[] = {
      "conv2d.1/weight", "batchnorm.1/running_var", "basic.1/conv2d.1/weight", "basic.2/conv2d.1/weight",
      "basic.3/batchnorm.2/bias", "down.1/conv2d.1/weight", "down.1/conv2d.3/weight", "down.1/batchnorm.3/running_mean",
      "basic.4/conv2d.2/bias", "basic.5/conv2d.1/weight", "down.2/conv2d.3/bias", "basic.7/batchnorm.2/running_var",
      "dense.1/weight", "dense.1/bias"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!param_named(g, names[i])) fprintf(stderr, "no parameter %s\n", names[i]);
    assert_non_null(param_named(g, names[i]));
  }
  assert_null(param_named(g, "basic.8/conv2d.1/weight"));
  assert_null(param_named(g, "down.3/conv2d.1/weight"));
  assert_shape(param_named(g, "down.2/conv2d.3/weight")->shape, 4, 64, 32, 1, 1);
  assert_false(param_named(g, "basic.7/batchnorm.2/running_var")->trainable);
  /* Every parameter's node names it, and names are unique. */
  for (int i = 0; i < g->n_params; i++) {
    assert_string_equal(g->nodes[g->params[i].node].name, g->params[i].name);
    for (int k = 0; k < i; k++) assert_string_not_equal(g->params[k].name, g->params[i].name);
  }
  front_free(&f);
}

static void test_rebinding(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "h = x\nh = relu(h)\nh = relu(h)\nh = tanh(h)\n" TAIL);
  const Graph *g = &f.c.graph;
  /* Each assignment is a new node, fed by the previous binding. */
  NodeId relu1 = NO_NODE, relu2 = NO_NODE, tanh1 = NO_NODE;
  for (int i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].op == OP_RELU && relu1 == NO_NODE) relu1 = (NodeId)i;
    else if (g->nodes[i].op == OP_RELU) relu2 = (NodeId)i;
    if (g->nodes[i].op == OP_TANH) tanh1 = (NodeId)i;
  }
  assert_int_equal(g->nodes[relu1].in[0], g->input);
  assert_int_equal(g->nodes[relu2].in[0], relu1);
  assert_int_equal(g->nodes[tanh1].in[0], relu2);
  assert_string_equal(g->layers[g->nodes[relu2].layer].name, "relu.2");
  front_free(&f);
}

static void test_repeat_counts(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "const n = 3\nh = x\nrepeat n * 2 - 1 { h = relu(h) }\n" TAIL);
  assert_int_equal(count_layers(&f.c.graph, "relu"), 5);
  front_free(&f);
  compiles(&f, HEAD "h = x\nrepeat 2 { repeat 3 { h = relu(h) }\n h = tanh(h) }\n" TAIL);
  assert_int_equal(count_layers(&f.c.graph, "relu"), 6);
  assert_int_equal(count_layers(&f.c.graph, "tanh"), 2);
  /* A layer in a repeat makes its own parameters on each pass. */
  front_free(&f);
  compiles(&f, HEAD "h = x\nrepeat 4 { h = dense(h, 8) }\n" TAIL);
  assert_int_equal(count_layers(&f.c.graph, "dense"), 5);
  assert_non_null(param_named(&f.c.graph, "dense.4/weight"));
  assert_int_equal(f.c.graph.n_params, 10);
  front_free(&f);
}

static void test_repeat_zero(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "h = x\nrepeat 0 { h = dense(h, 1000) }\nrepeat 3 - 3 { h = relu(h) }\n" TAIL);
  const Graph *g = &f.c.graph;
  assert_int_equal(count_layers(g, "relu"), 0);
  assert_int_equal(count_layers(g, "dense"), 1); /* the one in the loss */
  assert_int_equal(g->nodes[param_named(g, "dense.1/weight")->node].shape.dim[1], 8);
  front_free(&f);
}

static void test_block_integer_params(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "block wide(v, c) {\n  return relu(dense(v, c * 2 + 1))\n}\nh = wide(x, 4)\nh = wide(h, 2)\n" TAIL);
  const Graph *g = &f.c.graph;
  assert_shape(param_named(g, "wide.1/dense.1/weight")->shape, 2, 9, 8, 0, 0);
  assert_shape(param_named(g, "wide.2/dense.1/weight")->shape, 2, 5, 9, 0, 0);
  assert_int_equal(count_layers(g, "relu"), 2);
  assert_string_equal(g->layers[0].name, "wide.1/dense.1");
  assert_string_equal(g->layers[1].name, "wide.1/relu.1");
  front_free(&f);
}

static void test_nested_block_names(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD
           "block inner(v) { return dense(v, 8) }\n"
           "block outer(v) {\n  h = inner(v)\n  h = inner(h)\n  return batchnorm(h)\n}\n"
           "h = outer(x)\nrepeat 2 { h = outer(h) }\n" TAIL);
  const Graph *g = &f.c.graph;
  assert_non_null(param_named(g, "outer.1/inner.1/dense.1/weight"));
  assert_non_null(param_named(g, "outer.1/inner.2/dense.1/bias"));
  assert_non_null(param_named(g, "outer.3/inner.2/dense.1/weight"));
  assert_non_null(param_named(g, "outer.2/batchnorm.1/running_mean"));
  assert_null(param_named(g, "outer.1/inner.3/dense.1/weight"));
  assert_null(param_named(g, "outer.4/inner.1/dense.1/weight"));
  /* The top level's counters are its own: the loss's dense is dense.1. */
  assert_non_null(param_named(g, "dense.1/weight"));
  front_free(&f);
}

static void test_block_sees_constants(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "const width = 6\nblock b(v) { return dense(v, width) }\nh = b(x)\n" TAIL);
  assert_shape(param_named(&f.c.graph, "b.1/dense.1/weight")->shape, 2, 6, 8, 0, 0);
  front_free(&f);
  /* A block may be defined after its use, and may shadow a constant with a parameter. */
  compiles(&f, HEAD "const c = 2\nh = b(x, c + 3)\nblock b(v, c) { return dense(v, c) }\n" TAIL);
  assert_shape(param_named(&f.c.graph, "b.1/dense.1/weight")->shape, 2, 5, 8, 0, 0);
  front_free(&f);
}

static void test_const_arithmetic(void **state) {
  (void)state;
  Front f;
  compiles(&f,
           "model m\n"
           "const a = 7\n"
           "const b = (a + 1) * 3 / 4 - 2\n" /* 4 */
           "const c = -7 / 2 + 5\n"          /* C division truncates: -3 + 5 = 2 */
           "const d = 0 - a * a + 52\n"      /* 3 */
           "const e = 9223372036854775807 - 9223372036854775806\n" /* 1, no overflow */
           "input x : [b * 2, c, d * e]\n"
           "label y : class[a - 4]\n"
           "loss softmax_cross_entropy(dense(x, 3), y)\n"
           "optimizer sgd(lr=3 / 2 * 0.1)\n");
  const Graph *g = &f.c.graph;
  assert_shape(g->nodes[g->input].shape, 4, DIM_BATCH, 8, 2, 3);
  assert_int_equal(g->n_classes, 3);
  assert_true(g->opt.lr == 0.1); /* 3 / 2 is integer division: 1 */
  front_free(&f);
}

static void test_real_arithmetic(void **state) {
  (void)state;
  Front f;
  compiles(&f, HEAD "h = 0.5 * x\nh = h / 4\nh = -h\nh = h * 2\n"
                    "loss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=1.0 / 8, momentum=0.5 + 0.25)\n");
  const Graph *g = &f.c.graph;
  float scales[4];
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == OP_SCALE) scales[n++] = g->nodes[i].attr.scale;
  assert_int_equal(n, 4);
  assert_true(scales[0] == 0.5f && scales[1] == 0.25f && scales[2] == -1.0f && scales[3] == 2.0f);
  assert_true(g->opt.lr == 0.125 && g->opt.momentum == 0.75);
  front_free(&f);
}

static void test_attributes(void **state) {
  (void)state;
  Front f;
  compiles(&f, "model m\ninput x : [3, 32, 32]\nlabel y : class[10]\n"
               "h = conv2d(x, 8, 5, stride=2, pad=2, bias=false, init=he_normal)\n"
               "h = max_pool2d(h, 2)\nh = avg_pool2d(h, 3, stride=1)\nh = batchnorm(h, momentum=0.8, eps=1e-3)\n"
               "h = leaky_relu(h, slope=0.2)\nh = elu(h, alpha=0.5)\nh = dropout(h, 0.25)\nh = alpha_dropout(h, p=0.1)\n"
               "h = dense(flatten(h), 10, init=normal(0.02))\nh = identity(h)\n"
               "loss softmax_cross_entropy(h, y)\noptimizer adam(lr=1e-3, beta2=0.99, weight_decay=5e-4)\n");
  const Graph *g = &f.c.graph;
  for (int i = 0; i < g->n_nodes; i++) {
    const Node *n = &g->nodes[i];
    switch (n->op) {
    case OP_CONV2D:
      assert_int_equal(n->attr.kernel, 5);
      assert_int_equal(n->attr.stride, 2);
      assert_int_equal(n->attr.pad, 2);
      assert_shape(n->shape, 4, DIM_BATCH, 8, 16, 16);
      break;
    case OP_MAX_POOL: assert_shape(n->shape, 4, DIM_BATCH, 8, 8, 8); break;
    case OP_AVG_POOL: assert_shape(n->shape, 4, DIM_BATCH, 8, 6, 6); break;
    case OP_BATCHNORM: assert_true(n->attr.momentum == 0.8 && n->attr.eps == 1e-3); break;
    case OP_LEAKY_RELU: assert_true(n->attr.alpha == 0.2); break;
    case OP_ELU: assert_true(n->attr.alpha == 0.5); break;
    case OP_DROPOUT: assert_true(n->attr.alpha == 0.25); break;
    case OP_ALPHA_DROPOUT: assert_true(n->attr.alpha == 0.1); break;
    case OP_RESHAPE: assert_shape(n->shape, 2, DIM_BATCH, 288, 0, 0); break;
    default: break;
    }
  }
  assert_null(param_named(g, "conv2d.1/bias"));
  assert_int_equal(param_named(g, "conv2d.1/weight")->init, INIT_HE_NORMAL);
  assert_int_equal(param_named(g, "conv2d.1/weight")->fan_in, 3 * 25);
  assert_int_equal(param_named(g, "dense.1/weight")->init, INIT_NORMAL);
  assert_true(param_named(g, "dense.1/weight")->init_std == 0.02);
  assert_int_equal(g->opt.kind, OPT_ADAM);
  assert_true(g->opt.beta1 == 0.9 && g->opt.beta2 == 0.99 && g->opt.eps == 1e-8 && g->opt.weight_decay == 5e-4);
  assert_int_equal(count_nodes(g, OP_RESHAPE), 1); /* dense of a vector does not flatten again */
  front_free(&f);
}

static void test_output_and_target(void **state) {
  (void)state;
  Front f;
  compiles(&f, "model reg\ninput x : [4]\ntarget t : [2]\nh = relu(dense(x, 16))\np = dense(h, 2)\n"
               "output h\nloss mse(p, t)\noptimizer rmsprop(lr=0.01)\n");
  const Graph *g = &f.c.graph;
  assert_int_equal(g->label, NO_NODE);
  assert_int_equal(g->nodes[g->target].op, OP_TARGET);
  assert_shape(g->nodes[g->target].shape, 2, DIM_BATCH, 2, 0, 0);
  assert_int_equal(g->nodes[g->output].op, OP_RELU);
  assert_int_equal(g->nodes[g->loss].op, OP_MSE);
  assert_int_equal(g->nodes[g->loss].shape.rank, 0);
  assert_int_equal(g->opt.kind, OPT_RMSPROP);
  assert_true(g->opt.rho == 0.9);
  assert_int_equal(g->n_forward, g->n_nodes);
  front_free(&f);
}

static void test_warnings_only(void **state) {
  (void)state;
  Front f;
  front_run(&f, HEAD "const k = 2\nz = relu(x)\nblock unused(v) { return v }\nh = x\n" TAIL);
  assert_true(f.ok);
  assert_int_equal(f.c.diag.n_errors, 0);
  assert_int_equal(f.c.diag.n_warnings, 3);
  assert_non_null(strstr(f.diag, "t.nn:4:7: warning: constant 'k' is never used\n"));
  assert_non_null(strstr(f.diag, "t.nn:5:1: warning: value 'z' is never used\n"));
  assert_non_null(strstr(f.diag, "t.nn:6:7: warning: block 'unused' is never used\n"));
  front_free(&f);
  /* A value overwritten before use is reported at the assignment that was lost. */
  front_run(&f, HEAD "h = relu(x)\nh = tanh(x)\n" TAIL);
  assert_true(f.ok);
  assert_int_equal(f.c.diag.n_warnings, 1);
  assert_non_null(strstr(f.diag, "t.nn:4:1: warning: value 'h' is never used\n"));
  front_free(&f);
}

static void test_many_names_are_fast(void **state) {
  (void)state;
  /* 60,000 constants and 20,000 blocks called once each: names are found through hash indexes,
   * so this takes well under a second (a linear search would take minutes). */
  enum { N = 60000, B = 20000 };
  size_t cap = (size_t)(N + B) * 64 + 1024;
  char *src = malloc(cap);
  size_t n = (size_t)snprintf(src, cap, "%s", HEAD);
  for (int i = 0; i < N; i++) n += (size_t)snprintf(src + n, cap - n, "const c%d = %d\n", i, i % 7);
  n += (size_t)snprintf(src + n, cap - n, "const s = c0");
  for (int i = 1; i < N; i++) n += (size_t)snprintf(src + n, cap - n, " + c%d", i);
  n += (size_t)snprintf(src + n, cap - n, "\nh = x\n");
  for (int i = 0; i < B; i++) n += (size_t)snprintf(src + n, cap - n, "block b%d(v) { return v }\nh = b%d(h)\n", i, i);
  n += (size_t)snprintf(src + n, cap - n, "h = dense(h, s - 179990)\n" TAIL);
  Front f;
  clock_t t0 = clock();
  front_run_n(&f, "t.nn", src, n);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  free(src);
  /* The sum of a long chain nests deeper than lowering allows. */
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  assert_non_null(strstr(f.diag, "error: expression nested too deeply\n"));
  front_free(&f);
  assert_true(secs < 10.0);
}

static void test_names_without_nesting(void **state) {
  (void)state;
  enum { N = 60000, B = 20000 };
  size_t cap = (size_t)(N + B) * 64 + 1024;
  char *src = malloc(cap);
  size_t n = (size_t)snprintf(src, cap, "%s", HEAD);
  for (int i = 0; i < N; i++) n += (size_t)snprintf(src + n, cap - n, "const c%d = %d\n", i, i % 7 + 1);
  n += (size_t)snprintf(src + n, cap - n, "h = x\n");
  for (int i = 0; i < B; i++) n += (size_t)snprintf(src + n, cap - n, "block b%d(v) { return v }\nh = b%d(h)\n", i, i);
  n += (size_t)snprintf(src + n, cap - n, "h = dense(h, c%d)\n" TAIL, N - 3);
  Front f;
  clock_t t0 = clock();
  front_run_n(&f, "t.nn", src, n);
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  free(src);
  if (!f.ok) fprintf(stderr, "%s", f.diag);
  assert_true(f.ok);
  assert_true(f.c.diag.n_warnings > 0); /* the unused constants */
  assert_shape(param_named(&f.c.graph, "dense.1/weight")->shape, 2, (N - 3) % 7 + 1, 8, 0, 0);
  front_free(&f);
  assert_true(secs < 10.0);
}

static void test_expression_depth(void **state) {
  (void)state;
  /* x + x + ... nests on the left without deepening the parser's stack; lowering bounds it. */
  char *src = malloc(4096);
  for (int terms = 200; terms <= 300; terms += 100) {
    size_t n = (size_t)snprintf(src, 4096, HEAD "h = x");
    for (int i = 1; i < terms; i++) n += (size_t)snprintf(src + n, 4096 - n, "+x");
    snprintf(src + n, 4096 - n, "\n" TAIL);
    Front f;
    front_run(&f, src);
    if (terms == 200) {
      assert_true(f.ok);
      assert_int_equal(count_layers(&f.c.graph, "add"), 199);
    } else {
      assert_false(f.ok);
      assert_int_equal(f.c.diag.n_errors, 1);
      assert_non_null(strstr(f.diag, "error: expression nested too deeply\n"));
    }
    front_free(&f);
  }
  free(src);
}

/* Peak memory of this process so far, in MB. */
static long peak_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

static void test_expansion_limits(void **state) {
  (void)state;
  Front f;
  /* Nodes: a hundred thousand is the default bound. */
  front_run(&f, HEAD "h = x\nrepeat 1000 { repeat 1000 { h = relu(h) } }\n" TAIL);
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  assert_non_null(strstr(f.diag, "t.nn:5:15: error: the model expands to more than 100000 nodes; reduce the repeat counts or nested block calls\n"));
  front_free(&f);
  /* Steps: loops that make no nodes still end. */
  clock_t t0 = clock();
  front_run(&f, HEAD "h = x\nrepeat 1000000 { repeat 1000000 { } }\n" TAIL);
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  assert_non_null(strstr(f.diag, "error: the model expands to more than 2000000 steps; reduce the repeat counts or nested block calls\n"));
  front_free(&f);
  front_run(&f, HEAD "const k = 1\nrepeat 1000000 { repeat 1000000 { c = k + k * k - k } }\nh = x\n" TAIL);
  assert_false(f.ok);
  assert_non_null(strstr(f.diag, "error: the model expands to more than 2000000 steps; reduce the repeat counts or nested block calls\n"));
  front_free(&f);
  assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 20.0);
  /* after a syntax error, a repeat's body runs once: the loop below (whose unknown function is
     not reported, as a syntax error may have swallowed its definition) stops at once instead of
     running to the step limit (the fuzzer found it taking 1.5 s) */
  t0 = clock();
  front_run(&f, HEAD "h = x\nrepeat 1000 { repeat 1000 { h = undefined_fn(h) } }\nbad = = 1\n" TAIL);
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  assert_null(strstr(f.diag, "steps"));
  front_free(&f);
  assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
}

/* Blocks that call their callee twice, 30 levels deep (2^30 calls): stopped early by the limits,
 * within seconds and without gigabytes (each call's scope is released when it returns). Once
 * this took 26 s and 11 GB at 22 levels. */
static void test_nested_block_expansion(void **state) {
  (void)state;
  char *src = malloc(8192);
  size_t n = (size_t)snprintf(src, 8192, "model t\ninput x : [4]\nlabel y : class[3]\n");
  for (int i = 29; i >= 0; i--)
    n += (size_t)(i == 29 ? snprintf(src + n, 8192 - n, "block b29(v) { return relu(v) }\n")
                          : snprintf(src + n, 8192 - n, "block b%d(v) { return b%d(b%d(v)) }\n", i, i + 1, i + 1));
  snprintf(src + n, 8192 - n, "h = b0(x)\nloss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=0.1)\n");
  Front f;
  clock_t t0 = clock();
  front_run(&f, src);
  double seconds = (double)(clock() - t0) / CLOCKS_PER_SEC;
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  /* located at the innermost block's return (line 4), with the chain of calls as notes */
  assert_non_null(strstr(f.diag, "t.nn:4:16: error: the model expands to more than 100000 nodes; reduce the repeat counts or nested block calls\n"));
  assert_non_null(strstr(f.diag, ": note: in the block called here\n"));
  front_free(&f);
  /* and with blocks that make no nodes, the steps */
  n = (size_t)snprintf(src, 8192, "model t\ninput x : [4]\nlabel y : class[3]\n");
  for (int i = 29; i >= 0; i--)
    n += (size_t)(i == 29 ? snprintf(src + n, 8192 - n, "block b29(v) { return v }\n")
                          : snprintf(src + n, 8192 - n, "block b%d(v) { return b%d(b%d(v)) }\n", i, i + 1, i + 1));
  snprintf(src + n, 8192 - n, "h = b0(x)\nloss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=0.1)\n");
  front_run(&f, src);
  seconds += (double)(clock() - t0) / CLOCKS_PER_SEC;
  assert_false(f.ok);
  assert_non_null(strstr(f.diag, "error: the model expands to more than 2000000 steps; reduce the repeat counts or nested block calls\n"));
  front_free(&f);
  free(src);
  print_message("nested blocks: %.2f s, peak %ld MB\n", seconds, peak_mb());
  assert_true(seconds < 20.0); /* about 1 s in a normal build; sanitizers are slower */
  assert_true(peak_mb() < 1500);
}

static void test_errors_in_repeat_reported_once(void **state) {
  (void)state;
  /* A repeat stops after a pass that reported errors: the next passes would repeat them. */
  Front f;
  front_run(&f, HEAD "h = x\nrepeat 100 { h = relu(q) }\n" TAIL);
  assert_false(f.ok);
  assert_int_equal(f.c.diag.n_errors, 1);
  assert_string_equal(f.diag, "t.nn:5:23: error: undefined name 'q'\n"
                              "repeat 100 { h = relu(q) }\n"
                              "                      ^\n");
  front_free(&f);
}

static void test_many_errors_stop(void **state) {
  (void)state;
  /* After 50 errors the rest are counted, not shown, and lowering stops. */
  size_t cap = 64 * 1000 + 256;
  char *src = malloc(cap);
  size_t n = (size_t)snprintf(src, cap, HEAD);
  for (int i = 0; i < 1000; i++) n += (size_t)snprintf(src + n, cap - n, "h%d = relu(q%d)\n", i, i);
  Front f;
  front_run_n(&f, "t.nn", src, n);
  free(src);
  assert_false(f.ok);
  assert_true(f.c.diag.n_errors > 50);
  assert_true(f.c.diag.n_errors < 1000);
  assert_non_null(strstr(f.diag, "t.nn: note: too many errors; stopping here\n"));
  assert_null(strstr(f.diag, "'q50'"));
  front_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fashion_snn),
      cmocka_unit_test(test_resnet20_names),
      cmocka_unit_test(test_rebinding),
      cmocka_unit_test(test_repeat_counts),
      cmocka_unit_test(test_repeat_zero),
      cmocka_unit_test(test_block_integer_params),
      cmocka_unit_test(test_nested_block_names),
      cmocka_unit_test(test_block_sees_constants),
      cmocka_unit_test(test_const_arithmetic),
      cmocka_unit_test(test_real_arithmetic),
      cmocka_unit_test(test_attributes),
      cmocka_unit_test(test_output_and_target),
      cmocka_unit_test(test_warnings_only),
      cmocka_unit_test(test_many_names_are_fast),
      cmocka_unit_test(test_names_without_nesting),
      cmocka_unit_test(test_expression_depth),
      cmocka_unit_test(test_expansion_limits),
      cmocka_unit_test(test_nested_block_expansion),
      cmocka_unit_test(test_errors_in_repeat_reported_once),
      cmocka_unit_test(test_many_errors_stop),
  };
  return cmocka_run_group_tests(tests, 0, 0);
}
