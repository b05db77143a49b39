/* forward_check.c — the generated forward pass and loss against reference.h's formulas.
 *
 * Built by tests/backend/run_model.cmake against one tests/forward/<case>.nn compiled twice:
 * fwd_f (float, BLAS, --debug-api; model_config.h names it M) and fwd_d (--double --debug-api).
 * Both get the same parameters (random, exact in float); then, for a full batch (n = max_batch),
 * an odd one (n < max_batch) and, in float, forward() in chunks (n > max_batch):
 *
 *   err = |generated - reference| / (eps * max(|reference|, floor))      in ulps
 *   eps = 2^-23 (float) or 2^-52 (double); floor = 1e-30 (ELEMENTWISE) or 1 (LAYERS)
 *
 * must stay within the bounds below, for every output and for the loss (NAME_debug_loss_grad,
 * which runs train() without an update). Rows of cases.h with `exact` pin the double build's value
 * bit for bit where it is fixed (SELU's λ and α to their last digit).
 *
 * usage: forward_check CASE
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model_config.h"
#include "fwd_d.h"
#include "cases.h"

#if M_DOUBLE
#error "forward_check: the first model is the float one"
#endif

#define MAX_BATCH 5
#define ODD_BATCH 3
#define CHUNKED 12 /* forward() beyond max_batch */

/* Bounds in ulps, {float, double}. The worst errors measured with correct kernels: ELEMENTWISE
   1.1 (tanhf) and 1.3 (sigmoid in double); LAYERS 8.2 (flatten, float) and 1.6 (softmax, double);
   the loss 0.5 and 11 (a sum of 1,200 squares in double). A wrong constant or formula is off by
   hundreds; expm1f with a coefficient off by 6 % by 5. */
static const double bound[2][2] = {
    /* ELEMENTWISE */ {2, 2},
    /* LAYERS */ {24, 8},
};
static const double loss_bound[2] = {6, 48}; /* relative to |loss| */

static double uniform(void) {
  static unsigned long long state = 0x2545f4914f6cdd1dULL;
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(state >> 11) / 4503599627370496.0 - 1.0;
}

static const Case *the_case;
static real *params;
static long n_params;
static float x[CHUNKED * M_IN_SIZE];
#if M_LABEL
static int32_t y[CHUNKED];
#else
static float t[CHUNKED * M_TARGET_SIZE];
#endif
static int failed;

/* The reference on the first n examples. */
static Val reference(int n, Ref *r) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->params = params;
  r->n_params = n_params;
  r->x = x;
#if M_LABEL
  r->y = y;
#else
  r->t = t;
#endif
  ref_reset();
  Val out = the_case->reference(r);
  if (r->used != n_params || out.size != M_OUT_SIZE || out.n != n) {
    fprintf(stderr, "FAIL: the reference of '%s' is not this model's graph: it takes %ld of %ld parameters and "
                    "returns %d values per example (the model: %d)\n",
            the_case->name, r->used, n_params, out.size, M_OUT_SIZE);
    exit(1);
  }
  return out;
}

static double ulps(double got, real want, double eps, double floor) {
  real scale = fabsl(want) > floor ? fabsl(want) : floor;
  return (double)(fabsl((real)got - want) / (scale * eps));
}

/* got (float or double values) against the reference; returns the worst error in ulps */
static double compare(const char *what, int n, const Val *want, const float *gotf, const double *gotd) {
  double eps = gotf ? FLT_EPSILON : DBL_EPSILON, floor = the_case->kind == ELEMENTWISE ? 1e-30 : 1;
  double tol = bound[the_case->kind][gotf ? 0 : 1], worst = 0;
  int reported = 0;
  for (long i = 0; i < (long)n * M_OUT_SIZE; i++) {
    double got = gotf ? (double)gotf[i] : gotd[i];
    double err = ulps(got, want->v[i], eps, floor);
    if (!(err <= worst)) worst = err;
    if (!(err <= tol)) {
      if (reported++ < 8)
        fprintf(stderr, "FAIL: %s, output %ld (example %ld, input %.9g): %.17g, reference %.17Lg (%.3g ulps > %g)\n",
                what, i, i / M_OUT_SIZE, the_case->kind == ELEMENTWISE ? (double)x[i] : NAN, got, want->v[i], err,
                tol);
      failed = 1;
    }
  }
  printf("%-34s worst %6.3f ulps (bound %g)\n", what, worst, tol);
  return worst;
}

static void compare_loss(const char *what, double got, const Ref *r, int is_float) {
  if (!r->has_loss) return;
  double err = ulps(got, r->loss, is_float ? FLT_EPSILON : DBL_EPSILON, 1e-30), tol = loss_bound[is_float ? 0 : 1];
  printf("%-34s %.17g, reference %.17Lg: %.3f ulps (bound %g)\n", what, got, r->loss, err, tol);
  if (!(err <= tol)) {
    fprintf(stderr, "FAIL: %s %.17g differs from the reference %.17Lg\n", what, got, r->loss);
    failed = 1;
  }
}

