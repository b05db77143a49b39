/* Direct 3x3 convolution, stride 1, padding 1 (the "same" 3x3 layers of ResNets), for x86-64 CPUs
 * with AVX2 and FMA, chosen at run time (nnc_c3_usable). nnc copies this file into generated code
 * that has such layers; the plain build keeps im2col + gemm for other CPUs and compilers.
 *
 * No unfolding: each input plane is copied once into a zero-bordered plane of width Wp = W + 1
 * (one zero column serves as the right border of a row and the left one of the next), and the
 * outputs are computed on that grid, q = oh Wp + ow (the extra column is computed and dropped), so
 * that tap (u, v) of every output in a run reads the contiguous run xp[q + u Wp + v]: no bounds
 * tests, no gathers. A register block is 4 output channels x 24 positions (12 accumulators), the
 * grid's last 8 or 16 positions 4 x 8 at a time; weights are packed so that the 4 channels' values
 * of one tap are adjacent (nnc_c3_pack). The same kernel computes the input gradient of such a layer,
 * a 3x3 "same" convolution of dy with the transposed, flipped weights.
 *
 * Scratch (floats): nnc_c3_conv needs Ci planes of nnc_c3_plane(H, W), then 4 nnc_c3_grid(H, W) for
 * the output block, and the packed weights (nnc_c3_packed(Fo, Ci)) apart; nnc_c3_weight_grad reads
 * the layouts of its examples from the caller. compiler/emit.c sizes them with the same formulas
 * (conv3x3_scratch). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(NNC_NO_SIMD) && \
    (defined(__clang__) || __GNUC__ >= 5)
#include <immintrin.h>
#define NNC_C3 1
/* unused: a model may need only some of these */
#define NNC_C3_FN __attribute__((unused)) static
/* the per-row helpers: a call per row of 7 to 28 floats costs as much as the copy */
#define NNC_C3_ROW __attribute__((unused, always_inline)) static inline

NNC_C3_FN int nnc_c3_grid(int H, int W) { return (H * (W + 1) + 7) / 8 * 8; }
/* the last run reads up to 2 rows and 2 columns past the grid */
NNC_C3_FN int nnc_c3_plane(int H, int W) { return nnc_c3_grid(H, W) + 2 * (W + 1) + 2; }
NNC_C3_FN size_t nnc_c3_packed(int Fo, int Ci) { return (size_t)(Fo + 3) / 4 * 4 * (size_t)Ci * 9; }

NNC_C3_FN int nnc_c3_usable(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

/* wp [Fo/4][Ci][9 taps][4] from w [F][C][3][3]: as it is (Fo = F, Ci = C), or, for the input
 * gradient, transposed and flipped (Fo = C, Ci = F: tap (u, v) of channel c's filter over dy[f] is
 * w[f][c][2 - u][2 - v]); channels past Fo are zero */
NNC_C3_FN void nnc_c3_pack(float *wp, const float *w, int F, int C, int data_grad) {
  const int Fo = data_grad ? C : F, Ci = data_grad ? F : C;
  for (int o = 0; o < (Fo + 3) / 4 * 4; o++)
    for (int i = 0; i < Ci; i++)
      for (int t = 0; t < 9; t++) {
        float v = 0;
        if (o < Fo) v = data_grad ? w[((size_t)i * C + o) * 9 + 8 - t] : w[((size_t)o * C + i) * 9 + t];
        wp[(((size_t)(o / 4) * Ci + i) * 9 + t) * 4 + o % 4] = v;
      }
}

/* the first count (1..8) lanes, for loads and stores that must not touch memory past them */
__attribute__((target("avx2,fma"))) NNC_C3_ROW __m256i nnc_c3_lanes(int count) {
  static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(lanes + 8 - count));
}

/* to[0..n) = from[0..n), 8 at a time: rows are short, where memcpy's call and rep movs cost most */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_copy(float *to, const float *from, int n) {
  int j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(to + j, _mm256_loadu_ps(from + j));
  if (j < n) {
    const __m256i mask = nnc_c3_lanes(n - j);
    _mm256_maskstore_ps(to + j, mask, _mm256_maskload_ps(from + j, mask));
  }
}

