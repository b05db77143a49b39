/* stats_check.c — the statistics of `nnc build --stats` against values computed here from the
 * generated API's outputs (spec §8's definitions, two-pass in double).
 *
 * stats_full.nn is built --stats --debug-api; stats_cut_{h1,a1,r}.nn are the same model (the same
 * parameters drawn in the same order from the same seed) whose forward() returns an inner value.
 * A train_step recorded on a partial batch (7 of 8) must report, for
 *   dense.1 (its output is fused into relu.1's loop, never stored), relu.1 (stored), add.1:
 *     act_mean, act_var (biased) and dead_frac of the cut model's forward on the same batch;
 *   dense.3 (the logits): grad_norm = RMS of (softmax(logits) - onehot(y)) / n;
 *   add.1: grad_norm = RMS of that times dense.3's weight (read through the debug API);
 * plus the API's bookkeeping: nothing before a recorded step, the step's number after it, a step
 * that does not record leaves the last record alone, names, ops and depths as `nnc check`'s; and
 * in stats_infer_only.nn (--stats) the output that only forward() computes has NaN statistics.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stats_cut_a1.h"
#include "stats_cut_h1.h"
#include "stats_cut_r.h"
#include "stats_full.h"
#include "stats_infer_only.h"

#define B 8
#define N 7 /* a partial batch: the statistics must count n, not max_batch */
#define IN 12
#define HID 16
#define K 5

static int failures;

static void check(int ok, const char *what, double got, double want) {
  if (!ok) {
    printf("FAIL: %s: got %.10g, want %.10g\n", what, got, want);
    failures++;
  }
}

static void check_close(const char *what, double got, double want, double tol) {
  check(fabs(got - want) <= tol * (fabs(want) > 1e-3 ? fabs(want) : 1e-3), what, got, want);
}

/* mean, biased variance and share of zeros of v[0..count), two passes */
static void moments(const float *v, int count, double *mean, double *var, double *zeros) {
  double s = 0, q = 0, z = 0;
  for (int i = 0; i < count; i++) s += v[i], z += v[i] == 0;
  *mean = s / count;
  for (int i = 0; i < count; i++) q += (v[i] - *mean) * (v[i] - *mean);
  *var = q / count;
  *zeros = z / count;
}

static void check_layer(const stats_full_layer_stats *st, const char *name, const float *values, int count) {
  double mean, var, zeros;
  char what[96];
  moments(values, count, &mean, &var, &zeros);
  printf("%-8s act_mean %.8f (%.8f)  act_var %.8f (%.8f)  dead_frac %.4f (%.4f)\n", name, st->act_mean, mean,
         st->act_var, var, st->dead_frac, zeros);
  snprintf(what, sizeof what, "%s: layer name", name);
  check(strcmp(st->layer, name) == 0, what, 0, 0);
  snprintf(what, sizeof what, "%s act_mean", name);
  check(fabs(st->act_mean - mean) <= 1e-6 * sqrt(var), what, st->act_mean, mean);
  snprintf(what, sizeof what, "%s act_var", name);
  check_close(what, st->act_var, var, 1e-6);
  snprintf(what, sizeof what, "%s dead_frac", name);
  check(st->dead_frac == zeros, what, st->dead_frac, zeros);
}

