/* test_data.c — the IDX and CSV loaders and standardization of nnrt_data.c.
 *
 * Files are written by the tests into a fresh folder under /tmp, plain and gzipped. Malformed
 * files must be rejected with their exact message, a -1 and an empty dataset, never a crash or an
 * allocation sized by a lying header.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, truncate */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "nnrt.h"
#include "scratch_dir.h"
#include "nnrt_data.h"

typedef struct fixture {
  char dir[64];
  char images[128], labels[128], csv[128];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  strcpy(f->dir, "/tmp/nnrt-data-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  snprintf(f->images, sizeof f->images, "%s/images.idx", f->dir);
  snprintf(f->labels, sizeof f->labels, "%s/labels.idx", f->dir);
  snprintf(f->csv, sizeof f->csv, "%s/data.csv", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  nnrt_dataset_set_cache(""); /* a failed test may leave it on */
  scratch_dir_remove(f->dir);
  free(f);
  return 0;
}

static void write_file(const char *path, const void *p, size_t n, int gz) {
  if (gz) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    if (n) assert_int_equal(gzwrite(g, p, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
  }
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text), 0); }

/* An IDX buffer: magic (type, dims), big-endian dims, then `payload` bytes of value i*7 % 256. */
static size_t make_idx(unsigned char *buf, int type, int n_dims, const uint32_t *dims,
                       size_t payload) {
  size_t n = 0, i;
  int d;
  buf[n++] = 0, buf[n++] = 0, buf[n++] = (unsigned char)type, buf[n++] = (unsigned char)n_dims;
  for (d = 0; d < n_dims; d++) {
    buf[n++] = (unsigned char)(dims[d] >> 24), buf[n++] = (unsigned char)(dims[d] >> 16);
    buf[n++] = (unsigned char)(dims[d] >> 8), buf[n++] = (unsigned char)dims[d];
  }
  for (i = 0; i < payload; i++) buf[n++] = (unsigned char)(i * 7 % 256);
  return n;
}

/* 5 images of 2x3 and labels i*7%256 taken mod 3 by writing them directly. */
static void write_good_pair(fixture *f, int gz) {
  unsigned char buf[256];
  uint32_t idims[3] = {5, 2, 3}, ldims[1] = {5};
  size_t n = make_idx(buf, 0x08, 3, idims, 30);
  write_file(f->images, buf, n, gz);
  n = make_idx(buf, 0x08, 1, ldims, 0);
  buf[n++] = 2, buf[n++] = 0, buf[n++] = 1, buf[n++] = 2, buf[n++] = 1;
  write_file(f->labels, buf, n, gz);
}

static void assert_empty(const nnrt_dataset *ds) {
  assert_int_equal(ds->n, 0);
  assert_null(ds->x);
  assert_null(ds->pixels);
  assert_null(ds->labels);
  assert_null(ds->targets);
}

static void expect_idx_error(fixture *f, const char *message) {
  nnrt_dataset ds;
  nnrt_clear_error();
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
  assert_string_equal(nnrt_last_error(), message);
  assert_empty(&ds);
}

static void check_good(fixture *f, long limit, long expect_n) {
  nnrt_dataset ds;
  long i;
  static const int32_t labels[5] = {2, 0, 1, 2, 1};
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, limit), 0);
  assert_int_equal(ds.n, expect_n);
  assert_int_equal(ds.dim, 6);
  assert_int_equal(ds.rank, 2);
  assert_int_equal(ds.shape[0], 2);
  assert_int_equal(ds.shape[1], 3);
  assert_int_equal(ds.n_classes_seen, 3); /* every prefix used here holds label 2 */
  {
    float x[5 * 6];
    long order[6], k;
    nnrt_dataset_inputs(&ds, NULL, 0, (int)ds.n, x);
    for (i = 0; i < ds.n * ds.dim; i++) assert_true(x[i] == (float)(i * 7 % 256) / 255.0f);
    /* in a given order (a permutation, ds.n being odd), from a given position */
    for (k = 0; k < ds.n; k++) order[k + 1] = (2 * k + 1) % ds.n;
    nnrt_dataset_inputs(&ds, order, 1, (int)ds.n, x);
    for (i = 0; i < ds.n * ds.dim; i++) {
      long e = order[1 + i / 6];
      assert_true(x[i] == (float)((e * 6 + i % 6) * 7 % 256) / 255.0f);
    }
  }
  for (i = 0; i < ds.n; i++) assert_int_equal(ds.labels[i], labels[i]);
  assert_null(ds.targets);
  nnrt_dataset_free(&ds);
  assert_empty(&ds);
}

