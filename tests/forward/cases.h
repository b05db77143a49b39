/* cases.h — the reference of each tests/forward/<case>.nn, written from the spec with
 * reference.h; forward_check.c runs the row whose name it is given.
 *
 * A case rebuilds its .nn file's graph from the input (and the parameters, in creation order),
 * returns the model's output and computes its loss (a case whose training is random leaves the
 * loss out). Adding an op: a tests/forward/<case>.nn, its formula in reference.h, and a row here.
 *
 *   kind    ELEMENTWISE: the op is applied to the input itself, so its values are checked to a few
 *           ulps relative to |value| (special inputs: 0, ±2^k, ±1e-6, ±40, ...);
 *           LAYERS: dense layers in between, checked to a few ulps relative to max(|value|, 1)
 *   exact   ELEMENTWISE cases may give the value that the double build must return bit for bit
 *           at inputs ±2^k and -40 (NAN where not fixed): the constants to their last digit
 */
#include "reference.h"

enum { ELEMENTWISE, LAYERS };

typedef struct Case {
  const char *name;
  Val (*reference)(Ref *r);
  int kind;
  double (*exact)(double x);
} Case;

#define VEC(size) 1, (int[]){size}

/* ---- activations on the input: out = f(x), loss mse(out, t) ---- */
#define EW_CASE(name, f, arg)                                 \
  static Val case_##name(Ref *r) {                            \
    Val h = ref_map(ref_input(r, VEC(240)), f, arg);           \
    ref_mse(r, h);                                            \
    return h;                                                 \
  }
EW_CASE(relu, ref_relu, 0)
EW_CASE(selu, ref_selu, 0)
EW_CASE(elu, ref_elu, 1.0L)             /* §4: elu(alpha=1.0) */
EW_CASE(elu_alpha, ref_elu, 0.3L)
EW_CASE(leaky_relu, ref_leaky_relu, 0.01L) /* §4: leaky_relu(slope=0.01) */
EW_CASE(leaky_relu_slope, ref_leaky_relu, 0.2L)
EW_CASE(sigmoid, ref_sigmoid, 0)
EW_CASE(tanh, ref_tanh, 0)
EW_CASE(identity, ref_identity, 0)

static Val case_softmax(Ref *r) {
  Val h = ref_softmax(ref_input(r, VEC(240)));
  ref_mse(r, h);
  return h;
}

/* Where the double build's value is fixed to the bit: selu(2^k) = λ 2^k; selu(-40) = -λα, the
   product taken in double as torch does (expm1(-40) rounds to -1); elu(-40) = -1; leaky_relu's
   default slope times 2^k. */
static double exact_selu(double x) {
  if (x > 0) return (double)REF_SELU_LAMBDA * x;
  return x == -40 ? -((double)REF_SELU_ALPHA * (double)REF_SELU_LAMBDA) : NAN;
}
static double exact_elu(double x) { return x > 0 ? x : x == -40 ? -1.0 : NAN; }
static double exact_leaky_relu(double x) { return x > 0 ? x : 0.01 * x; }

/* ---- layers ---- */

static Val case_dense(Ref *r) {
  Val z = ref_dense(r, ref_input(r, VEC(7)), 5, 1);
  ref_softmax_cross_entropy(r, z);
  return z;
}

static Val case_dense_nobias(Ref *r) {
  Val h = ref_dense(r, ref_input(r, VEC(7)), 4, 0);
  ref_mse(r, h);
  return h;
}

static Val case_flatten(Ref *r) {
  Val x = ref_input(r, 3, (int[]){2, 3, 4});
  Val a = ref_dense(r, x, 3, 1);
  Val b = ref_dense(r, ref_flatten(x), 3, 0);
  Val z = ref_binary(a, b, '+');
  ref_softmax_cross_entropy(r, z);
  return z;
}

static Val case_layers(Ref *r) {
  Val h = ref_map(ref_dense(r, ref_input(r, VEC(6)), 8, 1), ref_selu, 0);
  h = ref_map(ref_dense(r, h, 8, 1), ref_elu, 0.5L);
  h = ref_map(ref_dense(r, h, 8, 1), ref_leaky_relu, 0.01L);
  Val a = ref_map(ref_dense(r, h, 8, 1), ref_tanh, 0);
  Val b = ref_map(ref_dense(r, h, 8, 1), ref_sigmoid, 0);
  Val z = ref_dense(r, ref_binary(a, b, '+'), 3, 1);
  ref_bce_with_logits(r, z);
  return z;
}

static Val case_arithmetic(Ref *r) {
  Val x = ref_input(r, VEC(5));
  Val a = ref_dense(r, x, 4, 1);
  Val b = ref_map(ref_dense(r, x, 4, 1), ref_relu, 0);
  Val h = ref_binary(ref_binary(ref_binary(a, b, '*'), ref_scale(0.5L, a), '+'), b, '-');
  Val p = ref_softmax(ref_binary(h, ref_scale(2.5L, ref_map(a, ref_relu, 0)), '-'));
  ref_mse(r, p);
  return p;
}

static Val case_dropout(Ref *r) {
  Val h = ref_map(ref_dense(r, ref_input(r, VEC(6)), 8, 1), ref_selu, 0); /* dropouts: identity */
  return ref_dense(r, h, 4, 1);
}

static const Case cases[] = {
    {"relu", case_relu, ELEMENTWISE, NULL},
    {"selu", case_selu, ELEMENTWISE, exact_selu},
    {"elu", case_elu, ELEMENTWISE, exact_elu},
    {"elu_alpha", case_elu_alpha, ELEMENTWISE, NULL},
    {"leaky_relu", case_leaky_relu, ELEMENTWISE, exact_leaky_relu},
    {"leaky_relu_slope", case_leaky_relu_slope, ELEMENTWISE, NULL},
    {"sigmoid", case_sigmoid, ELEMENTWISE, NULL},
    {"tanh", case_tanh, ELEMENTWISE, NULL},
    {"identity", case_identity, ELEMENTWISE, NULL},
    {"softmax", case_softmax, LAYERS, NULL}, /* e^(x - max) is as exact as x - max: |value| alone is too strict */
    {"dense", case_dense, LAYERS, NULL},
    {"dense_nobias", case_dense_nobias, LAYERS, NULL},
    {"flatten", case_flatten, LAYERS, NULL},
    {"layers", case_layers, LAYERS, NULL},
    {"arithmetic", case_arithmetic, LAYERS, NULL},
    {"dropout", case_dropout, LAYERS, NULL},
};
