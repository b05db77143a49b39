/* gradcheck.c — the generated backward pass against central finite differences, in double.
 *
 * Built by tests/backend/run_model.cmake against one tests/gradcheck/NAME.nn compiled with
 * `nnc build --double --debug-api` (model_config.h names its API). With the parameters p (all
 * moved a little off their initial values, so that biases are not 0) and a fixed batch:
 *
 *   an_i  = d loss / d p_i as the generated train() computes it (NAME_debug_grads)
 *   fd_i  = (8 (L(p + h e_i) - L(p - h e_i)) - (L(p + 2h e_i) - L(p - 2h e_i))) / 12h
 *   err_i = |fd_i - an_i| / max(|fd_i| + |an_i|, FLOOR)        FLOOR = 1e-6
 *
 * and the check fails when max_i err_i > TOL (default 1e-6, with h = 1e-4). The 4-point central
 * difference has a truncation error O(h^4) (about 1e-16 here) and a rounding error of about
 * 1e-15 / h = 1e-11 (the double loss has some 1e-15 of rounding noise), against 1e-9 for the
 * 2-point one with h = 1e-6; the worst error seen over all cases is below 1e-7, while a 0.1% error
 * in one derivative rule gives above 1e-4. FLOOR makes the bound absolute (1e-12) for gradients
 * that are nearly 0.
 * Dropout masks are drawn once and frozen (freeze_masks = 1) for every later evaluation.
 *
 * Also checked, so that a passing check means something:
 *   - the loss is finite and repeating the evaluation at p gives exactly the same loss;
 *   - at least --min-nonzero (default 0.5) of the gradient entries are non-zero and the largest
 *     is above 1e-6 (a check of all-zero gradients would pass vacuously);
 *   - deterministic models (no --stochastic): the batch loss is the mean of the per-example
 *     losses (relative 1e-12; not with --batch-coupled, for batchnorm's batch statistics), and --loss xent|mse|bce recomputes the loss from forward()'s output
 *     with the spec's formula (relative 1e-5: forward() returns floats).
 *   - --stochastic models: two passes with fresh masks give different losses (dropout is on).
 * A difference that changes sign between the one-sided quotients hints that p + h or p - h
 * crossed a kink (relu at 0); the report then says so.
 *
 * usage: gradcheck [--batch N] [--seed S] [--h H] [--tol T] [--loss xent|mse|bce]
 *                  [--stochastic] [--batch-coupled] [--min-nonzero F]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#if !M_DOUBLE
#error "gradcheck needs a --double build"
#endif

#define FLOOR 1e-6
#define MAX_BATCH 10

/* deterministic pseudo-random values in [-1, 1) (a 64-bit LCG; the examples must differ) */
static double uniform(void) {
  static unsigned long long state = 0x853c49e6748fea9bULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 - 1.0;
}

static M_model *m;
static const float *x_data;
static const M_y *y_data;
static int batch;

static double loss_at(int freeze) { return M(debug_loss_grad)(m, x_data, y_data, batch, freeze); }

static double loss_of_output(const char *kind, const float *out, const M_y *y, int n) {
  double total = 0;
  for (int b = 0; b < n; b++) {
    const float *z = out + (size_t)b * M_OUT_SIZE;
    if (strcmp(kind, "xent") == 0) {
#if M_LABEL
      double mx = z[0], sum = 0;
      for (int j = 1; j < M_OUT_SIZE; j++) mx = z[j] > mx ? z[j] : mx;
      for (int j = 0; j < M_OUT_SIZE; j++) sum += exp(z[j] - mx);
      total += mx + log(sum) - z[y[b]];
#else
      (void)y;
#endif
    } else {
#if !M_LABEL
      for (int j = 0; j < M_OUT_SIZE; j++) {
        double zj = z[j], t = y[(size_t)b * M_TARGET_SIZE + j];
        if (strcmp(kind, "mse") == 0) total += (zj - t) * (zj - t) / M_OUT_SIZE;
        else total += ((zj > 0 ? zj : 0) - zj * t + log1p(exp(-fabs(zj)))) / M_OUT_SIZE;
      }
#endif
    }
  }
  return total / n;
}

int main(int argc, char **argv) {
  double h = 1e-4, tol = 1e-6, min_nonzero = 0.5;
  unsigned long long seed = 11;
  const char *loss_kind = NULL;
  int stochastic = 0, batch_coupled = 0;
  batch = 6;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--stochastic") == 0) stochastic = 1;
    else if (strcmp(a, "--batch-coupled") == 0) batch_coupled = 1;
    else if (v && strcmp(a, "--batch") == 0) batch = atoi(v), i++;
    else if (v && strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10), i++;
    else if (v && strcmp(a, "--h") == 0) h = atof(v), i++;
    else if (v && strcmp(a, "--tol") == 0) tol = atof(v), i++;
    else if (v && strcmp(a, "--min-nonzero") == 0) min_nonzero = atof(v), i++;
    else if (v && strcmp(a, "--loss") == 0) loss_kind = v, i++;
    else {
      fprintf(stderr, "gradcheck: bad argument '%s'\n", a);
      return 2;
    }
  }
  if (batch < 1 || batch > MAX_BATCH) return 2;

  /* max_batch above the batch used: nothing may read or write past n examples */
  m = M(new)(MAX_BATCH, seed);
  if (!m) {
    fprintf(stderr, "FAIL: %s_new returned NULL\n", M_NAME);
    return 1;
  }
  static float x[MAX_BATCH * M_IN_SIZE];
  for (long i = 0; i < (long)MAX_BATCH * M_IN_SIZE; i++) x[i] = (float)(1.5 * uniform());
