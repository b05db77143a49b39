#ifdef NNC_C3
/* Winograd F(2x2, 3x3) for the 3x3 "same" convolutions of compiler/kernels/conv3x3.c (which must
 * come first: this file uses its NNC_C3 guard and row helpers): the same convolution and epilogue
 * as nnc_c3_conv, with 16 multiplications per 2x2 output tile and channel pair instead of 36
 * (Lavin and Gray, 2015): y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A for each 4x4 input patch d (stride 2) and
 * 3x3 filter g. compiler/emit.c's conv3x3_winograd() says which layers take it.
 *
 * The input is copied once per call into zero-bordered planes of 2 th + 2 rows (th x tw tiles:
 * H/2 x W/2 rounded up), each row split into its even and odd columns (nnc_c3_wsplit), so that
 * every patch, also those of the tiles that hang over an odd edge, reads zeros outside the image:
 * the outputs there are computed and dropped, and a NaN or Inf in the image reaches the same
 * outputs as in the direct kernel (a patch value enters only the outputs whose 3x3 window holds
 * it; Inf may become NaN there). Tiles are numbered row by row in chunks of nnc_c3_wchunk(H, W)
 * tile rows (to keep a chunk's transforms in the caches). Per chunk: V[16][Ci][tiles] (the input
 * transform, 8 tiles a vector, or two rows of 4 tiles or fewer), M[16][Fo][tiles] = U[16][Fo][Ci] V
 * (16 products, register block 4 output channels x 24 tiles as in nnc_c3_conv), then the output
 * transform to 2 rows of a small plane per tile row, and the epilogue row by row into y. A vector
 * of 8 tiles may run past its tile row into the next one (rewritten afterwards) or into slack
 * lanes: each lane is one tile all along, so such lanes only ever reach outputs that are dropped. */
NNC_C3_FN int nnc_c3_wtiles_w(int W) { return (W + 1) / 2; }
/* a row of the input planes: its even columns (the zero left of the image first), then its odd
 * ones, each nnc_c3_whalf long: the 8 tiles' 4 columns are 4 loads; the same width serves the
 * output rows (2 tw and a vector more) */
NNC_C3_FN int nnc_c3_whalf(int W) { return (nnc_c3_wtiles_w(W) + 16) / 8 * 8; }
NNC_C3_FN int nnc_c3_wrow(int W) { return 2 * nnc_c3_whalf(W); }
/* tile rows a chunk: some 64 tiles */
NNC_C3_FN int nnc_c3_wchunk(int H, int W) {
  const int th = (H + 1) / 2, tw = nnc_c3_wtiles_w(W), rows = 64 / tw;
  return rows < 1 ? 1 : rows > th ? th : rows;
}
/* lanes of a chunk's rows of V and M: its tiles rounded up to 8, and 8 more for the last vector;
 * an odd number of 8s, so that the 16 rows of one tile, Ci or Fo rows apart, are not 4 KiB apart
 * (where they would share cache sets, and loads would wait on unrelated stores) */
NNC_C3_FN int nnc_c3_wlanes(int H, int W) { return (((nnc_c3_wchunk(H, W) * nnc_c3_wtiles_w(W) + 7) / 8 + 1) | 1) * 8; }
NNC_C3_FN size_t nnc_c3_wpacked(int Fo, int Ci) { return (size_t)16 * ((Fo + 3) / 4 * 4) * (size_t)Ci; }
/* the scratch of nnc_c3_wconv besides the packed weights: planes, V, M and 2 chunk output rows a tile row */
NNC_C3_FN size_t nnc_c3_wscratch(int Ci, int H, int W, int Fo) {
  const size_t lanes = (size_t)nnc_c3_wlanes(H, W), row = (size_t)nnc_c3_wrow(W);
  return (size_t)Ci * (size_t)(2 * ((H + 1) / 2) + 2) * row + 16 * lanes * ((size_t)Ci + (size_t)((Fo + 3) / 4 * 4)) +
         2 * (size_t)nnc_c3_wchunk(H, W) * row;
}

/* U [16][Fo/4][Ci][4] = G g Gᵀ for every filter g of w [F][C][3][3], as it is or (data_grad)
 * transposed and flipped as in nnc_c3_pack; channels past Fo are zero. Transformed in double. */
