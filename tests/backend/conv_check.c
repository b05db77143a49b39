/* conv_check.c — forward values of conv2d, pooling and batchnorm against references written here,
 * apart from the emitter (naive loops in double, straight from spec §4's definitions).
 *
 * Built by run_model.cmake (--double --debug-api) against a model made from conv_fwd.nn.in:
 * `o = EXPR` on an input [C, H, W], then `logits = dense(o, 3)` and `output o`, so forward()
 * returns EXPR's value. Parameters in creation order: EXPR's own (conv weight [F,C,k,k] and bias
 * [F]; batchnorm gamma [C] and beta [C]), then the dense layer's.
 *
 * The first three arguments are the input shape C H W, then one of:
 *   conv_check hand                      3x3 conv, stride 2, pad 1 on the 4x4 input 1..16, worked
 *                                        out by hand: all-ones weights give 14 30 57 99; a single 1
 *                                        at tap (2,2) picks x[2i+1][2j+1] = 6 8 14 16; bias adds
 *   conv_check conv F k s p bias         random weights and input against the reference, batch 3
 *                                        of max_batch 3 and batch 2
 *   conv_check max_pool|avg_pool k s     the same for pooling (k x k windows, stride s)
 *   conv_check gap                       global_avg_pool
 *   conv_check maxpool_tie               x [2,2,2] -> conv2d(x, 1, 1) with weights 1 -> max_pool2d(2):
 *                                        the window's maximum 3 is tied at (0,0) and (1,1) with
 *                                        channel values (1,2) and (2,1); the gradient must reach
 *                                        (0,0), the first, as torch: then d/dw = g * (1, 2)
 *   conv_check batchnorm momentum eps    training: the loss from batch statistics (mean, biased
 *                                        variance) against a reference loss; then after 1 and 2
 *                                        applied steps, forward() against the running statistics
 *                                        the spec's rule gives (momentum, unbiased variance)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#if !M_DOUBLE
#error "conv_check needs --double"
#endif

#define MAXB 3
#define MAX_IN 4096 /* elements per example, input or output */
static int failed;
static int IN_C, IN_H, IN_W; /* the model's input shape, from the command line */

static double uniform(void) {
  static unsigned long long state = 0x9e3779b97f4a7c15ULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 - 1.0;
}

static void expect_close(const char *what, const float *got, const double *want, long count, double tol) {
  double worst = 0;
  long at = -1;
  for (long i = 0; i < count; i++) {
    double err = fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i]));
    if (!(err <= worst)) worst = err, at = i;
  }
  printf("%s: %ld values, worst relative error %.3g at %ld\n", what, count, worst, at);
  if (!(worst <= tol)) {
    fprintf(stderr, "FAIL: %s: value %ld is %.9g, expected %.9g\n", what, at, got[at], want[at]);
    failed = 1;
  }
}

/* reference conv2d of one example: x [C,H,W], w [F,C,k,k] */
static void ref_conv(double *y, const float *x, const double *w, const double *bias, int F, int k, int s, int p,
                     int OH, int OW) {
  for (int f = 0; f < F; f++)
    for (int i = 0; i < OH; i++)
      for (int j = 0; j < OW; j++) {
        double sum = bias ? bias[f] : 0;
        for (int c = 0; c < IN_C; c++)
          for (int u = 0; u < k; u++)
            for (int v = 0; v < k; v++) {
              int h = s * i + u - p, ww = s * j + v - p;
              if (h >= 0 && h < IN_H && ww >= 0 && ww < IN_W)
                sum += w[((f * IN_C + c) * k + u) * k + v] * x[(c * IN_H + h) * IN_W + ww];
            }
        y[(f * OH + i) * OW + j] = sum;
      }
}

static void ref_pool(double *y, const float *x, int is_max, int k, int s, int OH, int OW) {
  for (int c = 0; c < IN_C; c++)
    for (int i = 0; i < OH; i++)
      for (int j = 0; j < OW; j++) {
        double acc = is_max ? -INFINITY : 0;
        for (int u = 0; u < k; u++)
          for (int v = 0; v < k; v++) {
            double val = x[(c * IN_H + s * i + u) * IN_W + s * j + v];
            acc = is_max ? fmax(acc, val) : acc + val / (k * k);
          }
        y[(c * OH + i) * OW + j] = acc;
      }
}

static M_model *model(void) {
  M_model *m = M(new)(MAXB, 7);
  if (!m) {
    fprintf(stderr, "FAIL: new\n");
    exit(1);
  }
  return m;
}

static void case_hand(void) {
  M_model *m = model();
  double *p = M(debug_params)(m);
  float x[16], out[4];
  for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
  static const double ones[4] = {14, 30, 57, 99}, tap22[4] = {6, 8, 14, 16};
  double want[4];
  for (int i = 0; i < 9; i++) p[i] = 1;
  p[9] = 0;
  M(forward)(m, x, 1, out);
  expect_close("all-ones 3x3, stride 2, pad 1", out, ones, 4, 0);
  for (int i = 0; i < 9; i++) p[i] = i == 8;
  p[9] = 0.5;
  for (int i = 0; i < 4; i++) want[i] = tap22[i] + 0.5;
  M(forward)(m, x, 1, out);
  expect_close("tap (2,2) and bias 0.5", out, want, 4, 0);
  M(free)(m);
}