static void test_idx_good(void **state) {
  fixture *f = *state;
  write_good_pair(f, 0);
  check_good(f, 0, 5);
  check_good(f, 3, 3);
  check_good(f, 99, 5);
  write_good_pair(f, 1);
  check_good(f, 0, 5);
  check_good(f, 1, 1);
}

static void test_idx_bad_header(void **state) {
  fixture *f = *state;
  unsigned char buf[256];
  uint32_t dims[3] = {5, 2, 3};
  char expect[512];
  size_t n;
  write_good_pair(f, 0);

  n = make_idx(buf, 0x08, 3, dims, 30);
  buf[1] = 3;
  write_file(f->images, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: not an IDX file (bad magic number)", f->images);
  expect_idx_error(f, expect);

  n = make_idx(buf, 0x0D, 3, dims, 30);
  write_file(f->images, buf, n, 1);
  snprintf(expect, sizeof expect,
           "%s: IDX value type 0x0D, expected unsigned bytes (0x08) for images", f->images);
  expect_idx_error(f, expect);

  n = make_idx(buf, 0x08, 1, dims, 5);
  write_file(f->images, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: images have 1 dimensions, expected 2 to 4", f->images);
  expect_idx_error(f, expect);

  n = make_idx(buf, 0x08, 3, dims, 30);
  write_file(f->images, buf, n, 0);
  n = make_idx(buf, 0x08, 2, dims, 10);
  write_file(f->labels, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: labels have 2 dimensions, expected 1", f->labels);
  expect_idx_error(f, expect);

  n = make_idx(buf, 0x08, 1, dims, 5);
  write_file(f->labels, buf, 6, 0);
  snprintf(expect, sizeof expect, "%s: truncated in the header", f->labels);
  expect_idx_error(f, expect);

  write_file(f->images, "", 0, 0);
  snprintf(expect, sizeof expect, "%s: empty file, not an IDX file", f->images);
  expect_idx_error(f, expect);

  write_file(f->images, "\0\0", 2, 0);
  snprintf(expect, sizeof expect, "%s: not an IDX file (bad magic number)", f->images);
  expect_idx_error(f, expect);

  dims[1] = 0;
  n = make_idx(buf, 0x08, 3, dims, 0);
  write_file(f->images, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: dimension 2 of the images is 0", f->images);
  expect_idx_error(f, expect);
}

static void test_idx_truncated_and_trailing(void **state) {
  fixture *f = *state;
  unsigned char buf[256];
  uint32_t dims[3] = {5, 2, 3};
  char expect[512];
  size_t n;
  int gz;
  for (gz = 0; gz < 2; gz++) {
    write_good_pair(f, gz);
    n = make_idx(buf, 0x08, 3, dims, 29);
    write_file(f->images, buf, n, gz);
    snprintf(expect, sizeof expect,
             "%s: truncated: the header declares 5 images (30 bytes of data), the file has 29",
             f->images);
    expect_idx_error(f, expect);

    n = make_idx(buf, 0x08, 3, dims, 31);
    write_file(f->images, buf, n, gz);
    snprintf(expect, sizeof expect,
             "%s: unexpected bytes after the 5 images the header declares", f->images);
    expect_idx_error(f, expect);
  }
}

static void test_idx_count_mismatch(void **state) {
  fixture *f = *state;
  unsigned char buf[256];
  uint32_t dims[1] = {4};
  char expect[512];
  size_t n;
  write_good_pair(f, 0);
  n = make_idx(buf, 0x08, 1, dims, 4);
  write_file(f->labels, buf, n, 1);
  snprintf(expect, sizeof expect, "%s: 5 images, but %s has 4 labels", f->images, f->labels);
  expect_idx_error(f, expect);
}

/* Headers that promise far more than the file holds, or sizes that overflow. */
static void test_idx_huge_headers(void **state) {
  fixture *f = *state;
  unsigned char buf[256];
  uint32_t dims[4] = {0xFFFFFFFFu, 28, 28, 1}, ldims[1] = {0xFFFFFFFFu};
  char expect[512];
  size_t n;
  n = make_idx(buf, 0x08, 3, dims, 100);
  write_file(f->images, buf, n, 0);
  n = make_idx(buf, 0x08, 1, ldims, 10);
  write_file(f->labels, buf, n, 0);
  snprintf(expect, sizeof expect,
           "%s: truncated: the header declares 4294967295 images (3367254359280 bytes of data), "
           "the file has 100",
           f->images);
  expect_idx_error(f, expect);

  dims[1] = dims[2] = dims[3] = 65536;
  n = make_idx(buf, 0x08, 4, dims, 10);
  write_file(f->images, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: each example has more than 2147483647 values", f->images);
  expect_idx_error(f, expect);

  dims[0] = 0, dims[1] = dims[2] = 28;
  ldims[0] = 0;
  n = make_idx(buf, 0x08, 1, ldims, 0);
  write_file(f->labels, buf, n, 0);
  n = make_idx(buf, 0x08, 3, dims, 0);
  write_file(f->images, buf, n, 0);
  snprintf(expect, sizeof expect, "%s: no examples", f->images);
  expect_idx_error(f, expect);
}

static void test_idx_missing_and_corrupt_gzip(void **state) {
  fixture *f = *state;
  char expect[512];
  static const unsigned char junk[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef,
                                       0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory", f->images);
  expect_idx_error(f, expect);
  write_good_pair(f, 0);
  {
    nnrt_dataset ds;
    assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->dir, 0), -1);
    snprintf(expect, sizeof expect, "%s: read error: Is a directory", f->dir);
    assert_string_equal(nnrt_last_error(), expect);
  }
  write_file(f->images, junk, sizeof junk, 0);
  {
    nnrt_dataset ds;
    assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
    snprintf(expect, sizeof expect, "%s: corrupt gzip data: ", f->images);
    assert_memory_equal(nnrt_last_error(), expect, strlen(expect));
    assert_empty(&ds);
  }
}

/* A gzip file cut short: zlib reports the early end, which reads as truncation. */
static void test_idx_truncated_gzip(void **state) {
  fixture *f = *state;
  unsigned char buf[4096];
  char expect[512];
  uint32_t dims[3] = {50, 8, 8};
  size_t n;
  FILE *fp;
  nnrt_dataset ds;
  n = make_idx(buf, 0x08, 1, dims, 50);
  write_file(f->labels, buf, n, 0);
  n = make_idx(buf, 0x08, 3, dims, 3200);
  write_file(f->images, buf, n, 1);
  fp = fopen(f->images, "rb");
  n = fread(buf, 1, sizeof buf, fp);
  fclose(fp);
  write_file(f->images, buf, n - 30, 0);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
  snprintf(expect, sizeof expect, "%s: truncated: the header declares 50 images", f->images);
  assert_memory_equal(nnrt_last_error(), expect, strlen(expect));
  assert_empty(&ds);

  /* cut inside the gzip header: not "empty file" */
  write_file(f->images, buf, 12, 0);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
  snprintf(expect, sizeof expect, "%s: truncated gzip file: it ends before the IDX header", f->images);
  assert_string_equal(nnrt_last_error(), expect);
  assert_empty(&ds);
}

/* Bytes after a complete gzip stream are an error; a second gzip member is data (as gzip -d). */
static void test_gzip_trailing_bytes(void **state) {
  fixture *f = *state;
  unsigned char buf[8192];
  char expect[512];
  uint32_t dims[3] = {50, 8, 8};
  size_t n;
  FILE *fp;
  nnrt_dataset ds;
  n = make_idx(buf, 0x08, 1, dims, 50);
  write_file(f->labels, buf, n, 1);
  n = make_idx(buf, 0x08, 3, dims, 3200);
  write_file(f->images, buf, n, 1);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), 0);
  nnrt_dataset_free(&ds);
  fp = fopen(f->labels, "ab");
  assert_non_null(fp);
  fputs("garbage after the stream", fp);
  fclose(fp);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
  snprintf(expect, sizeof expect, "%s: unexpected bytes after the end of the gzip data", f->labels);
  assert_string_equal(nnrt_last_error(), expect);
  assert_empty(&ds);

  /* a CSV file too */
  write_file(f->csv, "0,1,2\n1,3,4\n", 12, 1);
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), 0);
  nnrt_dataset_free(&ds);
  fp = fopen(f->csv, "ab");
  assert_non_null(fp);
  fputs("\x01\x02junk", fp);
  fclose(fp);
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), -1);
  snprintf(expect, sizeof expect, "%s: unexpected bytes after the end of the gzip data", f->csv);
  assert_string_equal(nnrt_last_error(), expect);
  assert_empty(&ds);
}