NNC_C3_FN void nnc_c3_wpack(float *U, const float *w, int F, int C, int data_grad) {
  const int Fo = data_grad ? C : F, Ci = data_grad ? F : C, Fo4 = (Fo + 3) / 4 * 4;
  static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int o = 0; o < Fo4; o++)
    for (int i = 0; i < Ci; i++) {
      double g[3][3], t[4][3];
      for (int u = 0; u < 3; u++)
        for (int v = 0; v < 3; v++)
          g[u][v] = o >= Fo ? 0 : data_grad ? w[((size_t)i * C + o) * 9 + (2 - u) * 3 + 2 - v] : w[((size_t)o * C + i) * 9 + u * 3 + v];
      for (int a = 0; a < 4; a++)
        for (int v = 0; v < 3; v++) t[a][v] = G[a][0] * g[0][v] + G[a][1] * g[1][v] + G[a][2] * g[2][v];
      for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
          U[(((size_t)(a * 4 + b) * (Fo4 / 4) + o / 4) * Ci + i) * 4 + o % 4] =
              (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
    }
}

/* to[0..n) = 0: the short runs of the borders and slack lanes, where a call of memset costs most */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_wzero(float *to, int n) {
  int j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(to + j, _mm256_setzero_ps());
  if (j < n) _mm256_maskstore_ps(to + j, nnc_c3_lanes(n - j), _mm256_setzero_ps());
}

/* the first n (1..7) floats at p and zeros: one whole load, its lanes past n cleared, where it stays
 * before end (the end of the input), else a masked one */
__attribute__((target("avx2,fma"))) NNC_C3_ROW __m256 nnc_c3_wpart(const float *p, int n, const float *end) {
  const __m256i lanes = nnc_c3_lanes(n);
  if (p + 8 <= end) return _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(lanes));
  return _mm256_maskload_ps(p, lanes);
}

/* one row of an input plane from the W floats at x: its even columns (x[-1] = 0, x[1], x[3] ..)
 * at to, its odd ones (x[0], x[2] ..) at to + half, zeros past the row; the input ends at end */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_wsplit(float *to, const float *x, int W, int half, const float *end) {
  const __m256i rotate = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
  __m256 last = _mm256_setzero_ps(); /* the previous 8 odd floats rotated: x[-1] = 0 first */
  for (int k = 0; k < half; k += 8) {
    const int n = W - 2 * k; /* floats left from x + 2 k */
    const __m256 zero = _mm256_setzero_ps();
    const __m256 lo = n >= 8 ? _mm256_loadu_ps(x + 2 * k) : n > 0 ? nnc_c3_wpart(x + 2 * k, n, end) : zero;
    const __m256 hi = n >= 16 ? _mm256_loadu_ps(x + 2 * k + 8) : n > 8 ? nnc_c3_wpart(x + 2 * k + 8, n - 8, end) : zero;
    const __m256 even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    const __m256 odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
    const __m256 rotated = _mm256_permutevar8x32_ps(odd, rotate); /* x[2k + 15], x[2k + 1] .. x[2k + 13] */
    _mm256_storeu_ps(to + k, _mm256_blend_ps(rotated, last, 1));
    _mm256_storeu_ps(to + half + k, even);
    last = rotated;
  }
}

/* nnc_c3_epilogue without a residual, in whole vectors: to[n..) up to the next multiple of 8 is
 * written too (masked stores cost most on short rows) */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_wepilogue(float *to, const float *from, int n, float scale,
                                                                    float shift, int relu) {
  const __m256 a = _mm256_set1_ps(scale), b = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
  for (int j = 0; j < n; j += 8) {
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(from + j), a), b); /* as nnc_c3_epilogue rounds */
    _mm256_storeu_ps(to + j, relu ? _mm256_max_ps(zero, v) : v);
  }
}

/* 8 lanes from p, or (pair) 4 from p and 4 from the next tile row's (at p + up when next is set) */
__attribute__((target("avx2,fma"))) NNC_C3_ROW __m256 nnc_c3_wload(const float *p, int pair, int next, size_t up) {
  if (!pair) return _mm256_loadu_ps(p);
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(next ? p + up : p), 1);
}

/* 8 lanes to p, or (pair) 4 to p and, when next is set, 4 to the next tile row's at p + up (after the
 * first 4, which may run into them) */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_wstore(float *p, __m256 v, int pair, int next, size_t up) {
  if (!pair) {
    _mm256_storeu_ps(p, v);
    return;
  }
  _mm_storeu_ps(p, _mm256_castps256_ps128(v));
  if (next) _mm_storeu_ps(p + up, _mm256_extractf128_ps(v, 1));
}

