/* init_check.c — the initial parameters of init_check.nn against spec §4's initializers.
 *
 * Built by run_model.cmake (--double --debug-api, to read the parameters exactly as drawn).
 * Parameters are laid out in creation order, each dense layer's weight [units, fan_in] then its
 * bias. For each weight, with n values (8,000 to 30,000):
 *   glorot_uniform  every |w| <= a = sqrt(6 / (fan_in + fan_out)), max |w| > 0.99 a,
 *                   std within 3% of a / sqrt(3)
 *   lecun_normal    std within 3% of sqrt(1 / fan_in)      (the sample std's own error is < 1%)
 *   he_normal       std within 3% of sqrt(2 / fan_in)
 *   normal(s)       std within 3% of s
 *   zeros           all 0
 * and |mean| < 4 std / sqrt(n); every bias is 0. Two models from different seeds differ, and
 * from the same seed are equal (the initialisation is seeded, nothing else).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_config.h"

#if !M_DOUBLE
#error "init_check.c needs --double"
#endif

enum kind { GLOROT, LECUN, HE, NORMAL, ZEROS };
static const struct layer {
  const char *name;
  enum kind kind;
  int fan_in, units, bias;
  double std; /* NORMAL */
} layers[] = {
    {"dense.1 (glorot_uniform)", GLOROT, 100, 200, 1, 0}, {"dense.2 (lecun_normal)", LECUN, 200, 150, 1, 0},
    {"dense.3 (he_normal)", HE, 150, 120, 1, 0},          {"dense.4 (normal(0.05))", NORMAL, 120, 100, 1, 0.05},
    {"dense.5 (zeros)", ZEROS, 100, 80, 1, 0},            {"dense.6 (glorot_uniform)", GLOROT, 80, 10, 0, 0},
};

int main(void) {
  M_model *m = M(new)(1, 12345);
  if (!m) return 1;
  const double *p = M(debug_params)(m);
  long at = 0, total = 0;
  int failed = 0;
  for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) total += (long)layers[l].fan_in * layers[l].units + (layers[l].bias ? layers[l].units : 0);
  if (M(debug_n_params)() != total) {
    fprintf(stderr, "FAIL: %ld parameters, expected %ld\n", M(debug_n_params)(), total);
    return 1;
  }
  for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
    const struct layer *L = &layers[l];
    long n = (long)L->fan_in * L->units;
    double sum = 0, sq = 0, mx = 0;
    for (long i = 0; i < n; i++) {
      sum += p[at + i];
      mx = fmax(mx, fabs(p[at + i]));
    }
    double mean = sum / n;
    for (long i = 0; i < n; i++) sq += (p[at + i] - mean) * (p[at + i] - mean);
    double sd = sqrt(sq / (n - 1)), want = 0, bound = 0;
    switch (L->kind) {
    case GLOROT: bound = sqrt(6.0 / (L->fan_in + L->units)); want = bound / sqrt(3.0); break;
    case LECUN: want = sqrt(1.0 / L->fan_in); break;
    case HE: want = sqrt(2.0 / L->fan_in); break;
    case NORMAL: want = L->std; break;
    case ZEROS: want = 0; break;
    }
    printf("%-26s n %6ld  mean %+.5f  std %.5f (expected %.5f)  max |w| %.5f", L->name, n, mean, sd, want, mx);
    if (L->kind == GLOROT) printf(" (bound %.5f)", bound);
    printf("\n");
    if (L->kind == ZEROS) {
      if (mx != 0) fprintf(stderr, "FAIL: %s: not all zero (max |w| %g)\n", L->name, mx), failed = 1;
    } else {
      if (!(fabs(sd - want) <= 0.03 * want)) fprintf(stderr, "FAIL: %s: std %g, expected %g\n", L->name, sd, want), failed = 1;
      if (!(fabs(mean) <= 4 * want / sqrt((double)n))) fprintf(stderr, "FAIL: %s: mean %g\n", L->name, mean), failed = 1;
      if (L->kind == GLOROT && !(mx <= bound && mx > 0.99 * bound))
        fprintf(stderr, "FAIL: %s: max |w| %g for the bound %g\n", L->name, mx, bound), failed = 1;
    }
    at += n;
    if (L->bias) {
      for (long i = 0; i < L->units; i++)
        if (p[at + i] != 0) {
          fprintf(stderr, "FAIL: %s: bias %ld is %g, not 0\n", L->name, i, p[at + i]);
          failed = 1;
          break;
        }
      at += L->units;
    }
  }
  M_model *same = M(new)(3, 12345), *other = M(new)(1, 54321);
  if (memcmp(M(debug_params)(same), p, sizeof(double) * (size_t)total) != 0)
    fprintf(stderr, "FAIL: the same seed gave other parameters\n"), failed = 1;
  if (memcmp(M(debug_params)(other), p, sizeof(double) * (size_t)total) == 0)
    fprintf(stderr, "FAIL: another seed gave the same parameters\n"), failed = 1;
  M(free)(m);
  M(free)(same);
  M(free)(other);
  return failed;
}