/* Images larger than the loader's read sizes (64 kB, 1 MB), plain, gzip in one member and in
 * three (gzip -d reads them as one), whole and cut by a limit inside a read: every pixel where it
 * belongs. */
static void test_idx_large_and_members(void **state) {
  fixture *f = *state;
  enum { COUNT = 700, SIDE = 40 }; /* 1.12 MB of pixels */
  size_t payload = (size_t)COUNT * SIDE * SIDE, n, i;
  uint32_t idims[3] = {COUNT, SIDE, SIDE}, ldims[1] = {COUNT};
  unsigned char *buf = malloc(payload + 64), lbuf[COUNT + 16];
  float *x = malloc(sizeof(float) * payload);
  int form;
  assert_non_null(buf);
  assert_non_null(x);
  n = make_idx(lbuf, 0x08, 1, ldims, 0);
  for (i = 0; i < COUNT; i++) lbuf[n++] = (unsigned char)(i % 10);
  write_file(f->labels, lbuf, n, 1);
  n = make_idx(buf, 0x08, 3, idims, payload);
  for (form = 0; form < 3; form++) {
    long limits[2] = {0, 411}, k;
    if (form < 2) {
      write_file(f->images, buf, n, form);
    } else {
      size_t cut[4] = {0, 5, 300001, n};
      FILE *fp = fopen(f->images, "wb");
      char part[160];
      int m;
      assert_non_null(fp);
      for (m = 0; m < 3; m++) {
        FILE *in;
        size_t got;
        unsigned char *z = malloc(n + 1024);
        snprintf(part, sizeof part, "%s.part", f->images);
        write_file(part, buf + cut[m], cut[m + 1] - cut[m], 1);
        in = fopen(part, "rb");
        assert_non_null(in);
        got = fread(z, 1, n + 1024, in);
        fclose(in);
        assert_int_equal(fwrite(z, 1, got, fp), got);
        free(z);
        remove(part);
      }
      assert_int_equal(fclose(fp), 0);
    }
    for (k = 0; k < 2; k++) {
      nnrt_dataset ds;
      long e;
      assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, limits[k]), 0);
      assert_int_equal(ds.n, limits[k] ? limits[k] : COUNT);
      nnrt_dataset_inputs(&ds, NULL, 0, (int)ds.n, x);
      for (i = 0; i < (size_t)ds.n * SIDE * SIDE; i++)
        if (x[i] != (float)(i * 7 % 256) / 255.0f) fail_msg("form %d, limit %ld: pixel %zu is %g", form, limits[k], i, x[i]);
      for (e = 0; e < ds.n; e++) assert_int_equal(ds.labels[e], e % 10);
      nnrt_dataset_free(&ds);
    }
  }
  free(buf);
  free(x);
}

