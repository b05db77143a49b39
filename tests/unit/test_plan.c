/* test_plan.c — the storage plan (plan.c) on random graphs: no value is overwritten while it is
 * still to be read.
 *
 * Each iteration writes a random model (dense layers with and without bias, every activation,
 * dropout, skip connections with + - *, scaling, flatten of an image input; one of the three losses;
 * one of the three optimizers), differentiates it and builds its plan, with and without the input
 * copied into the arena. Then, independently of plan.c's interval logic, it replays train() and
 * infer() kernel by kernel over a shadow of the activation arena that records, per element of an
 * example, which value was written there last:
 *
 *   - a kernel's every read of an arena value must find that value still in its region;
 *   - a kernel must not write over a value it reads itself (no kernel works in place);
 *   - infer()'s result must still be intact after its last kernel;
 *   - every region lies inside the arena (ACTS_PER_EXAMPLE elements per example).
 *
 * The kernels, their reads and their writes are emit.c's: one kernel per node that is neither
 * storage (input, label, target, parameter, reshape) nor fused into another's loop; a fused loop
 * reads its members' operands that are not computed inside it; dropout in train() writes its
 * mask, which dropout's backward reads; and, replayed a second time, a direct 3x3 convolution
 * writes what its epilogue computes (fuse.c's ConvFold) in place of those nodes' kernels, as on
 * CPUs with AVX2. Hand-picked residual networks exercise those. NNC_PLAN_SEED and NNC_PLAN_ITERS (in the environment)
 * pick another seed or more iterations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "front_util.h"

static uint64_t rng_state;

static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static int below(int n) { return (int)(rnd() % (uint64_t)n); }

/* ---------------- random models ---------------- */

typedef struct Buf { char *p; size_t len, cap; } Buf;

