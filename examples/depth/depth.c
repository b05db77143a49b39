/* depth.c — trains one generated model on Fashion-MNIST for a fixed budget of steps and writes
 * its training-loss curve and final test accuracy: the driver of run.sh (He et al. 2015's depth
 * experiment). Built against one model through model.h (written by run.sh: M(fn), M_NAME).
 *
 * usage: depth DATA_DIR STEPS BATCH LOG_EVERY CURVE.csv      (prints "accuracy PCT")
 *
 * The training examples are standardized with their own mean and std and visited in a fresh
 * random order each epoch (seed 1); CURVE.csv gets "model,step,loss" rows, the mean training loss
 * of the last LOG_EVERY steps.
 */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "nnrt.h"
#include "nnrt_data.h"

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: depth DATA_DIR STEPS BATCH LOG_EVERY CURVE.csv\n");
    return 2;
  }
  const char *dir = argv[1];
  long steps = atol(argv[2]), log_every = atol(argv[4]);
  int batch = atoi(argv[3]);
  char a[4096], b[4096];
  nnrt_dataset train = {0}, test = {0};
  snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", dir);
  snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", dir);
  if (nnrt_dataset_load_idx(&train, a, b, 0) != 0) goto data_error;
  snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", dir);
  snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", dir);
  if (nnrt_dataset_load_idx(&test, a, b, 0) != 0) goto data_error;
  float mean, std;
  nnrt_dataset_stats(&train, &mean, &std);
  nnrt_dataset_standardize(&train, mean, std);
  nnrt_dataset_standardize(&test, mean, std);

  M_model *m = M(new)(batch, 1);
  float *x = malloc(sizeof(float) * (size_t)batch * train.dim), *out = malloc(sizeof(float) * (size_t)batch * 10);
  int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
  long *order = malloc(sizeof(long) * (size_t)train.n);
  FILE *curve = fopen(argv[5], "w");
  if (!m || !x || !out || !y || !order || !curve) return 1;
  fprintf(curve, "model,step,loss\n");
  nnrt_rng rng;
  nnrt_rng_seed(&rng, 1);
  long at = train.n; /* position in the current epoch's order */
  double window = 0;
  for (long step = 1; step <= steps; step++) {
    for (int i = 0; i < batch; i++) {
      if (at == train.n) { /* a new epoch: shuffle */
        for (long k = 0; k < train.n; k++) order[k] = k;
        for (long k = train.n - 1; k > 0; k--) {
          long j = (long)(nnrt_rng_next(&rng) % (uint64_t)(k + 1)), t = order[k];
          order[k] = order[j], order[j] = t;
        }
        at = 0;
      }
      long e = order[at++];
      nnrt_dataset_inputs(&train, NULL, e, 1, x + (size_t)i * train.dim);
      y[i] = train.labels[e];
    }
    float loss = M(train_step)(m, x, y, batch);
    if (loss != loss) {
      fprintf(stderr, "%s: the loss is NaN at step %ld\n", M_NAME, step);
      return 1;
    }
    window += loss;
    if (step % log_every == 0) {
      fprintf(curve, "%s,%ld,%.6f\n", M_NAME, step, window / log_every);
      window = 0;
    }
  }
  long correct = 0;
  for (long start = 0; start < test.n; start += batch) {
    int n = test.n - start < batch ? (int)(test.n - start) : batch;
    nnrt_dataset_inputs(&test, NULL, start, n, x);
    M(forward)(m, x, n, out);
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int k = 1; k < 10; k++)
        if (out[i * 10 + k] > out[i * 10 + best]) best = k;
      correct += best == test.labels[start + i];
    }
  }
  printf("accuracy %.2f\n", 100.0 * correct / test.n);
  fclose(curve);
  M(free)(m);
  return 0;
data_error:
  fprintf(stderr, "depth: %s\n", nnrt_last_error());
  return 1;
}
