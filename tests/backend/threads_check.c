/* threads_check.c — NAME_set_threads: the same model trained on 1, 2, 3 and 5 threads gives the
 * same bits (the losses of 6 steps on full and partial batches, the parameters after them, and
 * forward() of the batch, which reads batchnorm's running statistics), and set_threads rejects
 * bad counts, changing nothing.
 *
 * Built with -DNNC_MIN_WORK=1, so that every loop the generated code can split is split into as
 * many chunks as it has items (up to 8 a thread) however small the model: a chunk lost, run twice
 * or sharing a thread's scratch with another changes the bits. The one-thread run is the
 * reference; the other tests check its values.
 *
 * usage: threads_check
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_config.h"
#include "nnrt.h"

#define B 24
#define STEPS 6
#define N_OUT (STEPS + B * M_OUT_SIZE)

static int same(const char *what, int threads, const M_real *a, const M_real *b, long n) {
  for (long i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
      fprintf(stderr, "FAIL: %d threads: %s[%ld] is %.9g, one thread's %.9g\n", threads, what, i, (double)a[i], (double)b[i]);
      return 0;
    }
  return 1;
}

int main(void) {
  static float x[B * M_IN_SIZE], out[N_OUT], reference[N_OUT];
  static M_y y[B];
  unsigned long long s = 0x5851f42d4c957f2dULL;
  for (int i = 0; i < B * M_IN_SIZE; i++) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    x[i] = (float)((double)(s >> 11) / 4503599627370496.0 * 4 - 2);
  }
  for (int b = 0; b < B; b++) y[b] = (M_y)(b * 7 % M_N_CLASSES);
  long n_params = M(debug_n_params)();
  static M_real params[1 << 20];
  if (n_params > 1 << 20) return 2;
  const int counts[] = {1, 2, 3, 5};
  int failed = 0;
  for (int k = 0; k < 4; k++) {
    M_model *m = M(new)(B, 11);
    if (!m || M(set_threads)(m, counts[k]) != 0) {
      fprintf(stderr, "FAIL: a model on %d threads: %s\n", counts[k], nnrt_last_error());
      return 1;
    }
    for (int step = 0; step < STEPS; step++) /* full and partial batches, the last of one example */
      out[step] = M(train_step)(m, x, y, step == STEPS - 1 ? 1 : step % 2 ? B : B - 5);
    M(forward)(m, x, B, out + STEPS);
    if (k == 0) {
      memcpy(reference, out, sizeof out);
      memcpy(params, M(debug_params)(m), sizeof(M_real) * (size_t)n_params);
      for (int i = 0; i < STEPS; i++)
        if (!isfinite(out[i])) fprintf(stderr, "FAIL: loss %d is %g\n", i, out[i]), failed = 1;
    } else {
      failed |= !same("loss, then forward", counts[k], out, reference, N_OUT);
      failed |= !same("parameter", counts[k], M(debug_params)(m), params, n_params);
    }
    /* bad counts: -1, a message, and the model keeps its threads and values */
    nnrt_clear_error();
    if (M(set_threads)(m, 0) != -1 || M(set_threads)(m, NNRT_MAX_THREADS + 1) != -1 || !strstr(nnrt_last_error(), "threads must be 1..256, not 257")) {
      fprintf(stderr, "FAIL: set_threads(0) or (257) accepted, or no message: '%s'\n", nnrt_last_error());
      failed = 1;
    }
    M(forward)(m, x, B, out + STEPS);
    failed |= !same("forward after a refused set_threads", counts[k], out + STEPS, reference + STEPS, B * M_OUT_SIZE);
    M(free)(m);
  }
  if (M(set_threads)(NULL, 2) != -1) fprintf(stderr, "FAIL: set_threads(NULL) accepted\n"), failed = 1;
  if (!failed) printf("%s: the same bits on 1, 2, 3 and 5 threads\n", M_NAME);
  return failed;
}
