/* test_pool.c — nnrt.c's thread pool (nnrt_pool_*), which runs nnc's own kernels in parallel.
 *
 * Built twice: against the runtime as generated code gets it (POSIX threads), and as
 * test_pool_serial with nnrt.c compiled -DNNC_NO_THREADS, the fallback that runs the chunks one
 * after the other on the caller. Both must run every item exactly once, in chunks of at least
 * `grain` items, on threads whose index is below the pool's count (0 for the caller, which the
 * threaded pool's workers must not use), and survive repeated use and several pools at once.
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
#include <time.h>

#include "nnrt.h"

enum { MAX_COUNT = 200 };

typedef struct Record {
  int hits[MAX_COUNT];   /* how often each item ran */
  int thread[MAX_COUNT]; /* the thread index it ran with */
  long chunk[MAX_COUNT]; /* the first item of its chunk */
  int on_worker;         /* a chunk ran on another thread than the caller */
} Record;

static pthread_t caller;

static void record(void *arg, long begin, long end, int thread) {
  Record *r = arg;
  for (long i = begin; i < end; i++) {
    r->hits[i]++;
    r->thread[i] = thread;
    r->chunk[i] = begin;
  }
  if (!pthread_equal(pthread_self(), caller)) {
    assert_int_not_equal(thread, 0); /* index 0 is the caller's */
    r->chunk[begin] = -1 - begin;    /* marked; read back by the caller after the run */
  } else {
    assert_int_equal(thread, 0);
  }
}

/* every item exactly once, with a thread index below the pool's threads; the chunks contiguous,
 * as many as the grain allows up to 8 per thread, each at least grain long (unless alone) */
static int check_split(nnrt_pool *pool, int threads, long count, long grain) {
  static Record r;
  memset(&r, 0, sizeof r);
  caller = pthread_self();
  nnrt_pool_run(pool, count, grain, record, &r);
  int chunks = 0, on_worker = 0;
  for (long i = 0; i < count; i++) {
    assert_int_equal(r.hits[i], 1);
    assert_in_range(r.thread[i], 0, threads - 1);
    if (r.chunk[i] < 0) { /* a worker's chunk starts here */
      on_worker = 1;
      r.chunk[i] = -1 - r.chunk[i];
    }
    if (r.chunk[i] == i) chunks++;
    else assert_int_equal(r.chunk[i], r.chunk[i - 1]);
  }
  if (count <= 0) {
    assert_int_equal(chunks, 0);
    return 0;
  }
  long want = count / (grain > 1 ? grain : 1);
  if (threads < 2 || want < 2) want = 1;
  if (want > 8L * threads) want = 8L * threads;
  assert_int_equal(chunks, want);
  for (long i = 0; i < count && chunks > 1; i++)
    if (r.chunk[i] == i) {
      long len = 1;
      while (i + len < count && r.chunk[i + len] == i) len++;
      assert_true(len >= grain);
    }
  return on_worker;
}

static void test_ranges_cover_each_item_once(void **state) {
  (void)state;
  for (int threads = 1; threads <= 5; threads++) {
    nnrt_pool *pool = nnrt_pool_new(threads);
    assert_non_null(pool);
    assert_int_equal(nnrt_pool_threads(pool), threads);
    int on_worker = 0;
    for (long count = -1; count <= MAX_COUNT; count += count < 20 ? 1 : 37)
      for (long grain = 0; grain <= 9; grain++) on_worker |= check_split(pool, threads, count, grain);
#ifdef NNC_NO_THREADS
    assert_false(on_worker);
#else
    if (threads == 1) assert_false(on_worker);
#endif
    nnrt_pool_free(pool);
  }
  check_split(NULL, 1, 50, 1); /* no pool: the caller alone */
  assert_int_equal(nnrt_pool_threads(NULL), 1);
}

/* The caller's chunks wait (up to 5 s) until a worker has run one: on a loaded machine the workers
 * may wake late, but they must take part. */
static void slow(void *arg, long begin, long end, int thread) {
  int *ran = arg;
  struct timespec pause = {0, 100000};
  (void)begin, (void)end;
#ifdef NNC_NO_THREADS
  (void)pause;
#else
  for (int i = 0; thread == 0 && i < 50000 && __atomic_load_n(&ran[1], __ATOMIC_RELAXED) +
                                                  __atomic_load_n(&ran[2], __ATOMIC_RELAXED) == 0; i++)
    nanosleep(&pause, NULL);
#endif
  __atomic_fetch_add(&ran[thread], 1, __ATOMIC_RELAXED);
}

static void test_workers_take_chunks(void **state) {
  (void)state;
  nnrt_pool *pool = nnrt_pool_new(3);
  int ran[3] = {0, 0, 0};
  nnrt_pool_run(pool, 48, 1, slow, ran);
  assert_int_equal(ran[0] + ran[1] + ran[2], 24); /* 8 chunks a thread */
#ifdef NNC_NO_THREADS
  assert_int_equal(ran[0], 24);
#else
  assert_true(ran[1] + ran[2] > 0);
#endif
  nnrt_pool_free(pool);
}

static void add_range(void *arg, long begin, long end, int thread) {
  long *sums = arg; /* one slot per thread, 8 apart: no false sharing to speak of */
  for (long i = begin; i < end; i++) sums[8 * thread] += i;
  sums[8 * thread + 1] += end - begin; /* items this thread ran */
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
    assert_int_equal(sums[1] + sums[9] + sums[17], count);
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
      cmocka_unit_test(test_workers_take_chunks),
      cmocka_unit_test(test_repeated_use),
      cmocka_unit_test(test_many_pools_at_once),
      cmocka_unit_test(test_bad_thread_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