int main(void) {
  static float x[B * IN], h1[B * HID], a1[B * HID], r[B * HID], logits[B * K];
  int32_t y[B];
  unsigned s = 12345;
  for (int i = 0; i < B * IN; i++) {
    s = s * 1103515245u + 12345u;
    x[i] = (float)((double)(s >> 8) / (1 << 24) * 4 - 2);
  }
  for (int i = 0; i < B; i++) y[i] = (int32_t)(i * 3 % K);

  stats_full *m = stats_full_new(B, 7);
  stats_cut_h1 *mh = stats_cut_h1_new(B, 7);
  stats_cut_a1 *ma = stats_cut_a1_new(B, 7);
  stats_cut_r *mr = stats_cut_r_new(B, 7);
  if (!m || !mh || !ma || !mr) return 1;
  stats_full_layer_stats st[STATS_FULL_N_LAYERS + 1];
  check(STATS_FULL_N_LAYERS == 6, "N_LAYERS", STATS_FULL_N_LAYERS, 6);
  check(stats_full_stats(m, st, STATS_FULL_N_LAYERS) == 0, "stats before any step", 1, 0);

  /* the values the recorded step sees: the initial parameters' */
  stats_cut_h1_forward(mh, x, N, h1);
  stats_cut_a1_forward(ma, x, N, a1);
  stats_cut_r_forward(mr, x, N, r);
  stats_full_forward(m, x, N, logits);
  const float *w3 = stats_full_debug_params(m) + (HID * IN + HID) + (HID * HID + HID); /* dense.3/weight [K, HID] */
  static float dlogits[B * K], dr[B * HID];
  for (int b = 0; b < N; b++) {
    double mx = logits[b * K], z = 0;
    for (int k = 1; k < K; k++) mx = logits[b * K + k] > mx ? logits[b * K + k] : mx;
    for (int k = 0; k < K; k++) z += exp(logits[b * K + k] - mx);
    for (int k = 0; k < K; k++) dlogits[b * K + k] = (float)((exp(logits[b * K + k] - mx) / z - (k == y[b])) / N);
    for (int j = 0; j < HID; j++) {
      double sum = 0;
      for (int k = 0; k < K; k++) sum += (double)dlogits[b * K + k] * w3[k * HID + j];
      dr[b * HID + j] = (float)sum;
    }
  }
  double sq = 0, sq_r = 0;
  for (int i = 0; i < N * K; i++) sq += (double)dlogits[i] * dlogits[i];
  for (int i = 0; i < N * HID; i++) sq_r += (double)dr[i] * dr[i];

  stats_full_stats_record(m, 1);
  float loss = stats_full_train_step(m, x, y, N);
  check(isfinite(loss), "loss", loss, 0);
  uint64_t step = stats_full_stats(m, st, STATS_FULL_N_LAYERS);
  check(step == 1 && step == stats_full_steps(m), "the recorded step's number", (double)step, 1);
  static const char *const names[] = {"dense.1", "relu.1", "dense.2", "selu.1", "add.1", "dense.3"};
  static const char *const ops[] = {"dense", "relu", "dense", "selu", "add", "dense"};
  for (int l = 0; l < 6; l++) {
    check(strcmp(st[l].layer, names[l]) == 0 && strcmp(st[l].op, ops[l]) == 0 && st[l].depth == l, names[l], l, st[l].depth);
    check(st[l].grad_norm > 0 && isfinite(st[l].grad_norm), "grad_norm is positive", st[l].grad_norm, 0);
  }
  check_layer(&st[0], "dense.1", h1, N * HID);
  check_layer(&st[1], "relu.1", a1, N * HID);
  check_layer(&st[4], "add.1", r, N * HID);
  check(st[1].dead_frac > 0.2, "relu.1 has zeros", st[1].dead_frac, 0.5);
  printf("dense.3  grad_norm %.10g (%.10g)\nadd.1    grad_norm %.10g (%.10g)\n", st[5].grad_norm, sqrt(sq / (N * K)),
         st[4].grad_norm, sqrt(sq_r / (N * HID)));
  check_close("dense.3 grad_norm", st[5].grad_norm, sqrt(sq / (N * K)), 1e-5);
  check_close("add.1 grad_norm", st[4].grad_norm, sqrt(sq_r / (N * HID)), 1e-5);

  /* a step that does not record keeps the last record; cap limits what is written */
  double kept = st[0].act_var;
  stats_full_stats_record(m, 0);
  stats_full_train_step(m, x, y, N);
  memset(st, 0, sizeof st);
  step = stats_full_stats(m, st, 1);
  check(step == 1 && st[0].act_var == kept && st[1].layer == NULL, "a step without recording", (double)step, 1);
  stats_full_stats_record(m, 1);
  stats_full_train_step(m, x, y, N);
  step = stats_full_stats(m, st, STATS_FULL_N_LAYERS);
  check(step == 3 && st[0].act_var != kept, "the third step recorded", (double)step, 3);

  stats_infer_only *mi = stats_infer_only_new(B, 7);
  stats_infer_only_layer_stats si[STATS_INFER_ONLY_N_LAYERS];
  if (!mi) return 1;
  stats_infer_only_stats_record(mi, 1);
  check(isfinite(stats_infer_only_train_step(mi, x, y, N)), "stats_infer_only: loss", 0, 0);
  check(stats_infer_only_stats(mi, si, STATS_INFER_ONLY_N_LAYERS) == 1 && STATS_INFER_ONLY_N_LAYERS == 2,
        "stats_infer_only: one step, two layers", STATS_INFER_ONLY_N_LAYERS, 2);
  check(isfinite(si[0].act_var) && isfinite(si[0].grad_norm) && si[0].act_var > 0, "dense.1 of stats_infer_only",
        si[0].act_var, 1);
  check(isnan(si[1].act_mean) && isnan(si[1].act_var) && isnan(si[1].dead_frac) && isnan(si[1].grad_norm),
        "softmax.1, computed by forward() only: NaN", si[1].act_var, NAN);
  stats_infer_only_free(mi);

  stats_full_free(m);
  stats_cut_h1_free(mh);
  stats_cut_a1_free(ma);
  stats_cut_r_free(mr);
  printf("%s\n", failures ? "stats_check: FAILED" : "stats_check: ok");
  return failures != 0;
}