static void case_conv(int F, int k, int s, int pad, int bias) {
  M_model *m = model();
  double *p = M(debug_params)(m);
  int OH = (IN_H + 2 * pad - k) / s + 1, OW = (IN_W + 2 * pad - k) / s + 1;
  if (M_OUT_SIZE != F * OH * OW) {
    fprintf(stderr, "FAIL: output size %d, expected %d\n", M_OUT_SIZE, F * OH * OW);
    exit(1);
  }
  long nw = (long)F * IN_C * k * k;
  for (long i = 0; i < nw + (bias ? F : 0); i++) p[i] = uniform();
  static float x[MAXB * MAX_IN], out[MAXB * MAX_IN];
  static double want[MAXB * MAX_IN];
  for (int i = 0; i < MAXB * M_IN_SIZE; i++) x[i] = (float)(2 * uniform());
  for (int b = 0; b < MAXB; b++)
    ref_conv(want + (size_t)b * M_OUT_SIZE, x + (size_t)b * M_IN_SIZE, p, bias ? p + nw : NULL, F, k, s, pad, OH, OW);
  for (int n = MAXB; n >= MAXB - 1; n--) { /* the full batch, then fewer than max_batch */
    memset(out, 0, sizeof out);
    M(forward)(m, x, n, out);
    expect_close(n == MAXB ? "conv2d, batch = max_batch" : "conv2d, batch < max_batch", out, want, (long)n * M_OUT_SIZE,
                 1e-6);
  }
  M(free)(m);
}

static void case_pool(const char *op, int k, int s) {
  M_model *m = model();
  int global = strcmp(op, "gap") == 0, is_max = strcmp(op, "max_pool") == 0;
  int OH = global ? 1 : (IN_H - k) / s + 1, OW = global ? 1 : (IN_W - k) / s + 1;
  static float x[MAXB * MAX_IN], out[MAXB * MAX_IN];
  static double want[MAXB * MAX_IN];
  for (int i = 0; i < MAXB * M_IN_SIZE; i++) x[i] = (float)(2 * uniform());
  for (int b = 0; b < MAXB; b++) {
    const float *xb = x + (size_t)b * M_IN_SIZE;
    double *yb = want + (size_t)b * M_OUT_SIZE;
    if (!global) ref_pool(yb, xb, is_max, k, s, OH, OW);
    else
      for (int c = 0; c < IN_C; c++) {
        double sum = 0;
        for (int i = 0; i < IN_H * IN_W; i++) sum += xb[c * IN_H * IN_W + i];
        yb[c] = sum / (IN_H * IN_W);
      }
  }
  if (M_OUT_SIZE != IN_C * OH * OW) {
    fprintf(stderr, "FAIL: output size %d, expected %d\n", M_OUT_SIZE, IN_C * OH * OW);
    exit(1);
  }
  for (int n = MAXB; n >= MAXB - 1; n--) {
    memset(out, 0, sizeof out);
    M(forward)(m, x, n, out);
    expect_close(op, out, want, (long)n * M_OUT_SIZE, 1e-6);
  }
  M(free)(m);
}

static void case_maxpool_tie(void) {
#if M_LABEL
  M_model *m = model();
  double *p = M(debug_params)(m), *g = M(debug_grads)(m);
  p[0] = 1, p[1] = 1; /* the 1x1 conv: h = x_a + x_b */
  float x[8] = {1, 0, 0, 2, /* channel a */ 2, 0, 0, 1 /* channel b */};
  int32_t y = 0;
  M(debug_loss_grad)(m, x, &y, 1, 0);
  double ga = g[0], gb = g[1];
  printf("maxpool_tie: d/dw = %.9g %.9g (ratio %.9g; the first maximum gives 2, the last 0.5)\n", ga, gb, gb / ga);
  if (!(ga != 0 && fabs(gb / ga - 2) < 1e-12)) {
    fprintf(stderr, "FAIL: the tied maximum's gradient did not go to the first position\n");
    failed = 1;
  }
  M(free)(m);
#endif
}

/* o = batchnorm(x), logits = dense(o, 3): the loss with batch statistics, by hand */
static double ref_bn_loss(const double *p, const float *x, const int32_t *y, int n, double eps) {
  int S = IN_H * IN_W, D = M_IN_SIZE;
  const double *gamma = p, *beta = p + IN_C, *w = p + 2 * IN_C, *wb = w + 3 * D;
  static double o[MAXB * MAX_IN];
  for (int c = 0; c < IN_C; c++) {
    double sum = 0, sq = 0;
    for (int b = 0; b < n; b++)
      for (int s = 0; s < S; s++) sum += x[(b * IN_C + c) * S + s];
    double mean = sum / (n * S);
    for (int b = 0; b < n; b++)
      for (int s = 0; s < S; s++) sq += pow(x[(b * IN_C + c) * S + s] - mean, 2);
    double var = sq / (n * S);
    for (int b = 0; b < n; b++)
      for (int s = 0; s < S; s++)
        o[(b * IN_C + c) * S + s] = gamma[c] * (x[(b * IN_C + c) * S + s] - mean) / sqrt(var + eps) + beta[c];
  }
  double total = 0;
  for (int b = 0; b < n; b++) {
    double z[3], mx = -INFINITY, se = 0;
    for (int k = 0; k < 3; k++) {
      z[k] = wb[k];
      for (int i = 0; i < D; i++) z[k] += w[k * D + i] * o[b * D + i];
      mx = fmax(mx, z[k]);
    }
    for (int k = 0; k < 3; k++) se += exp(z[k] - mx);
    total += mx + log(se) - z[y[b]];
  }
  return total / n;
}

