/* test_runtime.c — the random generator, aligned allocation and the error buffer of nnrt.c.
 *
 * The pinned values were computed by an independent implementation of splitmix64 and
 * xoshiro256** (Python, from the reference C); they fix the stream that every model's
 * initialisation depends on, so a change here changes every trained model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nnrt.h"

static void test_rng_known_values(void **state) {
  static const struct {
    uint64_t seed;
    uint64_t first[4];
  } cases[] = {
      {0, {UINT64_C(0x99ec5f36cb75f2b4), UINT64_C(0xbf6e1f784956452a), UINT64_C(0x1a5f849d4933e6e0),
           UINT64_C(0x6aa594f1262d2d2c)}},
      {1, {UINT64_C(0xb3f2af6d0fc710c5), UINT64_C(0x853b559647364cea), UINT64_C(0x92f89756082a4514),
           UINT64_C(0x642e1c7bc266a3a7)}},
      {42, {UINT64_C(0x15780b2e0c2ec716), UINT64_C(0x6104d9866d113a7e), UINT64_C(0xae17533239e499a1),
            UINT64_C(0xecb8ad4703b360a1)}},
  };
  size_t c;
  int i;
  (void)state;
  for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    nnrt_rng rng;
    nnrt_rng_seed(&rng, cases[c].seed);
    for (i = 0; i < 4; i++) assert_true(nnrt_rng_next(&rng) == cases[c].first[i]);
  }
}

static void test_rng_determinism(void **state) {
  nnrt_rng a, b, c;
  int i, differ = 0;
  (void)state;
  nnrt_rng_seed(&a, 123);
  nnrt_rng_seed(&b, 123);
  nnrt_rng_seed(&c, 124);
  for (i = 0; i < 1000; i++) {
    uint64_t x = nnrt_rng_next(&a);
    assert_true(x == nnrt_rng_next(&b));
    differ += x != nnrt_rng_next(&c);
  }
  assert_true(differ > 990);
}

static void test_rng_uniform(void **state) {
  nnrt_rng rng;
  double sum = 0;
  int i;
  (void)state;
  nnrt_rng_seed(&rng, 1);
  /* Exact: the top 53 bits times 2^-53. */
  assert_true(nnrt_rng_uniform(&rng) == 0.7029218331588505);
  assert_true(nnrt_rng_uniform(&rng) == 0.5204366199388569);
  for (i = 0; i < 100000; i++) {
    double u = nnrt_rng_uniform(&rng);
    assert_true(u >= 0.0 && u < 1.0);
    sum += u;
  }
  assert_true(fabs(sum / 100000 - 0.5) < 0.01);
}

static void test_rng_normal(void **state) {
  nnrt_rng rng;
  double sum = 0, sq = 0, mean, var;
  int i, n = 100000;
  (void)state;
  nnrt_rng_seed(&rng, 7);
  /* One Box–Muller pair: cos first, then the cached sin. */
  assert_true(fabs(nnrt_rng_normal(&rng) - -0.2790239910251981) < 1e-12);
  assert_int_equal(rng.has_spare, 1);
  assert_true(fabs(nnrt_rng_normal(&rng) - 1.5277231859624536) < 1e-12);
  assert_int_equal(rng.has_spare, 0);
  for (i = 0; i < n; i++) {
    double z = nnrt_rng_normal(&rng);
    assert_true(isfinite(z));
    sum += z;
    sq += z * z;
  }
  mean = sum / n;
  var = sq / n - mean * mean;
  assert_true(fabs(mean) < 0.015);
  assert_true(fabs(var - 1.0) < 0.02);
}

/* The struct is the whole state: a byte copy taken between the two values of a pair continues
 * exactly like the original (this is what a checkpoint relies on). */
static void test_rng_state_is_the_struct(void **state) {
  nnrt_rng a, b;
  int i;
  (void)state;
  nnrt_rng_seed(&a, 99);
  nnrt_rng_normal(&a);
  assert_int_equal(a.has_spare, 1);
  memcpy(&b, &a, sizeof a);
  for (i = 0; i < 100; i++) {
    double x = nnrt_rng_normal(&a), y = nnrt_rng_normal(&b);
    assert_memory_equal(&x, &y, sizeof x);
    assert_true(nnrt_rng_next(&a) == nnrt_rng_next(&b));
  }
}

static void test_alloc_aligned_and_zeroed(void **state) {
  static const size_t sizes[] = {0, 1, 3, 63, 64, 65, 1000, 1 << 20};
  size_t i, j;
  (void)state;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *p = nnrt_alloc(sizes[i]);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    for (j = 0; j < sizes[i]; j++) assert_int_equal(p[j], 0);
    memset(p, 0xff, sizes[i]);
    nnrt_free(p);
  }
  nnrt_free(NULL);
}

