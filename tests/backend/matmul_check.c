/* matmul_check.c — nnc_matmul(), the generated code's own product for dense layers, against a
 * plain loop written here.
 *
 * Built by matmul_check.cmake, which generates dense_kernel.nn (--no-blas, or --double) and
 * compiles this file with the generated dense_kernel.c included, so the kernel tested is the one
 * nnc emits, as emitted: with run-time dispatch at -O2, without it, and with NNC_PLAIN_C (the loop
 * nest for compilers without GCC's vector extension). For each of 2,000 shapes (M, N, K in 1..70,
 * odd ones and around the 6 x 16 tile, plus K past the 256-value k-block, M up to 24 where B is
 * read in place) and all four transposes, with leading dimensions larger than the matrices:
 *
 *   beta = 0: C equals, bit for bit, the sum of the products in k order computed by a plain loop
 *             (each element: s = 0; s += a b for k = 0, 1, ...), and nothing outside C changes;
 *   beta = 0.5: C within 1e-5 * (sum |a b| + |beta c|) of the long-double value (a later k-block
 *             adds to the first block's beta c + sum, so the order differs there).
 *
 * Prints a checksum of every C so that the builds can be compared with each other too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dense_kernel.c"

static unsigned long long state = 0x853c49e6748fea9bULL;
static double uniform(void) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 9007199254740992.0;
}
static int below(int n) { return (int)(uniform() * n); }

#define PAD 3   /* extra columns in every leading dimension */
#define GUARD ((nnc_real)-7.25)

static int check(int ta, int tb, int M, int N, int K, nnc_real beta, unsigned long long *sum) {
  int lda = (ta ? M : K) + PAD, ldb = (tb ? K : N) + PAD, ldc = N + PAD, bad = 0;
  size_t a_rows = (size_t)(ta ? K : M), b_rows = (size_t)(tb ? N : K);
  nnc_real *A = malloc(sizeof *A * a_rows * lda), *B = malloc(sizeof *B * b_rows * ldb);
  nnc_real *C = malloc(sizeof *C * (size_t)M * ldc), *C0 = malloc(sizeof *C0 * (size_t)M * ldc);
  if (!A || !B || !C || !C0) exit(1);
  for (size_t i = 0; i < a_rows * lda; i++) A[i] = (nnc_real)(uniform() * 4 - 2);
  for (size_t i = 0; i < b_rows * ldb; i++) B[i] = (nnc_real)(uniform() * 4 - 2);
  for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = C0[i] = (size_t)(i % ldc) < (size_t)N ? (nnc_real)(uniform() - 0.5) : GUARD;
  nnc_matmul(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
  for (int i = 0; i < M; i++) {
    for (int j = N; j < ldc; j++)
      if (C[(size_t)i * ldc + j] != GUARD) bad = 1, fprintf(stderr, "FAIL: wrote outside C at (%d, %d)\n", i, j);
    for (int j = 0; j < N; j++) {
      nnc_real s = 0;
      long double exact = 0, size = 0;
      for (int k = 0; k < K; k++) {
        nnc_real a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        nnc_real b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
        s += a * b;
        exact += (long double)a * b;
        size += fabsl((long double)a * b);
      }
      nnc_real got = C[(size_t)i * ldc + j], c0 = C0[(size_t)i * ldc + j];
      int wrong;
      if (beta == 0) {
        wrong = got != s;
      } else {
        exact += (long double)beta * c0;
        size += fabsl((long double)beta * c0);
        wrong = !(fabsl(got - exact) <= 1e-5L * size);
      }
      if (wrong && bad++ < 3)
        fprintf(stderr, "FAIL: ta %d tb %d M %d N %d K %d beta %g: C[%d][%d] = %.9g, expected %.9g\n", ta, tb, M, N, K,
                (double)beta, i, j, (double)got, beta == 0 ? (double)s : (double)exact);
      union { nnc_real r; unsigned char b[sizeof(nnc_real)]; } u;
      u.r = got;
      for (size_t q = 0; q < sizeof u.b; q++) *sum = (*sum ^ u.b[q]) * 1099511628211ULL;
    }
  }
  free(A), free(B), free(C), free(C0);
  return bad != 0;
}

int main(void) {
  static const int edges[] = {1, 2, 5, 6, 7, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 64, 70};
  const int n_edges = (int)(sizeof edges / sizeof edges[0]);
  unsigned long long sum = 1469598103934665603ULL;
  int failed = 0, cases = 0;
  for (int t = 0; t < 2000; t++) {
    int M, N, K;
    if (t < 600) {
      M = edges[below(n_edges)], N = edges[below(n_edges)], K = edges[below(n_edges)];
    } else {
      M = 1 + below(70), N = 1 + below(70), K = 1 + below(70);
    }
    if (t % 50 == 0) K = 250 + below(400); /* past one k-block */
    for (int tr = 0; tr < 4; tr++, cases++) failed |= check(tr & 1, tr >> 1, M, N, K, 0, &sum);
    if (t % 10 == 0) failed |= check(t & 1, (t >> 1) & 1, M, N, K, (nnc_real)0.5, &sum), cases++;
  }
  printf("%d products checked, checksum %016llx\n", cases, sum);
  return failed;
}