/* ---- the cache of inflated gzip IDX files ---- */

/* Counts the entries of dir whose name ends in suffix. */
static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name), sl = strlen(suffix);
    if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0) n++;
  }
  if (d) closedir(d);
  return n;
}

/* The path of the one cache file in dir that is `bytes` long (one per source file). */
static void cache_file_of_size(const char *dir, long bytes, char *out, size_t size) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    FILE *fp;
    if ((size_t)snprintf(out, size, "%s/%s", dir, e->d_name) >= size) continue;
    if (e->d_name[0] == '.' || !(fp = fopen(out, "rb"))) continue;
    fseek(fp, 0, SEEK_END);
    if (ftell(fp) == bytes) found++;
    fclose(fp);
    if (found) break;
  }
  closedir(d);
  assert_int_equal(found, 1);
}

/* Loads the pair with the cache off and on (cold, then warm, as `use` says), with and without a
 * limit, and checks that the cache changes nothing: the same bytes, labels and shape. Returns
 * how many of the two cached loads used a mapped cache file. */
static int same_with_cache(fixture *f, const char *cache) {
  nnrt_dataset plain, cached;
  long limits[2] = {0, 411};
  int k, mapped = 0;
  for (k = 0; k < 2; k++) {
    nnrt_dataset_set_cache("");
    assert_int_equal(nnrt_dataset_load_idx(&plain, f->images, f->labels, limits[k]), 0);
    assert_null(plain.mapping);
    nnrt_dataset_set_cache(cache);
    assert_int_equal(nnrt_dataset_load_idx(&cached, f->images, f->labels, limits[k]), 0);
    mapped += cached.mapping != NULL;
    assert_int_equal(cached.n, plain.n);
    assert_int_equal(cached.dim, plain.dim);
    assert_int_equal(cached.rank, plain.rank);
    assert_memory_equal(cached.shape, plain.shape, sizeof plain.shape);
    assert_memory_equal(cached.pixels, plain.pixels, (size_t)plain.n * (size_t)plain.dim);
    assert_memory_equal(cached.labels, plain.labels, (size_t)plain.n * sizeof *plain.labels);
    assert_int_equal(cached.n_classes_seen, plain.n_classes_seen);
    nnrt_dataset_free(&cached);
    assert_empty(&cached);
    nnrt_dataset_free(&plain);
  }
  nnrt_dataset_set_cache("");
  return mapped;
}

