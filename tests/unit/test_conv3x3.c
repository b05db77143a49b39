/* test_conv3x3.c — compiler/kernels/conv3x3.c (the direct 3x3 "same" convolution that generated
 * code runs on CPUs with AVX2 and FMA) against naive loops in double written here: the forward
 * value, the input gradient (transposed, flipped weights) and the weight gradient over several
 * examples (on the grid, and channels last for multiples of 8 channels, also at stride 2), for every small shape where the kernel's blocking has an edge (channel counts not a
 * multiple of 4, grids not a multiple of 24 or 8, one-pixel and one-row images). Buffers are
 * exactly as large as compiler/emit.c's conv3x3_scratch() says, so the sanitizer build catches a
 * read past them. Exits 77 (skipped) on a CPU without AVX2 and FMA. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernel_data.h"

#include "nnc.h"
#include "../../compiler/kernels/conv3x3.c"

#ifdef NNC_C3
static uint64_t data_state = 0x9e3779b97f4a7c15ULL; /* this file's stream of kernel_uniform */

/* |got - want| <= 1e-6 (1 + magnitude), magnitude being the sum of the terms' absolute values (a
 * float sum of n terms may be off by some sqrt(n) ulp of it); the first failure is reported */
static void expect_near(const char *what, float got, double want, double magnitude, int C, int F, int H, int W, size_t at) {
  if (fabs(got - want) <= 1e-6 * (1 + magnitude)) return;
  fail_msg("%s, C %d F %d H %d W %d, value %zu: %.9g, expected %.9g", what, C, F, H, W, at, got, want);
}

/* wanted[f][c][u][v] = the weight gradient over n examples of a 3x3 convolution with padding 1 and the
   stride, in double: the sum of dy[f][i][j] x[c][stride i + u - 1][stride j + v - 1]; sizes, the
   sums of the terms' magnitudes */
static void reference_weight_grad(double *wanted, double *sizes, const float *x, const float *dy, int C, int F, int H, int W,
                                  int stride, int n) {
  const int OH = (H - 1) / stride + 1, OW = (W - 1) / stride + 1;
  const size_t in = (size_t)C * H * W, out = (size_t)F * OH * OW;
  for (int f = 0; f < F; f++)
    for (int c = 0; c < C; c++)
      for (int u = 0; u < 3; u++)
        for (int v = 0; v < 3; v++) {
          double want = 0, size = 0;
          for (int e = 0; e < n; e++)
            for (int i = 0; i < OH; i++)
              for (int j = 0; j < OW; j++) {
                double term = dy[e * out + ((size_t)f * OH + i) * OW + j] *
                              kernel_tap(x + e * in + (size_t)c * H * W, H, W, stride * i + u - 1, stride * j + v - 1);
                want += term, size += fabs(term);
              }
          size_t at = ((size_t)f * C + c) * 9 + u * 3 + v;
          wanted[at] = want, sizes[at] = size;
        }
}

/* the channels-last weight gradient (C a multiple of 8) in two calls, the second accumulating, as
   generated code makes them: each example's x laid out into a buffer exactly as large as
   nnc_c3_cl_size says, dy read in place */
static void expect_weight_grad_cl(const char *what, const float *x, const float *dy, int C, int F, int H, int W, int stride,
                                  int n, const double *wanted, const double *sizes) {
  const int OH = (H - 1) / stride + 1, OW = (W - 1) / stride + 1, first = n / 2;
  const size_t in = (size_t)C * H * W, out = (size_t)F * OH * OW, xs = nnc_c3_cl_size(C, H, W);
  float *xt = malloc(sizeof(float) * n * xs), *dw = malloc(sizeof(float) * F * C * 9);
  assert_true(xt && dw);
  for (int e = 0; e < n; e++) nnc_c3_layout_cl(xt + e * xs, x + e * in, C, H, W);
  nnc_c3_weight_grad_cl(dw, dy, out, xt, C, H, W, stride, F, first, 0);
  nnc_c3_weight_grad_cl(dw, dy + first * out, out, xt + first * xs, C, H, W, stride, F, n - first, first > 0);
  for (size_t at = 0; at < (size_t)F * C * 9; at++) expect_near(what, dw[at], wanted[at], sizes[at], C, F, H, W, at);
  free(xt), free(dw);
}

