/* nnrt_data.c — IDX and CSV dataset loaders and input standardization (see nnrt_data.h).
 *
 * Compression is detected by content, not by name, and a gzip file must end where its last member
 * does. IDX files, which are large (Fashion-MNIST's training images: 47 MB), go through
 * idx_reader: one pass of zlib's inflate straight into the dataset's bytes, which also sees where
 * each gzip member ends. CSV files go through zlib's gz* interface, which passes plain files
 * through unchanged, plus gz_check_end (gzread alone ignores bytes after the last member). Sizes
 * from a header are checked for overflow and then only bound the read: arrays grow as data
 * actually arrives, so a header that claims billions of examples costs nothing before the file
 * runs out. IDX images stay bytes; they become floats a batch at a time (nnrt_dataset_inputs).
 *
 * The cache (nnrt_dataset_set_cache): inflating Fashion-MNIST's training images takes about
 * 0.3 s, longer than the rest of a trainer's start, so a gzip IDX file's inflated bytes are kept in
 * the cache folder, written beside inflation (a temporary file, renamed into place only after the
 * whole file inflated and passed every check, so a partial or failed write leaves no cache) and
 * mapped read-only next time, when the images' bytes are used where they lie. A cache file names
 * its source by a hash of the path and records the source's device, inode, size and modification
 * time and a checksum of its bytes: any mismatch, a short file or an unreadable folder means no
 * cache, and the file is inflated as without one (and the cache rewritten when possible).
 */
#if !defined(_POSIX_C_SOURCE) && (defined(__unix__) || defined(__APPLE__))
#define _POSIX_C_SOURCE 200809L /* mmap, fstat's st_mtim, mkdir, getpid */
#endif
#include "nnrt_data.h"

#include "nnrt.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define NNRT_DATA_CACHE 1
#endif

#define IDX_UBYTE 0x08
#define CHUNK (1u << 16)             /* bytes per gzread */
#define MAX_CSV_LINE (1L << 30)      /* longest CSV line accepted, in bytes */
#define MAX_CSV_COLUMNS (1 << 24)

/* ---- small helpers ---- */

/* Makes room for `need` elements of `size` bytes in *buf (capacity *cap elements), doubling so
 * that appending is amortised O(1). Returns 0 when the size overflows or memory runs out. */
static int grow(void **buf, size_t *cap, size_t need, size_t size) {
  size_t new_cap;
  void *p;
  if (need <= *cap) return 1;
  new_cap = *cap ? *cap : 1024;
  while (new_cap < need) {
    if (new_cap > ((size_t)-1 / size) / 2) {
      new_cap = need;
      break;
    }
    new_cap *= 2;
  }
  if (new_cap > (size_t)-1 / size) return 0;
  p = realloc(*buf, new_cap * size);
  if (!p) return 0;
  *buf = p;
  *cap = new_cap;
  return 1;
}