/* to[0..n) = from[0..n) scale + shift, plus residual[0..n) when it is not NULL, then relu'd when
 * relu is set: the epilogue of a convolution followed by its bias, or in inference by a batchnorm
 * (the bias folded in) and that batchnorm's relu or add + relu. max(0, v) returns v when v is NaN
 * or zero, as `v < 0 ? 0 : v` does. */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_epilogue(float *to, const float *from, int n, float scale,
                                                                float shift, const float *residual, int relu) {
  const __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(from + j), a), b);
    if (residual) v = _mm256_add_ps(v, _mm256_loadu_ps(residual + j));
    _mm256_storeu_ps(to + j, relu ? _mm256_max_ps(zero, v) : v);
  }
  if (j < n) {
    const __m256i mask = nnc_c3_lanes(n - j);
    __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_maskload_ps(from + j, mask), a), b);
    if (residual) v = _mm256_add_ps(v, _mm256_maskload_ps(residual + j, mask));
    _mm256_maskstore_ps(to + j, mask, relu ? _mm256_max_ps(zero, v) : v);
  }
}

/* The zero-padded grid layout of one example's planes: xp[c] as nnc_c3_conv reads them, or, with
 * on_grid, dy[c] placed on the output grid (position oh Wp + ow; zero in the extra column and past
 * the grid), as nnc_c3_weight_grad reads them. */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_layout(float *to, const float *from, int C, int H, int W, int on_grid) {
  const int Wp = W + 1, grid = nnc_c3_grid(H, W), plane = on_grid ? grid : nnc_c3_plane(H, W), first = on_grid ? 0 : Wp;
  for (int c = 0; c < C; c++) {
    float *p = to + (size_t)c * plane;
    const float *s = from + (size_t)c * H * W;
    for (int i = 0; i < first; i++) p[i] = 0;
    for (int h = 0; h < H; h++) {
      float *row = p + first + (size_t)h * Wp;
      const float *in = s + (size_t)h * W;
      if (on_grid) {
        nnc_c3_copy(row, in, W);
        row[W] = 0;
      } else { /* the zero column that is this row's left border and the right one of the row above */
        row[0] = 0;
        nnc_c3_copy(row + 1, in, W);
      }
    }
    for (int i = first + H * Wp; i < plane; i++) p[i] = 0;
  }
}

