/* dropout_check.c — what dropout and alpha_dropout compute in training (spec §4), exactly.
 *
 * Built by run_model.cmake (--double --debug-api) against dropout_inv.nn (first; M) and
 * dropout_alpha.nn: pred = dropout(z, p) or alpha_dropout(z, p), p = 0.3, loss mse(pred, t), with
 * z = 1 everywhere (weights set to 0, biases to 1). Every element of pred is then one of two values
 * v_kept, v_dropped, and with t = v_dropped the loss is  kept / (B K) * (v_kept - v_dropped)^2  — so
 * loss * B K / (v_kept - v_dropped)^2 must be an integer, the number kept:
 *   dropout (inverted, as torch):   v_kept = 1 / (1 - p), v_dropped = 0
 *   alpha_dropout (torch.nn.AlphaDropout, alpha' = -1.7580993408473766):
 *       a = ((1 - p) (1 + p alpha'^2))^(-1/2), b = -a alpha' p,
 *       v_kept = a * 1 + b, v_dropped = a alpha' + b
 * (integer within 1e-6: a wrong scale or shift leaves a fraction). The fraction kept must be within
 * 5 standard deviations of 1 - p (B K = 4,000 draws); fresh masks each pass (two passes differ);
 * and inference (forward) is the identity: it returns z = 1.
 */
#include <math.h>
#include <stdio.h>

#include "model_config.h"
#include "dropout_alpha.h"

#define B 8
#define K 500
#define IN 2
#define P 0.3

static int check(const char *what, double *params, long n_params, double (*loss)(void *, const float *, const float *, int),
                 void *m, double v_kept, double v_dropped) {
  static float x[B * IN], t[B * K];
  for (int i = 0; i < B * IN; i++) x[i] = (float)(i + 1);
  for (int i = 0; i < B * K; i++) t[i] = (float)v_dropped;
  for (long i = 0; i < n_params; i++) params[i] = i < (long)K * IN ? 0 : 1; /* W = 0, b = 1 */
  double l1 = loss(m, x, t, B), l2 = loss(m, x, t, B);
  /* t is float: the dropped value exactly as the model sees it */
  double d = v_kept - (double)(float)v_dropped;
  double kept = l1 * B * K / (d * d);
  double frac = kept / (B * K), sd = sqrt(P * (1 - P) / (B * K));
  int failed = 0;
  printf("%s: v_kept %.9g, v_dropped %.9g; %.6f kept of %d (fraction %.4f, expected %.2f +- %.4f)\n", what, v_kept,
         v_dropped, kept, B * K, frac, 1 - P, sd);
  if (!(fabs(kept - floor(kept + 0.5)) <= 1e-6 * B * K))
    fprintf(stderr, "FAIL: %s: loss %.17g is not a whole number of kept values %.9g\n", what, l1, v_kept), failed = 1;
  if (!(fabs(frac - (1 - P)) <= 5 * sd)) fprintf(stderr, "FAIL: %s: kept fraction %g\n", what, frac), failed = 1;
  if (l1 == l2) fprintf(stderr, "FAIL: %s: two training passes drew the same masks\n", what), failed = 1;
  return failed;
}

static double loss_inv(void *m, const float *x, const float *t, int n) { return M(debug_loss_grad)(m, x, t, n, 0); }
static double loss_alpha(void *m, const float *x, const float *t, int n) {
  return dropout_alpha_debug_loss_grad(m, x, t, n, 0);
}

int main(void) {
  int failed = 0;
  M_model *inv = M(new)(B, 3);
  dropout_alpha *alpha = dropout_alpha_new(B, 4);
  if (!inv || !alpha) return 1;
  failed |= check("dropout", M(debug_params)(inv), M(debug_n_params)(), loss_inv, inv, 1 / (1 - P), 0);
  const double ap = -1.7580993408473766, a = 1 / sqrt((1 - P) * (1 + P * ap * ap)), b = -a * ap * P;
  failed |= check("alpha_dropout", dropout_alpha_debug_params(alpha), dropout_alpha_debug_n_params(), loss_alpha,
                  alpha, a + b, a * ap + b);

  static float x[B * IN], out[B * K];
  M(forward)(inv, x, B, out);
  for (int i = 0; i < B * K; i++)
    if (out[i] != 1) {
      fprintf(stderr, "FAIL: dropout in inference: output %d is %g, not 1\n", i, out[i]);
      failed = 1;
      break;
    }
  dropout_alpha_forward(alpha, x, B, out);
  for (int i = 0; i < B * K; i++)
    if (out[i] != 1) {
      fprintf(stderr, "FAIL: alpha_dropout in inference: output %d is %g, not 1\n", i, out[i]);
      failed = 1;
      break;
    }
  M(free)(inv);
  dropout_alpha_free(alpha);
  return failed;
}
