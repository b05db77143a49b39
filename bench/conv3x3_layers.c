/* bench/conv3x3_layers.c — the 3x3 "same" kernels of generated code on one layer shape: the direct
 * kernel (compiler/kernels/conv3x3.c) against Winograd F(2x2, 3x3) (compiler/kernels/winograd.c),
 * one example per call as generated code calls them, in the process's CPU time. Rounds alternate
 * the two; prints the fastest round of each and the median of the rounds' ratios (robust to other
 * jobs on a shared machine), and the largest difference between their outputs.
 *
 *   cc -O2 -std=c99 -o /tmp/conv3x3_layers bench/conv3x3_layers.c -lm
 *   /tmp/conv3x3_layers CI FO H W [CALLS]          e.g. 64 64 7 7 (resnet20's last stage) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../compiler/kernels/conv3x3.c"
#include "../compiler/kernels/winograd.c"

#define ROUNDS 15

static double cpu_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
#ifdef NNC_C3
  if (argc < 5 || !nnc_c3_usable()) {
    fprintf(stderr, "usage: conv3x3_layers CI FO H W [CALLS] (on a CPU with AVX2 and FMA)\n");
    return 2;
  }
  const int Ci = atoi(argv[1]), Fo = atoi(argv[2]), H = atoi(argv[3]), W = atoi(argv[4]);
  const int calls = argc > 5 ? atoi(argv[5]) : 100;
  if (Ci < 1 || Fo < 1 || H < 1 || W < 1 || calls < 1) return 2;
  const size_t in = (size_t)Ci * H * W, out = (size_t)Fo * H * W;
  float *x = malloc(sizeof(float) * in), *w = malloc(sizeof(float) * 9 * Ci * Fo);
  float *y_direct = malloc(sizeof(float) * out), *y_winograd = malloc(sizeof(float) * out);
  float *packed = malloc(sizeof(float) * nnc_c3_packed(Fo, Ci));
  float *scratch = malloc(sizeof(float) * ((size_t)Ci * nnc_c3_plane(H, W) + 4 * (size_t)nnc_c3_grid(H, W)));
  float *U = malloc(sizeof(float) * nnc_c3_wpacked(Fo, Ci)), *wscratch = malloc(sizeof(float) * nnc_c3_wscratch(Ci, H, W, Fo));
  if (!x || !w || !y_direct || !y_winograd || !packed || !scratch || !U || !wscratch) return 1;
  srand(1);
  for (size_t i = 0; i < in; i++) x[i] = (float)rand() / RAND_MAX * 2 - 1;
  for (size_t i = 0; i < (size_t)9 * Ci * Fo; i++) w[i] = (float)rand() / RAND_MAX * 2 - 1;
  nnc_c3_pack(packed, w, Fo, Ci, 0);
  nnc_c3_wpack(U, w, Fo, Ci, 0);
  double best_direct = INFINITY, best_winograd = INFINITY, ratio[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    const double t0 = cpu_seconds();
    for (int k = 0; k < calls; k++) nnc_c3_conv(y_direct, x, packed, Ci, H, W, Fo, scratch, NULL, NULL, NULL, 0);
    const double t1 = cpu_seconds();
    for (int k = 0; k < calls; k++) nnc_c3_wconv(y_winograd, x, U, Ci, H, W, Fo, wscratch, NULL, NULL, NULL, 0);
    const double t2 = cpu_seconds();
    best_direct = fmin(best_direct, t1 - t0), best_winograd = fmin(best_winograd, t2 - t1);
    ratio[r] = (t1 - t0) / (t2 - t1);
  }
  qsort(ratio, ROUNDS, sizeof *ratio, by_value);
  double diff = 0;
  for (size_t i = 0; i < out; i++) diff = fmax(diff, fabs((double)y_direct[i] - y_winograd[i]));
  const double flop = 2.0 * 9 * Ci * Fo * H * W * calls;
  printf("Ci %d Fo %d %dx%d: direct %.1f us (%.1f GFLOP/s), Winograd %.1f us; Winograd's speed-up: median %.2f "
         "(quartiles %.2f-%.2f); largest difference %.2g\n",
         Ci, Fo, H, W, 1e6 * best_direct / calls, 1e-9 * flop / best_direct, 1e6 * best_winograd / calls,
         ratio[ROUNDS / 2], ratio[ROUNDS / 4], ratio[3 * ROUNDS / 4], diff);
  free(x), free(w), free(y_direct), free(y_winograd), free(packed), free(scratch), free(U), free(wscratch);
  return 0;
#else
  (void)argc, (void)argv;
  fprintf(stderr, "conv3x3_layers: the kernels need x86-64 and GCC or Clang\n");
  return 2;
#endif
}