/* y [Fo][H][W] = the 3x3 same convolution of x [Ci][H][W] with the packed weights wp; with an
 * epilogue (nnc_c3_epilogue) when any of scale, shift and residual is not NULL or relu is set:
 * y[f] = conv[f] scale[f] + shift[f] (+ residual[f]) (relu'd), scale 1 and shift 0 when NULL. */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_conv(float *y, const float *x, const float *wp, int Ci,
                                                            int H, int W, int Fo, float *scratch, const float *scale,
                                                            const float *shift, const float *residual, int relu) {
  const int Wp = W + 1, grid = nnc_c3_grid(H, W), plane = nnc_c3_plane(H, W);
  float *xp = scratch, *out = scratch + (size_t)Ci * plane;
  nnc_c3_layout(xp, x, Ci, H, W, 0);
  for (int f0 = 0; f0 < Fo; f0 += 4) {
    const float *wb = wp + (size_t)f0 * Ci * 9;
    /* runs of 24, then of 16, then of 8: a grid of 24 k + 8 (7x7 images: 56) is cut 24 (k - 1) + 16 + 16,
       as the 8-wide block loads a vector for every 4 products */
    const int wide = grid % 24 == 8 && grid > 24 ? grid - 32 : grid / 24 * 24;
    int q0 = 0;
    for (; q0 < wide; q0 += 24) {
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
      __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
      for (int c = 0; c < Ci; c++) {
        const float *xc = xp + (size_t)c * plane + q0, *wc = wb + (size_t)c * 36;
#define NNC_C3_TAP(t, shift)                                                                                  \
  {                                                                                                           \
    const float *s = xc + (shift);                                                                            \
    const __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + 8), x2 = _mm256_loadu_ps(s + 16);         \
    __m256 w = _mm256_broadcast_ss(wc + 4 * (t));                                                             \
    a00 = _mm256_fmadd_ps(w, x0, a00), a01 = _mm256_fmadd_ps(w, x1, a01), a02 = _mm256_fmadd_ps(w, x2, a02); \
    w = _mm256_broadcast_ss(wc + 4 * (t) + 1);                                                                \
    a10 = _mm256_fmadd_ps(w, x0, a10), a11 = _mm256_fmadd_ps(w, x1, a11), a12 = _mm256_fmadd_ps(w, x2, a12); \
    w = _mm256_broadcast_ss(wc + 4 * (t) + 2);                                                                \
    a20 = _mm256_fmadd_ps(w, x0, a20), a21 = _mm256_fmadd_ps(w, x1, a21), a22 = _mm256_fmadd_ps(w, x2, a22); \
    w = _mm256_broadcast_ss(wc + 4 * (t) + 3);                                                                \
    a30 = _mm256_fmadd_ps(w, x0, a30), a31 = _mm256_fmadd_ps(w, x1, a31), a32 = _mm256_fmadd_ps(w, x2, a32); \
  }
        NNC_C3_TAP(0, 0) NNC_C3_TAP(1, 1) NNC_C3_TAP(2, 2)
        NNC_C3_TAP(3, Wp) NNC_C3_TAP(4, Wp + 1) NNC_C3_TAP(5, Wp + 2)
        NNC_C3_TAP(6, 2 * Wp) NNC_C3_TAP(7, 2 * Wp + 1) NNC_C3_TAP(8, 2 * Wp + 2)
#undef NNC_C3_TAP
      }
      float *o = out + q0;
      _mm256_storeu_ps(o, a00), _mm256_storeu_ps(o + 8, a01), _mm256_storeu_ps(o + 16, a02);
      o += grid;
      _mm256_storeu_ps(o, a10), _mm256_storeu_ps(o + 8, a11), _mm256_storeu_ps(o + 16, a12);
      o += grid;
      _mm256_storeu_ps(o, a20), _mm256_storeu_ps(o + 8, a21), _mm256_storeu_ps(o + 16, a22);
      o += grid;
      _mm256_storeu_ps(o, a30), _mm256_storeu_ps(o + 8, a31), _mm256_storeu_ps(o + 16, a32);
    }
    const int tap_at[9] = {0, 1, 2, Wp, Wp + 1, Wp + 2, 2 * Wp, 2 * Wp + 1, 2 * Wp + 2};
    for (; q0 + 16 <= grid; q0 += 16) {
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
      for (int c = 0; c < Ci; c++) {
        const float *xc = xp + (size_t)c * plane + q0, *wc = wb + (size_t)c * 36;
        for (int t = 0; t < 9; t++) {
          const __m256 x0 = _mm256_loadu_ps(xc + tap_at[t]), x1 = _mm256_loadu_ps(xc + tap_at[t] + 8);
          __m256 w = _mm256_broadcast_ss(wc + 4 * t);
          a00 = _mm256_fmadd_ps(w, x0, a00), a01 = _mm256_fmadd_ps(w, x1, a01);
          w = _mm256_broadcast_ss(wc + 4 * t + 1);
          a10 = _mm256_fmadd_ps(w, x0, a10), a11 = _mm256_fmadd_ps(w, x1, a11);
          w = _mm256_broadcast_ss(wc + 4 * t + 2);
          a20 = _mm256_fmadd_ps(w, x0, a20), a21 = _mm256_fmadd_ps(w, x1, a21);
          w = _mm256_broadcast_ss(wc + 4 * t + 3);
          a30 = _mm256_fmadd_ps(w, x0, a30), a31 = _mm256_fmadd_ps(w, x1, a31);
        }
      }
      float *o = out + q0;
      _mm256_storeu_ps(o, a00), _mm256_storeu_ps(o + 8, a01), o += grid;
      _mm256_storeu_ps(o, a10), _mm256_storeu_ps(o + 8, a11), o += grid;
      _mm256_storeu_ps(o, a20), _mm256_storeu_ps(o + 8, a21), o += grid;
      _mm256_storeu_ps(o, a30), _mm256_storeu_ps(o + 8, a31);
    }
    for (; q0 < grid; q0 += 8) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int c = 0; c < Ci; c++) {
        const float *xc = xp + (size_t)c * plane + q0, *wc = wb + (size_t)c * 36;
        for (int t = 0; t < 9; t++) {
          const __m256 x0 = _mm256_loadu_ps(xc + tap_at[t]);
          a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + 4 * t), x0, a0);
          a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + 4 * t + 1), x0, a1);
          a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + 4 * t + 2), x0, a2);
          a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + 4 * t + 3), x0, a3);
        }
      }
      _mm256_storeu_ps(out + q0, a0), _mm256_storeu_ps(out + grid + q0, a1);
      _mm256_storeu_ps(out + 2 * grid + q0, a2), _mm256_storeu_ps(out + 3 * grid + q0, a3);
    }
    for (int f = f0; f < f0 + 4 && f < Fo; f++) /* drop the grid's extra columns */
      for (int h = 0; h < H; h++) {
        float *to = y + ((size_t)f * H + h) * W;
        const float *from = out + (size_t)(f - f0) * grid + (size_t)h * Wp;
        if (scale || shift || residual || relu)
          nnc_c3_epilogue(to, from, W, scale ? scale[f] : 1, shift ? shift[f] : 0,
                          residual ? residual + ((size_t)f * H + h) * W : NULL, relu);
        else
          nnc_c3_copy(to, from, W);
      }
  }
}