/* one shape: y = conv(x, w) and dx = conv^T(dy, w) for one example, dw over n examples */
static void check_shape(int C, int F, int H, int W, int n) {
  const size_t in = (size_t)C * H * W, out = (size_t)F * H * W;
  float *x = kernel_random_floats(&data_state, n * in), *dy = kernel_random_floats(&data_state, n * out);
  float *w = kernel_random_floats(&data_state, (size_t)F * C * 9);
  float *y = malloc(sizeof(float) * out), *dx = malloc(sizeof(float) * in), *dw = malloc(sizeof(float) * F * C * 9);
  /* the emitter's size for each call, holding the packed weights first as generated code does
     (where conv3x3_winograd picks this kernel: many channels take compiler/kernels/winograd.c) */
  const size_t fwd = nnc_c3_packed(F, C) + (size_t)C * nnc_c3_plane(H, W) + 4 * (size_t)nnc_c3_grid(H, W);
  const size_t bwd = nnc_c3_packed(C, F) + (size_t)F * nnc_c3_plane(H, W) + 4 * (size_t)nnc_c3_grid(H, W);
  if (!conv3x3_winograd(C, H, W, F)) assert_int_equal(conv3x3_scratch(C, H, W, F), fwd);
  if (!conv3x3_winograd(F, H, W, C)) assert_int_equal(conv3x3_scratch(F, H, W, C), bwd);
  float *scratch = malloc(sizeof(float) * (fwd > bwd ? fwd : bwd));
  assert_true(y && dx && dw && scratch);

  nnc_c3_pack(scratch, w, F, C, 0);
  nnc_c3_conv(y, x, scratch, C, H, W, F, scratch + nnc_c3_packed(F, C), NULL, NULL, NULL, 0);
  for (int f = 0; f < F; f++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < W; j++) {
        double want = 0, size = 0;
        for (int c = 0; c < C; c++)
          for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
              double term = w[((size_t)f * C + c) * 9 + u * 3 + v] * kernel_tap(x + (size_t)c * H * W, H, W, i + u - 1, j + v - 1);
              want += term, size += fabs(term);
            }
        expect_near("forward", y[((size_t)f * H + i) * W + j], want, size, C, F, H, W, ((size_t)f * H + i) * W + j);
      }

  /* the epilogues: y[f] scale[f] + shift[f]; y[f] + shift[f] (the bias in training); and
     relu(y[f] scale[f] + shift[f] + r) (inference's batchnorm, add and relu), where relu keeps a
     NaN of r as `v < 0 ? 0 : v` does */
  float *scale = kernel_random_floats(&data_state, (size_t)F), *shift = kernel_random_floats(&data_state, (size_t)F);
  float *z = malloc(sizeof(float) * out);
  float *r = kernel_random_floats(&data_state, out);
  assert_non_null(z);
  r[out / 2] = NAN;
  nnc_c3_pack(scratch, w, F, C, 0);
  nnc_c3_conv(z, x, scratch, C, H, W, F, scratch + nnc_c3_packed(F, C), scale, shift, NULL, 0);
  for (size_t i = 0; i < out; i++) {
    size_t f = i / ((size_t)H * W);
    expect_near("affine epilogue", z[i], (double)y[i] * scale[f] + shift[f], fabs(y[i] * scale[f]), C, F, H, W, i);
  }
  nnc_c3_conv(z, x, scratch, C, H, W, F, scratch + nnc_c3_packed(F, C), NULL, shift, NULL, 0);
  for (size_t i = 0; i < out; i++)
    expect_near("bias epilogue", z[i], (double)y[i] + shift[i / ((size_t)H * W)], fabs(y[i]), C, F, H, W, i);
  nnc_c3_conv(z, x, scratch, C, H, W, F, scratch + nnc_c3_packed(F, C), scale, shift, r, 1);
  for (size_t i = 0; i < out; i++) {
    size_t f = i / ((size_t)H * W);
    double v = (double)y[i] * scale[f] + shift[f] + r[i];
    if (i == out / 2) assert_true(isnan(z[i]));
    else expect_near("residual relu epilogue", z[i], v < 0 ? 0 : v, fabs(y[i] * scale[f]) + fabs(r[i]), C, F, H, W, i);
  }
  free(scale), free(shift), free(z), free(r);

  nnc_c3_pack(scratch, w, F, C, 1);
  nnc_c3_conv(dx, dy, scratch, F, H, W, C, scratch + nnc_c3_packed(C, F), NULL, NULL, NULL, 0);
  for (int c = 0; c < C; c++)
    for (int h = 0; h < H; h++)
      for (int k = 0; k < W; k++) {
        double want = 0, size = 0; /* dx[c][h][k] = sum of w[f][c][u][v] dy[f][h - u + 1][k - v + 1] */
        for (int f = 0; f < F; f++)
          for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
              double term = w[((size_t)f * C + c) * 9 + u * 3 + v] * kernel_tap(dy + (size_t)f * H * W, H, W, h - u + 1, k - v + 1);
              want += term, size += fabs(term);
            }
        expect_near("input gradient", dx[((size_t)c * H + h) * W + k], want, size, C, F, H, W, ((size_t)c * H + h) * W + k);
      }

  /* the weight gradient: two calls, the second accumulating, as generated code does for groups */
  const size_t planes = (size_t)C * nnc_c3_plane(H, W), grids = (size_t)F * nnc_c3_grid(H, W);
  float *xp = malloc(sizeof(float) * n * planes), *dyg = malloc(sizeof(float) * n * grids);
  assert_true(xp && dyg);
  for (int e = 0; e < n; e++) {
    nnc_c3_layout(xp + e * planes, x + e * in, C, H, W, 0);
    nnc_c3_layout(dyg + e * grids, dy + e * out, F, H, W, 1);
  }
  const int first = n / 2;
  double *wanted = malloc(sizeof(double) * F * C * 9), *sizes = malloc(sizeof(double) * F * C * 9);
  assert_true(wanted && sizes);
  reference_weight_grad(wanted, sizes, x, dy, C, F, H, W, 1, n);
  nnc_c3_weight_grad(dw, dyg, xp, C, H, W, F, first, 0);
  nnc_c3_weight_grad(dw, dyg + first * grids, xp + first * planes, C, H, W, F, n - first, first > 0);
  for (size_t at = 0; at < (size_t)F * C * 9; at++) expect_near("weight gradient", dw[at], wanted[at], sizes[at], C, F, H, W, at);
  if (C % 8 == 0) expect_weight_grad_cl("weight gradient, channels last", x, dy, C, F, H, W, 1, n, wanted, sizes);
  free(x), free(dy), free(w), free(y), free(dx), free(dw), free(scratch), free(xp), free(dyg), free(wanted), free(sizes);
}