/* gzip IDX files are inflated once into the cache folder and mapped afterwards, with the same
 * result; a stale, corrupt or truncated cache file is ignored and rewritten; a cache folder that
 * cannot be made means no cache; files that fail to load, and plain files, are not cached. */
static void test_idx_cache(void **state) {
  fixture *f = *state;
  enum { COUNT = 700, SIDE = 40 };
  size_t payload = (size_t)COUNT * SIDE * SIDE, n, i;
  uint32_t idims[3] = {COUNT, SIDE, SIDE}, ldims[1] = {COUNT};
  unsigned char *buf = malloc(payload + 64), lbuf[COUNT + 16];
  char cache[128], entry[256], bad[256];
  long image_cache_bytes = 80 + 16 + (long)payload;
  FILE *fp;
  nnrt_dataset ds;
  assert_non_null(buf);
  snprintf(cache, sizeof cache, "%s/cache/nnc", f->dir); /* made with its parent */
  n = make_idx(lbuf, 0x08, 1, ldims, 0);
  for (i = 0; i < COUNT; i++) lbuf[n++] = (unsigned char)(i % 10);
  write_file(f->labels, lbuf, n, 1);
  n = make_idx(buf, 0x08, 3, idims, payload);
  write_file(f->images, buf, n, 1);

  /* cold, then warm: both files cached, the images used in place */
  assert_int_equal(same_with_cache(f, cache), 1);
  assert_int_equal(same_with_cache(f, cache), 2);
  assert_int_equal(count_files(cache, ".idx"), 2);
  assert_int_equal(count_files(cache, "-0") + count_files(cache, "-1") + count_files(cache, "-2") +
                       count_files(cache, "-3") + count_files(cache, "-4") + count_files(cache, "-5") +
                       count_files(cache, "-6") + count_files(cache, "-7") + count_files(cache, "-8") +
                       count_files(cache, "-9"),
                   0); /* no temporary left */

  /* a flipped byte in the cached images (their last one): ignored, then rewritten */
  cache_file_of_size(cache, image_cache_bytes, entry, sizeof entry);
  fp = fopen(entry, "r+b");
  assert_non_null(fp);
  fseek(fp, image_cache_bytes - 1, SEEK_SET);
  fputc(0xAA ^ buf[n - 1], fp);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(same_with_cache(f, cache), 1); /* the first load after it inflated again */
  assert_int_equal(same_with_cache(f, cache), 2);

  /* a truncated cache file: ignored, then rewritten */
  assert_int_equal(truncate(entry, image_cache_bytes - 100), 0);
  assert_int_equal(same_with_cache(f, cache), 1);
  assert_int_equal(same_with_cache(f, cache), 2);
  cache_file_of_size(cache, image_cache_bytes, entry, sizeof entry);

  /* the source changes (other pixels, the same size): the cache is stale */
  for (i = 16; i < n; i++) buf[i] = (unsigned char)(255 - buf[i]);
  write_file(f->images, buf, n, 1);
  nnrt_dataset_set_cache(cache);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), 0);
  assert_null(ds.mapping);
  assert_memory_equal(ds.pixels, buf + 16, payload);
  nnrt_dataset_free(&ds);
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), 0);
  assert_non_null(ds.mapping);
  assert_memory_equal(ds.pixels, buf + 16, payload);
  nnrt_dataset_free(&ds);
  nnrt_dataset_set_cache("");
  assert_int_equal(count_files(cache, ".idx"), 2); /* rewritten in place, not added */

  /* errors read from the cache are the source's: labels that do not match cached images */
  lbuf[6] = 1, lbuf[7] = 44; /* 300 labels */
  write_file(f->labels, lbuf, 8 + 300, 1);
  nnrt_dataset_set_cache(cache);
  {
    char expect[512];
    snprintf(expect, sizeof expect, "%s: 700 images, but %s has 300 labels", f->images, f->labels);
    expect_idx_error(f, expect);
  }

  /* a load that fails leaves no cache behind: a truncated gzip file */
  scratch_dir_empty(cache, 0);
  n = make_idx(lbuf, 0x08, 1, ldims, 0);
  for (i = 0; i < COUNT; i++) lbuf[n++] = (unsigned char)(i % 10);
  write_file(f->labels, lbuf, n, 1);
  fp = fopen(f->images, "rb");
  n = fread(buf, 1, payload + 64, fp);
  fclose(fp);
  write_file(f->images, buf, n - 30, 0);
  nnrt_clear_error();
  assert_int_equal(nnrt_dataset_load_idx(&ds, f->images, f->labels, 0), -1);
  assert_empty(&ds);
  assert_int_equal(count_files(cache, ""), 2); /* . and .. only: no cache, no temporary */

  /* plain files are read directly, never cached */
  scratch_dir_empty(cache, 0);
  write_good_pair(f, 0);
  check_good(f, 0, 5);
  assert_int_equal(count_files(cache, ".idx"), 0);

  /* a cache folder that cannot be made (its parent is a file): no cache, the same data */
  write_good_pair(f, 1);
  snprintf(bad, sizeof bad, "%s/sub", f->images);
  nnrt_dataset_set_cache(bad);
  check_good(f, 0, 5);
  check_good(f, 0, 5);
  nnrt_dataset_set_cache("");
  scratch_dir_remove(cache); /* two levels down: teardown removes its parent */
  free(buf);
}

