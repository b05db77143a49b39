/* reference.h — the forward formulas of the spec (§4), written from its text and not from the
 * emitter, in long double, for forward_check.c.
 *
 * A value is a batch: n examples of a per-example shape (rank 1 [size], or 3 [C, H, W]), stored
 * row-major like the generated code's inputs and outputs. Parameters are read in creation order
 * from the model's flat parameter block (trainable ones only, as NAME_debug_params gives them),
 * each layer taking its own in PyTorch's layout: dense's weight [units, in] then its bias [units].
 * Every value lives in a pool that ref_reset() empties, so a case allocates without freeing.
 */
#ifndef FORWARD_REFERENCE_H
#define FORWARD_REFERENCE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef long double real;

/* SELU's constants exactly as §4 writes them */
#define REF_SELU_LAMBDA 1.0507009873554805L
#define REF_SELU_ALPHA 1.6732632423543772L

typedef struct Val {
  int n;          /* examples */
  int rank;       /* of the per-example shape */
  int dim[3];     /* per-example shape */
  int size;       /* elements per example */
  real *v;        /* v[b * size + i] */
} Val;

typedef struct Ref {
  int n;                 /* examples */
  const real *params;    /* the flat parameter block */
  long n_params, used;   /* its length; how much the layers have taken */
  const float *x;        /* the input, n examples */
  const int32_t *y;      /* labels, or NULL */
  const float *t;        /* targets, or NULL */
  int has_loss;          /* the case set loss */
  real loss;             /* the mean loss over the batch (§3: loss) */
} Ref;

#define REF_POOL (1 << 20)
static real ref_pool[REF_POOL];
static size_t ref_pool_used;

static void ref_reset(void) { ref_pool_used = 0; }

static Val ref_new(int n, int rank, const int *dim) {
  Val a;
  a.n = n;
  a.rank = rank;
  a.size = 1;
  for (int i = 0; i < 3; i++) a.dim[i] = i < rank ? dim[i] : 1;
  for (int i = 0; i < rank; i++) a.size *= dim[i];
  if (ref_pool_used + (size_t)n * (size_t)a.size > REF_POOL) {
    fprintf(stderr, "reference.h: the value pool is too small\n");
    exit(2);
  }
  a.v = ref_pool + ref_pool_used;
  ref_pool_used += (size_t)n * (size_t)a.size;
  return a;
}

static Val ref_vec(int n, int size) { return ref_new(n, 1, &size); }

static const real *ref_take(Ref *r, long count) {
  if (r->used + count > r->n_params) {
    fprintf(stderr, "FAIL: the reference's layers need more parameters than the model's %ld\n", r->n_params);
    exit(1);
  }
  const real *p = r->params + r->used;
  r->used += count;
  return p;
}

/* `input x : [d1, ...]` (rank 1 or 3) */
static Val ref_input(Ref *r, int rank, const int *dim) {
  Val a = ref_new(r->n, rank, dim);
  for (long i = 0; i < (long)a.n * a.size; i++) a.v[i] = r->x[i];
  return a;
}

/* dense(x, units, bias): y[b, j] = bias[j] + Σ_i W[j, i] x[b, i], x flattened in C, H, W order */
static Val ref_dense(Ref *r, Val x, int units, int bias) {
  const real *w = ref_take(r, (long)units * x.size);
  const real *bv = bias ? ref_take(r, units) : NULL;
  Val y = ref_vec(x.n, units);
  for (int b = 0; b < x.n; b++)
    for (int j = 0; j < units; j++) {
      real s = bv ? bv[j] : 0;
      for (int i = 0; i < x.size; i++) s += w[(long)j * x.size + i] * x.v[(long)b * x.size + i];
      y.v[(long)b * units + j] = s;
    }
  return y;
}

/* flatten(x): the same values as a vector */
static Val ref_flatten(Val x) {
  Val y = x;
  y.rank = 1;
  y.dim[0] = x.size;
  y.dim[1] = y.dim[2] = 1;
  return y;
}