#if M_LABEL
  static M_y y[MAX_BATCH];
  for (int b = 0; b < MAX_BATCH; b++) y[b] = (int32_t)((3 * b + 1) % M_N_CLASSES);
#else
  static M_y y[MAX_BATCH * M_TARGET_SIZE];
  for (long i = 0; i < (long)MAX_BATCH * M_TARGET_SIZE; i++)
    y[i] = (float)(0.5 + 0.45 * uniform()); /* in (0, 1): valid for bce too */
#endif
  x_data = x;
  y_data = y;

  long n_params = M(debug_n_params)();
  double *p = M(debug_params)(m), *g = M(debug_grads)(m);
  for (long i = 0; i < n_params; i++) p[i] += 0.05 * uniform();

  int failed = 0;
  double l0 = loss_at(1); /* draws the dropout masks, then freezes them */
  if (!isfinite(l0)) {
    fprintf(stderr, "FAIL: loss is %g\n", l0);
    return 1;
  }
  double *an = malloc(sizeof(double) * (size_t)(n_params > 0 ? n_params : 1));
  if (!an) return 1;
  memcpy(an, g, sizeof(double) * (size_t)n_params);
  if (loss_at(1) != l0) {
    fprintf(stderr, "FAIL: the loss at the same parameters changed: %.17g then %.17g\n", l0, loss_at(1));
    failed = 1;
  }

  double worst = 0, max_abs = 0;
  long worst_i = -1, nonzero = 0;
  for (long i = 0; i < n_params; i++) {
    double saved = p[i];
    p[i] = saved + h;
    double lp = loss_at(1);
    p[i] = saved - h;
    double lm = loss_at(1);
    p[i] = saved + 2 * h;
    double lp2 = loss_at(1);
    p[i] = saved - 2 * h;
    double lm2 = loss_at(1);
    p[i] = saved;
    double fd = (8 * (lp - lm) - (lp2 - lm2)) / (12 * h);
    double err = fabs(fd - an[i]) / fmax(fabs(fd) + fabs(an[i]), FLOOR);
    if (an[i] != 0) nonzero++;
    if (fabs(an[i]) > max_abs) max_abs = fabs(an[i]);
    if (!(err <= worst)) {
      worst = err;
      worst_i = i;
    }
    if (!(err <= tol)) {
      double right = (lp - l0) / h, left = (l0 - lm) / h;
      fprintf(stderr, "FAIL: param %ld: finite difference %.10g, generated %.10g (error %.3g)%s\n", i, fd, an[i],
              err, (right > 0) != (left > 0) ? " (one-sided quotients differ in sign: a kink?)" : "");
      failed = 1;
    }
  }
  printf("%s: %ld parameters, worst error %.3g at %ld (bound %g, h %g), %ld non-zero gradients, max |grad| %.3g\n",
         M_NAME, n_params, worst, worst_i, tol, h, nonzero, max_abs);
  if (n_params == 0 || (double)nonzero < min_nonzero * (double)n_params || max_abs < 1e-6) {
    fprintf(stderr, "FAIL: too few non-zero gradients (%ld of %ld; need %g of them) — the check would be vacuous\n",
            nonzero, n_params, min_nonzero);
    failed = 1;
  }

  if (!stochastic && !batch_coupled) {
    /* the loss is the mean over the batch */
    double sum = 0;
    for (int b = 0; b < batch; b++) {
#if M_LABEL
      sum += M(debug_loss_grad)(m, x + (size_t)b * M_IN_SIZE, y + b, 1, 0);
#else
      sum += M(debug_loss_grad)(m, x + (size_t)b * M_IN_SIZE, y + (size_t)b * M_TARGET_SIZE, 1, 0);
#endif
    }
    double mean = sum / batch, l = loss_at(0);
    if (!(fabs(mean - l) <= 1e-12 * fabs(l))) {
      fprintf(stderr, "FAIL: batch loss %.17g is not the mean %.17g of the per-example losses\n", l, mean);
      failed = 1;
    }
    if (loss_kind) {
      static float out[MAX_BATCH * M_OUT_SIZE];
      M(forward)(m, x, batch, out);
      double expect = loss_of_output(loss_kind, out, y, batch);
      printf("loss %.10g, recomputed from forward() with the %s formula %.10g\n", l, loss_kind, expect);
      if (!(fabs(expect - l) <= 1e-5 * fabs(l))) {
        fprintf(stderr, "FAIL: loss %.10g differs from the %s formula on forward()'s output %.10g\n", l, loss_kind,
                expect);
        failed = 1;
      }
    }
  }
  if (stochastic) {
    /* training draws fresh masks on every step unless they are frozen */
    double a = loss_at(0), b = loss_at(0);
    if (a == b) {
      fprintf(stderr, "FAIL: two training passes with fresh dropout masks gave the same loss %.17g\n", a);
      failed = 1;
    }
  }
  free(an);
  M(free)(m);
  if (failed) fprintf(stderr, "FAIL: %s\n", M_NAME);
  return failed;
}