/* The default folder: NNC_CACHE_DIR, else XDG_CACHE_HOME/nnc, else HOME/.cache/nnc, else none. */
static void test_cache_default_dir(void **state) {
  (void)state;
  setenv("NNC_CACHE_DIR", "/x/c", 1);
  setenv("XDG_CACHE_HOME", "/x/xdg", 1);
  setenv("HOME", "/x/home", 1);
  nnrt_dataset_set_cache(NULL);
  assert_string_equal(nnrt_dataset_cache_dir(), "/x/c");
  unsetenv("NNC_CACHE_DIR");
  nnrt_dataset_set_cache(NULL);
  assert_string_equal(nnrt_dataset_cache_dir(), "/x/xdg/nnc");
  setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the XDG spec says */
  nnrt_dataset_set_cache(NULL);
  assert_string_equal(nnrt_dataset_cache_dir(), "/x/home/.cache/nnc");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  nnrt_dataset_set_cache(NULL);
  assert_string_equal(nnrt_dataset_cache_dir(), "");
  nnrt_dataset_set_cache("");
}

/* ---- CSV ---- */

static void expect_csv_error(fixture *f, const char *text, int target_dim, const char *message) {
  nnrt_dataset ds;
  char expect[512];
  write_text(f->csv, text);
  nnrt_clear_error();
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, target_dim, 0), -1);
  snprintf(expect, sizeof expect, "%s%s", f->csv, message);
  assert_string_equal(nnrt_last_error(), expect);
  assert_empty(&ds);
}

