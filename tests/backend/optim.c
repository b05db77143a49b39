/* optim.c — the generated optimizer step against torch.optim's update rules, computed by hand.
 *
 * Built by run_model.cmake against tests/backend/optim_linear.nn.in configured with one optimizer
 * (`nnc build --double --debug-api`): pred = W x + b with W [2, 3], b [2], loss mse(pred, t), whose
 * gradient is known in closed form:
 *
 *   dpred[b, j] = 2 (pred[b, j] - t[b, j]) / (B * 2),  dW = sum_b dpred[b]^T x[b],  db = sum_b dpred[b]
 *
 * The test keeps its own copy of the parameters and optimizer state, and for each of --steps
 * steps (different batches) computes the gradient and the update with the formulas of spec §4 and
 * torch.optim (weight decay added to the gradient as wd * w):
 *
 *   sgd      d = g + wd w;  buf = momentum buf + d (buf = d at step 1);
 *            w -= lr (nesterov ? d + momentum buf : (momentum ? buf : d))
 *   rmsprop  d = g + wd w;  sq = rho sq + (1 - rho) d^2;  w -= lr d / (sqrt(sq) + eps)
 *   adam     d = g + wd w;  m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;
 *            w -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * then calls NAME_train_step and compares: the loss it returns (a float: relative 1e-6), the
 * gradient it left in NAME_debug_grads and the parameters after the step (relative 1e-12 of
 * max(1, |value|), everything being double), and NAME_steps.
 *
 * usage: optim sgd|rmsprop|adam [lr=X] [momentum=X] [nesterov=true] [weight_decay=X] [rho=X]
 *              [eps=X] [beta1=X] [beta2=X] [--steps N] [--dump FILE]
 * The arguments are the optimizer's call as written in the .nn file. --dump writes the initial
 * parameters, each step's batch and the parameters after each step for torch_parity.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_config.h"

#if !M_DOUBLE || M_LABEL || M_IN_SIZE != 3 || M_OUT_SIZE != 2
#error "optim.c needs optim_linear.nn built with --double"
#endif

#define IN 3
#define OUT 2
#define N_P (OUT * IN + OUT) /* W [OUT, IN] row-major, then b [OUT] */
#define BATCH 4
#define MAX_STEPS 10

