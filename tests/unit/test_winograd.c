/* test_winograd.c — compiler/kernels/winograd.c (Winograd F(2x2, 3x3), which generated code runs
 * instead of the direct kernel for the 3x3 "same" convolutions that conv3x3_winograd() picks, on
 * CPUs with AVX2 and FMA) against naive loops in double written here: the forward value with every
 * epilogue, the input gradient (transposed, flipped weights), NaN in the input and in the residual.
 * Shapes where the tiling has an edge: odd and even sizes (a tile hanging over the image), one
 * pixel, rows of tiles longer and shorter than a vector of 8 tiles, several chunks of tile rows,
 * channel counts not a multiple of 4. Buffers are exactly as large as compiler/emit.c's
 * conv3x3_scratch() says where it picks this kernel, else as nnc_c3_wscratch says, so the
 * sanitizer build catches a read or write past them. Exits 77 (skipped) without AVX2 and FMA.
 *
 * Tolerance: the transforms add and subtract up to 4 inputs (V = Bᵀ d B) and weights (U = G g Gᵀ)
 * before the products and 9 products after (Y = Aᵀ M A), so the rounding is relative to the sizes
 * of the whole 4x4 patch and filter rather than to the 9 terms of an output: |got - want| <=
 * 1e-6 (1 + size), size = Σ_c Σ|g_c| · max |patch_c| (the 9 weights of each channel times the
 * largest input of the tile's patch): some 8 float ulps of it; the errors seen are under an eighth
 * of that. */
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
#include "../../compiler/kernels/winograd.c"

#ifdef NNC_C3
static uint64_t data_state = 0x2545f4914f6cdd1dULL; /* this file's stream of kernel_uniform */

/* want[f][i][j] = Σ_c Σ_uv g(f, c, u, v) x[c][i + u - 1][j + v - 1] in double, g being w as it is
 * or (data_grad) transposed and flipped; size[f][i][j] as the header says (Fo = F or C) */
static void reference(double *want, double *size, const float *x, const float *w, int F, int C, int H, int W, int data_grad) {
  const int Fo = data_grad ? C : F, Ci = data_grad ? F : C;
  for (int f = 0; f < Fo; f++)
    for (int i = 0; i < H; i++)
      for (int j = 0; j < W; j++) {
        double sum = 0, mag = 0;
        for (int c = 0; c < Ci; c++) {
          const float *xc = x + (size_t)c * H * W;
          double weights = 0, patch = 0;
          for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++) {
              double g = data_grad ? w[((size_t)c * C + f) * 9 + (2 - u) * 3 + 2 - v] : w[((size_t)f * C + c) * 9 + u * 3 + v];
              sum += g * kernel_tap(xc, H, W, i + u - 1, j + v - 1);
              weights += fabs(g);
            }
          const int i0 = i / 2 * 2 - 1, j0 = j / 2 * 2 - 1; /* the tile's 4x4 patch */
          for (int u = 0; u < 4; u++)
            for (int v = 0; v < 4; v++) patch = fmax(patch, fabs(kernel_tap(xc, H, W, i0 + u, j0 + v)));
          mag += weights * patch;
        }
        want[((size_t)f * H + i) * W + j] = sum, size[((size_t)f * H + i) * W + j] = mag;
      }
}

static void expect_near(const char *what, float got, double want, double size, int C, int F, int H, int W, size_t at) {
  if (isnan(want) ? isnan(got) : fabs(got - want) <= 1e-6 * (1 + size)) return;
  fail_msg("%s, Ci %d Fo %d H %d W %d, value %zu: %.9g, expected %.9g (size %.3g)", what, C, F, H, W, at, got, want, size);
}