/* V = Bᵀ d B (Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; rows, then columns) for the 8 tiles
 * whose patches start at p, a split row of an input plane, or (pair: tile rows of 4 tiles or fewer)
 * the 4 there and the 4 a tile row (2 plane rows) below when next is set; element e of the tiles
 * goes to v + e e1, those of the next tile row tw lanes on */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_win(float *v, size_t e1, const float *p, int row, int half,
                                                              int pair, int next, int tw) {
  const size_t up = 2 * (size_t)row;
  const float *p0 = p, *p1 = p0 + row, *p2 = p1 + row, *p3 = p2 + row;
#define NNC_C3_WIN(i, op, a, b)                                                                                     \
  {                                                                                                               \
    const __m256 d0 = op(nnc_c3_wload(a, pair, next, up), nnc_c3_wload(b, pair, next, up));                       \
    const __m256 d1 = op(nnc_c3_wload((a) + half, pair, next, up), nnc_c3_wload((b) + half, pair, next, up));     \
    const __m256 d2 = op(nnc_c3_wload((a) + 1, pair, next, up), nnc_c3_wload((b) + 1, pair, next, up));           \
    const __m256 d3 = op(nnc_c3_wload((a) + half + 1, pair, next, up), nnc_c3_wload((b) + half + 1, pair, next, up)); \
    float *vi = v + (size_t)(4 * (i)) * e1;                                                                       \
    nnc_c3_wstore(vi, _mm256_sub_ps(d0, d2), pair, next, (size_t)tw);                                             \
    nnc_c3_wstore(vi + e1, _mm256_add_ps(d1, d2), pair, next, (size_t)tw);                                        \
    nnc_c3_wstore(vi + 2 * e1, _mm256_sub_ps(d2, d1), pair, next, (size_t)tw);                                    \
    nnc_c3_wstore(vi + 3 * e1, _mm256_sub_ps(d1, d3), pair, next, (size_t)tw);                                    \
  }
  NNC_C3_WIN(0, _mm256_sub_ps, p0, p2) NNC_C3_WIN(1, _mm256_add_ps, p1, p2)
  NNC_C3_WIN(2, _mm256_sub_ps, p2, p1) NNC_C3_WIN(3, _mm256_sub_ps, p1, p3)
#undef NNC_C3_WIN
}

/* Y = Aᵀ M A (Aᵀ = [1 1 1 0; 0 1 -1 -1]) for the 8 tiles of m (element e at m + e e1) into 2 rows
 * of the output plane at o, or (pair) for 4 tiles there and, when next is set, the next tile
 * row's 4, tw lanes on, into the 2 rows below */
