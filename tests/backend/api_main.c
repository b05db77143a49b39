/* api_main.c — a tiny program that calls every function of a generated model's public API
 * (spec §6), so that linking it proves the header and the code agree and nothing else is needed.
 *
 * Compiled by compile_check.cmake with `-std=c99 -pedantic -Wall -Wextra -Werror` against
 * model_config.h (run_model.cmake's naming of the model's API).
 *
 *   api_main DIR [--expect FILE TOL]...
 *
 * DIR is where the checkpoint goes and where DIR/outputs.txt is written: the outputs of the model
 * made with seed 1 on fixed inputs, the loss of one train_step, and the outputs after it, one value
 * a line. Each --expect compares them with another such file (the double build's, or the saved
 * reference of tests/backend/outputs/): |got - want| <= TOL * max(1, |want|). Exit status 0 when
 * every call did what §6 says and every value agrees.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"
#include "nnrt.h"

#define N 3

#define N_VALUES (2 * N * M_OUT_SIZE + 1)

/* Compares values with the file `path` (one value a line); returns the number of disagreements. */
static int expect(const double *values, const char *path, double tol) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "FAIL: cannot open %s (UPDATE_GOLDEN=1 ctest -R _double writes a missing reference)\n", path);
    return 1;
  }
  int bad = 0, i = 0;
  double want, worst = 0;
  for (; i < N_VALUES && fscanf(f, "%lf", &want) == 1; i++) {
    double err = fabs(values[i] - want) / fmax(1.0, fabs(want));
    worst = fmax(worst, err);
    if (!(err <= tol) && bad++ < 5) fprintf(stderr, "FAIL: value %d is %.9g, %s has %.9g\n", i, values[i], path, want);
  }
  int extra = fscanf(f, "%lf", &want) == 1;
  fclose(f);
  if (i != N_VALUES || extra) {
    fprintf(stderr, "FAIL: %s does not hold %d values\n", path, N_VALUES);
    return 1;
  }
  printf("outputs agree with %s: worst difference %.3g (bound %g)\n", path, worst, tol);
  return bad;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc % 3 != 2) return 2;
  char path[4096];
  snprintf(path, sizeof path, "%s/api_main.ckpt", argv[1]);
  static float x[N * M_IN_SIZE], out[N * M_OUT_SIZE];
#if M_LABEL
  static M_y y[N];
  for (int i = 0; i < N; i++) y[i] = (int32_t)(i % M_N_CLASSES);
#else
  static M_y y[N * M_TARGET_SIZE];
  for (int i = 0; i < N * M_TARGET_SIZE; i++) y[i] = (float)(0.25 + 0.5 * (i % 2));
#endif
  for (int i = 0; i < N * M_IN_SIZE; i++) x[i] = (float)sin(0.1 * i);

  M_model *m = M(new)(N, 1), *other = M(new)(N, 2);
  if (!m || !other) {
    fprintf(stderr, "FAIL: %s_new returned NULL\n", M_NAME);
    return 1;
  }
  int failed = 0;
  if (M(set_threads)(m, 2) != 0) fprintf(stderr, "FAIL: set_threads(2): %s\n", nnrt_last_error()), failed = 1;
  static double values[N_VALUES];
  static float before[N * M_OUT_SIZE];
  M(forward)(m, x, N, before);
  float loss = M(train_step)(m, x, y, N);
  if (!isfinite(loss)) fprintf(stderr, "FAIL: train_step returned %g\n", loss), failed = 1;
  if (M(steps)(m) != 1) fprintf(stderr, "FAIL: steps() is %llu\n", (unsigned long long)M(steps)(m)), failed = 1;
  M(forward)(m, x, N, out);
  for (int i = 0; i < N * M_OUT_SIZE; i++)
    if (!isfinite(out[i])) fprintf(stderr, "FAIL: forward output %d is %g\n", i, out[i]), failed = 1;
  if (M(save)(m, path) != 0) fprintf(stderr, "FAIL: save %s\n", path), failed = 1;
  if (M(load)(other, path) != 0) fprintf(stderr, "FAIL: load %s\n", path), failed = 1;
  if (M(steps)(other) != 1) fprintf(stderr, "FAIL: steps() after load is %llu\n", (unsigned long long)M(steps)(other)), failed = 1;
  static float out2[N * M_OUT_SIZE];
  M(forward)(other, x, N, out2);
  if (memcmp(out, out2, sizeof out) != 0) fprintf(stderr, "FAIL: the loaded model computes something else\n"), failed = 1;
  M(free)(other);
  M(free)(m);
  M(free)(NULL);
  remove(path);

  int k = 0;
  for (int i = 0; i < N * M_OUT_SIZE; i++) values[k++] = before[i];
  values[k++] = loss;
  for (int i = 0; i < N * M_OUT_SIZE; i++) values[k++] = out[i];
  snprintf(path, sizeof path, "%s/outputs.txt", argv[1]);
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  for (int i = 0; i < N_VALUES; i++) fprintf(f, "%.17g\n", values[i]);
  if (fclose(f) != 0) return 1;
  for (int a = 2; a + 2 < argc; a += 3) {
    if (strcmp(argv[a], "--expect") != 0) return 2;
    failed |= expect(values, argv[a + 1], atof(argv[a + 2])) != 0;
  }
  printf("%s: every API function called; loss %g\n", M_NAME, loss);
  return failed;
}
