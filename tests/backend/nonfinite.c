/* nonfinite.c — NaN propagation and refused steps through the generated API (nonfinite.nn, float,
 * --debug-api). PyTorch's relu(nan) is nan, and a step is applied only when the loss and every
 * gradient are finite:
 *
 *   1. forward of an input holding a NaN gives NaN (relu does not turn it into 0);
 *   2. train_step on that input returns NaN and changes nothing: the next normal step matches,
 *      bit for bit (parameters, loss, step count), a model that never saw the bad call, so the
 *      optimizer state and the dropout generator were left alone too;
 *      (and a checkpoint saved after the refused call is byte-identical to one saved before it);
 *   3. the same for a step whose loss is finite but a gradient is not (an input of 1e30 whose
 *      weights are 0, so it leaves the forward pass alone but not the weights' gradient);
 *      the precondition is checked on a copy through the debug API.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#if M_DOUBLE || M_LABEL
#error "nonfinite.c needs nonfinite.nn built in float"
#endif

#define BATCH 2
static int failed;

#define CHECK(cond, ...)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      fprintf(stderr, "FAIL (%s:%d): ", __FILE__, __LINE__);                                   \
      fprintf(stderr, __VA_ARGS__);                                                            \
      fprintf(stderr, "\n");                                                                   \
      failed = 1;                                                                              \
    }                                                                                          \
  } while (0)

static const float good_x[BATCH * M_IN_SIZE] = {0.5f, -1.0f, 0.25f, 2.0f, -0.75f, 0.5f, 1.5f, -0.25f};
static const float good_t[BATCH] = {0.5f, -1.0f};

static size_t n_params(void) { return (size_t)M(debug_n_params)(); }

static int all_finite(M_model *m) {
  const float *p = M(debug_params)(m);
  for (size_t i = 0; i < n_params(); i++)
    if (!isfinite(p[i])) return 0;
  return 1;
}

static const char *dir;

/* The whole checkpoint of m: every bit of state a step could change. */
static unsigned char *checkpoint_bytes(M_model *m, const char *name, long *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (M(save)(m, path) != 0) abort();
  FILE *f = fopen(path, "rb");
  unsigned char *bytes = malloc(1 << 20);
  if (!f || !bytes) abort();
  *size = (long)fread(bytes, 1, 1 << 20, f);
  fclose(f);
  return bytes;
}

/* m refuses the step (x, t); afterwards it must still be identical to ref */
static void expect_refused(M_model *m, M_model *ref, const float *x, const float *t, const char *what) {
  float *before = malloc(sizeof(float) * n_params());
  if (!before) abort();
  memcpy(before, M(debug_params)(m), sizeof(float) * n_params());
  uint64_t steps = M(steps)(m);
  long size_before, size_after;
  unsigned char *ckpt_before = checkpoint_bytes(m, "before.ckpt", &size_before);
  float loss = M(train_step)(m, x, t, BATCH);
  unsigned char *ckpt_after = checkpoint_bytes(m, "after.ckpt", &size_after);
  CHECK(size_before == size_after && memcmp(ckpt_before, ckpt_after, (size_t)size_before) == 0,
        "%s: the checkpoint (parameters, optimizer state, statistics, step, generator) changed", what);
  free(ckpt_before);
  free(ckpt_after);
  CHECK(isnan(loss), "%s: train_step returned %g, not NaN", what, loss);
  CHECK(memcmp(before, M(debug_params)(m), sizeof(float) * n_params()) == 0, "%s: the parameters changed", what);
  CHECK(all_finite(m), "%s: a parameter is not finite", what);
  CHECK(M(steps)(m) == steps, "%s: the step count went from %llu to %llu", what, (unsigned long long)steps,
        (unsigned long long)M(steps)(m));
  /* optimizer state and generator: the next step equals the one of a model that never saw the call */
  float lm = M(train_step)(m, good_x, good_t, BATCH), lr = M(train_step)(ref, good_x, good_t, BATCH);
  CHECK(lm == lr && memcmp(M(debug_params)(m), M(debug_params)(ref), sizeof(float) * n_params()) == 0,
        "%s: the next step differs from a model that never saw the refused one (loss %.9g vs %.9g)", what, lm, lr);
  free(before);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  dir = argv[1]; /* a folder for the checkpoints */
  M_model *m = M(new)(BATCH, 3), *ref = M(new)(BATCH, 3), *probe = M(new)(BATCH, 3);
  if (!m || !ref || !probe) return 2;
  CHECK(M(train_step)(m, good_x, good_t, BATCH) == M(train_step)(ref, good_x, good_t, BATCH), "first steps differ");

  /* 1, 2: a NaN input */
  float nan_x[BATCH * M_IN_SIZE];
  memcpy(nan_x, good_x, sizeof nan_x);
  nan_x[1] = NAN;
  float out[BATCH * M_OUT_SIZE];
  M(forward)(m, nan_x, BATCH, out);
  CHECK(isnan(out[0]), "forward of a NaN input gave %g, not NaN (relu hides NaN)", out[0]);
  CHECK(!isnan(out[1]), "forward of a finite example gave NaN");
  expect_refused(m, ref, nan_x, good_t, "NaN input");

  /* 3: finite loss, infinite gradient: dense.1/weight [8, 4] starts the parameters; column 0 = 0 */
  float big_x[BATCH * M_IN_SIZE], big_t[BATCH] = {-1e18f, -1e18f};
  memcpy(big_x, good_x, sizeof big_x);
  big_x[0] = big_x[M_IN_SIZE] = 1e30f;
  M_model *both[3] = {m, ref, probe};
  for (int k = 0; k < 3; k++) {
    if (k == 2) memcpy(M(debug_params)(probe), M(debug_params)(m), sizeof(float) * n_params());
    for (int j = 0; j < 8; j++) M(debug_params)(both[k])[j * M_IN_SIZE] = 0;
  }
  double probe_loss = M(debug_loss_grad)(probe, big_x, big_t, BATCH, 0);
  int grad_finite = 1;
  for (size_t i = 0; i < n_params(); i++) grad_finite &= isfinite(M(debug_grads)(probe)[i]) != 0;
  CHECK(isfinite(probe_loss) && !grad_finite, "precondition: loss %g should be finite and a gradient not (%d)",
        probe_loss, grad_finite);
  expect_refused(m, ref, big_x, big_t, "finite loss, infinite gradient");

  M(free)(m);
  M(free)(ref);
  M(free)(probe);
  printf("nonfinite: %s\n", failed ? "FAILED" : "ok");
  return failed;
}
