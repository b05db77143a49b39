/* The forward product of dense layers, y [M][N] = x [M][K] wᵀ (w [N][K] the layer's weights, M the
 * batch), and their weights' gradients over small batches (nnc_g_outer), for x86-64 CPUs with AVX2
 * and FMA, chosen at run time (nnc_g_usable). nnc copies this file into generated code whose float
 * dense layers have such products.
 *
 * cblas_sgemm copies both operands into its packed layouts on every call and zeroes y first; at a
 * batch of 128 that is a fifth of the product's time (OpenBLAS 0.3.21). Here only the weights are
 * packed, 16 outputs' values of each k side by side (nnc_g_pack, one pass over w), and the rows
 * of x are read as they are: a register block is 6 rows x 16 outputs (12 accumulators; per k two
 * loads of weights and six broadcasts of x for twelve products), and y is written once. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(NNC_NO_SIMD) && \
    (defined(__clang__) || __GNUC__ >= 5)
#include <immintrin.h>
#define NNC_G 1
#define NNC_G_FN __attribute__((unused)) static
#define NNC_G_INLINE __attribute__((unused, always_inline)) static inline

NNC_G_FN int nnc_g_usable(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

/* the floats of w packed: N rounded up to 16 */
NNC_G_FN size_t nnc_g_packed(int N, int K) { return (size_t)(N + 15) / 16 * 16 * (size_t)K; }

/* the first count (0..8) lanes */
__attribute__((target("avx2,fma"))) NNC_G_INLINE __m256i nnc_g_lanes(int count) {
  static const int lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(lanes + 8 - count));
}

