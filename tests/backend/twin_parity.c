/* twin_parity.c — nnc's side of the PyTorch twin's parity test (twin_parity.py runs it).
 *
 * Built against one model compiled with `nnc build --double --debug-api` (model_config.h names its
 * API). Writes raw little-endian files into DIR for twin_parity.py to compare with the exported
 * twin, and checks the twin's checkpoint in return:
 *
 *   twin_parity dump DIR    a model from seed 1, a fixed batch of BATCH examples:
 *     init.ckpt                 its checkpoint before any step
 *     x.bin, y.bin              the batch (float32; int32 labels or float32 targets)
 *     out.bin                   NAME_forward of the batch (float32, inference)
 *     grad.bin                  the loss, then d loss / d params (float64, the params block layout)
 *     mask_g_K.bin              the K-th dropout call's mask of that pass (float64)
 *     loss_S.bin, mask_S_K.bin  three train_steps (S = 1..3) of a model loaded from init.ckpt:
 *                               the loss and the masks they used
 *     final.ckpt                that model's checkpoint after the three steps
 *   twin_parity check DIR   NAME_load of DIR/torch.ckpt (written by the twin after training in
 *                           torch) must succeed, and NAME_forward must give DIR/torch_out.bin
 *                           (float64) within 1e-6 * (1 + |value|)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"
#include "nnrt.h"

#if !M_DOUBLE
#error "twin_parity needs a --double build"
#endif

#define BATCH 5

static float xs[BATCH * M_IN_SIZE];
#if M_LABEL
static int32_t ys[BATCH];
#else
static float ys[BATCH * M_TARGET_SIZE];
#endif

/* deterministic values in [-1, 1) (a 64-bit LCG) */
static double uniform(void) {
  static unsigned long long state = 0x2545f4914f6cdd1dULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 - 1.0;
}

static const char *dir;

static const char *path_of(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

static int write_file(const char *name, const void *data, size_t bytes) {
  FILE *f = fopen(path_of(name), "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f) != 0) {
    fprintf(stderr, "twin_parity: cannot write %s\n", path_of(name));
    return -1;
  }
  return 0;
}

/* the masks of the last training pass as mask_<tag>_K.bin */
static int write_masks(M_model *m, const char *tag) {
  for (int k = 0;; k++) {
    long count = 0;
    M_real *mask = M(debug_dropout_mask)(m, k, &count);
    if (!mask) return 0;
    char name[64];
    snprintf(name, sizeof name, "mask_%s_%d.bin", tag, k);
    if (write_file(name, mask, sizeof(M_real) * (size_t)BATCH * (size_t)count) != 0) return -1;
  }
}

static int dump(void) {
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) xs[i] = (float)uniform();
#if M_LABEL
  for (int b = 0; b < BATCH; b++) ys[b] = (int32_t)((b * 7 + 3) % M_N_CLASSES);
#else
  for (size_t i = 0; i < sizeof ys / sizeof ys[0]; i++) ys[i] = (float)(0.5 * (uniform() + 1)); /* [0, 1): bce too */
#endif
  M_model *m = M(new)(BATCH, 1), *s = M(new)(BATCH, 2);
  if (!m || !s) return -1;
  if (M(save)(m, path_of("init.ckpt")) != 0) {
    fprintf(stderr, "twin_parity: save: %s\n", nnrt_last_error());
    return -1;
  }
  float out[BATCH * M_OUT_SIZE];
  M(forward)(m, xs, BATCH, out);
  long n_params = M(debug_n_params)();
  double *grad = malloc(sizeof(double) * (size_t)(n_params + 1));
  if (!grad) return -1;
  grad[0] = M(debug_loss_grad)(m, xs, ys, BATCH, 0);
  for (long i = 0; i < n_params; i++) grad[1 + i] = (double)M(debug_grads)(m)[i];
  int rc = write_file("x.bin", xs, sizeof xs) | write_file("y.bin", ys, sizeof ys) | write_file("out.bin", out, sizeof out) |
           write_file("grad.bin", grad, sizeof(double) * (size_t)(n_params + 1)) | write_masks(m, "g");
  free(grad);
  /* the steps start from init.ckpt in a second model, so the gradient pass above changes nothing */
  if (M(load)(s, path_of("init.ckpt")) != 0) {
    fprintf(stderr, "twin_parity: load: %s\n", nnrt_last_error());
    return -1;
  }
  for (int step = 1; step <= 3 && rc == 0; step++) {
    double loss = M(train_step)(s, xs, ys, BATCH);
    char name[64], tag[16];
    snprintf(name, sizeof name, "loss_%d.bin", step);
    snprintf(tag, sizeof tag, "%d", step);
    rc |= write_file(name, &loss, sizeof loss) | write_masks(s, tag);
  }
  if (rc == 0 && M(save)(s, path_of("final.ckpt")) != 0) {
    fprintf(stderr, "twin_parity: save: %s\n", nnrt_last_error());
    rc = -1;
  }
  M(free)(m);
  M(free)(s);
  return rc;
}

static int check(void) {
  double want[BATCH * M_OUT_SIZE];
  FILE *f = fopen(path_of("x.bin"), "rb");
  if (!f || fread(xs, sizeof xs, 1, f) != 1) return -1;
  fclose(f);
  f = fopen(path_of("torch_out.bin"), "rb");
  if (!f || fread(want, sizeof want, 1, f) != 1) return -1;
  fclose(f);
  M_model *m = M(new)(BATCH, 7);
  if (!m) return -1;
  if (M(load)(m, path_of("torch.ckpt")) != 0) {
    fprintf(stderr, "FAIL: %s_load refused the twin's checkpoint: %s\n", M_NAME, nnrt_last_error());
    return -1;
  }
  float out[BATCH * M_OUT_SIZE];
  M(forward)(m, xs, BATCH, out);
  double worst = 0;
  int failed = 0;
  for (int i = 0; i < BATCH * M_OUT_SIZE; i++) {
    double err = fabs(out[i] - want[i]) / (1 + fabs(want[i]));
    worst = err > worst ? err : worst;
    if (!(err <= 1e-6)) {
      fprintf(stderr, "FAIL: output %d: nnc %.9g after loading the torch-trained checkpoint, torch %.9g\n", i, out[i], want[i]);
      failed = 1;
    }
  }
  printf("torch-trained checkpoint in nnc: outputs within %.3g (relative to 1 + |value|)\n", worst);
  M(free)(m);
  return failed ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: twin_parity dump|check DIR\n");
    return 2;
  }
  dir = argv[2];
  int rc = strcmp(argv[1], "dump") == 0 ? dump() : strcmp(argv[1], "check") == 0 ? check() : -2;
  if (rc == -2) fprintf(stderr, "twin_parity: unknown mode '%s'\n", argv[1]);
  return rc == 0 ? 0 : 1;
}