/* The double build's values where the constants fix them to the bit. */
static void check_exact(int n, const double *gotd) {
  int checked = 0;
  for (long i = 0; i < (long)n * M_OUT_SIZE; i++) {
    int e;
    double in = x[i];
    if (!(frexp(in, &e) == 0.5 || frexp(in, &e) == -0.5 || in == -40)) continue;
    double want = the_case->exact(in);
    if (isnan(want)) continue;
    checked++;
    if (gotd[i] != want) {
      fprintf(stderr, "FAIL: exact value at input %.17g: %.17g, expected %.17g\n", in, gotd[i], want);
      failed = 1;
    }
  }
  printf("%-34s %d values bit for bit\n", "double, exact constants:", checked);
  if (checked < 10) {
    fprintf(stderr, "FAIL: only %d inputs where the constants fix the value\n", checked);
    failed = 1;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(cases[i].name, argv[1]) == 0) the_case = &cases[i];
  if (!the_case) {
    fprintf(stderr, "FAIL: no reference for case '%s' in tests/forward/cases.h\n", argv[1]);
    return 1;
  }

  M_model *f = M(new)(MAX_BATCH, 3);
  fwd_d *d = fwd_d_new(MAX_BATCH, 3);
  if (!f || !d) return 1;
  n_params = M(debug_n_params)();
  if (n_params != fwd_d_debug_n_params()) {
    fprintf(stderr, "FAIL: the float and double builds have %ld and %ld parameters\n", n_params, fwd_d_debug_n_params());
    return 1;
  }
  float *pf = M(debug_params)(f);
  double *pd = fwd_d_debug_params(d);
  params = malloc(sizeof *params * (size_t)(n_params + 1));
  if (!params) return 1;
  for (long i = 0; i < n_params; i++) {
    pf[i] = (float)(0.6 * uniform());
    pd[i] = pf[i];
    params[i] = pf[i];
  }

  /* inputs: element-wise cases start with values where an activation is easy to get wrong */
  static const float special[] = {0, 1, -1, 2, -2, 0.5f, -0.5f, 4, -4, 0.25f, -0.25f, 8, -8, 0.125f, -0.125f,
                                  -40, 40, 1e-3f, -1e-3f, 1e-6f, -1e-6f, 3, -3, 0.75f, -0.75f, 16, -16, 1.5f,
                                  -1.5f, 6, -6, 0.0625f, -0.0625f, 32, -32, -20, 20, 1e-20f, -1e-20f};
  long n_special = the_case->kind == ELEMENTWISE ? (long)(sizeof special / sizeof special[0]) : 0;
  for (long i = 0; i < (long)CHUNKED * M_IN_SIZE; i++)
    x[i] = i < n_special ? special[i] : (float)((the_case->kind == ELEMENTWISE ? 6 : 2) * uniform());
#if M_LABEL
  for (int b = 0; b < CHUNKED; b++) y[b] = (int32_t)((3 * b + 1) % M_N_CLASSES);
#else
  for (long i = 0; i < (long)CHUNKED * M_TARGET_SIZE; i++) t[i] = (float)(0.5 + 0.45 * uniform());
#endif

  static float outf[CHUNKED * M_OUT_SIZE];
  char what[64];
  int batches[2] = {MAX_BATCH, ODD_BATCH};
  for (int k = 0; k < 2; k++) {
    int n = batches[k];
    Ref r;
    Val want = reference(n, &r);
    const double *outd = fwd_d_debug_forward(d, x, n);
    if (!outd) return 1;
    snprintf(what, sizeof what, "double, n = %d (max_batch %d):", n, MAX_BATCH);
    compare(what, n, &want, NULL, outd);
    if (the_case->exact) check_exact(n, outd);
    M(forward)(f, x, n, outf);
    snprintf(what, sizeof what, "float, n = %d:", n);
    compare(what, n, &want, outf, NULL);
#if M_LABEL
    const M_y *labels = y;
#else
    const M_y *labels = t;
#endif
    snprintf(what, sizeof what, "loss, double, n = %d:", n);
    compare_loss(what, fwd_d_debug_loss_grad(d, x, labels, n, 0), &r, 0);
    snprintf(what, sizeof what, "loss, float, n = %d:", n);
    compare_loss(what, M(debug_loss_grad)(f, x, labels, n, 0), &r, 1);
    if (!r.has_loss) printf("loss not checked: training draws dropout masks\n");
  }
  Ref r;
  Val want = reference(CHUNKED, &r);
  M(forward)(f, x, CHUNKED, outf);
  snprintf(what, sizeof what, "float, forward in chunks, n = %d:", CHUNKED);
  compare(what, CHUNKED, &want, outf, NULL);

  M(free)(f);
  fwd_d_free(d);
  free(params);
  if (failed) fprintf(stderr, "FAIL: forward_%s\n", the_case->name);
  return failed;
}
