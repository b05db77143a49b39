/* precision.c — the float kernels against the double ones, on the same parameters.
 *
 * The double build is what gradcheck_* verifies; the float build (what users run) has kernels of
 * its own, e.g. a polynomial expm1 for SELU/ELU and float libm calls, which no gradient check
 * sees. Built by run_model.cmake against precision.nn.in (or precision_target.nn.in: bce and a
 * target) configured twice: prec_f (float, with or without BLAS, --debug-api; model_config.h names
 * it M) and prec_d (--double --debug-api). The
 * test copies the float model's parameters into the double one, then requires
 *
 *   forward (8 examples, inputs in [-4, 4]):  |out_f - out_d| <= 1e-5 * max(1, |out_d|)
 *   the gradients of one pass:  |g_f - g_d| <= 1e-5 * the largest |g_d|
 *   one train_step (dropout masks: the same generator stream in both):
 *     the losses within 1e-5 relative, every parameter within 1e-5 * max(1, |p|)
 *   forward again after the step (batchnorm's running statistics no longer at their start)
 *
 * float rounding accounts for about 1e-6 here (some 10 ulps through the dense layers); an
 * approximation folded away by the compiler fails. The kernels' accuracy to the ulp is checked
 * against an independent reference by tests/forward (forward_check.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_config.h"
#include "prec_d.h"

#if M_DOUBLE
#error "precision.c: the first model is the float one"
#endif

#ifndef PRECISION_BATCH
#define PRECISION_BATCH 8 /* backend.cmake builds it with 1 too: a BLAS build's one-example products */
#endif
#define N PRECISION_BATCH
#define TOL 1e-5

static double uniform(void) {
  static unsigned long long state = 0x9e3779b97f4a7c15ULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 * 2 - 1;
}

/* forward() of both builds on x: 1 (and the first failures on stderr) unless every output agrees */
static int check_forward(M_model *f, prec_d *d, const float *x, const char *what, int *reported) {
  static float of[N * M_OUT_SIZE], od[N * M_OUT_SIZE];
  int failed = 0;
  double worst = 0;
  M(forward)(f, x, N, of);
  prec_d_forward(d, x, N, od);
  for (int i = 0; i < N * M_OUT_SIZE; i++) {
    double err = fabs((double)of[i] - od[i]) / fmax(1.0, fabs(od[i]));
    worst = fmax(worst, err);
    if (!(err <= TOL)) {
      if ((*reported)++ < 10) fprintf(stderr, "FAIL: %s, output %d: float %.9g, double %.9g\n", what, i, of[i], od[i]);
      failed = 1;
    }
  }
  printf("%s: worst difference %.3g (bound %g)\n", what, worst, TOL);
  return failed;
}

int main(void) {
  M_model *f = M(new)(N, 21);
  prec_d *d = prec_d_new(N, 21); /* the same seed: the same dropout masks */
  if (!f || !d) return 1;
  long n = M(debug_n_params)();
  if (n != prec_d_debug_n_params()) {
    fprintf(stderr, "FAIL: the float and double builds have %ld and %ld parameters\n", n, prec_d_debug_n_params());
    return 1;
  }
  float *pf = M(debug_params)(f);
  double *pd = prec_d_debug_params(d);
  for (long i = 0; i < n; i++) pd[i] = pf[i];

  static float x[N * M_IN_SIZE];
  for (int i = 0; i < N * M_IN_SIZE; i++) x[i] = (float)(4 * uniform());
#if M_LABEL
  static M_y y[N];
  for (int i = 0; i < N; i++) y[i] = (int32_t)(i % M_N_CLASSES);
#else
  static M_y y[N * M_TARGET_SIZE];
  for (int i = 0; i < N * M_TARGET_SIZE; i++) y[i] = (float)(0.5 + 0.5 * uniform());
#endif

  int reported = 0;
  int failed = check_forward(f, d, x, "forward", &reported);
  double worst = 0;

  /* the gradients themselves (the step below scales them by the learning rate), relative to the
     largest; the masks of this pass are drawn alike in both */
  double gf_loss = M(debug_loss_grad)(f, x, y, N, 0), gd_loss = prec_d_debug_loss_grad(d, x, y, N, 0);
  const float *gf = M(debug_grads)(f);
  const double *gd = prec_d_debug_grads(d);
  double largest = 0;
  for (long i = 0; i < n; i++) largest = fmax(largest, fabs(gd[i]));
  worst = 0;
  for (long i = 0; i < n; i++) {
    double err = fabs((double)gf[i] - gd[i]) / fmax(largest, 1e-3);
    worst = fmax(worst, err);
    if (!(err <= TOL)) {
      if (reported++ < 10) fprintf(stderr, "FAIL: gradient %ld: float %.9g, double %.9g\n", i, gf[i], gd[i]);
      failed = 1;
    }
  }
  printf("gradients (loss %.9g vs %.9g): worst difference %.3g of the largest, %.3g (bound %g)\n", gf_loss, gd_loss,
         worst, largest, TOL);

  float lf = M(train_step)(f, x, y, N), ld = prec_d_train_step(d, x, y, N);
  printf("train_step: loss %.9g (float) vs %.9g (double)\n", lf, ld);
  if (!(fabs(lf - ld) <= TOL * fabs(ld))) {
    fprintf(stderr, "FAIL: losses differ\n");
    failed = 1;
  }
  worst = 0;
  for (long i = 0; i < n; i++) {
    double err = fabs((double)pf[i] - pd[i]) / fmax(1.0, fabs(pd[i]));
    worst = fmax(worst, err);
    if (!(err <= TOL)) {
      if (reported++ < 10) fprintf(stderr, "FAIL: parameter %ld after one step: float %.9g, double %.9g\n", i, pf[i], pd[i]);
      failed = 1;
    }
  }
  printf("parameters after one step: worst difference %.3g (bound %g)\n", worst, TOL);

  /* forward again: batchnorm's running statistics have moved from their initial values */
  failed |= check_forward(f, d, x, "forward after the step", &reported);
  M(free)(f);
  prec_d_free(d);
  return failed;
}
