/* one_pass.c — small-batch training in one pass (README "Small-batch training") against the
 * written path.
 *
 * Built by run_model.cmake against tests/backend/one_pass.nn.in configured with one optimizer (float
 * or --double, BLAS or not, --debug-api): x [5] -> dense 7 -> relu -> dense 3, softmax cross-entropy.
 * Model A trains through NAME_train_step at batches of 1 and 2 (both weights' limit: 7 x 5 and
 * 3 x 7 hold the n rows of dy and x up to n = 2), where each dense weight takes its step in one pass
 * from dy and x (nnc_update_outer) and its gradient is never written. The reference is the written
 * path: model B, holding the reference parameters, computes the gradient block with
 * NAME_debug_loss_grad (which writes every gradient), and this file applies the optimizer to it
 * with the generated code's expressions, in the same precision and order. At batch 1 each element
 * of the gradient is one product, so the parameters must agree to the bit after every step (and
 * so the optimizer state did too):
 *
 *   - a step of batch 3 (the written path in A as well) in between, and batch-1 steps after it;
 *   - a weight gradient that overflows although the loss, dy and x are finite (a large input whose
 *     first-layer column is zero, a large second-layer weight): the step is refused, nothing
 *     changes (the whole checkpoint compared byte for byte), and the next step matches B;
 *   - one whose largest product is just below the overflow: taken, equal to the reference.
 *
 * At batch 2 each element is a sum of two products: to the bit in double (both paths multiply and
 * add in the examples' order), within 1e-5 of the reference in float (nnc_g_outer's fused
 * multiply-adds and cblas_sgemm may round differently), from a fresh pair of models:
 *
 *   - steps of batch 2;
 *   - a batch whose first example's gradient overflows: refused, nothing changes;
 *   - the same example twice, each product inside the range and their sum beyond it: refused;
 *   - a batch whose largest dy and largest x, from different examples, multiply beyond the range
 *     while every element of the gradient is finite (the first example's dy is exactly 0): taken.
 *
 * usage: one_pass sgd|rmsprop|adam [lr=X] [momentum=X] [nesterov=true] [weight_decay=X] [rho=X]
 *                 [eps=X] [beta1=X] [beta2=X] WORK
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#if !M_LABEL || M_IN_SIZE != 5 || M_N_CLASSES != 3
#error "one_pass.c needs one_pass.nn"
#endif

#if M_DOUBLE
#define SQRT sqrt
#define REAL_MAX DBL_MAX
#define HUGE_X 1e10 /* an input is a float; times HUGE_W: beyond DBL_MAX */
#define HUGE_W 1e300
#define EDGE_X 1e5 /* times HUGE_W: 1e305, finite */
#else
#define SQRT sqrtf
#define REAL_MAX FLT_MAX
#define HUGE_X 1e19f
#define HUGE_W 1e20f
#define EDGE_X 1e15f
#endif

#define IN 5
#define HID 7
#define OUT 3
#define N_P (HID * IN + HID + OUT * HID + OUT) /* W1 [7, 5], b1 [7], W2 [3, 7], b2 [3] */
#define W2 (HID * IN + HID)

typedef M_real real;

static int failed;
static const char *kind, *work;
static double lr, momentum, wd, rho = 0.9, eps = 1e-8, beta1 = 0.9, beta2 = 0.999;
static int nesterov;

/* the reference: parameters and optimizer state */
static real ref[N_P], state1[N_P], state2[N_P];
static uint64_t ref_steps;

