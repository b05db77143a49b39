/* resblock_dump.c — writes what torch_resblock.py compares with PyTorch: a residual network with
 * batchnorm (tests/gradcheck/resblock.nn) built --double --debug-api, its parameters as drawn, a
 * batch, the forward() output (inference: running statistics), the training loss and every
 * parameter's gradient (batch statistics), then after one sgd step (momentum, weight decay) the
 * parameters and forward() again (now with the updated running statistics).
 *
 * usage: resblock_dump FILE     one line per array: name count values...
 */
#include <stdio.h>

#include "model_config.h"

#if !M_DOUBLE || !M_LABEL
#error "resblock_dump needs --double and a label model"
#endif

#define B 4

static void put(FILE *f, const char *name, const double *v, long n) {
  fprintf(f, "%s %ld", name, n);
  for (long i = 0; i < n; i++) fprintf(f, " %.17g", v[i]);
  fputc('\n', f);
}

static void put_floats(FILE *f, const char *name, const float *v, long n) {
  fprintf(f, "%s %ld", name, n);
  for (long i = 0; i < n; i++) fprintf(f, " %.17g", (double)v[i]); /* exact: %.9g would not parse back to the float as a double */
  fputc('\n', f);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FILE *f = fopen(argv[1], "w");
  M_model *m = M(new)(B, 3);
  if (!f || !m) return 1;
  static float x[B * M_IN_SIZE], out[B * M_OUT_SIZE];
  int32_t y[B] = {2, 0, 1, 2};
  double yd[B];
  unsigned long long s = 0x2545f4914f6cdd1dULL;
  for (int i = 0; i < B * M_IN_SIZE; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((double)(s >> 11) / 4503599627370496.0 * 4 - 2);
  }
  for (int b = 0; b < B; b++) yd[b] = y[b];
  long n = M(debug_n_params)();
  double *p = M(debug_params)(m), *g = M(debug_grads)(m);
  put(f, "params", p, n);
  put_floats(f, "x", x, B * M_IN_SIZE);
  put(f, "y", yd, B);
  M(forward)(m, x, B, out);
  put_floats(f, "forward", out, B * M_OUT_SIZE);
  double loss = M(debug_loss_grad)(m, x, y, B, 0);
  put(f, "loss", &loss, 1);
  put(f, "grads", g, n);
  M(train_step)(m, x, y, B);
  put(f, "params_after", p, n);
  M(forward)(m, x, B, out);
  put_floats(f, "forward_after", out, B * M_OUT_SIZE);
  M(free)(m);
  return fclose(f) == 0 ? 0 : 1;
}
