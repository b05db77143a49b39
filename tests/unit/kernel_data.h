/* kernel_data.h — what the unit tests of compiler/kernels/ (test_conv3x3, test_winograd, test_gemm)
 * share: reproducible inputs and the zero-padded read of a plane. Each test seeds its own stream,
 * so that adding a test to one file does not change another's data. Include after cmocka.h. */
#ifndef NNC_KERNEL_DATA_H
#define NNC_KERNEL_DATA_H

#include <stdint.h>
#include <stdlib.h>

/* uniform in [-1, 1) from a 64-bit LCG (Knuth's MMIX constants), its top 53 bits */
static inline float kernel_uniform(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((double)(*state >> 11) / 4503599627370496.0 - 1.0);
}

/* n values of kernel_uniform, malloc'd; the test fails when memory runs out */
static inline float *kernel_random_floats(uint64_t *state, size_t n) {
  float *v = malloc(sizeof(float) * n);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) v[i] = kernel_uniform(state);
  return v;
}

/* plane[h][w] of an H x W plane, 0 outside it (a "same" convolution's zero padding) */
static inline double kernel_tap(const float *plane, int H, int W, int h, int w) {
  return h >= 0 && h < H && w >= 0 && w < W ? plane[(size_t)h * W + w] : 0;
}

#endif