/* The generated update's expressions (emit.c's emit_update_rule), element by element. */
static void reference_step(const real *g) {
  ref_steps++;
  double c1 = 1 - pow(beta1, (double)ref_steps), c2 = 1 - pow(beta2, (double)ref_steps);
  real step_size = (real)(lr / c1), root_c2 = (real)sqrt(c2);
  for (int i = 0; i < N_P; i++) {
    real d = wd > 0 ? g[i] + (real)wd * ref[i] : g[i];
    if (strcmp(kind, "sgd") == 0 && momentum == 0) {
      ref[i] -= (real)lr * d;
    } else if (strcmp(kind, "sgd") == 0) {
      state1[i] = (real)momentum * state1[i] + d;
      ref[i] -= (real)lr * (nesterov ? d + (real)momentum * state1[i] : state1[i]);
    } else if (strcmp(kind, "rmsprop") == 0) {
      state1[i] = (real)rho * state1[i] + (real)(1 - rho) * d * d;
      ref[i] -= (real)lr * d / (SQRT(state1[i]) + (real)eps);
    } else {
      state1[i] = (real)beta1 * state1[i] + (real)(1 - beta1) * d;
      state2[i] = (real)beta2 * state2[i] + (real)(1 - beta2) * d * d;
      ref[i] -= step_size * state1[i] / (SQRT(state2[i]) / root_c2 + (real)eps);
    }
  }
}

/* The written path's loss at the reference's parameters (model b then holds its gradients) */
static double written_loss(M_model *b, const float *x, const int32_t *y, int n) {
  memcpy(M(debug_params)(b), ref, sizeof ref);
  return M(debug_loss_grad)(b, x, y, n, 0);
}

/* the largest relative difference of A's parameters from the reference's */
static double max_rel_diff(const real *p) {
  double worst = 0;
  for (int i = 0; i < N_P; i++) {
    double d = fabs((double)p[i] - (double)ref[i]) / (fabs((double)ref[i]) + 1e-3);
    if (!(d <= worst)) worst = d; /* (a NaN is the worst) */
  }
  return worst;
}

/* One step of A (one pass at n <= 2) and of the reference (B's written gradients); compares, to
   the bit when exact is set, else within 1e-5. */
static void step_both(M_model *a, M_model *b, const float *x, const int32_t *y, int n, const char *what, int exact) {
  double ref_loss = written_loss(b, x, y, n);
  reference_step(M(debug_grads)(b));
  float loss = M(train_step)(a, x, y, n);
  if (exact ? loss != (float)ref_loss : !(fabs(loss - ref_loss) <= 1e-5 * (fabs(ref_loss) + 1e-3))) {
    fprintf(stderr, "FAIL: %s: loss %.9g, the written path's %.9g\n", what, loss, ref_loss);
    failed = 1;
  }
  if (!exact) {
    double worst = max_rel_diff(M(debug_params)(a));
    if (!(worst <= 1e-5)) {
      fprintf(stderr, "FAIL: %s: parameters %.3g from the written path's (relative)\n", what, worst);
      failed = 1;
    }
  } else if (memcmp(M(debug_params)(a), ref, sizeof ref) != 0) {
    for (int i = 0; i < N_P; i++)
      if (memcmp(&M(debug_params)(a)[i], &ref[i], sizeof(real)) != 0) {
        fprintf(stderr, "FAIL: %s: parameter %d is %.17g, the written path's %.17g\n", what, i,
                (double)M(debug_params)(a)[i], (double)ref[i]);
        break;
      }
    failed = 1;
  }
  if (M(steps)(a) != ref_steps) {
    fprintf(stderr, "FAIL: %s: %llu steps, expected %llu\n", what, (unsigned long long)M(steps)(a),
            (unsigned long long)ref_steps);
    failed = 1;
  }
}

static unsigned char *checkpoint_bytes(M_model *m, const char *name, long *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", work, name);
  if (M(save)(m, path) != 0) abort();
  FILE *f = fopen(path, "rb");
  unsigned char *bytes = malloc(1 << 16);
  if (!f || !bytes) abort();
  *size = (long)fread(bytes, 1, 1 << 16, f);
  fclose(f);
  return bytes;
}

/* W1's column 4 zero and W2 huge, in the reference and in m */
static void make_huge_weights(M_model *m) {
  for (int i = 0; i < HID; i++) ref[i * IN + 4] = 0;
  for (int i = 0; i < OUT * HID; i++) ref[W2 + i] = (i % 2 ? -1 : 1) * HUGE_W;
  memcpy(M(debug_params)(m), ref, sizeof ref);
}

