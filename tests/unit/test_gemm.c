/* test_gemm.c — compiler/kernels/gemm.c (the dense forward product that generated code runs on CPUs
 * with AVX2 and FMA) against a product in double written here, for every shape where the kernel's
 * blocking has an edge: row counts around its 6-row blocks, output counts around its 16-wide
 * panels, inner lengths around the packing's 8-wide transposes, and row strides wider than the rows.
 * Buffers are exactly as large as the kernel's sizes say, so the sanitizer build catches a read or
 * write past them. A NaN in one row of x must reach that row's outputs and no other. Exits 77
 * (skipped) on a CPU without AVX2 and FMA. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "kernel_data.h"

#include "../../compiler/kernels/gemm.c"

#ifdef NNC_G
static uint64_t data_state = 0x2545f4914f6cdd1dULL; /* this file's stream of kernel_uniform */

static void check_shape(int M, int N, int K, int ldx, int ldy) {
  float *x = malloc(sizeof(float) * ((size_t)(M - 1) * ldx + K)), *w = malloc(sizeof(float) * (size_t)N * K);
  float *y = malloc(sizeof(float) * ((size_t)(M - 1) * ldy + N)), *wp = malloc(sizeof(float) * nnc_g_packed(N, K));
  assert_true(x && w && y && wp);
  for (size_t i = 0; i < (size_t)(M - 1) * ldx + K; i++) x[i] = kernel_uniform(&data_state);
  for (size_t i = 0; i < (size_t)N * K; i++) w[i] = kernel_uniform(&data_state);
  const float untouched = 12345.0f; /* the gaps between rows of y must stay as they are */
  for (size_t i = 0; i < (size_t)(M - 1) * ldy + N; i++) y[i] = untouched;
  const int nan_row = M > 2 ? M / 2 : -1;
  if (nan_row >= 0) x[(size_t)nan_row * ldx + K / 2] = NAN;
  nnc_g_pack(wp, w, N, K, K);
  nnc_g_xwt(y, ldy, x, ldx, wp, M, N, K);
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      const float got = y[(size_t)i * ldy + j];
      if (i == nan_row) {
        if (!isnan(got)) fail_msg("M %d N %d K %d: y[%d][%d] = %.9g, expected NaN", M, N, K, i, j, got);
        continue;
      }
      double want = 0, size = 0;
      for (int k = 0; k < K; k++) {
        const double term = (double)x[(size_t)i * ldx + k] * w[(size_t)j * K + k];
        want += term, size += fabs(term);
      }
      if (!(fabs(got - want) <= 1e-6 * (1 + size)))
        fail_msg("M %d N %d K %d ldx %d ldy %d: y[%d][%d] = %.9g, expected %.9g", M, N, K, ldx, ldy, i, j, got, want);
    }
    for (int j = N; i + 1 < M && j < ldy; j++)
      if (y[(size_t)i * ldy + j] != untouched) fail_msg("M %d N %d K %d: wrote y[%d][%d] past the row", M, N, K, i, j);
  }
  free(x), free(w), free(y), free(wp);
}

static void edges(void **state) {
  (void)state;
  static const int rows[] = {1, 2, 3, 4, 5, 6, 7, 11, 12, 13};
  static const int outs[] = {1, 7, 8, 9, 15, 16, 17, 33};
  static const int inner[] = {1, 3, 8, 9, 17, 64};
  for (size_t a = 0; a < sizeof rows / sizeof *rows; a++)
    for (size_t b = 0; b < sizeof outs / sizeof *outs; b++)
      for (size_t c = 0; c < sizeof inner / sizeof *inner; c++) {
        check_shape(rows[a], outs[b], inner[c], inner[c], outs[b]);
        check_shape(rows[a], outs[b], inner[c], inner[c] + 3, outs[b] + 5);
      }
}

/* fashion_snn's layers at a batch of 128 and one of 7 */
static void dense_layers(void **state) {
  (void)state;
  check_shape(128, 256, 784, 784, 256);
  check_shape(128, 10, 256, 256, 10);
  check_shape(7, 256, 256, 256, 256);
}
#endif

int main(void) {
#ifdef NNC_G
  if (!nnc_g_usable()) {
    puts("this CPU has no AVX2 and FMA: the kernel is not used here");
    return 77;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(edges), cmocka_unit_test(dense_layers)};
  return cmocka_run_group_tests(tests, NULL, NULL);
#else
  puts("the kernel is not compiled for this compiler and CPU");
  return 77;
#endif
}