__attribute__((target("avx2,fma"))) NNC_C3_ROW void nnc_c3_wout(float *o, int row, const float *m, size_t e1, int pair,
                                                               int next, int tw) {
  __m256 s00, s01, s02, s03, s10, s11, s12, s13;
#define NNC_C3_WOUT_COLUMN(k)                                                                                      \
  {                                                                                                                \
    const __m256 m0 = nnc_c3_wload(m + (k) * e1, pair, next, (size_t)tw);                                          \
    const __m256 m1 = nnc_c3_wload(m + (4 + (k)) * e1, pair, next, (size_t)tw);                                    \
    const __m256 m2 = nnc_c3_wload(m + (8 + (k)) * e1, pair, next, (size_t)tw);                                    \
    const __m256 m3 = nnc_c3_wload(m + (12 + (k)) * e1, pair, next, (size_t)tw);                                   \
    s0##k = _mm256_add_ps(_mm256_add_ps(m0, m1), m2), s1##k = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);            \
  }
  NNC_C3_WOUT_COLUMN(0) NNC_C3_WOUT_COLUMN(1) NNC_C3_WOUT_COLUMN(2) NNC_C3_WOUT_COLUMN(3)
#undef NNC_C3_WOUT_COLUMN
  /* the tiles' 2 outputs of a row interleaved: 4 tiles' in each 128-bit half */
#define NNC_C3_WOUT_ROW(k)                                                                                         \
  {                                                                                                                \
    const __m256 y0 = _mm256_add_ps(_mm256_add_ps(s##k##0, s##k##1), s##k##2);                                     \
    const __m256 y1 = _mm256_sub_ps(_mm256_sub_ps(s##k##1, s##k##2), s##k##3);                                     \
    const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);                                 \
    _mm256_storeu_ps(o + (k) * row, _mm256_permute2f128_ps(lo, hi, 0x20));                                         \
    if (!pair) _mm256_storeu_ps(o + (k) * row + 8, _mm256_permute2f128_ps(lo, hi, 0x31));                          \
    else if (next) _mm256_storeu_ps(o + (2 + (k)) * row, _mm256_permute2f128_ps(lo, hi, 0x31));                    \
  }
  NNC_C3_WOUT_ROW(0) NNC_C3_WOUT_ROW(1)
#undef NNC_C3_WOUT_ROW
}

/* y [Fo][H][W] = the 3x3 same convolution of x [Ci][H][W] with the transformed weights U
 * (nnc_c3_wpack), with nnc_c3_conv's epilogue; scratch holds nnc_c3_wscratch floats */
__attribute__((target("avx2,fma"))) NNC_C3_FN void nnc_c3_wconv(float *y, const float *x, const float *U, int Ci, int H,
                                                             int W, int Fo, float *scratch, const float *scale,
                                                             const float *shift, const float *residual, int relu) {
  const int th = (H + 1) / 2, tw = nnc_c3_wtiles_w(W), half = nnc_c3_whalf(W), row = 2 * half, rows = 2 * th + 2;
  const int chunk = nnc_c3_wchunk(H, W), lanes = nnc_c3_wlanes(H, W), Fo4 = (Fo + 3) / 4 * 4;
  const int pair = tw <= 4; /* short tile rows: two a vector */
  const size_t plane = (size_t)rows * row;
  float *xp = scratch, *V = xp + (size_t)Ci * plane, *M = V + (size_t)16 * Ci * lanes, *out = M + (size_t)16 * Fo4 * lanes;
  for (int c = 0; c < Ci; c++) { /* rows of zeros above and below */
    float *p = xp + c * plane;
    nnc_c3_wzero(p, row);
    for (int h = 0; h < H; h++) nnc_c3_wsplit(p + (size_t)(h + 1) * row, x + ((size_t)c * H + h) * W, W, half, x + (size_t)Ci * H * W);
    nnc_c3_wzero(p + (size_t)(H + 1) * row, (rows - H - 1) * row);
  }
  /* the products read V's lanes up to the vector that holds the last tile, the output transform M's
     up to 7 past that tile: lanes no transform or product writes in the first chunk (later chunks
     have as many tiles or fewer) */
  for (int r = 0; r < 16 * Ci; r++) _mm256_storeu_ps(V + (size_t)r * lanes + chunk * tw / 8 * 8, _mm256_setzero_ps());
  for (int r = 0; r < 16 * Fo4; r++) _mm256_storeu_ps(M + (size_t)r * lanes + (chunk * tw + 7) / 8 * 8, _mm256_setzero_ps());
  for (int t0 = 0; t0 < th; t0 += chunk) {
    const int t1 = t0 + chunk < th ? t0 + chunk : th, tiles = (t1 - t0) * tw, vecs = (tiles + 7) / 8;
    for (int c = 0; c < Ci; c++)
      for (int ti = t0; ti < t1; ti += 1 + pair)
        for (int tj = 0; tj < tw; tj += 8) {
          const float *p = xp + c * plane + (size_t)(2 * ti) * row + tj;
          float *v = V + (size_t)c * lanes + (size_t)(ti - t0) * tw + tj;
          if (pair) nnc_c3_win(v, (size_t)Ci * lanes, p, row, half, 1, ti + 1 < t1, tw);
          else nnc_c3_win(v, (size_t)Ci * lanes, p, row, half, 0, 0, 0);
        }
    for (int e = 0; e < 16; e++) /* M[e] = U[e] V[e] */
      for (int f0 = 0; f0 < Fo4; f0 += 4) {
        const float *ub = U + ((size_t)e * Fo4 + f0) * Ci, *vb = V + (size_t)e * Ci * lanes;
        float *mb = M + ((size_t)e * Fo4 + f0) * lanes;
        int q = 0;
        for (; q + 3 <= vecs && vecs - q != 4; q += 3) { /* 4 left: 2 + 2 (1 alone waits on its 4 sums) */
          __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
          __m256 a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
          for (int c = 0; c < Ci; c++) {
            const float *s = vb + (size_t)c * lanes + 8 * q, *u = ub + 4 * c;
            const __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + 8), x2 = _mm256_loadu_ps(s + 16);
            __m256 w = _mm256_broadcast_ss(u);
            a00 = _mm256_fmadd_ps(w, x0, a00), a01 = _mm256_fmadd_ps(w, x1, a01), a02 = _mm256_fmadd_ps(w, x2, a02);
            w = _mm256_broadcast_ss(u + 1);
            a10 = _mm256_fmadd_ps(w, x0, a10), a11 = _mm256_fmadd_ps(w, x1, a11), a12 = _mm256_fmadd_ps(w, x2, a12);
            w = _mm256_broadcast_ss(u + 2);
            a20 = _mm256_fmadd_ps(w, x0, a20), a21 = _mm256_fmadd_ps(w, x1, a21), a22 = _mm256_fmadd_ps(w, x2, a22);
            w = _mm256_broadcast_ss(u + 3);
            a30 = _mm256_fmadd_ps(w, x0, a30), a31 = _mm256_fmadd_ps(w, x1, a31), a32 = _mm256_fmadd_ps(w, x2, a32);
          }
          float *o = mb + 8 * q;
          _mm256_storeu_ps(o, a00), _mm256_storeu_ps(o + 8, a01), _mm256_storeu_ps(o + 16, a02);
          o += lanes;
          _mm256_storeu_ps(o, a10), _mm256_storeu_ps(o + 8, a11), _mm256_storeu_ps(o + 16, a12);
          o += lanes;
          _mm256_storeu_ps(o, a20), _mm256_storeu_ps(o + 8, a21), _mm256_storeu_ps(o + 16, a22);
          o += lanes;
          _mm256_storeu_ps(o, a30), _mm256_storeu_ps(o + 8, a31), _mm256_storeu_ps(o + 16, a32);
        }
        for (; q + 2 <= vecs; q += 2) {
          __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
          for (int c = 0; c < Ci; c++) {
            const float *s = vb + (size_t)c * lanes + 8 * q, *u = ub + 4 * c;
            const __m256 x0 = _mm256_loadu_ps(s), x1 = _mm256_loadu_ps(s + 8);
            __m256 w = _mm256_broadcast_ss(u);
            a00 = _mm256_fmadd_ps(w, x0, a00), a01 = _mm256_fmadd_ps(w, x1, a01);
            w = _mm256_broadcast_ss(u + 1);
            a10 = _mm256_fmadd_ps(w, x0, a10), a11 = _mm256_fmadd_ps(w, x1, a11);
            w = _mm256_broadcast_ss(u + 2);
            a20 = _mm256_fmadd_ps(w, x0, a20), a21 = _mm256_fmadd_ps(w, x1, a21);
            w = _mm256_broadcast_ss(u + 3);
            a30 = _mm256_fmadd_ps(w, x0, a30), a31 = _mm256_fmadd_ps(w, x1, a31);
          }
          float *o = mb + 8 * q;
          _mm256_storeu_ps(o, a00), _mm256_storeu_ps(o + 8, a01), _mm256_storeu_ps(o + lanes, a10);
          _mm256_storeu_ps(o + lanes + 8, a11), _mm256_storeu_ps(o + 2 * lanes, a20);
          _mm256_storeu_ps(o + 2 * lanes + 8, a21), _mm256_storeu_ps(o + 3 * lanes, a30);
          _mm256_storeu_ps(o + 3 * lanes + 8, a31);
        }
        if (q < vecs) {
          __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
          for (int c = 0; c < Ci; c++) {
            const __m256 x0 = _mm256_loadu_ps(vb + (size_t)c * lanes + 8 * q);
            const float *u = ub + 4 * c;
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(u), x0, a0), a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 1), x0, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 2), x0, a2), a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(u + 3), x0, a3);
          }
          float *o = mb + 8 * q;
          _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + lanes, a1);
          _mm256_storeu_ps(o + 2 * lanes, a2), _mm256_storeu_ps(o + 3 * lanes, a3);
        }
      }
    for (int f = 0; f < Fo; f++) { /* Y = Aᵀ M A, Aᵀ = [1 1 1 0; 0 1 -1 -1], then the epilogue */
      for (int ti = t0; ti < t1; ti += 1 + pair)
        for (int tj = 0; tj < tw; tj += 8) {
          const float *m = M + (size_t)f * lanes + (size_t)(ti - t0) * tw + tj;
          float *o = out + (size_t)(2 * (ti - t0)) * row + 2 * tj;
          if (pair) nnc_c3_wout(o, row, m, (size_t)Fo4 * lanes, 1, ti + 1 < t1, tw);
          else nnc_c3_wout(o, row, m, (size_t)Fo4 * lanes, 0, 0, 0);
        }
      for (int h = 2 * t0; h < 2 * t1 && h < H; h++) {
        float *to = y + ((size_t)f * H + h) * W;
        const float *from = out + (size_t)(h - 2 * t0) * row;
        if (residual || h * W + (W + 7) / 8 * 8 > H * W) /* (the residual may be y itself) */
          nnc_c3_epilogue(to, from, W, scale ? scale[f] : 1, shift ? shift[f] : 0,
                          residual ? residual + ((size_t)f * H + h) * W : NULL, relu);
        else /* whole vectors, into rows below in this plane, which are written later */
          nnc_c3_wepilogue(to, from, W, scale ? scale[f] : 1, shift ? shift[f] : 0, relu);
      }
    }
  }
}
#endif