static uint32_t be_u32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static gzFile open_gz(const char *path) {
  gzFile g;
  errno = 0;
  g = gzopen(path, "rb");
  if (!g) {
    nnrt_set_error("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    return NULL;
  }
  gzbuffer(g, CHUNK);
  return g;
}

/* ---- the cache of inflated IDX files ---- */

static char cache_dir[4096]; /* "" = no cache */

/* A checksum of a byte stream that does not depend on how it is cut into pieces: 64-bit words
 * summed, and the running sums summed (Fletcher's scheme, modulo 2^64), so that a changed,
 * missing or moved word changes it. About as fast as reading the bytes. */
typedef struct checksum {
  uint64_t s1, s2;
  unsigned char part[8]; /* the bytes of an incomplete word */
  int n_part;
  uint64_t length;
} checksum;

static void checksum_word(checksum *c, const unsigned char *p) {
  uint64_t w = 0;
  int k;
  for (k = 7; k >= 0; k--) w = (w << 8) | p[k]; /* little-endian on any host */
  c->s1 += w;
  c->s2 += c->s1;
}

static void checksum_add(checksum *c, const unsigned char *p, size_t n) {
  c->length += n;
  while (c->n_part > 0 && c->n_part < 8 && n > 0) c->part[c->n_part++] = *p++, n--;
  if (c->n_part == 8) {
    checksum_word(c, c->part);
    c->n_part = 0;
  }
  for (; n >= 8; p += 8, n -= 8) checksum_word(c, p);
  while (n > 0) c->part[c->n_part++] = *p++, n--;
}

/* s1 and s2 with the last partial word (zero-padded) and the length folded in */
static void checksum_end(checksum *c, uint64_t out[2]) {
  unsigned char last[8] = {0};
  memcpy(last, c->part, (size_t)c->n_part);
  checksum_word(c, last);
  out[0] = c->s1 ^ c->length;
  out[1] = c->s2;
}

void nnrt_dataset_set_cache(const char *dir) {
  const char *env;
  cache_dir[0] = '\0';
  if (!dir) {
    if ((env = getenv("NNC_CACHE_DIR")) != NULL && *env)
      snprintf(cache_dir, sizeof cache_dir, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/')
      snprintf(cache_dir, sizeof cache_dir, "%s/nnc", env);
    else if ((env = getenv("HOME")) != NULL && env[0] == '/')
      snprintf(cache_dir, sizeof cache_dir, "%s/.cache/nnc", env);
    return;
  }
  if (strlen(dir) < sizeof cache_dir - 64) strcpy(cache_dir, dir);
}

const char *nnrt_dataset_cache_dir(void) { return cache_dir; }

#define CACHE_MAGIC "nnc-idx1"
#define CACHE_HEADER 80 /* magic, then 9 u64: dev, ino, size, mtime s, ns, length, checksum x2, 0 */

static void put_u64(unsigned char *p, uint64_t v) {
  int k;
  for (k = 0; k < 8; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  int k;
  for (k = 7; k >= 0; k--) v = (v << 8) | p[k];
  return v;
}

#ifdef NNRT_DATA_CACHE
/* What identifies a source file's version: device, inode, size, modification time */
static void source_identity(const struct stat *st, uint64_t id[5]) {
  id[0] = (uint64_t)st->st_dev;
  id[1] = (uint64_t)st->st_ino;
  id[2] = (uint64_t)st->st_size;
  id[3] = (uint64_t)st->st_mtime;
#if defined(__APPLE__)
  id[4] = (uint64_t)st->st_mtimespec.tv_nsec;
#else
  id[4] = (uint64_t)st->st_mtim.tv_nsec;
#endif
}

/* cache_dir/HASH.idx, HASH being FNV-1a of the source's path (made absolute); 0 when there is no
 * cache folder or the path does not fit */
static int cache_path_of(const char *source, char *out, size_t size) {
  uint64_t h = UINT64_C(14695981039346656037);
  char cwd[4096];
  const char *p;
  if (!cache_dir[0]) return 0;
  if (source[0] != '/') {
    if (!getcwd(cwd, sizeof cwd)) return 0;
    for (p = cwd; *p; p++) h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
    h = (h ^ '/') * UINT64_C(1099511628211);
  }
  for (p = source; *p; p++) h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
  return snprintf(out, size, "%s/%016llx.idx", cache_dir, (unsigned long long)h) < (int)size;
}

/* mkdir -p of the cache folder (private to the user); 0 when it exists afterwards */
static int make_cache_dir(void) {
  char path[sizeof cache_dir];
  char *p;
  struct stat st;
  strcpy(path, cache_dir);
  for (p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(path, 0700);
    *p = '/';
  }
  mkdir(path, 0700);
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* Maps the cache file of the source whose identity is `id`: its inflated bytes, after checking
 * the identity, the length and the checksum. NULL when there is none or it does not match. */
static unsigned char *cache_map(const char *cache_path, const uint64_t id[5], size_t *map_len) {
  unsigned char *map;
  struct stat st;
  uint64_t sum[2];
  checksum c;
  int fd = open(cache_path, O_RDONLY), k;
  if (fd < 0) return NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < CACHE_HEADER ||
      (uint64_t)st.st_size > (uint64_t)((size_t)-1 / 2)) {
    close(fd);
    return NULL;
  }
  map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return NULL;
  *map_len = (size_t)st.st_size;
  if (memcmp(map, CACHE_MAGIC, 8) != 0) goto stale;
  for (k = 0; k < 5; k++)
    if (get_u64(map + 8 + 8 * k) != id[k]) goto stale;
  if (get_u64(map + 48) != *map_len - CACHE_HEADER) goto stale;
  memset(&c, 0, sizeof c);
  checksum_add(&c, map + CACHE_HEADER, *map_len - CACHE_HEADER);
  checksum_end(&c, sum);
  if (get_u64(map + 56) != sum[0] || get_u64(map + 64) != sum[1]) goto stale;
  return map;
stale:
  munmap(map, *map_len);
  return NULL;
}
#endif

/* ---- one pass over an IDX file, plain or gzip ---- */

typedef struct idx_reader {
  FILE *f;
  const char *path;
  unsigned char *in; /* CHUNK bytes read ahead from the file */
  size_t in_pos, in_len;
  int at_eof;        /* the file has no more bytes */
  int gzip;          /* the file starts with gzip's magic 1f 8b */
  int member_end;    /* inflate finished a gzip member: another must follow, or nothing */
  int cut_short;     /* the gzip data ended inside a member */
  z_stream z;
  int z_ready;
  /* the cache (gzip files only): either a valid cache file mapped, whose bytes are read instead of
     the source's, or a temporary file that the inflated bytes are copied into */
  unsigned char *map;   /* the cache file; its bytes start at map + CACHE_HEADER */
  size_t map_len, map_pos;
  FILE *tee;            /* the cache being written; NULL after a write error */
  checksum tee_sum;
  uint64_t id[5];       /* the source's identity */
  char cache_path[4200], tee_path[4240];
} idx_reader;

/* Refills r->in; -1 after setting the error on a read error. */
static int reader_fill(idx_reader *r) {
  size_t got;
  r->in_pos = r->in_len = 0;
  if (r->at_eof) return 0;
  errno = 0;
  got = fread(r->in, 1, CHUNK, r->f);
  if (got == 0 && ferror(r->f)) {
    nnrt_set_error("%s: read error: %s", r->path, errno ? strerror(errno) : "I/O error");
    return -1;
  }
  if (got < CHUNK) r->at_eof = 1;
  r->in_pos = 0;
  r->in_len = got;
  return 0;
}

static int reader_open(idx_reader *r, const char *path) {
  memset(r, 0, sizeof *r);
  r->path = path;
  errno = 0;
  r->f = fopen(path, "rb");
  if (!r->f) {
    nnrt_set_error("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    return -1;
  }
  r->in = malloc(CHUNK);
  if (!r->in) {
    nnrt_set_error("%s: out of memory", path);
    return -1;
  }
  if (reader_fill(r) != 0) return -1;
  r->gzip = r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
  if (r->gzip) {
    if (inflateInit2(&r->z, 16 + MAX_WBITS) != Z_OK) {
      nnrt_set_error("%s: out of memory", path);
      return -1;
    }
    r->z_ready = 1;
#ifdef NNRT_DATA_CACHE
    {
      struct stat st;
      if (fstat(fileno(r->f), &st) == 0 && cache_path_of(path, r->cache_path, sizeof r->cache_path)) {
        source_identity(&st, r->id);
        r->map = cache_map(r->cache_path, r->id, &r->map_len);
        r->map_pos = CACHE_HEADER;
        if (!r->map && make_cache_dir() == 0) {
          /* named after this process, so that trainers started together do not collide */
          snprintf(r->tee_path, sizeof r->tee_path, "%s.tmp-%ld", r->cache_path, (long)getpid());
          if ((r->tee = fopen(r->tee_path, "wb")) != NULL) {
            static const unsigned char room[CACHE_HEADER] = {0}; /* the header, written at the end */
            if (fwrite(room, 1, CACHE_HEADER, r->tee) != CACHE_HEADER) {
              fclose(r->tee);
              r->tee = NULL;
              remove(r->tee_path);
            }
          }
        }
      }
    }
#endif
  }
  return 0;
}

static void tee_abandon(idx_reader *r) {
  if (!r->tee) return;
  fclose(r->tee);
  r->tee = NULL;
  remove(r->tee_path);
}

/* The whole gzip file inflated and passed every check: its cache goes into place. Any failure
 * only means there is no cache. */
static void reader_commit_cache(idx_reader *r) {
  unsigned char head[CACHE_HEADER];
  uint64_t sum[2];
  int k;
  if (!r->tee) return;
  if (!r->member_end || r->cut_short) {
    tee_abandon(r);
    return;
  }
  memset(head, 0, sizeof head);
  memcpy(head, CACHE_MAGIC, 8);
  for (k = 0; k < 5; k++) put_u64(head + 8 + 8 * k, r->id[k]);
  put_u64(head + 48, r->tee_sum.length);
  checksum_end(&r->tee_sum, sum);
  put_u64(head + 56, sum[0]);
  put_u64(head + 64, sum[1]);
  if (fseek(r->tee, 0, SEEK_SET) != 0 || fwrite(head, 1, sizeof head, r->tee) != sizeof head) {
    tee_abandon(r);
    return;
  }
  k = fclose(r->tee);
  r->tee = NULL;
  if (k != 0 || rename(r->tee_path, r->cache_path) != 0) remove(r->tee_path);
}

static void reader_close(idx_reader *r) {
  if (r->z_ready) inflateEnd(&r->z);
  if (r->f) fclose(r->f);
  tee_abandon(r);
#ifdef NNRT_DATA_CACHE
  if (r->map) munmap(r->map, r->map_len);
#endif
  free(r->in);
  memset(r, 0, sizeof *r);
}

/* Reads up to n bytes into buf; returns how many arrived (fewer only at the end of the data), or
 * -1 after setting the error for a read error, corrupt gzip data or bytes after the last gzip
 * member. gzip data that simply ends early reads short, like a plain file, and sets cut_short. */
static long read_some(idx_reader *r, void *buf, size_t n) {
  unsigned char *out = buf;
  size_t done = 0;
  if (r->map) {
    size_t take = r->map_len - r->map_pos < n ? r->map_len - r->map_pos : n;
    memcpy(out, r->map + r->map_pos, take);
    r->map_pos += take;
    return (long)take;
  }
  while (done < n) {
    if (r->in_pos == r->in_len) {
      if (reader_fill(r) != 0) return -1;
      if (r->in_len == 0) {
        if (r->gzip && !r->member_end) r->cut_short = 1;
        break;
      }
    }
    if (!r->gzip) {
      size_t take = r->in_len - r->in_pos;
      if (take > n - done) take = n - done;
      memcpy(out + done, r->in + r->in_pos, take);
      r->in_pos += take;
      done += take;
      /* large reads skip the copy through r->in */
      if (r->in_pos == r->in_len && n - done >= CHUNK && !r->at_eof) {
        size_t got;
        errno = 0;
        got = fread(out + done, 1, n - done, r->f);
        if (got < n - done) {
          if (ferror(r->f)) {
            nnrt_set_error("%s: read error: %s", r->path, errno ? strerror(errno) : "I/O error");
            return -1;
          }
          r->at_eof = 1;
        }
        done += got;
      }
      continue;
    }
    if (r->member_end) {
      /* another member must start here (gzip -d reads it as more data): 1f 8b */
      if (r->in[r->in_pos] != 0x1f || (r->in_len - r->in_pos > 1 && r->in[r->in_pos + 1] != 0x8b)) {
        nnrt_set_error("%s: unexpected bytes after the end of the gzip data", r->path);
        return -1;
      }
      inflateReset(&r->z);
      r->member_end = 0;
    }
    {
      size_t room = n - done;
      int rc;
      r->z.next_in = r->in + r->in_pos;
      r->z.avail_in = (uInt)(r->in_len - r->in_pos);
      r->z.next_out = out + done;
      r->z.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
      rc = inflate(&r->z, Z_NO_FLUSH);
      if (r->tee) {
        size_t produced = (size_t)(r->z.next_out - (out + done));
        checksum_add(&r->tee_sum, out + done, produced);
        if (fwrite(out + done, 1, produced, r->tee) != produced) tee_abandon(r);
      }
      done += (size_t)(r->z.next_out - (out + done));
      r->in_pos = (size_t)(r->z.next_in - r->in);
      if (rc == Z_STREAM_END) r->member_end = 1;
      else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        nnrt_set_error("%s: corrupt gzip data: %s", r->path, r->z.msg ? r->z.msg : "inflate failed");
        return -1;
      }
    }
  }
  return (long)done;
}

/* gzread ignores whatever follows the last gzip member when it is not another member; a file
 * with bytes appended after its data is corrupt, so a gzip file is walked once more with inflate
 * itself, member by member, to the end. 0 when it ends with a member, else -1 after setting the
 * error. Plain files (g read directly) pass at once. */
static int gz_check_end(gzFile g, const char *path) {
  unsigned char *in, *out;
  z_stream z;
  FILE *f;
  int rc = 0, zrc = Z_OK, at_member_end = 0;
  if (gzdirect(g)) return 0;
  in = malloc(CHUNK);
  out = malloc(CHUNK);
  f = fopen(path, "rb");
  memset(&z, 0, sizeof z);
  if (!in || !out || !f || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    free(in);
    free(out);
    if (f) fclose(f);
    return 0; /* cannot check: the data itself was read fine */
  }
  for (;;) {
    if (z.avail_in == 0) {
      z.avail_in = (uInt)fread(in, 1, CHUNK, f);
      z.next_in = in;
      if (z.avail_in == 0) break;
    }
    if (at_member_end) {
      /* another member must start here: 1f 8b */
      if (z.next_in[0] != 0x1f || (z.avail_in > 1 && z.next_in[1] != 0x8b)) {
        rc = -1;
        break;
      }
      inflateReset(&z);
      at_member_end = 0;
    }
    z.next_out = out;
    z.avail_out = CHUNK;
    zrc = inflate(&z, Z_NO_FLUSH);
    if (zrc == Z_STREAM_END) at_member_end = 1;
    else if (zrc != Z_OK && zrc != Z_BUF_ERROR) break; /* gzread reported such data already */
  }
  inflateEnd(&z);
  fclose(f);
  free(in);
  free(out);
  if (rc != 0) nnrt_set_error("%s: unexpected bytes after the end of the gzip data", path);
  return rc;
}

/* ---- IDX ----
 * An IDX file is: two zero bytes, a type byte, a dimension count byte, one big-endian u32 per
 * dimension, then the values in row-major order. The first dimension counts the examples. */

typedef struct idx_header {
  int n_dims;
  uint32_t dims[4];
  uint64_t example_bytes; /* product of dims[1..] */
} idx_header;

static int idx_read_header(idx_reader *g, const char *path, const char *what, int min_dims,
                           int max_dims, idx_header *h) {
  unsigned char b[16];
  long got;
  int i;
  got = read_some(g, b, 4);
  if (got < 0) return -1;
  if (got < 4 && g->cut_short) {
    nnrt_set_error("%s: truncated gzip file: it ends before the IDX header", path);
    return -1;
  }
  if (got == 0) {
    nnrt_set_error("%s: empty file, not an IDX file", path);
    return -1;
  }
  if (got < 4 || b[0] != 0 || b[1] != 0) {
    nnrt_set_error("%s: not an IDX file (bad magic number)", path);
    return -1;
  }
  if (b[2] != IDX_UBYTE) {
    nnrt_set_error("%s: IDX value type 0x%02X, expected unsigned bytes (0x08) for %s", path, b[2],
                   what);
    return -1;
  }
  h->n_dims = b[3];
  if (h->n_dims < min_dims || h->n_dims > max_dims) {
    if (min_dims == max_dims)
      nnrt_set_error("%s: %s have %d dimensions, expected %d", path, what, h->n_dims, min_dims);
    else
      nnrt_set_error("%s: %s have %d dimensions, expected %d to %d", path, what, h->n_dims,
                     min_dims, max_dims);
    return -1;
  }
  got = read_some(g, b, (size_t)(4 * h->n_dims));
  if (got < 0) return -1;
  if (got < 4 * h->n_dims) {
    nnrt_set_error("%s: truncated in the header", path);
    return -1;
  }
  h->example_bytes = 1;
  for (i = 0; i < h->n_dims; i++) {
    h->dims[i] = be_u32(b + 4 * i);
    if (i > 0) {
      if (h->dims[i] == 0) {
        nnrt_set_error("%s: dimension %d of the %s is 0", path, i + 1, what);
        return -1;
      }
      h->example_bytes *= h->dims[i]; /* at most 3 factors below 2^32: checked next */
      if (h->example_bytes > (uint64_t)INT_MAX) {
        nnrt_set_error("%s: each example has more than %d values", path, INT_MAX);
        return -1;
      }
    }
  }
#if LONG_MAX < 4294967295
  /* The count is a u32; only where long is 32 bits can it exceed ds->n. */
  if (h->dims[0] > (uint32_t)LONG_MAX) {
    nnrt_set_error("%s: too many examples (%lu)", path, (unsigned long)h->dims[0]);
    return -1;
  }
#endif
  return 0;
}

/* Where the payload bytes of an IDX file go: the first `keep` bytes are stored in *out (the
 * bytes themselves, or int32 labels); the rest is only counted. */
typedef struct idx_sink {
  int as_bytes;
  void *out;        /* unsigned char* or int32_t* */
  size_t cap;       /* elements allocated in out */
  uint64_t n_kept;  /* elements stored so far */
  uint64_t keep;    /* elements to store */
  int in_cache;     /* out points into the reader's cache mapping (bytes only) */
} idx_sink;

#define BIG_READ (1u << 20) /* bytes per read into the dataset's own array */

/* Reads exactly `total` payload bytes into sink and checks that nothing follows them. */
static int idx_read_payload(idx_reader *g, const char *path, uint64_t total, idx_sink *s,
                            const char *what, uint32_t n_examples) {
  unsigned char *chunk = malloc(CHUNK);
  uint64_t done = 0;
  long got;
  if (!chunk) {
    nnrt_set_error("%s: out of memory", path);
    return -1;
  }
  if (g->map && s->as_bytes && g->map_len - g->map_pos == total) {
    /* a cache holds the file as it passed every check: its bytes are used where they lie */
    s->out = g->map + g->map_pos;
    s->n_kept = s->keep;
    s->in_cache = 1;
    g->map_pos = g->map_len;
    done = total;
  }
  while (done < total) {
    uint64_t left = total - done;
    size_t want = left < CHUNK ? (size_t)left : CHUNK;
    unsigned char *into = chunk;
    if (s->as_bytes && s->n_kept < s->keep) {
      /* straight into the array, which grows only as the data arrives */
      uint64_t room = s->keep - s->n_kept;
      want = left < BIG_READ ? (size_t)left : BIG_READ;
      if (want > room) want = (size_t)room;
      if (!grow(&s->out, &s->cap, (size_t)s->n_kept + want, 1)) {
        nnrt_set_error("%s: out of memory for %llu %s", path, (unsigned long long)s->keep, what);
        goto fail;
      }
      into = (unsigned char *)s->out + s->n_kept;
    }
    got = read_some(g, into, want);
    if (got < 0) goto fail;
    if (got == 0) {
      nnrt_set_error("%s: truncated: the header declares %lu %s (%llu bytes of data), the file "
                     "has %llu",
                     path, (unsigned long)n_examples, what, (unsigned long long)total,
                     (unsigned long long)done);
      goto fail;
    }
    if (into != chunk) {
      s->n_kept += (uint64_t)got;
    } else if (s->n_kept < s->keep) {
      uint64_t take = (uint64_t)got;
      size_t i, base;
      int32_t *y;
      if (take > s->keep - s->n_kept) take = s->keep - s->n_kept;
      base = (size_t)s->n_kept;
      if (!grow(&s->out, &s->cap, base + (size_t)take, sizeof(int32_t))) {
        nnrt_set_error("%s: out of memory for %llu %s", path, (unsigned long long)s->keep, what);
        goto fail;
      }
      y = (int32_t *)s->out + base;
      for (i = 0; i < (size_t)take; i++) y[i] = chunk[i];
      s->n_kept += take;
    }
    done += (uint64_t)got;
  }
  got = read_some(g, chunk, CHUNK);
  if (got < 0) goto fail;
  if (got > 0) {
    nnrt_set_error("%s: unexpected bytes after the %lu %s the header declares", path,
                   (unsigned long)n_examples, what);
    goto fail;
  }
  free(chunk);
  return 0;
fail:
  free(chunk);
  return -1;
}

static void set_pixel_values(nnrt_dataset *ds) {
  int b;
  for (b = 0; b < 256; b++) ds->pixel_value[b] = (float)b / 255.0f;
}

int nnrt_dataset_load_idx(nnrt_dataset *ds, const char *images_path, const char *labels_path,
                          long limit) {
  idx_reader gi, gl;
  idx_header hi, hl;
  idx_sink xs, ys;
  uint64_t keep;
  long i;
  int k;

  memset(ds, 0, sizeof *ds);
  memset(&xs, 0, sizeof xs);
  memset(&ys, 0, sizeof ys);
  memset(&gi, 0, sizeof gi);
  memset(&gl, 0, sizeof gl);
  /* Both headers first, so that a count mismatch is reported before any data is read. */
  if (reader_open(&gi, images_path) != 0) goto fail;
  if (idx_read_header(&gi, images_path, "images", 2, 4, &hi) != 0) goto fail;
  if (reader_open(&gl, labels_path) != 0) goto fail;
  if (idx_read_header(&gl, labels_path, "labels", 1, 1, &hl) != 0) goto fail;
  if (hi.dims[0] != hl.dims[0]) {
    nnrt_set_error("%s: %lu images, but %s has %lu labels", images_path, (unsigned long)hi.dims[0],
                   labels_path, (unsigned long)hl.dims[0]);
    goto fail;
  }
  if (hi.dims[0] == 0) {
    nnrt_set_error("%s: no examples", images_path);
    goto fail;
  }
  keep = hi.dims[0];
  if (limit > 0 && (uint64_t)limit < keep) keep = (uint64_t)limit;

  xs.as_bytes = 1;
  xs.keep = keep * hi.example_bytes; /* < 2^32 * 2^31: no overflow */
  if (xs.keep > (uint64_t)((size_t)-1 / sizeof(float))) {
    nnrt_set_error("%s: too large for this machine", images_path);
    goto fail;
  }
  if (idx_read_payload(&gi, images_path, (uint64_t)hi.dims[0] * hi.example_bytes, &xs, "images",
                       hi.dims[0]) != 0)
    goto fail;
  reader_commit_cache(&gi);
  ys.keep = keep;
  if (idx_read_payload(&gl, labels_path, hl.dims[0], &ys, "labels", hl.dims[0]) != 0) goto fail;
  reader_commit_cache(&gl);
  if (xs.in_cache) {
    ds->mapping = gi.map; /* the dataset unmaps it */
    ds->mapping_len = gi.map_len;
    gi.map = NULL;
  }
  reader_close(&gi);
  reader_close(&gl);

  ds->n = (long)keep;
  ds->dim = (int)hi.example_bytes;
  ds->rank = hi.n_dims - 1;
  for (k = 0; k < ds->rank; k++) ds->shape[k] = (int)hi.dims[k + 1];
  ds->pixels = xs.out;
  set_pixel_values(ds);
  ds->labels = ys.out;
  for (i = 0; i < ds->n; i++)
    if (ds->labels[i] + 1 > ds->n_classes_seen) ds->n_classes_seen = ds->labels[i] + 1;
  return 0;

fail:
  reader_close(&gi);
  reader_close(&gl);
  if (!xs.in_cache) free(xs.out);
  free(ys.out);
  memset(ds, 0, sizeof *ds);
  return -1;
}

/* ---- CSV ---- */

typedef struct csv_reader {
  gzFile g;
  const char *path;
  long line_no;
  char *line;  /* the current line, NUL-terminated, without its line end */
  size_t cap;
} csv_reader;

/* Reads the next line into r->line; returns 1, 0 at the end of the file, -1 on error. */
static int csv_next_line(csv_reader *r) {
  size_t len = 0;
  int errnum;
  if (!r->line && !grow((void **)&r->line, &r->cap, 4096, 1)) goto oom;
  for (;;) {
    size_t room = r->cap - len;
    if (room > INT_MAX) room = INT_MAX;
    if (!gzgets(r->g, r->line + len, (int)room)) {
      const char *msg = gzerror(r->g, &errnum);
      if (errnum != Z_OK && errnum != Z_BUF_ERROR) {
        nnrt_set_error("%s:%ld: read error: %s", r->path, r->line_no + 1,
                       errnum == Z_ERRNO ? strerror(errno) : msg);
        return -1;
      }
      if (len == 0) return 0; /* end of file */
      break;                  /* last line without a newline */
    }
    len += strlen(r->line + len);
    if (len > 0 && r->line[len - 1] == '\n') break;
    if (gzeof(r->g)) break;
    if (len + 1 < r->cap) {
      /* gzgets stopped at a newline but strlen at an earlier NUL byte. */
      nnrt_set_error("%s:%ld: NUL byte in line (not a text file?)", r->path, r->line_no + 1);
      return -1;
    }
    if (r->cap >= (size_t)MAX_CSV_LINE) {
      nnrt_set_error("%s:%ld: line longer than %ld bytes", r->path, r->line_no + 1, MAX_CSV_LINE);
      return -1;
    }
    if (!grow((void **)&r->line, &r->cap, r->cap * 2, 1)) goto oom;
  }
  r->line_no++;
  while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) r->line[--len] = '\0';
  return 1;
oom:
  nnrt_set_error("%s: out of memory", r->path);
  return -1;
}

/* Splits r->line at commas in place; *fields points at each field, trimmed of spaces and tabs.
 * Returns the number of fields. */
static int csv_split(char *line, char ***fields, size_t *cap) {
  int n = 0;
  char *p = line;
  for (;;) {
    char *start, *end;
    if ((size_t)n >= *cap && !grow((void **)fields, cap, (size_t)n + 1, sizeof(char *))) return -1;
    while (*p == ' ' || *p == '\t') p++;
    start = p;
    while (*p && *p != ',') p++;
    end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
    (*fields)[n++] = start;
    if (!*p) {
      *end = '\0';
      return n;
    }
    p++;
    *end = '\0';
  }
}

static int parse_number(const char *s, double *v) {
  char *end;
  if (!*s) return 0;
  errno = 0;
  *v = strtod(s, &end);
  return *end == '\0';
}

int nnrt_dataset_load_csv(nnrt_dataset *ds, const char *path, int target_dim, long limit) {
  csv_reader r;
  char **fields = NULL;
  size_t fields_cap = 0, x_cap = 0, y_cap = 0, t_cap = 0;
  int n_cols = 0, first_data_line = 0, lead, rc;
  long n = 0;

  memset(ds, 0, sizeof *ds);
  memset(&r, 0, sizeof r);
  r.path = path;
  if (target_dim < 0) {
    nnrt_set_error("%s: negative target size", path);
    return -1;
  }
  lead = target_dim > 0 ? target_dim : 1;
  if (!(r.g = open_gz(path))) return -1;
  while ((rc = csv_next_line(&r)) == 1) {
    int n_fields, c;
    double v;
    float *x;
    if (limit > 0 && n >= limit) break;
    if (r.line[strspn(r.line, " \t")] == '\0') continue; /* blank line */
    n_fields = csv_split(r.line, &fields, &fields_cap);
    if (n_fields < 0) {
      nnrt_set_error("%s:%ld: out of memory", path, r.line_no);
      goto fail;
    }
    if (n_cols == 0) {
      /* The first non-blank line: a header if its first field is not a number. */
      if (!first_data_line && !parse_number(fields[0], &v)) {
        first_data_line = -1;
        continue;
      }
      if (n_fields > MAX_CSV_COLUMNS) {
        nnrt_set_error("%s:%ld: %d columns, at most %d supported", path, r.line_no, n_fields,
                       MAX_CSV_COLUMNS);
        goto fail;
      }
      if (n_fields <= lead) {
        nnrt_set_error("%s:%ld: %d column%s, need %s and at least one input value", path,
                       r.line_no, n_fields, n_fields == 1 ? "" : "s",
                       target_dim > 0 ? "the targets" : "a label");
        goto fail;
      }
      n_cols = n_fields;
      first_data_line = (int)(r.line_no > INT_MAX ? INT_MAX : r.line_no);
      ds->dim = n_cols - lead;
    } else if (n_fields != n_cols) {
      nnrt_set_error("%s:%ld: %d columns, expected %d (as on line %d)", path, r.line_no, n_fields,
                     n_cols, first_data_line);
      goto fail;
    }
    if ((size_t)n + 1 > (size_t)-1 / (size_t)ds->dim ||
        !grow((void **)&ds->x, &x_cap, ((size_t)n + 1) * (size_t)ds->dim, sizeof(float)) ||
        (target_dim == 0 && !grow((void **)&ds->labels, &y_cap, (size_t)n + 1, sizeof(int32_t))) ||
        (target_dim > 0 &&
         !grow((void **)&ds->targets, &t_cap, ((size_t)n + 1) * (size_t)target_dim, sizeof(float)))) {
      nnrt_set_error("%s:%ld: out of memory", path, r.line_no);
      goto fail;
    }
    for (c = 0; c < n_cols; c++) {
      if (!parse_number(fields[c], &v) || !isfinite(v)) {
        if (!*fields[c])
          nnrt_set_error("%s:%ld: column %d is empty", path, r.line_no, c + 1);
        else
          nnrt_set_error("%s:%ld: column %d: '%.40s' is not a %snumber", path, r.line_no, c + 1,
                         fields[c], parse_number(fields[c], &v) ? "finite " : "");
        goto fail;
      }
      /* values are stored as floats: a double beyond FLT_MAX would become an infinity */
      if (fabs(v) > FLT_MAX) {
        nnrt_set_error("%s:%ld: column %d: '%.40s' is beyond the float range (about 3.4e38)", path,
                       r.line_no, c + 1, fields[c]);
        goto fail;
      }
      if (c < lead && target_dim == 0) {
        if (v < 0 || v >= INT32_MAX || v != floor(v)) {
          nnrt_set_error("%s:%ld: label '%.40s' is not a class id (an integer >= 0)", path,
                         r.line_no, fields[c]);
          goto fail;
        }
        ds->labels[n] = (int32_t)v;
        if (ds->labels[n] + 1 > ds->n_classes_seen) ds->n_classes_seen = ds->labels[n] + 1;
      } else if (c < lead) {
        ds->targets[(size_t)n * (size_t)target_dim + (size_t)c] = (float)v;
      } else {
        x = ds->x + (size_t)n * (size_t)ds->dim;
        x[c - lead] = (float)v;
      }
    }
    n++;
  }
  if (rc < 0) goto fail;
  if (n == 0) {
    nnrt_set_error("%s: no data rows", path);
    goto fail;
  }
  if ((limit <= 0 || n < limit) && gz_check_end(r.g, path) != 0) goto fail;
  gzclose(r.g);
  free(r.line);
  free(fields);
  ds->n = n;
  ds->rank = 1;
  ds->shape[0] = ds->dim;
  ds->target_dim = target_dim;
  return 0;

fail:
  gzclose(r.g);
  free(r.line);
  free(fields);
  nnrt_dataset_free(ds);
  return -1;
}

/* ---- common ---- */

void nnrt_dataset_free(nnrt_dataset *ds) {
  if (!ds) return;
  free(ds->x);
#ifdef NNRT_DATA_CACHE
  if (ds->mapping) munmap(ds->mapping, ds->mapping_len);
  else
#endif
    free(ds->pixels);
  free(ds->labels);
  free(ds->targets);
  memset(ds, 0, sizeof *ds);
}

void nnrt_dataset_inputs(const nnrt_dataset *ds, const long *index, long first, int count, float *out) {
  size_t dim = (size_t)ds->dim;
  int i;
  for (i = 0; i < count; i++, out += dim) {
    size_t e = (size_t)(index ? index[first + i] : first + i), j;
    if (ds->pixels) {
      const unsigned char *p = ds->pixels + e * dim;
      for (j = 0; j < dim; j++) out[j] = ds->pixel_value[p[j]];
    } else {
      memcpy(out, ds->x + e * dim, dim * sizeof(float));
    }
  }
}

void nnrt_dataset_stats(const nnrt_dataset *ds, float *mean, float *std) {
  size_t i, count = (size_t)ds->n * (size_t)ds->dim;
  double sum = 0, sq = 0, m, var;
  *mean = 0.0f;
  *std = 1.0f;
  if (count == 0) return;
  if (ds->pixels) {
    /* each value is one of 256: count them once (the products below are exact in double) */
    uint64_t seen[256] = {0};
    uint32_t part[4][256]; /* four tables: increments of one table wait on each other */
    size_t block;
    int b;
    for (block = 0; block < count; block += (size_t)1 << 30) { /* < 2^32 counts per table */
      size_t end = count - block < (size_t)1 << 30 ? count : block + ((size_t)1 << 30);
      const unsigned char *p = ds->pixels;
      memset(part, 0, sizeof part);
      for (i = block; i + 4 <= end; i += 4) part[0][p[i]]++, part[1][p[i + 1]]++, part[2][p[i + 2]]++, part[3][p[i + 3]]++;
      for (; i < end; i++) part[0][p[i]]++;
      for (b = 0; b < 256; b++) seen[b] += (uint64_t)part[0][b] + part[1][b] + part[2][b] + part[3][b];
    }
    for (b = 0; b < 256; b++) sum += (double)seen[b] * ds->pixel_value[b];
    m = sum / (double)count;
    for (b = 0; b < 256; b++) sq += (double)seen[b] * ((ds->pixel_value[b] - m) * (ds->pixel_value[b] - m));
  } else {
    for (i = 0; i < count; i++) sum += ds->x[i];
    m = sum / (double)count;
    /* Two passes: the variance of centred values does not cancel catastrophically. */
    for (i = 0; i < count; i++) sq += (ds->x[i] - m) * (ds->x[i] - m);
  }
  var = sq / (double)count;
  *mean = (float)m;
  *std = (var > 1e-24 && isfinite(var)) ? (float)sqrt(var) : 1.0f;
}

void nnrt_dataset_standardize(nnrt_dataset *ds, float mean, float std) {
  size_t i, count = (size_t)ds->n * (size_t)ds->dim;
  float inv = 1.0f / std;
  if (ds->pixels) {
    for (i = 0; i < 256; i++) ds->pixel_value[i] = (ds->pixel_value[i] - mean) * inv;
    return;
  }
  for (i = 0; i < count; i++) ds->x[i] = (ds->x[i] - mean) * inv;
}