static void add(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (b->len + (size_t)n + 1 > b->cap) {
    b->cap = (b->len + (size_t)n + 1) * 2;
    b->p = realloc(b->p, b->cap);
  }
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

#define MAX_VALUES 64

/* A model of `layers` random statements over values v0 (the input) .. vN. */
static char *random_model(int layers) {
  static const char *activation[] = {"relu", "selu", "elu", "leaky_relu", "sigmoid", "tanh", "softmax",
                                     "identity", "elu(%s, alpha=0.5)", "leaky_relu(%s, slope=0.2)"};
  int size[MAX_VALUES], n_values = 1;
  Buf b = {NULL, 0, 0};
  bool image = below(3) == 0;
  add(&b, "model r\n");
  if (image) {
    int width = 1 + below(3);
    add(&b, "input x : [2, 3, %d]\n", width);
    size[0] = 6 * width; /* v0 = flatten(x) */
  } else {
    size[0] = 2 + below(12);
    add(&b, "input x : [%d]\n", size[0]);
  }
  int loss = below(3), classes = 2 + below(5);
  if (loss == 0) add(&b, "label y : class[%d]\n", classes);
  else add(&b, "target t : [%d]\n", classes);
  add(&b, image ? "v0 = flatten(x)\n" : "v0 = x\n");
  for (int l = 0; l < layers && n_values < MAX_VALUES; l++) {
    int from = n_values - 1 - (below(3) == 0 ? below(n_values) : 0); /* mostly the latest value */
    int v = n_values;
    switch (below(7)) {
    case 0: case 1: {
      int units = 1 + below(10);
      add(&b, "v%d = dense(v%d, %d%s)\n", v, from, units, below(3) == 0 ? ", bias=false" : "");
      size[v] = units;
      break;
    }
    case 2: case 3: {
      const char *a = activation[below((int)(sizeof activation / sizeof *activation))];
      if (strchr(a, '%')) {
        add(&b, "v%d = ", v);
        char call[64];
        snprintf(call, sizeof call, "v%d", from);
        add(&b, a, call);
        add(&b, "\n");
      } else {
        add(&b, "v%d = %s(v%d)\n", v, a, from);
      }
      size[v] = size[from];
      break;
    }
    case 4: { /* a skip connection: any earlier value of the same size */
      int other = -1;
      for (int k = 0; k < n_values; k++)
        if (size[k] == size[from] && k != from && (other < 0 || below(2))) other = k;
      if (other < 0) other = from;
      static const char *op[] = {"+", "-", "*"};
      add(&b, "v%d = v%d %s v%d\n", v, from, op[below(3)], other);
      size[v] = size[from];
      break;
    }
    case 5:
      add(&b, "v%d = %s(v%d, %s)\n", v, below(2) ? "dropout" : "alpha_dropout", from, below(2) ? "0.25" : "0.5");
      size[v] = size[from];
      break;
    default:
      add(&b, "v%d = %s * v%d\n", v, below(2) ? "0.5" : "2", from);
      size[v] = size[from];
      break;
    }
    n_values++;
  }
  add(&b, "z = dense(v%d, %d)\n", n_values - 1, classes);
  static const char *losses[] = {"softmax_cross_entropy(z, y)", "mse(z, t)", "bce_with_logits(z, t)"};
  static const char *optimizers[] = {"sgd(lr=0.1)", "sgd(lr=0.1, momentum=0.9)", "adam(lr=0.01)",
                                     "rmsprop(lr=0.01)"};
  add(&b, "loss %s\noptimizer %s\n", losses[loss], optimizers[below(4)]);
  if (below(4) == 0 && n_values > 1) add(&b, "output v%d\n", 1 + below(n_values - 1));
  return b.p;
}

/* ---------------- the replay ---------------- */

typedef struct Shadow {
  const Graph *g;
  const Plan *p;
  uint32_t *owner;   /* per element of an example: 1 + the value last written there (0: none) */
  size_t size;
  const char *fn;
  const char *src;
  int failures;
} Shadow;

static NodeId resolve(const Plan *p, NodeId id) {
  while (p->store[id].kind == STORE_ALIAS) id = p->store[id].alias;
  return id;
}

/* A value's region in the arena, if it has one: [*offset, *offset + *size) per example. The mask of
   a dropout node is value n_nodes + id. */
static bool region(const Shadow *s, uint32_t value, size_t *offset, size_t *size) {
  uint32_t n = (uint32_t)s->g->n_nodes;
  NodeId id = value >= n ? value - n : value;
  const Storage *st = &s->p->store[id];
  *size = (size_t)shape_count(s->g->nodes[id].shape);
  if (value >= n) {
    *offset = st->aux;
    return st->aux != SIZE_MAX;
  }
  *offset = st->offset;
  return st->kind == STORE_BATCHED;
}

static void report(Shadow *s, const char *fmt, ...) {
  if (s->failures++ == 0) fprintf(stderr, "the model:\n%s\n", s->src);
  if (s->failures > 10) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s(): ", s->fn);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void shadow_write(Shadow *s, uint32_t value, NodeId kernel) {
  size_t off, size;
  if (!region(s, value, &off, &size)) return;
  if (off + size > s->size) {
    report(s, "%%%u's region [%zu, %zu) lies outside the arena of %zu", value, off, off + size, s->size);
    return;
  }
  (void)kernel;
  for (size_t i = 0; i < size; i++) s->owner[off + i] = value + 1;
}

static void shadow_read(Shadow *s, uint32_t value, NodeId kernel) {
  size_t off, size;
  if (!region(s, value, &off, &size)) return;
  for (size_t i = 0; i < size && off + i < s->size; i++)
    if (s->owner[off + i] != value + 1) {
      uint32_t was = s->owner[off + i];
      report(s, "kernel %%%u reads %%%u (%s) at [%zu, %zu), but element %zu holds %s%u (%s)", kernel, value,
             op_name(s->g->nodes[value % s->g->n_nodes].op), off, off + size, off + i, was ? "%" : "nothing ",
             was ? was - 1 : 0, was ? op_name(s->g->nodes[(was - 1) % s->g->n_nodes].op) : "-");
      return;
    }
}

static bool overlaps(const Shadow *s, uint32_t a, uint32_t b) {
  size_t oa, sa, ob, sb;
  if (!region(s, a, &oa, &sa) || !region(s, b, &ob, &sb)) return false;
  return oa < ob + sb && ob < oa + sa;
}

/* Replays one function (in_fn, its fusion) over a fresh shadow; with direct, as the direct 3x3
 * convolutions run it: such a conv2d reads its operands (and its fold's residual) and writes the
 * last node of its fold (fuse.c's ConvFold), whose nodes then run no kernel of their own. */
static void replay(Shadow *s, const bool *in_fn, const Fusion *fu, bool training, bool direct) {
  const Graph *g = s->g;
  uint32_t n = (uint32_t)g->n_nodes;
  bool *folded = calloc(n + 1, sizeof *folded);
  assert_non_null(folded);
  memset(s->owner, 0, sizeof *s->owner * (s->size + 1));
  if (training) /* the masks are drawn by the first call and kept */
    for (uint32_t i = 0; i < n; i++)
      if (s->p->store[i].aux != SIZE_MAX) shadow_write(s, n + i, (NodeId)i);
  for (uint32_t i = 0; i < n; i++) /* copied in before the first kernel */
    if (in_fn[i] && (g->nodes[i].op == OP_INPUT || g->nodes[i].op == OP_TARGET)) shadow_write(s, i, (NodeId)i);
  uint32_t reads[1024];
  for (uint32_t k = 0; k < n; k++) {
    const Node *nd = &g->nodes[k];
    if (!in_fn[k] || fu->inlined[k] || folded[k]) continue;
    if (op_kind(nd->op) == OPK_LEAF || nd->op == OP_RESHAPE) continue;
    int n_reads = 0;
    const ConvFold *fold = direct && nd->op == OP_CONV2D && fu->fold[k].last != NO_NODE ? &fu->fold[k] : NULL;
    if (fold) {
      for (int j = 0; j < nd->n_in; j++) reads[n_reads++] = resolve(s->p, nd->in[j]);
      if (fold->residual != NO_NODE) reads[n_reads++] = resolve(s->p, fold->residual);
      for (int r = 0; r < n_reads; r++) shadow_read(s, reads[r], (NodeId)k);
      for (int r = 0; r < n_reads; r++)
        if (overlaps(s, fold->last, reads[r]))
          report(s, "direct kernel %%%u writes %%%u over its own operand %%%u", k, fold->last, reads[r]);
      shadow_write(s, fold->last, (NodeId)k);
      NodeId members[] = {fold->bias_add, fold->batchnorm, fold->relu};
      for (int j = 0; j < 3; j++)
        if (members[j] != NO_NODE) folded[members[j]] = true;
      continue;
    }
    for (uint32_t m = 0; m <= k; m++) { /* the members of k's loop */
      if (!in_fn[m] || (m != k && !(fu->inlined[m] && fu->root[m] == k))) continue;
      const Node *mn = &g->nodes[m];
      for (int j = 0; j < mn->n_in; j++) {
        NodeId in = mn->in[j];
        if (fu->inlined[in] && fu->root[in] == k) continue; /* computed in this loop */
        if (n_reads < 1023) reads[n_reads++] = resolve(s->p, in);
      }
      if (mn->op == OP_DROPOUT_BWD && n_reads < 1023) reads[n_reads++] = n + mn->attr.fwd;
    }
    for (int r = 0; r < n_reads; r++) shadow_read(s, reads[r], (NodeId)k);
    for (int r = 0; r < n_reads; r++)
      if (reads[r] != k && overlaps(s, k, reads[r]))
        report(s, "kernel %%%u (%s) writes over its own operand %%%u", k, op_name(nd->op), reads[r]);
    shadow_write(s, k, (NodeId)k);
  }
  if (!training) shadow_read(s, resolve(s->p, g->output), (NodeId)n);
  free(folded);
}

static long n_models, n_kernels_total;

static void check_model(const char *src) {
  for (int copy_input = 0; copy_input < 2; copy_input++) {
    Front f;
    front_run(&f, src);
    if (!f.ok) fprintf(stderr, "%s\n%s", src, f.diag);
    assert_true(f.ok);
    assert_true(grad_build(&f.c));
    Plan p = plan_build(&f.c, copy_input, true);
    Shadow s = {&f.c.graph, &p, NULL, p.batched_per_example, "", src, 0};
    s.owner = calloc(s.size + 1, sizeof *s.owner);
    assert_non_null(s.owner);
    for (int direct = 0; direct < 2; direct++) {
      s.fn = direct ? "direct train" : "train";
      replay(&s, p.in_train, &p.fuse_train, true, direct);
      s.fn = direct ? "direct infer" : "infer";
      replay(&s, p.in_infer, &p.fuse_infer, false, direct);
    }
    free(s.owner);
    n_models++;
    n_kernels_total += f.c.graph.n_nodes;
    front_free(&f);
    if (s.failures) fail_msg("%d overlaps in the plan of the model above (copy_input %d)", s.failures, copy_input);
  }
}

static long env_long(const char *name, long def) {
  const char *v = getenv(name);
  return v && *v ? strtol(v, NULL, 10) : def;
}

static void test_models(void **state) {
  (void)state;
  /* hand-picked shapes first: a chain, a long skip, and dropout feeding a skip */
  check_model("model r\ninput x : [5]\nlabel y : class[3]\nh = relu(dense(x, 7))\nh = selu(dense(h, 7))\n"
              "loss softmax_cross_entropy(dense(h, 3), y)\noptimizer sgd(lr=0.1)\n");
  check_model("model r\ninput x : [4]\ntarget t : [4]\na = dense(x, 4)\nb = tanh(dense(relu(a), 9))\n"
              "c = dense(b, 4) * a + x\nloss mse(c, t)\noptimizer adam(lr=0.01)\n");
  check_model("model r\ninput x : [2, 3, 4]\nlabel y : class[2]\nh = dropout(flatten(x), 0.5)\n"
              "g = dense(h, 24) + h\nloss softmax_cross_entropy(dense(g, 2), y)\noptimizer sgd(lr=0.1)\n");
  /* residual blocks, whose direct convolutions write their bias, or batchnorm + (add +) relu, when
     they run: the shortcut computed before the block's second convolution (folded) and after it
     (not folded), a batchnorm inlined into an activation that does not fold, a bias-free conv */
  static const char *const blocks =
      "h = relu(batchnorm(conv2d(x, 4, 3, pad=1)))\n"
      "g = batchnorm(conv2d(relu(batchnorm(conv2d(h, 4, 3, pad=1))), 4, 3, pad=1, bias=false))\n"
      "h = relu(g + h)\n"
      "s = batchnorm(conv2d(h, 6, 1, stride=2))\n"
      "h = relu(batchnorm(conv2d(h, 6, 3, stride=2, pad=1)))\n"
      "h = relu(s + batchnorm(conv2d(h, 6, 3, pad=1)))\n"
      "g = relu(batchnorm(conv2d(h, 6, 3, stride=2, pad=1)))\n"
      "h = relu(batchnorm(conv2d(g, 6, 3, pad=1)) + batchnorm(conv2d(h, 6, 1, stride=2)))\n"
      "h = selu(batchnorm(conv2d(h, 5, 3, pad=1))) + conv2d(h, 5, 3, pad=1)\n";
  char *src = malloc(4096);
  assert_non_null(src);
  snprintf(src, 4096, "model r\ninput x : [3, 9, 10]\nlabel y : class[3]\n%s"
           "loss softmax_cross_entropy(dense(global_avg_pool(h), 3), y)\noptimizer sgd(lr=0.1)\n", blocks);
  check_model(src);
  free(src);
}

static void test_random_models(void **state) {
  (void)state;
  rng_state = (uint64_t)env_long("NNC_PLAN_SEED", 20261127) | 1;
  long iters = env_long("NNC_PLAN_ITERS", 2000);
  for (long it = 0; it < iters; it++) {
    char *src = random_model(1 + below(it % 10 == 0 ? 40 : 12));
    check_model(src);
    free(src);
  }
  fprintf(stderr, "%ld plans (%ld nodes) replayed\n", n_models, n_kernels_total);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_models),
      cmocka_unit_test(test_random_models),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