static void test_csv_labels(void **state) {
  fixture *f = *state;
  nnrt_dataset ds;
  write_text(f->csv, "label,a,b,c\r\n"
                     "1, 0.5, -2, 3e2\r\n"
                     "\r\n"
                     "0,1,2,3\r\n"
                     "  4 ,\t7,8,9"); /* no final newline */
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), 0);
  assert_int_equal(ds.n, 3);
  assert_int_equal(ds.dim, 3);
  assert_int_equal(ds.rank, 1);
  assert_int_equal(ds.shape[0], 3);
  assert_int_equal(ds.n_classes_seen, 5);
  assert_int_equal(ds.labels[0], 1);
  assert_int_equal(ds.labels[2], 4);
  assert_true(ds.x[0] == 0.5f && ds.x[1] == -2.0f && ds.x[2] == 300.0f && ds.x[8] == 9.0f);
  assert_null(ds.targets);
  nnrt_dataset_free(&ds);

  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 2), 0);
  assert_int_equal(ds.n, 2);
  nnrt_dataset_free(&ds);
}

static void test_csv_targets_and_gzip(void **state) {
  fixture *f = *state;
  nnrt_dataset ds;
  static const char text[] = "0.5,1.5,10,20,30\n-1,2,40,50,60\n";
  write_file(f->csv, text, sizeof text - 1, 1);
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 2, 0), 0);
  assert_int_equal(ds.n, 2);
  assert_int_equal(ds.dim, 3);
  assert_int_equal(ds.target_dim, 2);
  assert_null(ds.labels);
  assert_true(ds.targets[0] == 0.5f && ds.targets[1] == 1.5f && ds.targets[2] == -1.0f);
  assert_true(ds.x[0] == 10.0f && ds.x[5] == 60.0f);
  nnrt_dataset_free(&ds);
}

/* A line longer than the reader's first buffer. */
static void test_csv_long_line(void **state) {
  fixture *f = *state;
  nnrt_dataset ds;
  size_t cols = 3000, i, len = 0;
  char *text = malloc(cols * 4 + 16);
  assert_non_null(text);
  len += (size_t)sprintf(text + len, "1");
  for (i = 0; i < cols; i++) len += (size_t)sprintf(text + len, ",%d", (int)(i % 10));
  len += (size_t)sprintf(text + len, "\n");
  write_text(f->csv, text);
  free(text);
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), 0);
  assert_int_equal(ds.dim, 3000);
  assert_true(ds.x[2999] == 9.0f);
  nnrt_dataset_free(&ds);
}