/* c[t] = column t of the 8 x 8 block r */
__attribute__((target("avx2,fma"))) NNC_G_INLINE void nnc_g_transpose8(__m256 c[8], const __m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  c[0] = _mm256_permute2f128_ps(u0, u4, 0x20), c[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  c[2] = _mm256_permute2f128_ps(u2, u6, 0x20), c[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  c[4] = _mm256_permute2f128_ps(u0, u4, 0x31), c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  c[6] = _mm256_permute2f128_ps(u2, u6, 0x31), c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* wp [N/16][K][16] from w [N][K] (row stride ldw): wp[p][k][j] = w[16 p + j][k], zero past N */
__attribute__((target("avx2,fma"))) NNC_G_FN void nnc_g_pack(float *wp, const float *w, int N, int K, int ldw) {
  const __m256 zero = _mm256_setzero_ps();
  for (int o0 = 0; o0 < N; o0 += 16) {
    float *panel = wp + (size_t)o0 * K;
    for (int k0 = 0; k0 < K; k0 += 8) {
      const int count = K - k0 < 8 ? K - k0 : 8;
      const __m256i mask = nnc_g_lanes(count);
      for (int half = 0; half < 2; half++) { /* outputs o0 .. o0 + 7, then o0 + 8 .. o0 + 15 */
        __m256 r[8], c[8];
        for (int j = 0; j < 8; j++) {
          const int o = o0 + 8 * half + j;
          r[j] = o < N ? _mm256_maskload_ps(w + (size_t)o * ldw + k0, mask) : zero;
        }
        nnc_g_transpose8(c, r);
        for (int t = 0; t < count; t++) _mm256_storeu_ps(panel + (size_t)(k0 + t) * 16 + 8 * half, c[t]);
      }
    }
  }
}

/* rows rows (1..6) of y at columns o0 .. o0 + 15 (cols of them, 1..16, in y) from the panel p */
__attribute__((target("avx2,fma"))) NNC_G_INLINE void nnc_g_tile(float *y, int ldy, const float *x, int ldx, const float *p, int K,
                                                              int rows, int cols) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *x0 = x, *x1 = x0 + (rows > 1 ? ldx : 0), *x2 = x0 + (rows > 2 ? 2 * (size_t)ldx : 0);
  const float *x3 = x0 + (rows > 3 ? 3 * (size_t)ldx : 0), *x4 = x0 + (rows > 4 ? 4 * (size_t)ldx : 0);
  const float *x5 = x0 + (rows > 5 ? 5 * (size_t)ldx : 0);
  for (int k = 0; k < K; k++, p += 16) {
    const __m256 b0 = _mm256_loadu_ps(p), b1 = _mm256_loadu_ps(p + 8);
    __m256 a = _mm256_broadcast_ss(x0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    if (rows > 1) a = _mm256_broadcast_ss(x1 + k), c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    if (rows > 2) a = _mm256_broadcast_ss(x2 + k), c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    if (rows > 3) a = _mm256_broadcast_ss(x3 + k), c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    if (rows > 4) a = _mm256_broadcast_ss(x4 + k), c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    if (rows > 5) a = _mm256_broadcast_ss(x5 + k), c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  const __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  const __m256i lo = nnc_g_lanes(cols < 8 ? cols : 8), hi = nnc_g_lanes(cols > 8 ? cols - 8 : 0);
  for (int r = 0; r < rows; r++) {
    float *to = y + (size_t)r * ldy;
    if (cols == 16) {
      _mm256_storeu_ps(to, acc[2 * r]), _mm256_storeu_ps(to + 8, acc[2 * r + 1]);
    } else {
      _mm256_maskstore_ps(to, lo, acc[2 * r]);
      if (cols > 8) _mm256_maskstore_ps(to + 8, hi, acc[2 * r + 1]);
    }
  }
}

/* y [M][N] (row stride ldy) = x [M][K] (row stride ldx) wᵀ, w packed by nnc_g_pack. Each y is
 * the sum over k in order of x[i][k] w[j][k], rounded once per k (fused multiply-add). */
__attribute__((target("avx2,fma"))) NNC_G_FN void nnc_g_xwt(float *y, int ldy, const float *x, int ldx, const float *wp, int M,
                                                          int N, int K) {
  for (int o0 = 0; o0 < N; o0 += 16) {
    const float *p = wp + (size_t)o0 * K;
    const int cols = N - o0 < 16 ? N - o0 : 16;
    int i0 = 0;
    for (; i0 + 6 <= M; i0 += 6) nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 6, cols);
    switch (M - i0) { /* constant row counts: each call inlines a tile specialised for its rows */
    case 5: nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 5, cols); break;
    case 4: nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 4, cols); break;
    case 3: nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 3, cols); break;
    case 2: nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 2, cols); break;
    case 1: nnc_g_tile(y + (size_t)i0 * ldy + o0, ldy, x + (size_t)i0 * ldx, ldx, p, K, 1, cols); break;
    default: break;
    }
  }
}
/* The gradient of a dense weight over a small batch, G [rows][cols] = aᵀ x for a [n][rows] (the
 * output gradients) and x [n][cols] (the inputs), a block at a time for the optimizer to take in
 * place (README "Small-batch training"): t [r][ldt] (r < rows <= 6, cols <= 16 of them written) =
 * the sum over b in order of a[b][r] x[b][j], from 0, one fused multiply-add each; a's rows lda
 * apart, x's ldx. full: cols is 16. A register block is 6 rows x 16 columns as in nnc_g_tile, the
 * example's row of x two loads, a's six values broadcasts. */
