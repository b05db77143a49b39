/* dispatch_check.c — writes every float dispatch.nn's training and inference produce (losses of 5
 * steps, the parameters after them, forward() of the batch) as exact bit patterns, so that the
 * build with run-time dispatch (hot functions cloned for AVX-512 / AVX2 / baseline at -O3) can
 * be compared byte for byte with the plain -O2 build (NNC_NO_DISPATCH): the clones must not
 * change a single bit.
 *
 * usage: dispatch_check OUT
 */
#include <stdio.h>
#include <string.h>

#include "model_config.h"

#define B 5

static void put(FILE *f, const float *v, long n) {
  for (long i = 0; i < n; i++) {
    unsigned int bits;
    memcpy(&bits, &v[i], sizeof bits);
    fprintf(f, "%08x\n", bits);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FILE *f = fopen(argv[1], "w");
  M_model *m = M(new)(B, 5);
  if (!f || !m) return 1;
  static float x[B * M_IN_SIZE], out[B * M_OUT_SIZE];
  int32_t y[B];
  unsigned long long s = 0x5851f42d4c957f2dULL;
  for (int i = 0; i < B * M_IN_SIZE; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((double)(s >> 11) / 4503599627370496.0 * 6 - 3);
  }
  for (int b = 0; b < B; b++) y[b] = b % M_N_CLASSES;
  for (int step = 0; step < 5; step++) {
    float loss = M(train_step)(m, x, y, step % 2 ? B : B - 1);
    put(f, &loss, 1);
  }
  put(f, M(debug_params)(m), M(debug_n_params)());
  M(forward)(m, x, B, out);
  put(f, out, (long)B * M_OUT_SIZE);
  M(free)(m);
  return fclose(f) == 0 ? 0 : 1;
}
