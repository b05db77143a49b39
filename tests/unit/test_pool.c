/* test_pool.c — nnrt.c's thread pool (nnrt_pool_*), which runs nnc's own kernels in parallel.
 *
 * Built twice: against the runtime as generated code gets it (POSIX threads), and as
 * test_pool_serial with nnrt.c compiled -DNNC_NO_THREADS, the fallback that runs the ranges one
 * after the other. Both must cover every item exactly once, give range k to thread k, keep each
 * range at least `grain` long, and survive repeated use and several pools used at once.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

enum { MAX_COUNT = 200 };

typedef struct Record {
  int hits[MAX_COUNT];    /* how often each item ran */
  int thread[MAX_COUNT];  /* the thread index it ran with */
  long first[NNRT_MAX_THREADS], last[NNRT_MAX_THREADS]; /* each thread's range, or -1 */
  pthread_t who[NNRT_MAX_THREADS];
} Record;

static void record(void *arg, long begin, long end, int thread) {
  Record *r = arg;
  r->first[thread] = begin;
  r->last[thread] = end;
  r->who[thread] = pthread_self();
  for (long i = begin; i < end; i++) {
    r->hits[i]++;
    r->thread[i] = thread;
  }
}

/* every item once; the parts are contiguous, in thread order, at least grain long (unless there
 * is only one), and no more than the pool's threads */
static void check_split(nnrt_pool *pool, int threads, long count, long grain) {
  static Record r;
  memset(&r, 0, sizeof r);
  for (int t = 0; t < NNRT_MAX_THREADS; t++) r.first[t] = r.last[t] = -1;
  nnrt_pool_run(pool, count, grain, record, &r);
  for (long i = 0; i < count; i++) {
    assert_int_equal(r.hits[i], 1);
    assert_in_range(r.thread[i], 0, threads - 1);
  }
  int parts = 0;
  long next = 0;
  for (int t = 0; t < threads; t++) {
    if (r.first[t] < 0) break;
    assert_int_equal(r.first[t], next);
    next = r.last[t];
    parts++;
  }
  for (int t = parts; t < NNRT_MAX_THREADS; t++) assert_int_equal(r.first[t], -1); /* no gaps in thread order */
  assert_int_equal(next, count > 0 ? count : 0);
  if (count <= 0) {
    assert_int_equal(parts, 0);
    return;
  }
  assert_in_range(parts, 1, threads);
  for (int t = 0; t < parts && parts > 1; t++) assert_true(r.last[t] - r.first[t] >= grain);
  long want = count / (grain > 1 ? grain : 1); /* as many parts as the grain allows */
  if (want > threads) want = threads;
  assert_int_equal(parts, want < 1 ? 1 : want);
#ifndef NNC_NO_THREADS
  for (int t = 1; t < parts; t++) assert_false(pthread_equal(r.who[t], pthread_self())); /* really a worker */
#endif
  assert_true(pthread_equal(r.who[0], pthread_self()));
}

static void test_ranges_cover_each_item_once(void **state) {
  (void)state;
  for (int threads = 1; threads <= 5; threads++) {
    nnrt_pool *pool = nnrt_pool_new(threads);
    assert_non_null(pool);
    assert_int_equal(nnrt_pool_threads(pool), threads);
    for (long count = -1; count <= MAX_COUNT; count += count < 20 ? 1 : 37)
      for (long grain = 0; grain <= 9; grain++) check_split(pool, threads, count, grain);
    nnrt_pool_free(pool);
  }
  check_split(NULL, 1, 50, 1); /* no pool: the caller alone */
  assert_int_equal(nnrt_pool_threads(NULL), 1);
}

static void add_range(void *arg, long begin, long end, int thread) {
  long *sums = arg; /* one slot per thread, 8 apart: no false sharing to speak of */
  for (long i = begin; i < end; i++) sums[8 * thread] += i;
}

static void test_repeated_use(void **state) {
  (void)state;
  nnrt_pool *pool = nnrt_pool_new(3);
  assert_non_null(pool);
  long sums[8 * 3];
  for (int round = 0; round < 4000; round++) {
    memset(sums, 0, sizeof sums);
    long count = 1 + round % 97;
    nnrt_pool_run(pool, count, 1 + round % 5, add_range, sums);
    assert_int_equal(sums[0] + sums[8] + sums[16], count * (count - 1) / 2);
  }
  nnrt_pool_free(pool);
}

/* several models in one process, each trained from its own thread: pools must not share state */
typedef struct User {
  nnrt_pool *pool;
  int ok;
} User;

static void *use_pool(void *arg) {
  User *u = arg;
  long sums[8 * 4];
  u->ok = 1;
  for (int round = 0; round < 500; round++) {
    memset(sums, 0, sizeof sums);
    nnrt_pool_run(u->pool, 1000, 1, add_range, sums);
    if (sums[0] + sums[8] + sums[16] + sums[24] != 1000L * 999 / 2) u->ok = 0;
  }
  return NULL;
}

static void test_many_pools_at_once(void **state) {
  (void)state;
  User users[4];
  pthread_t ids[4];
  for (int i = 0; i < 4; i++) {
    users[i].pool = nnrt_pool_new(1 + i % 4);
    assert_non_null(users[i].pool);
  }
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&ids[i], NULL, use_pool, &users[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(ids[i], NULL);
    assert_true(users[i].ok);
    nnrt_pool_free(users[i].pool);
  }
  /* created and freed over and over: no thread or handle left behind */
  for (int i = 0; i < 200; i++) nnrt_pool_free(nnrt_pool_new(2 + i % 3));
  nnrt_pool_free(NULL);
}

static void test_bad_thread_counts(void **state) {
  (void)state;
  nnrt_clear_error();
  assert_null(nnrt_pool_new(0));
  assert_string_equal(nnrt_last_error(), "threads must be 1..256, not 0");
  assert_null(nnrt_pool_new(NNRT_MAX_THREADS + 1));
  assert_string_equal(nnrt_last_error(), "threads must be 1..256, not 257");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranges_cover_each_item_once),
      cmocka_unit_test(test_repeated_use),
      cmocka_unit_test(test_many_pools_at_once),
      cmocka_unit_test(test_bad_thread_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
