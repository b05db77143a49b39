/* model_names_main.c — model_names.cmake's driver: model MODEL (a name that is also a C library,
 * CBLAS or nnc-internal identifier) used through its public API exactly as a user would.
 * Trains 20 steps (the loss must fall), saves, loads into a second model and checks forward
 * agrees. Built with -DMODEL=name -DMODEL_H='"name.h"'. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include MODEL_H

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define API(fn) CAT(MODEL, CAT(_, fn))

/* the driver's own names start with nnc_, so that no model name hides them */
static int nnc_test(const char *nnc_path) {
  MODEL *model = API(new)(4, 1), *copy = API(new)(4, 2);
  if (!model || !copy) return 2;
  float xs[4 * 8], out_a[4 * 3], out_b[4 * 3];
  int32_t ys[4];
  for (int i = 0; i < 4 * 8; i++) xs[i] = (float)((i * 37) % 11) / 5.0f - 1.0f;
  for (int i = 0; i < 4; i++) ys[i] = i % 3;
  float first = API(train_step)(model, xs, ys, 4), last = first;
  for (int i = 0; i < 20; i++) last = API(train_step)(model, xs, ys, 4);
  if (!(last < first)) {
    fprintf(stderr, "loss did not fall: %g -> %g\n", first, last);
    return 1;
  }
  if (API(save)(model, nnc_path) != 0 || API(load)(copy, nnc_path) != 0 || API(steps)(copy) != 21) {
    fprintf(stderr, "save/load failed\n");
    return 1;
  }
  API(forward)(model, xs, 4, out_a);
  API(forward)(copy, xs, 4, out_b);
  if (memcmp(out_a, out_b, sizeof out_a) != 0) {
    fprintf(stderr, "the loaded model's forward differs\n");
    return 1;
  }
  API(free)(model);
  API(free)(copy);
  printf("%s: loss %.4f -> %.4f, save/load ok\n", nnc_path, first, last);
  return 0;
}

int main(int argc, char **argv) { return argc == 2 ? nnc_test(argv[1]) : 2; }