static void small_shapes(void **state) {
  (void)state;
  static const int channels[] = {1, 3, 4, 5, 9};
  for (size_t a = 0; a < sizeof channels / sizeof *channels; a++)
    for (size_t b = 0; b < sizeof channels / sizeof *channels; b++)
      for (int H = 1; H <= 9; H += 2)
        for (int W = 1; W <= 17; W += 4) check_shape(channels[a], channels[b], H, W, 1 + (H + W) % 3);
}

/* the channels-last weight gradient of a stride-2 convolution (padding 1) over n examples against double */
static void check_stride2(int C, int F, int H, int W, int n) {
  const int OH = (H - 1) / 2 + 1, OW = (W - 1) / 2 + 1;
  float *x = kernel_random_floats(&data_state, (size_t)n * C * H * W), *dy = kernel_random_floats(&data_state, (size_t)n * F * OH * OW);
  double *wanted = malloc(sizeof(double) * F * C * 9), *sizes = malloc(sizeof(double) * F * C * 9);
  assert_true(wanted && sizes);
  reference_weight_grad(wanted, sizes, x, dy, C, F, H, W, 2, n);
  expect_weight_grad_cl("weight gradient, stride 2", x, dy, C, F, H, W, 2, n, wanted, sizes);
  free(x), free(dy), free(wanted), free(sizes);
}

static void stride2_shapes(void **state) {
  (void)state;
  static const int inputs[] = {8, 16}, outputs[] = {1, 4, 5, 9};
  for (size_t a = 0; a < sizeof inputs / sizeof *inputs; a++)
    for (size_t b = 0; b < sizeof outputs / sizeof *outputs; b++)
      for (int H = 1; H <= 8; H += 3)
        for (int W = 1; W <= 10; W += 3) check_stride2(inputs[a], outputs[b], H, W, 1 + (H + W) % 3);
  check_stride2(16, 32, 28, 28, 2); /* resnet20's two */
  check_stride2(32, 64, 14, 14, 3);
}

/* the channels-last weight gradient's shapes: 8 and 16 input channels, output channels not a
   multiple of 4, rows not a multiple of its 4 x 4 transposes */
static void channels_last_shapes(void **state) {
  (void)state;
  static const int inputs[] = {8, 16}, outputs[] = {1, 3, 4, 5, 9};
  for (size_t a = 0; a < sizeof inputs / sizeof *inputs; a++)
    for (size_t b = 0; b < sizeof outputs / sizeof *outputs; b++)
      for (int H = 1; H <= 7; H += 3)
        for (int W = 1; W <= 10; W += 3) check_shape(inputs[a], outputs[b], H, W, 1 + (H + W) % 3);
}

/* resnet20's layers on 28x28 images: grids of 816, 216 and 56 positions */
static void resnet_shapes(void **state) {
  (void)state;
  check_shape(1, 16, 28, 28, 2);
  check_shape(16, 16, 28, 28, 1);
  check_shape(32, 32, 14, 14, 2);
  check_shape(64, 64, 7, 7, 3);
}
#endif

int main(void) {
#ifdef NNC_C3
  if (!nnc_c3_usable()) {
    puts("this CPU has no AVX2 and FMA: the kernel is not used here");
    return 77;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(small_shapes), cmocka_unit_test(channels_last_shapes), cmocka_unit_test(stride2_shapes),
                                     cmocka_unit_test(resnet_shapes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
#else
  puts("the kernel is not compiled for this compiler and CPU");
  return 77;
#endif
}