/* dw [F][C][3][3] (+)= the weight gradient of a 3x3 same convolution over n examples: dw[f][c][u][v]
 * = the sum over examples and positions q of dy[f][q] xp[c][q + u Wp + v], both in the grid layout
 * (nnc_c3_layout: xp [n][C] planes without on_grid, dyg [n][F] grids with it). A register block is
 * 4 output channels x the 3 taps of one kernel row, summed in 8 lanes along the grids of all n
 * examples, then across the lanes; accumulate adds the result to dw. */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_weight_grad(float *dw, const float *dyg, const float *xp, int C,
                                                                   int H, int W, int F, int n, int accumulate) {
  const int Wp = W + 1, grid = nnc_c3_grid(H, W), plane = nnc_c3_plane(H, W);
  for (int f0 = 0; f0 < F; f0 += 4) {
    const int nf = F - f0 < 4 ? F - f0 : 4;
    for (int c = 0; c < C; c++)
      for (int u = 0; u < 3; u++) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int e = 0; e < n; e++) {
          const float *xr = xp + ((size_t)e * C + c) * plane + (size_t)u * Wp;
          const float *d0 = dyg + ((size_t)e * F + f0) * grid; /* channels past F repeat the last one */
          const float *d1 = d0 + (nf > 1 ? grid : 0), *d2 = d0 + (nf > 2 ? 2 * grid : 0), *d3 = d0 + (nf > 3 ? 3 * grid : 0);
          for (int q = 0; q < grid; q += 8) {
            const __m256 x0 = _mm256_loadu_ps(xr + q), x1 = _mm256_loadu_ps(xr + q + 1), x2 = _mm256_loadu_ps(xr + q + 2);
            __m256 d = _mm256_loadu_ps(d0 + q);
            a00 = _mm256_fmadd_ps(d, x0, a00), a01 = _mm256_fmadd_ps(d, x1, a01), a02 = _mm256_fmadd_ps(d, x2, a02);
            d = _mm256_loadu_ps(d1 + q);
            a10 = _mm256_fmadd_ps(d, x0, a10), a11 = _mm256_fmadd_ps(d, x1, a11), a12 = _mm256_fmadd_ps(d, x2, a12);
            d = _mm256_loadu_ps(d2 + q);
            a20 = _mm256_fmadd_ps(d, x0, a20), a21 = _mm256_fmadd_ps(d, x1, a21), a22 = _mm256_fmadd_ps(d, x2, a22);
            d = _mm256_loadu_ps(d3 + q);
            a30 = _mm256_fmadd_ps(d, x0, a30), a31 = _mm256_fmadd_ps(d, x1, a31), a32 = _mm256_fmadd_ps(d, x2, a32);
          }
        }
        __m256 sums[12] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32};
        for (int k = 0; k < 3 * nf; k++) {
          float lane[8];
          _mm256_storeu_ps(lane, sums[k]);
          const float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
          float *to = dw + (((size_t)(f0 + k / 3) * C + c) * 3 + u) * 3 + k % 3;
          *to = accumulate ? *to + sum : sum;
        }
      }
  }
}
/* The weight gradient of layers with a multiple of 8 input channels reads x channels last: position
 * (r, k) of the zero-bordered image (rows 0 and H + 1 zero; column 0 the zero border between a row
 * and the next, as in nnc_c3_layout) holds the C channels side by side, xt[(r Wp + k) C + c] =
 * x[c][r - 1][k - 1]; one more zero position ends it. Its size in floats: */