__attribute__((target("avx2,fma"))) NNC_G_INLINE void nnc_g_outer_tile(float *t, int ldt, const float *a, int lda, const float *x,
                                                                    int ldx, int n, int rows, int cols, int full) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const __m256i lo = nnc_g_lanes(cols < 8 ? cols : 8), hi = nnc_g_lanes(cols > 8 ? cols - 8 : 0);
  for (int b = 0; b < n; b++, a += lda, x += ldx) {
    const __m256 b0 = full ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, lo);
    const __m256 b1 = full ? _mm256_loadu_ps(x + 8) : _mm256_maskload_ps(x + 8, hi);
    __m256 s = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(s, b0, c00), c01 = _mm256_fmadd_ps(s, b1, c01);
    if (rows > 1) s = _mm256_broadcast_ss(a + 1), c10 = _mm256_fmadd_ps(s, b0, c10), c11 = _mm256_fmadd_ps(s, b1, c11);
    if (rows > 2) s = _mm256_broadcast_ss(a + 2), c20 = _mm256_fmadd_ps(s, b0, c20), c21 = _mm256_fmadd_ps(s, b1, c21);
    if (rows > 3) s = _mm256_broadcast_ss(a + 3), c30 = _mm256_fmadd_ps(s, b0, c30), c31 = _mm256_fmadd_ps(s, b1, c31);
    if (rows > 4) s = _mm256_broadcast_ss(a + 4), c40 = _mm256_fmadd_ps(s, b0, c40), c41 = _mm256_fmadd_ps(s, b1, c41);
    if (rows > 5) s = _mm256_broadcast_ss(a + 5), c50 = _mm256_fmadd_ps(s, b0, c50), c51 = _mm256_fmadd_ps(s, b1, c51);
  }
  /* t has room for 16 columns a row; stored from the registers (an array of them went by the stack) */
  _mm256_storeu_ps(t, c00), _mm256_storeu_ps(t + 8, c01), t += ldt;
  if (rows > 1) _mm256_storeu_ps(t, c10), _mm256_storeu_ps(t + 8, c11), t += ldt;
  if (rows > 2) _mm256_storeu_ps(t, c20), _mm256_storeu_ps(t + 8, c21), t += ldt;
  if (rows > 3) _mm256_storeu_ps(t, c30), _mm256_storeu_ps(t + 8, c31), t += ldt;
  if (rows > 4) _mm256_storeu_ps(t, c40), _mm256_storeu_ps(t + 8, c41), t += ldt;
  if (rows > 5) _mm256_storeu_ps(t, c50), _mm256_storeu_ps(t + 8, c51);
}

/* t [rows][ldt] = the block of aᵀ x above at columns c0 .. c0 + cols - 1 (c0 a multiple of 16, cols
 * at most ldt), rows 1..6: a holds the block's n rows of `rows` values side by side; xp holds x in
 * chunks of 16 columns, chunk j at xp + 16 j n with its n rows of min(16, C - 16 j) values side by
 * side (nnc_pack_blocks in the generated code): both are then read in order, one line after another */
__attribute__((target("avx2,fma"))) NNC_G_FN void nnc_g_outer(float *t, int ldt, const float *a, const float *xp, int C, int c0,
                                                            int cols, int n, int rows) {
  for (int c = c0; c < c0 + cols; c += 16) {
    const int nc = C - c < 16 ? C - c : 16;
    float *tc = t + (c - c0);
    const float *xc = xp + (size_t)c * n;
    switch (rows * 2 + (nc == 16)) { /* constant shapes: each call inlines a tile specialised for them */
#define NNC_G_OUTER_CASES(r)                                                                                           \
  case 2 * (r) + 1: nnc_g_outer_tile(tc, ldt, a, r, xc, 16, n, r, 16, 1); break;                                     \
  case 2 * (r): nnc_g_outer_tile(tc, ldt, a, r, xc, nc, n, r, nc, 0); break;
      NNC_G_OUTER_CASES(6) NNC_G_OUTER_CASES(5) NNC_G_OUTER_CASES(4)
      NNC_G_OUTER_CASES(3) NNC_G_OUTER_CASES(2) NNC_G_OUTER_CASES(1)
#undef NNC_G_OUTER_CASES
    default: break;
    }
  }
}

/* nnc_g_xwt's columns split between threads (nnrt_pool_run): items are the 16-column panels, each
 * computed as nnc_g_xwt computes it, so any split gives the same values */
struct nnc_g_args {
  float *y;
  const float *x, *wp;
  int ldy, ldx, M, N, K;
};

NNC_G_FN void nnc_g_panels(void *arg, long begin, long end, int thread) {
  const struct nnc_g_args *a = (const struct nnc_g_args *)arg;
  const int o0 = (int)begin * 16, o1 = (int)end * 16 < a->N ? (int)end * 16 : a->N;
  (void)thread;
  nnc_g_xwt(a->y + o0, a->ldy, a->x, a->ldx, a->wp + (size_t)o0 * a->K, a->M, o1 - o0, a->K);
}

#endif