/* ---- element-wise: activations f(x; a), a being elu's alpha or leaky_relu's slope ---- */
static real ref_relu(real x, real a) { (void)a; return x > 0 ? x : 0; }
static real ref_selu(real x, real a) {
  (void)a;
  return x > 0 ? REF_SELU_LAMBDA * x : REF_SELU_LAMBDA * REF_SELU_ALPHA * expm1l(x);
}
static real ref_elu(real x, real alpha) { return x > 0 ? x : alpha * expm1l(x); }
static real ref_leaky_relu(real x, real slope) { return x > 0 ? x : slope * x; }
static real ref_sigmoid(real x, real a) { (void)a; return 1 / (1 + expl(-x)); }
static real ref_tanh(real x, real a) { (void)a; return tanhl(x); }
static real ref_identity(real x, real a) { (void)a; return x; }

static Val ref_map(Val x, real (*f)(real, real), real a) {
  Val y = ref_new(x.n, x.rank, x.dim);
  for (long i = 0; i < (long)x.n * x.size; i++) y.v[i] = f(x.v[i], a);
  return y;
}

/* softmax over each example: e^x_i / Σ_j e^x_j */
static Val ref_softmax(Val x) {
  Val y = ref_new(x.n, x.rank, x.dim);
  for (int b = 0; b < x.n; b++) {
    const real *row = x.v + (long)b * x.size;
    real sum = 0;
    for (int i = 0; i < x.size; i++) sum += expl(row[i]);
    for (int i = 0; i < x.size; i++) y.v[(long)b * x.size + i] = expl(row[i]) / sum;
  }
  return y;
}

/* a + b, a - b, a * b (same shapes), c * a */
static Val ref_binary(Val a, Val b, char op) {
  if (a.n != b.n || a.size != b.size) {
    fprintf(stderr, "reference.h: operands of '%c' differ in shape\n", op);
    exit(2);
  }
  Val y = ref_new(a.n, a.rank, a.dim);
  for (long i = 0; i < (long)a.n * a.size; i++)
    y.v[i] = op == '+' ? a.v[i] + b.v[i] : op == '-' ? a.v[i] - b.v[i] : a.v[i] * b.v[i];
  return y;
}

static Val ref_scale(real c, Val a) {
  Val y = ref_new(a.n, a.rank, a.dim);
  for (long i = 0; i < (long)a.n * a.size; i++) y.v[i] = c * a.v[i];
  return y;
}

/* ---- losses: means over the batch (and over the elements for mse and bce) ---- */

/* softmax_cross_entropy(z, y) = mean_b (log Σ_j e^z_bj - z_b,y_b) */
static void ref_softmax_cross_entropy(Ref *r, Val z) {
  real total = 0;
  for (int b = 0; b < z.n; b++) {
    const real *row = z.v + (long)b * z.size;
    real sum = 0;
    for (int j = 0; j < z.size; j++) sum += expl(row[j]);
    total += logl(sum) - row[r->y[b]];
  }
  r->loss = total / z.n;
  r->has_loss = 1;
}

/* mse(p, t) = mean (p - t)^2 */
static void ref_mse(Ref *r, Val p) {
  real total = 0;
  for (long i = 0; i < (long)p.n * p.size; i++) total += (p.v[i] - r->t[i]) * (p.v[i] - r->t[i]);
  r->loss = total / ((real)p.n * p.size);
  r->has_loss = 1;
}

/* bce_with_logits(z, t) = mean -(t log σ(z) + (1 - t) log(1 - σ(z))) */
static void ref_bce_with_logits(Ref *r, Val z) {
  real total = 0;
  for (long i = 0; i < (long)z.n * z.size; i++) {
    real s = 1 / (1 + expl(-z.v[i])), t = r->t[i];
    total += -(t * logl(s) + (1 - t) * logl(1 - s));
  }
  r->loss = total / ((real)z.n * z.size);
  r->has_loss = 1;
}

#endif