NNC_C3_FN size_t nnc_c3_cl_size(int C, int H, int W) { return ((size_t)(H + 2) * (W + 1) + 1) * (size_t)C; }

/* xt as above from x [C][H][W], C a multiple of 8; 4 x 4 transposes */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_layout_cl(float *to, const float *x, int C, int H, int W) {
  const int Wp = W + 1;
  const size_t positions = (size_t)(H + 2) * Wp + 1;
  const __m256 zero = _mm256_setzero_ps();
#define NNC_C3_ZERO(p) for (int c = 0; c < C; c += 8) _mm256_storeu_ps(to + (size_t)(p) * C + c, zero)
  for (int p = 0; p <= Wp; p++) NNC_C3_ZERO(p);
  for (int h = 0; h < H; h++) {
    float *row = to + ((size_t)(h + 1) * Wp + 1) * C; /* position (h + 1, 1) */
    for (int c0 = 0; c0 < C; c0 += 4) {
      const float *s0 = x + ((size_t)c0 * H + h) * W, *s1 = s0 + (size_t)H * W, *s2 = s1 + (size_t)H * W, *s3 = s2 + (size_t)H * W;
      int w = 0;
      for (; w + 4 <= W; w += 4) {
        __m128 r0 = _mm_loadu_ps(s0 + w), r1 = _mm_loadu_ps(s1 + w), r2 = _mm_loadu_ps(s2 + w), r3 = _mm_loadu_ps(s3 + w);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        float *o = row + (size_t)w * C + c0;
        _mm_storeu_ps(o, r0), _mm_storeu_ps(o + C, r1), _mm_storeu_ps(o + 2 * C, r2), _mm_storeu_ps(o + 3 * C, r3);
      }
      for (; w < W; w++) {
        float *o = row + (size_t)w * C + c0;
        o[0] = s0[w], o[1] = s1[w], o[2] = s2[w], o[3] = s3[w];
      }
    }
    NNC_C3_ZERO((size_t)(h + 2) * Wp); /* the border column after the row */
  }
  for (size_t p = (size_t)(H + 1) * Wp + 1; p < positions; p++) NNC_C3_ZERO(p);
#undef NNC_C3_ZERO
}

