/* api_main.c — a tiny program that calls every function of a generated model's public API
 * (spec §6), so that linking it proves the header and the code agree and nothing else is needed.
 *
 * Compiled by compile_check.cmake with `-std=c99 -pedantic -Wall -Wextra -Werror` against
 * model_config.h (run_model.cmake's naming of the model's API). Usage: api_main DIR — DIR is where
 * the checkpoint goes. Exit status 0 when every call did what §6 says.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#define N 3

int main(int argc, char **argv) {
  if (argc != 2) return 2;
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
  printf("%s: every API function called; loss %g\n", M_NAME, loss);
  return failed;
}