static void test_csv_errors(void **state) {
  fixture *f = *state;
  expect_csv_error(f, "1,2,3\n0,abc,3\n", 0, ":2: column 2: 'abc' is not a number");
  expect_csv_error(f, "y,a,b\n1,2,3\n0,1,2,3\n", 0, ":3: 4 columns, expected 3 (as on line 2)");
  expect_csv_error(f, "1,2,3\n1.5,1,2\n", 0, ":2: label '1.5' is not a class id (an integer >= 0)");
  expect_csv_error(f, "-1,2,3\n", 0, ":1: label '-1' is not a class id (an integer >= 0)");
  expect_csv_error(f, "1,2,\n", 0, ":1: column 3 is empty");
  expect_csv_error(f, "1,nan,2\n", 0, ":1: column 2: 'nan' is not a finite number");
  expect_csv_error(f, "1,2,1e999\n", 0, ":1: column 3: '1e999' is not a finite number");
  /* finite doubles that a float cannot hold (they used to load as infinities) */
  expect_csv_error(f, "1,2,3\n1,1e39,2\n", 0, ":2: column 2: '1e39' is beyond the float range (about 3.4e38)");
  expect_csv_error(f, "1,2,-1e308\n", 0, ":1: column 3: '-1e308' is beyond the float range (about 3.4e38)");
  expect_csv_error(f, "1e39,2,3\n", 1, ":1: column 1: '1e39' is beyond the float range (about 3.4e38)");
  expect_csv_error(f, "label,a\n", 0, ": no data rows");
  expect_csv_error(f, "", 0, ": no data rows");
  expect_csv_error(f, "3\n", 0, ":1: 1 column, need a label and at least one input value");
  expect_csv_error(f, "3,4\n", 2, ":1: 2 columns, need the targets and at least one input value");
}

static void test_csv_nul_byte(void **state) {
  fixture *f = *state;
  nnrt_dataset ds;
  char expect[512];
  static const char text[] = "1,2\n1,2\0,3\n4,5\n";
  write_file(f->csv, text, sizeof text - 1, 0);
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), -1);
  snprintf(expect, sizeof expect, "%s:2: NUL byte in line (not a text file?)", f->csv);
  assert_string_equal(nnrt_last_error(), expect);
  assert_empty(&ds);
}

static void test_csv_missing(void **state) {
  fixture *f = *state;
  nnrt_dataset ds;
  char expect[512];
  assert_int_equal(nnrt_dataset_load_csv(&ds, f->csv, 0, 0), -1);
  snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory", f->csv);
  assert_string_equal(nnrt_last_error(), expect);
}

static void test_standardize(void **state) {
  fixture *f = *state;
  nnrt_dataset a, b;
  float mean, std;
  write_text(f->csv, "0,1,2\n1,3,4\n"); /* inputs 1,2,3,4: mean 2.5, std sqrt(1.25) */
  assert_int_equal(nnrt_dataset_load_csv(&a, f->csv, 0, 0), 0);
  assert_int_equal(nnrt_dataset_load_csv(&b, f->csv, 0, 0), 0);
  nnrt_dataset_stats(&a, &mean, &std);
  assert_true(fabsf(mean - 2.5f) < 1e-6f);
  assert_true(fabsf(std - sqrtf(1.25f)) < 1e-6f);
  nnrt_dataset_standardize(&a, mean, std);
  nnrt_dataset_standardize(&b, mean, std);
  assert_true(fabsf(a.x[0] - (1 - 2.5f) / sqrtf(1.25f)) < 1e-6f);
  assert_memory_equal(a.x, b.x, 4 * sizeof(float));
  nnrt_dataset_stats(&a, &mean, &std);
  assert_true(fabsf(mean) < 1e-6f && fabsf(std - 1) < 1e-6f);
  nnrt_dataset_free(&a);
  nnrt_dataset_free(&b);

  /* A constant input gives std 1, not a division by zero. */
  write_text(f->csv, "0,5,5\n1,5,5\n");
  assert_int_equal(nnrt_dataset_load_csv(&a, f->csv, 0, 0), 0);
  nnrt_dataset_stats(&a, &mean, &std);
  assert_true(mean == 5.0f && std == 1.0f);
  nnrt_dataset_free(&a);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_idx_good),
      T(test_idx_bad_header),
      T(test_idx_truncated_and_trailing),
      T(test_idx_count_mismatch),
      T(test_idx_huge_headers),
      T(test_idx_missing_and_corrupt_gzip),
      T(test_idx_truncated_gzip),
      T(test_gzip_trailing_bytes),
      T(test_idx_large_and_members),
      T(test_idx_cache),
      T(test_cache_default_dir),
      T(test_csv_labels),
      T(test_csv_targets_and_gzip),
      T(test_csv_long_line),
      T(test_csv_errors),
      T(test_csv_nul_byte),
      T(test_csv_missing),
      T(test_standardize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