static int close_to(double a, double b, double rel) { return fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b))); }

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *kind = argv[1];
  double lr = 0, momentum = 0, wd = 0, rho = 0.9, eps = 1e-8, beta1 = 0.9, beta2 = 0.999;
  int nesterov = 0, steps = 3;
  const char *dump_path = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *eq = strchr(a, '=');
    if (strcmp(a, "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
    else if (strcmp(a, "--dump") == 0 && i + 1 < argc) dump_path = argv[++i];
    else if (!eq) return 2;
    else {
      double v = atof(eq + 1);
      size_t k = (size_t)(eq - a);
      if (strncmp(a, "lr", k) == 0) lr = v;
      else if (strncmp(a, "momentum", k) == 0) momentum = v;
      else if (strncmp(a, "nesterov", k) == 0) nesterov = strcmp(eq + 1, "true") == 0;
      else if (strncmp(a, "weight_decay", k) == 0) wd = v;
      else if (strncmp(a, "rho", k) == 0) rho = v;
      else if (strncmp(a, "eps", k) == 0) eps = v;
      else if (strncmp(a, "beta1", k) == 0) beta1 = v;
      else if (strncmp(a, "beta2", k) == 0) beta2 = v;
      else {
        fprintf(stderr, "optim: unknown argument '%s'\n", a);
        return 2;
      }
    }
  }
  if (steps < 1 || steps > MAX_STEPS || lr <= 0) return 2;
  if (M(debug_n_params)() != N_P) {
    fprintf(stderr, "FAIL: %ld parameters, expected %d\n", M(debug_n_params)(), N_P);
    return 1;
  }

  M_model *m = M(new)(BATCH, 5);
  if (!m) return 1;
  double *mp = M(debug_params)(m), *mg = M(debug_grads)(m);
  for (int i = OUT * IN; i < N_P; i++) mp[i] = 0.1 * (i - OUT * IN + 1); /* non-zero biases */
  double w[N_P], buf[N_P] = {0}, m1[N_P] = {0}, m2[N_P] = {0};
  memcpy(w, mp, sizeof w);

  FILE *dump = dump_path ? fopen(dump_path, "w") : NULL;
  if (dump_path && !dump) return 1;
  if (dump) {
    fprintf(dump, "optimizer %s lr %.17g momentum %.17g nesterov %d weight_decay %.17g rho %.17g eps %.17g beta1 %.17g beta2 %.17g\n",
            kind, lr, momentum, nesterov, wd, rho, eps, beta1, beta2);
    fprintf(dump, "params");
    for (int i = 0; i < N_P; i++) fprintf(dump, " %.17g", w[i]);
    fprintf(dump, "\n");
  }

  int failed = 0;
  for (int step = 1; step <= steps; step++) {
    float x[BATCH * IN], t[BATCH * OUT];
    for (int i = 0; i < BATCH * IN; i++) x[i] = (float)(sin(0.9 * i + step) * 1.25);
    for (int i = 0; i < BATCH * OUT; i++) t[i] = (float)cos(0.4 * i - step);

    /* the gradient by hand */
    double g[N_P] = {0}, loss = 0;
    for (int b = 0; b < BATCH; b++)
      for (int j = 0; j < OUT; j++) {
        double pred = w[OUT * IN + j];
        for (int k = 0; k < IN; k++) pred += w[j * IN + k] * x[b * IN + k];
        double diff = pred - t[b * OUT + j];
        loss += diff * diff / (BATCH * OUT);
        double dpred = 2 * diff / (BATCH * OUT);
        for (int k = 0; k < IN; k++) g[j * IN + k] += dpred * x[b * IN + k];
        g[OUT * IN + j] += dpred;
      }
    /* the update by hand */
    for (int i = 0; i < N_P; i++) {
      double d = g[i] + wd * w[i];
      if (strcmp(kind, "sgd") == 0) {
        if (momentum != 0) {
          buf[i] = step == 1 ? d : momentum * buf[i] + d;
          d = nesterov ? d + momentum * buf[i] : buf[i];
        }
        w[i] -= lr * d;
      } else if (strcmp(kind, "rmsprop") == 0) {
        m1[i] = rho * m1[i] + (1 - rho) * d * d;
        w[i] -= lr * d / (sqrt(m1[i]) + eps);
      } else if (strcmp(kind, "adam") == 0) {
        m1[i] = beta1 * m1[i] + (1 - beta1) * d;
        m2[i] = beta2 * m2[i] + (1 - beta2) * d * d;
        double c1 = 1 - pow(beta1, step), c2 = 1 - pow(beta2, step);
        w[i] -= lr / c1 * m1[i] / (sqrt(m2[i]) / sqrt(c2) + eps);
      } else {
        return 2;
      }
    }

    float got = M(train_step)(m, x, t, BATCH);
    if (!close_to(got, loss, 1e-6)) {
      fprintf(stderr, "FAIL: step %d: train_step returned loss %.9g, expected %.9g\n", step, got, loss);
      failed = 1;
    }
    for (int i = 0; i < N_P; i++) {
      if (!close_to(mg[i], g[i], 1e-12)) {
        fprintf(stderr, "FAIL: step %d: gradient %d is %.17g, expected %.17g\n", step, i, mg[i], g[i]);
        failed = 1;
      }
      if (!close_to(mp[i], w[i], 1e-12)) {
        fprintf(stderr, "FAIL: step %d: parameter %d is %.17g after the update, expected %.17g\n", step, i, mp[i], w[i]);
        failed = 1;
      }
    }
    if (M(steps)(m) != (uint64_t)step) {
      fprintf(stderr, "FAIL: %s_steps() is %llu after %d steps\n", M_NAME, (unsigned long long)M(steps)(m), step);
      failed = 1;
    }
    if (dump) {
      fprintf(dump, "x");
      for (int i = 0; i < BATCH * IN; i++) fprintf(dump, " %.17g", (double)x[i]);
      fprintf(dump, "\nt");
      for (int i = 0; i < BATCH * OUT; i++) fprintf(dump, " %.17g", (double)t[i]);
      fprintf(dump, "\nloss %.17g\nparams", loss);
      for (int i = 0; i < N_P; i++) fprintf(dump, " %.17g", mp[i]);
      fprintf(dump, "\n");
    }
  }
  if (dump && fclose(dump) != 0) failed = 1;
  printf("%s %s: %d steps; parameters after the last:", M_NAME, kind, steps);
  for (int i = 0; i < N_P; i++) printf(" %.6g", mp[i]);
  printf("\n");
  M(free)(m);
  if (failed) fprintf(stderr, "FAIL: %s\n", M_NAME);
  return failed;
}