static void test_alloc_overflow(void **state) {
  (void)state;
  nnrt_clear_error();
  assert_null(nnrt_alloc((size_t)-1));
  assert_null(nnrt_alloc((size_t)-1 - 40));
  assert_string_equal(nnrt_last_error(), "out of memory: 18446744073709551575 bytes requested");
}

static void test_errors(void **state) {
  (void)state;
  nnrt_clear_error();
  assert_string_equal(nnrt_last_error(), "");
  nnrt_set_error("%s: %d", "x.ckpt", 42);
  assert_string_equal(nnrt_last_error(), "x.ckpt: 42");
  /* Quoting the previous message must not read the buffer while writing it. */
  nnrt_set_error("while loading: %s", nnrt_last_error());
  assert_string_equal(nnrt_last_error(), "while loading: x.ckpt: 42");
  nnrt_clear_error();
  assert_string_equal(nnrt_last_error(), "");
}

/* The guard's decision, with the CPU described by hand: generic cores on AVX2 / AVX-512 CPUs get
 * the fitting core, fitting cores and CPUs without AVX2 are left alone. */
static void test_openblas_coretype_decision(void **state) {
  (void)state;
  const unsigned avx2 = NNRT_CPU_AVX2, avx512 = NNRT_CPU_AVX2 | NNRT_CPU_AVX512, amd = NNRT_CPU_AMD;
  assert_string_equal(nnrt_openblas_coretype("Prescott", avx512), "SkylakeX");
  assert_string_equal(nnrt_openblas_coretype("Prescott", avx2), "Haswell");
  assert_string_equal(nnrt_openblas_coretype("Prescott", avx2 | amd), "Zen");
  assert_string_equal(nnrt_openblas_coretype("Core2", avx2), "Haswell");
  assert_string_equal(nnrt_openblas_coretype("Katmai", avx512 | amd), "SkylakeX");
  assert_string_equal(nnrt_openblas_coretype("Sandybridge", avx2), "Haswell"); /* AVX without FMA */
  assert_string_equal(nnrt_openblas_coretype("Nehalem", avx2 | amd), "Zen");
  assert_string_equal(nnrt_openblas_coretype("PRESCOTT", avx2), "Haswell");
  assert_null(nnrt_openblas_coretype("Zen", avx2 | amd));
  assert_null(nnrt_openblas_coretype("Haswell", avx512)); /* OpenBLAS's own choice on an AVX-512 CPU */
  assert_null(nnrt_openblas_coretype("SkylakeX", avx512));
  assert_null(nnrt_openblas_coretype("zen", avx2 | amd));
  assert_null(nnrt_openblas_coretype("Cooperlake", avx512));
  assert_null(nnrt_openblas_coretype("Prescott", 0));   /* an older CPU: generic is right */
  assert_null(nnrt_openblas_coretype("Prescott", amd)); /* AMD without AVX2 */
  assert_null(nnrt_openblas_coretype("Prescot", 0));
  assert_null(nnrt_openblas_coretype(NULL, avx512));    /* no OpenBLAS */
}

/* nnrt_cpu_features() against the kernel's own account of the CPU (/proc/cpuinfo's flags). */
static void test_cpu_features_match_cpuinfo(void **state) {
  (void)state;
  unsigned features = nnrt_cpu_features();
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && defined(__linux__)
  FILE *f = fopen("/proc/cpuinfo", "r");
  assert_non_null(f);
  char line[8192];
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    if (strncmp(line, "flags", 5) == 0) found = 1;
  fclose(f);
  assert_true(found);
  strcat(line, " "); /* flags are space-separated words: " avx2 " */
  int avx2 = strstr(line, " avx2 ") && strstr(line, " fma ");
  int avx512 = avx2 && strstr(line, " avx512f ") && strstr(line, " avx512bw ") && strstr(line, " avx512dq ") &&
               strstr(line, " avx512vl ");
  assert_int_equal(!!(features & NNRT_CPU_AVX2), avx2);
  assert_int_equal(!!(features & NNRT_CPU_AVX512), !!avx512);
#else
  assert_int_equal(features & NNRT_CPU_AVX512, 0);
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rng_known_values),
      cmocka_unit_test(test_rng_determinism),
      cmocka_unit_test(test_rng_uniform),
      cmocka_unit_test(test_rng_normal),
      cmocka_unit_test(test_rng_state_is_the_struct),
      cmocka_unit_test(test_alloc_aligned_and_zeroed),
      cmocka_unit_test(test_alloc_overflow),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_openblas_coretype_decision),
      cmocka_unit_test(test_cpu_features_match_cpuinfo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