/* one shape, forward (F filters over C channels) and input gradient (C filters over F) */
static void check_shape(int C, int F, int H, int W) {
  const size_t in = (size_t)C * H * W, out = (size_t)F * H * W, most = in > out ? in : out;
  float *x = kernel_random_floats(&data_state, in), *dy = kernel_random_floats(&data_state, out);
  float *w = kernel_random_floats(&data_state, (size_t)F * C * 9);
  float *y = malloc(sizeof(float) * most), *r = kernel_random_floats(&data_state, out);
  float *scale = kernel_random_floats(&data_state, (size_t)(F > C ? F : C));
  float *shift = kernel_random_floats(&data_state, (size_t)(F > C ? F : C));
  double *want = malloc(sizeof(double) * most), *size = malloc(sizeof(double) * most);
  /* the scratch generated code gives each call: the transformed weights first */
  size_t fwd = nnc_c3_wpacked(F, C) + nnc_c3_wscratch(C, H, W, F), bwd = nnc_c3_wpacked(C, F) + nnc_c3_wscratch(F, H, W, C);
  if (conv3x3_winograd(C, H, W, F)) assert_int_equal(conv3x3_scratch(C, H, W, F), fwd);
  if (conv3x3_winograd(F, H, W, C)) assert_int_equal(conv3x3_scratch(F, H, W, C), bwd);
  float *scratch = malloc(sizeof(float) * (fwd > bwd ? fwd : bwd));
  assert_true(y && want && size && scratch);
  float *work = scratch + nnc_c3_wpacked(F, C);

  nnc_c3_wpack(scratch, w, F, C, 0);
  reference(want, size, x, w, F, C, H, W, 0);
  nnc_c3_wconv(y, x, scratch, C, H, W, F, work, NULL, NULL, NULL, 0);
  for (size_t i = 0; i < out; i++) expect_near("forward", y[i], want[i], size[i], C, F, H, W, i);
  /* the epilogues as generated code uses them: the bias (training), batchnorm (inference), and
     batchnorm + add + relu; relu keeps a NaN of the residual as `v < 0 ? 0 : v` does */
  for (int kind = 0; kind < 4; kind++) {
    const float *s = kind == 1 || kind == 3 ? scale : NULL, *res = kind >= 2 ? r : NULL;
    const int relu = kind >= 2;
    if (kind == 3) r[out / 3] = NAN;
    nnc_c3_wconv(y, x, scratch, C, H, W, F, work, s, shift, res, relu);
    for (size_t i = 0; i < out; i++) {
      const size_t f = i / ((size_t)H * W);
      double v = want[i] * (s ? s[f] : 1) + shift[f] + (res ? res[i] : 0);
      if (relu && v < 0) v = 0;
      expect_near("epilogue", y[i], v, size[i] * (s ? fabs(s[f]) : 1) + fabs(shift[f]) + (res ? fabs(res[i]) : 0), C, F, H, W, i);
    }
  }

  /* a NaN in the input reaches exactly the outputs whose 3x3 window holds it, as in the direct kernel:
     at a corner, an edge (the last row or column of an odd size: a tile over the edge) and inside */
  const int at[3][2] = {{H - 1, W - 1}, {H / 2, W - 1}, {H - 1, W / 3}};
  for (int k = 0; k < 3; k++) {
    float *poisoned = malloc(sizeof(float) * in);
    assert_non_null(poisoned);
    memcpy(poisoned, x, sizeof(float) * in);
    poisoned[((size_t)(C - 1) * H + at[k][0]) * W + at[k][1]] = NAN;
    reference(want, size, poisoned, w, F, C, H, W, 0);
    nnc_c3_wconv(y, poisoned, scratch, C, H, W, F, work, NULL, NULL, NULL, 0);
    for (size_t i = 0; i < out; i++) expect_near("NaN input", y[i], want[i], size[i], C, F, H, W, i);
    free(poisoned);
  }

  nnc_c3_wpack(scratch, w, F, C, 1);
  work = scratch + nnc_c3_wpacked(C, F);
  reference(want, size, dy, w, F, C, H, W, 1);
  nnc_c3_wconv(y, dy, scratch, F, H, W, C, work, NULL, NULL, NULL, 0);
  for (size_t i = 0; i < in; i++) expect_near("input gradient", y[i], want[i], size[i], F, C, H, W, i);
  free(x), free(dy), free(w), free(y), free(r), free(scale), free(shift), free(want), free(size), free(scratch);
}

static void small_shapes(void **state) {
  (void)state;
  static const int channels[] = {1, 3, 4, 5, 9};
  static const int sizes[][2] = {{1, 1}, {2, 3}, {5, 4}, {3, 17}, {4, 16}, {7, 7}, {9, 11}, {2, 33}, {17, 2}};
  for (size_t a = 0; a < sizeof channels / sizeof *channels; a++)
    for (size_t b = 0; b < sizeof channels / sizeof *channels; b++)
      for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) check_shape(channels[a], channels[b], sizes[s][0], sizes[s][1]);
}

/* resnet20's layers on 28x28 images (several chunks of tile rows at 28x28), and channel counts
   where conv3x3_winograd() picks this kernel, one not a multiple of 4 */
static void resnet_shapes(void **state) {
  (void)state;
  check_shape(16, 16, 28, 28);
  check_shape(32, 32, 14, 14);
  check_shape(64, 64, 7, 7);
  check_shape(65, 66, 5, 6);
  check_shape(32, 35, 10, 12);
}
#endif

int main(void) {
#ifdef NNC_C3
  if (!nnc_c3_usable()) {
    puts("this CPU has no AVX2 and FMA: the kernel is not used here");
    return 77;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(small_shapes), cmocka_unit_test(resnet_shapes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
#else
  puts("the kernel is not compiled for this compiler and CPU");
  return 77;
#endif
}