/* 1 when the written path (model b at the reference's parameters) gives a finite loss and some
   gradient that is not */
static int overflows(M_model *b, const float *x, const int32_t *y, int n) {
  double loss = written_loss(b, x, y, n);
  int finite = 1;
  for (int i = 0; i < N_P; i++) finite &= isfinite(M(debug_grads)(b)[i]) != 0;
  return isfinite(loss) && !finite;
}

/* A's step must be refused and change nothing (the whole checkpoint compared byte for byte) */
static void expect_refused(M_model *a, const float *x, const int32_t *y, int n, const char *what) {
  long size_before, size_after;
  unsigned char *before = checkpoint_bytes(a, "before.ckpt", &size_before);
  float loss = M(train_step)(a, x, y, n);
  unsigned char *after = checkpoint_bytes(a, "after.ckpt", &size_after);
  if (!isnan(loss) || size_before != size_after || memcmp(before, after, (size_t)size_before) != 0) {
    fprintf(stderr, "FAIL: %s: a step with an overflowing weight gradient was not refused cleanly (loss %g)\n", what,
            loss);
    failed = 1;
  }
  free(before);
  free(after);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  kind = argv[1];
  work = argv[argc - 1];
  for (int i = 2; i < argc - 1; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    if (!eq) return 2;
    double v = atof(eq + 1);
    size_t k = (size_t)(eq - a);
    if (strncmp(a, "lr", k) == 0) lr = v;
    else if (strncmp(a, "momentum", k) == 0) momentum = v;
    else if (strncmp(a, "nesterov", k) == 0) nesterov = strcmp(eq + 1, "true") == 0;
    else if (strncmp(a, "weight_decay", k) == 0) wd = v;
    else if (strncmp(a, "rho", k) == 0) rho = v;
    else if (strncmp(a, "eps", k) == 0) eps = v;
    else if (strncmp(a, "beta1", k) == 0) beta1 = v;
    else if (strncmp(a, "beta2", k) == 0) beta2 = v;
    else return 2;
  }
  if (M(debug_n_params)() != N_P) {
    fprintf(stderr, "FAIL: %ld parameters, expected %d\n", M(debug_n_params)(), N_P);
    return 1;
  }
  M_model *a = M(new)(3, 7), *b = M(new)(3, 7);
  if (!a || !b) return 1;
  memcpy(ref, M(debug_params)(a), sizeof ref);

  float x[3 * IN];
  int32_t y[3];
  char what[64];
  for (int s = 0; s < 12; s++) {
    int n = s == 5 ? 3 : 1; /* one step of batch 3 (written) between them */
    for (int i = 0; i < n * IN; i++) x[i] = (float)(1.5 * sin(1.7 * i + 0.9 * s));
    for (int i = 0; i < n; i++) y[i] = (s + i) % OUT;
    snprintf(what, sizeof what, "step %d (batch %d)", s + 1, n);
    step_both(a, b, x, y, n, what, 1);
  }

  /* A weight gradient beyond the range: x[4] is huge but column 4 of W1 is zero (the forward pass
     does not see it), W2 is huge, so dy of the hidden layer is too, and dW1[i][4] overflows. */
  make_huge_weights(a);
  for (int i = 0; i < IN; i++) x[i] = (float)(0.5 + 0.25 * i);
  x[4] = (float)HUGE_X;
  /* a label that is not the largest logit, so that dy is not about 0 */
  for (y[0] = 0; y[0] < OUT && !overflows(b, x, y, 1); y[0]++) continue;
  if (y[0] == OUT) {
    fprintf(stderr, "FAIL: no label makes the overflow case meant\n");
    failed = 1;
  }
  expect_refused(a, x, y, 1, "batch 1");
  /* the same, its largest product just inside the range: taken */
  x[4] = (float)EDGE_X;
  step_both(a, b, x, y, 1, "a weight gradient near the range's end", 1);

  /* Batch 2, from a fresh pair: a sum of two products each */
  M_model *a2 = M(new)(3, 11), *b2 = M(new)(3, 11);
  if (!a2 || !b2) return 1;
  memcpy(ref, M(debug_params)(a2), sizeof ref);
  memset(state1, 0, sizeof state1);
  memset(state2, 0, sizeof state2);
  ref_steps = 0;
  const int exact = M_DOUBLE;
  for (int s = 0; s < 8; s++) {
    for (int i = 0; i < 2 * IN; i++) x[i] = (float)(1.5 * sin(1.3 * i + 0.7 * s));
    for (int i = 0; i < 2; i++) y[i] = (s + 2 * i) % OUT;
    snprintf(what, sizeof what, "step %d (batch 2)", s + 1);
    step_both(a2, b2, x, y, 2, what, exact);
  }
  /* the first example's gradient overflows: refused (first: a taken step changes the state) */
  make_huge_weights(a2);
  for (int i = 0; i < 2 * IN; i++) x[i] = (float)(0.5 + 0.25 * (i % IN));
  x[4] = (float)HUGE_X;
  y[1] = 0;
  for (y[0] = 0; y[0] < OUT && !overflows(b2, x, y, 1); y[0]++) continue;
  if (y[0] == OUT) {
    fprintf(stderr, "FAIL: no label makes the batch-2 overflow case meant\n");
    failed = 1;
  }
  expect_refused(a2, x, y, 2, "batch 2");
  /* Refused too: a sum of two products beyond the range, each inside it. The same example twice
     (the mean loss halves each dy, so each product is half of the batch-1 gradient), its x[4] made
     so that the batch-1 gradient is 1.5 times the largest finite value. */
  for (int i = 0; i < IN; i++) x[i] = x[IN + i] = (float)(0.5 + 0.25 * i);
  x[4] = x[IN + 4] = 1;
  y[1] = y[0];
  written_loss(b2, x, y, 1);
  double g4 = 0; /* the largest |dW1[i][4]| at x[4] = 1 */
  for (int i = 0; i < HID; i++) g4 = fmax(g4, fabs((double)M(debug_grads)(b2)[i * IN + 4]));
  x[4] = x[IN + 4] = (float)(REAL_MAX / g4 * 1.5);
  if (!(g4 > 0) || !overflows(b2, x, y, 1) || !overflows(b2, x, y, 2)) {
    fprintf(stderr, "FAIL: no sum of two products in range beyond the range: not the case meant\n");
    failed = 1;
  }
  expect_refused(a2, x, y, 2, "batch 2, a sum beyond the range");
  x[4] = (float)HUGE_X, x[IN + 4] = (float)(0.5 + 0.25 * 4);

  /* The first example's x[4] huge, its label the largest logit (its dy exactly 0: the softmax of
     huge logits is exactly one-hot); the second's dy huge, its x not: the largest dy times the
     largest x is beyond the range, every element of the gradient is not. */
  int found = 0;
  for (y[0] = 0; y[0] < OUT && !found; y[0] += !found) {
    found = written_loss(b2, x, y, 1) == 0 && !overflows(b2, x, y, 1);
  }
  for (y[1] = 0; y[1] < OUT; y[1]++) { /* a label with a loss: dy not 0 */
    if (written_loss(b2, x + IN, y + 1, 1) > 0 && !overflows(b2, x + IN, y + 1, 1)) break;
  }
  if (!found || y[1] == OUT || overflows(b2, x, y, 2)) {
    fprintf(stderr, "FAIL: no labels make the batch of a large x and a large dy meant\n");
    failed = 1;
  }
  step_both(a2, b2, x, y, 2, "a batch whose largest dy and x multiply beyond the range", exact);
  printf("%s %s: batch-1 steps in one pass equal the written path's, bit for bit, batch-2 steps %s; overflow "
         "refused\n", M_NAME, kind, exact ? "too" : "within 1e-5");
  M(free)(a);
  M(free)(b);
  M(free)(a2);
  M(free)(b2);
  if (failed) fprintf(stderr, "FAIL: %s\n", M_NAME);
  return failed;
}
