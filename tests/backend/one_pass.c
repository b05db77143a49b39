/* one_pass.c — batch-1 training in one pass (README "Batch-1 training") against the written path.
 *
 * Built by run_model.cmake against tests/backend/one_pass.nn.in configured with one optimizer (float
 * or --double, BLAS or not, --debug-api): x [5] -> dense 7 -> relu -> dense 3, softmax cross-entropy.
 * Model A trains through NAME_train_step at batch 1, where each dense weight takes its step in one
 * pass from dy and x (nnc_update_outer) and its gradient is never written. The reference is the
 * written path: model B, holding the reference parameters, computes the gradient block with
 * NAME_debug_loss_grad (which writes every gradient), and this file applies the optimizer to it
 * with the generated code's expressions, in the same precision and order; the parameters must
 * agree to the bit after every step, so the optimizer state did too. Then:
 *
 *   - a step of batch 2 (the written path in A as well) in between, and batch-1 steps after it;
 *   - a weight gradient that overflows although the loss, dy and x are finite (a large input whose
 *     first-layer column is zero, a large second-layer weight): the step is refused, nothing
 *     changes (the whole checkpoint compared byte for byte), and the next step matches B;
 *   - one whose largest product is just below the overflow: taken, equal to the reference.
 *
 * usage: one_pass sgd|rmsprop|adam [lr=X] [momentum=X] [nesterov=true] [weight_decay=X] [rho=X]
 *                 [eps=X] [beta1=X] [beta2=X] WORK
 */
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
#define HUGE_X 1e10 /* an input is a float; times HUGE_W: beyond DBL_MAX */
#define HUGE_W 1e300
#define EDGE_X 1e5 /* times HUGE_W: 1e305, finite */
#else
#define SQRT sqrtf
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

/* One step of A (one pass at n == 1) and of the reference (B's written gradients); compares. */
static void step_both(M_model *a, M_model *b, const float *x, const int32_t *y, int n, const char *what) {
  memcpy(M(debug_params)(b), ref, sizeof ref);
  double ref_loss = M(debug_loss_grad)(b, x, y, n, 0);
  reference_step(M(debug_grads)(b));
  float loss = M(train_step)(a, x, y, n);
  if (loss != (float)ref_loss) {
    fprintf(stderr, "FAIL: %s: loss %.9g, the written path's %.9g\n", what, loss, ref_loss);
    failed = 1;
  }
  if (memcmp(M(debug_params)(a), ref, sizeof ref) != 0) {
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
  M_model *a = M(new)(2, 7), *b = M(new)(2, 7);
  if (!a || !b) return 1;
  memcpy(ref, M(debug_params)(a), sizeof ref);

  float x[2 * IN];
  int32_t y[2];
  char what[64];
  for (int s = 0; s < 12; s++) {
    int n = s == 5 ? 2 : 1; /* one step of batch 2 between them */
    for (int i = 0; i < n * IN; i++) x[i] = (float)(1.5 * sin(1.7 * i + 0.9 * s));
    for (int i = 0; i < n; i++) y[i] = (s + i) % OUT;
    snprintf(what, sizeof what, "step %d (batch %d)", s + 1, n);
    step_both(a, b, x, y, n, what);
  }

  /* A weight gradient beyond the range: x[4] is huge but column 4 of W1 is zero (the forward pass
     does not see it), W2 is huge, so dy of the hidden layer is too, and dW1[i][4] overflows. */
  for (int i = 0; i < HID; i++) ref[i * IN + 4] = 0;
  for (int i = 0; i < OUT * HID; i++) ref[W2 + i] = (i % 2 ? -1 : 1) * HUGE_W;
  memcpy(M(debug_params)(a), ref, sizeof ref);
  for (int i = 0; i < IN; i++) x[i] = (float)(0.5 + 0.25 * i);
  x[4] = (float)HUGE_X;
  {
    long size_before, size_after;
    unsigned char *before = checkpoint_bytes(a, "before.ckpt", &size_before);
    double probe = 0;
    int finite = 1;
    /* a label that is not the largest logit, so that dy is not about 0 */
    for (y[0] = 0; y[0] < OUT; y[0]++) {
      memcpy(M(debug_params)(b), ref, sizeof ref);
      probe = M(debug_loss_grad)(b, x, y, 1, 0);
      finite = 1;
      for (int i = 0; i < N_P; i++) finite &= isfinite(M(debug_grads)(b)[i]) != 0;
      if (isfinite(probe) && !finite) break;
    }
    if (!isfinite(probe) || finite) {
      fprintf(stderr, "FAIL: the overflow case has loss %g and %s gradients: not the case meant\n", probe,
              finite ? "finite" : "non-finite");
      failed = 1;
    }
    float loss = M(train_step)(a, x, y, 1);
    unsigned char *after = checkpoint_bytes(a, "after.ckpt", &size_after);
    if (!isnan(loss) || size_before != size_after || memcmp(before, after, (size_t)size_before) != 0) {
      fprintf(stderr, "FAIL: a step with an overflowing weight gradient was not refused cleanly (loss %g)\n", loss);
      failed = 1;
    }
    free(before);
    free(after);
  }
  /* the same, its largest product just inside the range: taken */
  x[4] = (float)EDGE_X;
  step_both(a, b, x, y, 1, "a weight gradient near the range's end");

  printf("%s %s: batch-1 steps in one pass equal the written path's, bit for bit; overflow refused\n", M_NAME, kind);
  M(free)(a);
  M(free)(b);
  if (failed) fprintf(stderr, "FAIL: %s\n", M_NAME);
  return failed;
}