static void case_batchnorm(double momentum, double eps) {
#if M_LABEL
  M_model *m = model();
  double *p = M(debug_params)(m);
  int S = IN_H * IN_W, n = MAXB;
  for (int c = 0; c < IN_C; c++) p[c] = 1 + 0.5 * uniform(), p[IN_C + c] = 0.5 * uniform();
  static float x[MAXB * MAX_IN], out[MAXB * MAX_IN];
  static double want[MAXB * MAX_IN];
  int32_t y[MAXB] = {0, 2, 1};
  for (int i = 0; i < MAXB * M_IN_SIZE; i++) x[i] = (float)(3 + 2 * uniform()); /* mean far from 0 */
  double loss = M(debug_loss_grad)(m, x, y, n, 0), ref = ref_bn_loss(p, x, y, n, eps);
  printf("batchnorm training loss %.12g, reference %.12g\n", loss, ref);
  if (!(fabs(loss - ref) <= 1e-10 * fabs(ref))) {
    fprintf(stderr, "FAIL: the training loss does not use the batch statistics\n");
    failed = 1;
  }
  double rmean[MAX_IN], rvar[MAX_IN];
  for (int c = 0; c < IN_C; c++) rmean[c] = 0, rvar[c] = 1;
  for (int step = 1; step <= 2; step++) {
    const float *xs = x + (step - 1) * M_IN_SIZE; /* the second step sees other examples */
    int nb = n - (step - 1);
    for (int c = 0; c < IN_C; c++) {
      double sum = 0, sq = 0;
      for (int b = 0; b < nb; b++)
        for (int s = 0; s < S; s++) sum += xs[(b * IN_C + c) * S + s];
      double mean = sum / (nb * S);
      for (int b = 0; b < nb; b++)
        for (int s = 0; s < S; s++) sq += pow(xs[(b * IN_C + c) * S + s] - mean, 2);
      rmean[c] = momentum * rmean[c] + (1 - momentum) * mean;
      rvar[c] = momentum * rvar[c] + (1 - momentum) * sq / (nb * S - 1); /* unbiased */
    }
    M(train_step)(m, xs, y, nb);
    for (int b = 0; b < n; b++)
      for (int c = 0; c < IN_C; c++)
        for (int s = 0; s < S; s++) {
          size_t i = ((size_t)b * IN_C + c) * S + s;
          want[i] = p[c] * (x[i] - rmean[c]) / sqrt(rvar[c] + eps) + p[IN_C + c];
        }
    M(forward)(m, x, n, out);
    expect_close(step == 1 ? "batchnorm inference after 1 step (running statistics)"
                           : "batchnorm inference after 2 steps",
                 out, want, (long)n * M_OUT_SIZE, 1e-6);
  }
  M(free)(m);
#endif
}

int main(int argc, char **argv) {
  if (argc < 4 || M_IN_SIZE > MAX_IN || M_OUT_SIZE > MAX_IN) return 2;
  IN_C = atoi(argv[1]), IN_H = atoi(argv[2]), IN_W = atoi(argv[3]);
  if (IN_C * IN_H * IN_W != M_IN_SIZE) {
    fprintf(stderr, "FAIL: the input shape %dx%dx%d does not match the model's %d\n", IN_C, IN_H, IN_W, M_IN_SIZE);
    return 1;
  }
  argc -= 3, argv += 3;
  const char *op = argc > 1 ? argv[1] : "";
  if (strcmp(op, "hand") == 0) case_hand();
  else if (strcmp(op, "conv") == 0 && argc == 7)
    case_conv(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  else if ((strcmp(op, "max_pool") == 0 || strcmp(op, "avg_pool") == 0) && argc == 4)
    case_pool(op, atoi(argv[2]), atoi(argv[3]));
  else if (strcmp(op, "gap") == 0) case_pool(op, 0, 0);
  else if (strcmp(op, "maxpool_tie") == 0) case_maxpool_tie();
  else if (strcmp(op, "batchnorm") == 0 && argc == 4) case_batchnorm(atof(argv[2]), atof(argv[3]));
  else {
    fprintf(stderr, "usage: conv_check C H W hand | conv F k s p bias | max_pool|avg_pool k s | gap | maxpool_tie |"
                    " batchnorm momentum eps\n");
    return 2;
  }
  if (failed) fprintf(stderr, "FAIL: %s\n", M_NAME);
  return failed;
}
