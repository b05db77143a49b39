/* blas_core.c — the OpenBLAS build under the core nnc's guard would choose, against the plain
 * loop build (--no-blas), on the same parameters.
 *
 * nnc train and nnc bench run the generated program with OPENBLAS_CORETYPE set to
 * nnrt_openblas_coretype(...) when OpenBLAS picked generic kernels on an AVX2 CPU. This driver
 * asks the same function what it would choose for a generic "Prescott" on this CPU, runs itself
 * again with that OPENBLAS_CORETYPE (OpenBLAS reads it when it loads), checks that OpenBLAS took
 * it, and then requires core_blas (model_config.h names it M) and core_loop to agree:
 *
 *   forward (37 examples):                |out_b - out_l| <= 2e-5 * max(1, |out_l|)
 *   three train_steps, then steps of 2 and 1 examples (where the BLAS build's backward products
 *   use nnc_matmul): every loss within 2e-5 relative, every parameter within 2e-5 * max(1, |p|)
 *
 * The two builds sum the products in different orders (float rounding: about 1e-6 here); a
 * kernel that computes something else is off by far more. On a CPU without AVX2 the guard never
 * acts, and OpenBLAS's own choice is compared.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, execv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_loop.h"
#include "model_config.h"
#include "nnrt.h"

#if !M_BLAS
#error "blas_core.c: the first model is the OpenBLAS one"
#endif

extern char *openblas_get_corename(void);

#define N 37
#define TOL 2e-5

static double uniform(void) {
  static unsigned long long state = 0x2545f4914f6cdd1dULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 * 2 - 1;
}

static int compare(const char *what, const float *b, const float *l, long count) {
  double worst = 0;
  int bad = 0;
  for (long i = 0; i < count; i++) {
    double err = fabs((double)b[i] - l[i]) / fmax(1.0, fabs(l[i]));
    worst = fmax(worst, err);
    if (!(err <= TOL) && bad++ < 5) fprintf(stderr, "FAIL: %s %ld: OpenBLAS %.9g, loops %.9g\n", what, i, b[i], l[i]);
  }
  printf("%s: worst difference %.3g (bound %g)\n", what, worst, TOL);
  return bad != 0;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *chosen = nnrt_openblas_coretype("Prescott", nnrt_cpu_features());
  const char *env = getenv("OPENBLAS_CORETYPE");
  if (chosen && (!env || strcmp(env, chosen) != 0)) {
    setenv("OPENBLAS_CORETYPE", chosen, 1);
    execv(argv[0], argv);
    perror("execv");
    return 1;
  }
  const char *core = openblas_get_corename();
  printf("core: %s (the guard's choice: %s)\n", core, chosen ? chosen : "none, no AVX2");
  if (chosen && strcmp(core, chosen) != 0) {
    fprintf(stderr, "FAIL: OPENBLAS_CORETYPE=%s, but OpenBLAS runs %s\n", chosen, core);
    return 1;
  }

  M_model *b = M(new)(N, 5);
  core_loop *l = core_loop_new(N, 5);
  if (!b || !l) return 1;
  long n = M(debug_n_params)();
  float *pb = M(debug_params)(b), *pl = core_loop_debug_params(l);
  memcpy(pl, pb, sizeof(float) * (size_t)n);

  static float x[N * M_IN_SIZE], ob[N * M_OUT_SIZE], ol[N * M_OUT_SIZE];
  static M_y y[N];
  for (int i = 0; i < N * M_IN_SIZE; i++) x[i] = (float)(2 * uniform());
  for (int i = 0; i < N; i++) y[i] = (int32_t)((i * 7) % M_N_CLASSES);
  M(forward)(b, x, N, ob);
  core_loop_forward(l, x, N, ol);
  int failed = compare("forward output", ob, ol, (long)N * M_OUT_SIZE);
  for (int step = 0; step < 3; step++) {
    float lb = M(train_step)(b, x, y, N), ll = core_loop_train_step(l, x, y, N);
    printf("step %d: loss %.9g (OpenBLAS) vs %.9g (loops)\n", step + 1, lb, ll);
    if (!(fabs(lb - ll) <= TOL * fabs(ll))) failed = 1, fprintf(stderr, "FAIL: the losses differ\n");
  }
  failed |= compare("parameter after 3 steps", pb, pl, n);
  /* batches of 2 and 1: the BLAS build's backward products switch to nnc_matmul (emit_matmul) */
  for (int rows = 2; rows >= 1; rows--) {
    float lb = M(train_step)(b, x, y, rows), ll = core_loop_train_step(l, x, y, rows);
    printf("step of %d: loss %.9g (OpenBLAS) vs %.9g (loops)\n", rows, lb, ll);
    if (!(fabs(lb - ll) <= TOL * fabs(ll))) failed = 1, fprintf(stderr, "FAIL: the losses differ\n");
  }
  failed |= compare("parameter after steps of 2 and 1", pb, pl, n);
  M(free)(b);
  core_loop_free(l);
  return failed;
}