/* dw [F][C][3][3] (+)= the weight gradient over n examples of a 3x3 convolution with padding 1 and
 * stride 1 (as nnc_c3_weight_grad computes it) or 2, for C a multiple of 8, from xt
 * (nnc_c3_layout_cl of the H x W input, n of them) and dy itself (example e's F planes of OH x OW
 * outputs at dy + e dy_stride, OH = (H - 1) / stride + 1). The lanes are 8 input channels, so no
 * sum across lanes is needed and only the real outputs are visited: a register block is 4 output
 * channels x the 3 taps of one kernel row x 8 channels, and along a row each output loads one
 * (stride 1: the taps' vectors move down by one) or two new vectors of x and four broadcasts of dy
 * for twelve products. */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_weight_grad_cl(float *dw, const float *dy, size_t dy_stride, const float *xt, int C,
                                                                      int H, int W, int stride, int F, int n, int accumulate) {
  const int OH = (H - 1) / stride + 1, OW = (W - 1) / stride + 1, outputs = OH * OW;
  const size_t xsize = nnc_c3_cl_size(C, H, W), row = (size_t)(W + 1) * C;
  for (int f0 = 0; f0 < F; f0 += 4) {
    const int nf = F - f0 < 4 ? F - f0 : 4;
    const size_t o1 = nf > 1 ? (size_t)outputs : 0, o2 = nf > 2 ? 2 * (size_t)outputs : 0, o3 = nf > 3 ? 3 * (size_t)outputs : 0;
    for (int c0 = 0; c0 < C; c0 += 8)
      for (int u = 0; u < 3; u++) {
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        for (int e = 0; e < n; e++) {
          const float *d0 = dy + (size_t)e * dy_stride + (size_t)f0 * outputs;
          const float *xe = xt + (size_t)e * xsize + (size_t)u * row + c0;
          for (int h = 0; h < OH; h++) {
            const float *xr = xe + (size_t)(stride * h) * row, *dr = d0 + (size_t)h * OW;
#define NNC_C3_WG_OUTPUT(w)                                                                                   \
  {                                                                                                           \
    __m256 d = _mm256_broadcast_ss(dr + (w));                                                                 \
    a00 = _mm256_fmadd_ps(d, x0, a00), a01 = _mm256_fmadd_ps(d, x1, a01), a02 = _mm256_fmadd_ps(d, x2, a02); \
    d = _mm256_broadcast_ss(dr + o1 + (w));                                                                   \
    a10 = _mm256_fmadd_ps(d, x0, a10), a11 = _mm256_fmadd_ps(d, x1, a11), a12 = _mm256_fmadd_ps(d, x2, a12); \
    d = _mm256_broadcast_ss(dr + o2 + (w));                                                                   \
    a20 = _mm256_fmadd_ps(d, x0, a20), a21 = _mm256_fmadd_ps(d, x1, a21), a22 = _mm256_fmadd_ps(d, x2, a22); \
    d = _mm256_broadcast_ss(dr + o3 + (w));                                                                   \
    a30 = _mm256_fmadd_ps(d, x0, a30), a31 = _mm256_fmadd_ps(d, x1, a31), a32 = _mm256_fmadd_ps(d, x2, a32); \
  }
            __m256 x0 = _mm256_loadu_ps(xr);
            if (stride == 1) {
              __m256 x1 = _mm256_loadu_ps(xr + C);
              for (int w = 0; w < OW; w++) {
                const __m256 x2 = _mm256_loadu_ps(xr + (size_t)(w + 2) * C);
                NNC_C3_WG_OUTPUT(w)
                x0 = x1, x1 = x2;
              }
            } else {
              for (int w = 0; w < OW; w++) {
                const __m256 x1 = _mm256_loadu_ps(xr + (size_t)(2 * w + 1) * C), x2 = _mm256_loadu_ps(xr + (size_t)(2 * w + 2) * C);
                NNC_C3_WG_OUTPUT(w)
                x0 = x2;
              }
            }
#undef NNC_C3_WG_OUTPUT
          }
        }
        const __m256 sums[12] = {a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32};
        for (int k = 0; k < 3 * nf; k++) {
          float lane[8];
          _mm256_storeu_ps(lane, sums[k]);
          float *to = dw + ((size_t)(f0 + k / 3) * C + c0) * 9 + u * 3 + k % 3;
          for (int l = 0; l < 8; l++) to[9 * l] = accumulate ? to[9 * l] + lane[l] : lane[l];
        }
      }
  }
}
#endif
