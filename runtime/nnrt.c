/* nnrt.c — the nnc runtime that generated model code links: random numbers, aligned
 * allocation, the last-error message and checkpoint files.
 *
 * `nnc build` copies this file next to the generated model, where it is compiled with plain
 * `cc -std=c99` and no feature macros, so it uses nothing beyond ISO C99 and libm, except on POSIX
 * systems (which it asks for itself, whatever the compile line says): fsync for durable checkpoints
 * and the process ids that let a save remove temporaries that killed savers left behind.
 * Everything is deterministic: a seed fixes the whole
 * random stream, and the generator's full state is the nnrt_rng struct, which a checkpoint can
 * store as plain bytes.
 *
 * Checkpoint file layout (all integers little-endian, written byte by byte so that the format
 * does not depend on the host):
 *
 *     magic      8 bytes  "NNCKPT\0\1"
 *     version    u32      NNRT_CKPT_VERSION
 *     name       u32 length, then the model name's bytes (no NUL)
 *     hash       u64      the model's structure hash
 *     n_sections u32
 *     sections   per section: u32 name length, name bytes, u64 byte count, the bytes
 *     checksum   u64      FNV-1a-64 of every byte before it
 *
 * Generated models write a "param_table" section first (version 2 on): what each parameter is and
 * where it lies, so that tools map a checkpoint by name, not by order, and NAME_load refuses a
 * file laid out differently:
 *
 *     count      u32
 *     entries    per parameter, in creation order: u32 name length, the hierarchical name
 *                ("basic.2/conv2d.1/weight"), u32 block (0: the "params" section, 1: "buffers"),
 *                u32 rank, rank u32 dimensions, u64 offset (in values, into its block)
 *
 * Section payloads are copied as they lie in memory (floats in host order); the format is
 * portable between hosts of the same endianness, which is every host nnc targets.
 */
/* POSIX's declarations regardless of the user's flags (-std=c99 alone hides them): checkpoints
   must be durable everywhere they can be. Must come before any include. */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "nnrt.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Elsewhere (plain ISO C) a save relies on fflush and rename alone. */
#if defined(__unix__) || defined(__APPLE__)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#define NNRT_POSIX 1
#endif

#define NNRT_CKPT_VERSION 2u
#define NNRT_ALIGN 64

static const unsigned char ckpt_magic[8] = {'N', 'N', 'C', 'K', 'P', 'T', 0, 1};

/* ---- random numbers ---- */

/* splitmix64 (Vigna): turns one 64-bit seed into well-mixed words for the xoshiro state, which
 * must not be all zero. */
static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nnrt_rng_seed(nnrt_rng *rng, uint64_t seed) {
  uint64_t sm = seed;
  int i;
  for (i = 0; i < 4; i++) rng->s[i] = splitmix64(&sm);
  rng->spare_normal = 0.0;
  rng->has_spare = 0;
}

/* xoshiro256** 1.0 (Blackman and Vigna, 2018). */
uint64_t nnrt_rng_next(nnrt_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return result;
}

/* The top 53 bits, scaled by 2^-53: every double k/2^53 in [0, 1) equally likely. */
double nnrt_rng_uniform(nnrt_rng *rng) {
  return (double)(nnrt_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* Box–Muller: two uniforms give two independent normals; the second is kept in the struct so the
 * stream (and a checkpoint of it) does not depend on how calls are interleaved. u1 is taken from
 * (0, 1] so that log(u1) is finite. */
double nnrt_rng_normal(nnrt_rng *rng) {
  double u1, u2, r, theta;
  if (rng->has_spare) {
    rng->has_spare = 0;
    return rng->spare_normal;
  }
  u1 = 1.0 - nnrt_rng_uniform(rng);
  u2 = nnrt_rng_uniform(rng);
  r = sqrt(-2.0 * log(u1));
  theta = 6.283185307179586476925286766559 * u2;
  rng->spare_normal = r * sin(theta);
  rng->has_spare = 1;
  return r * cos(theta);
}

/* ---- errors ---- */

static char last_error[1024];

const char *nnrt_last_error(void) { return last_error; }

void nnrt_clear_error(void) { last_error[0] = '\0'; }

/* Formats into a scratch buffer first, so a message may quote the previous one
 * (nnrt_set_error("x: %s", nnrt_last_error())) without overlapping copies. */
void nnrt_set_error(const char *fmt, ...) {
  char tmp[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  memcpy(last_error, tmp, sizeof last_error);
}

/* ---- memory ----
 * C99 has no aligned allocator, so over-allocate with malloc, round up inside the block, and keep
 * malloc's pointer in the word just below the aligned address for nnrt_free. */

void *nnrt_alloc(size_t bytes) {
  const size_t extra = NNRT_ALIGN + sizeof(void *);
  unsigned char *raw, *aligned;
  size_t misalign;
  if (bytes > (size_t)-1 - extra) {
    nnrt_set_error("out of memory: %zu bytes requested", bytes);
    return NULL;
  }
  raw = malloc(bytes + extra);
  if (!raw) {
    nnrt_set_error("out of memory: %zu bytes requested", bytes);
    return NULL;
  }
  misalign = (size_t)((uintptr_t)(raw + sizeof(void *)) % NNRT_ALIGN);
  aligned = raw + sizeof(void *) + (misalign ? NNRT_ALIGN - misalign : 0);
  memcpy(aligned - sizeof(void *), &raw, sizeof raw);
  memset(aligned, 0, bytes);
  return aligned;
}

void nnrt_free(void *p) {
  void *raw;
  if (!p) return;
  memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof raw);
  free(raw);
}

/* ---- the CPU and OpenBLAS's choice of kernels ---- */

unsigned nnrt_cpu_features(void) {
  unsigned features = 0;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  /* libgcc's (and compiler-rt's) answers include the OS's support for the wider registers */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) features |= NNRT_CPU_AVX2;
  if ((features & NNRT_CPU_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    features |= NNRT_CPU_AVX512;
  if (__builtin_cpu_is("amd")) features |= NNRT_CPU_AMD;
#endif
  return features;
}

static int same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
    char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
    if (x != y) return 0;
  }
  return *a == *b;
}

const char *nnrt_openblas_coretype(const char *corename, unsigned cpu_features) {
  /* OpenBLAS 0.3's x86-64 cores whose sgemm uses 256-bit FMA or wider; every other core
     (Prescott, Core2, Katmai, Nehalem, Sandybridge, ...) leaves an AVX2 CPU's FMA units idle */
  static const char *const fitting[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"};
  size_t i;
  if (!corename || !(cpu_features & NNRT_CPU_AVX2)) return NULL;
  for (i = 0; i < sizeof fitting / sizeof fitting[0]; i++)
    if (same_name(corename, fitting[i])) return NULL;
  if (cpu_features & NNRT_CPU_AVX512) return "SkylakeX";
  return cpu_features & NNRT_CPU_AMD ? "Zen" : "Haswell";
}

/* ---- checkpoints: byte encoding ---- */

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

static void put_u32(unsigned char *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  int i;
  for (i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Adds b to *total; 0 when the sum no longer fits a size_t. */
static int add_size(size_t *total, size_t b) {
  if (b > (size_t)-1 - *total) return 0;
  *total += b;
  return 1;
}

/* The exact size of the file these arguments describe; 0 when it does not fit a size_t. */
static size_t ckpt_file_size(const char *model_name, const nnrt_section *sections, int n_sections) {
  size_t total = 8 + 4 + 4 + 8 + 4 + 8; /* magic, version, name length, hash, count, checksum */
  int i;
  if (!add_size(&total, strlen(model_name))) return 0;
  for (i = 0; i < n_sections; i++) {
    if (!add_size(&total, 4 + 8) || !add_size(&total, strlen(sections[i].name)) ||
        !add_size(&total, sections[i].bytes))
      return 0;
  }
  return total;
}

/* Checks the arguments both save and load share; sets the error and returns -1 when bad. */
static int ckpt_check_args(const char *path, const char *model_name, const nnrt_section *sections,
                           int n_sections) {
  int i;
  if (!path || !model_name || n_sections < 0 || (n_sections > 0 && !sections)) {
    nnrt_set_error("%s: invalid checkpoint arguments", path ? path : "(null)");
    return -1;
  }
  if ((uint64_t)strlen(model_name) > UINT32_MAX) {
    nnrt_set_error("%s: model name too long", path);
    return -1;
  }
  for (i = 0; i < n_sections; i++) {
    if (!sections[i].name || (sections[i].bytes > 0 && !sections[i].data)) {
      nnrt_set_error("%s: invalid checkpoint section %d", path, i);
      return -1;
    }
    if ((uint64_t)strlen(sections[i].name) > UINT32_MAX) {
      nnrt_set_error("%s: section name too long", path);
      return -1;
    }
  }
  if (ckpt_file_size(model_name, sections, n_sections) == 0) {
    nnrt_set_error("%s: checkpoint too large", path);
    return -1;
  }
  return 0;
}

/* ---- checkpoints: save ---- */

typedef struct ckpt_writer {
  FILE *f;
  uint64_t hash; /* FNV-1a of everything written so far */
  int failed;    /* errno of the first failed write, or -1 if it gave none; 0 while all is well */
} ckpt_writer;

static void ckpt_write(ckpt_writer *w, const void *p, size_t n) {
  if (w->failed || n == 0) return;
  errno = 0;
  if (fwrite(p, 1, n, w->f) != n) {
    w->failed = errno ? errno : -1;
    return;
  }
  w->hash = fnv1a(w->hash, (const unsigned char *)p, n);
}

static void ckpt_write_u32(ckpt_writer *w, uint32_t v) {
  unsigned char b[4];
  put_u32(b, v);
  ckpt_write(w, b, 4);
}

static void ckpt_write_u64(ckpt_writer *w, uint64_t v) {
  unsigned char b[8];
  put_u64(b, v);
  ckpt_write(w, b, 8);
}

static void ckpt_write_string(ckpt_writer *w, const char *s) {
  size_t n = strlen(s);
  ckpt_write_u32(w, (uint32_t)n);
  ckpt_write(w, s, n);
}

static const char *errno_text(int err) { return err > 0 ? strerror(err) : "I/O error"; }

/* Opens a fresh temporary file beside PATH: PATH.tmp-PID-N on POSIX (so that a later save can
 * tell whether its writer is still alive), PATH.tmp-NNNNNN elsewhere. C99 has neither mkstemp nor
 * fopen's "x" mode, so candidates are tried until one does not exist yet; the start of the sequence
 * mixes the clock and a counter so that concurrent savers rarely collide. The check-then-create
 * window is a race only between two processes saving to the same path at once. */
static FILE *open_temp(const char *path, char *tmp, size_t tmp_size, int *err) {
  static unsigned counter;
  unsigned start = (unsigned)time(NULL) * 2654435761u + (unsigned)clock() + 7919u * counter++;
  int k;
  *err = 0;
  for (k = 0; k < 100; k++) {
    FILE *probe, *f;
#ifdef NNRT_POSIX
    snprintf(tmp, tmp_size, "%s.tmp-%ld-%06u", path, (long)getpid(), (start + (unsigned)k) % 1000000u);
#else
    snprintf(tmp, tmp_size, "%s.tmp-%06u", path, (start + (unsigned)k) % 1000000u);
#endif
    probe = fopen(tmp, "rb");
    if (probe) {
      fclose(probe);
      continue;
    }
    errno = 0;
    f = fopen(tmp, "wb");
    if (f) return f;
    *err = errno ? errno : -1;
    return NULL;
  }
  *err = EEXIST;
  return NULL;
}

#ifdef NNRT_POSIX
/* The folder part of PATH ("." when it has none) in out; 0 if it does not fit. */
static int folder_of(const char *path, char *out, size_t out_size) {
  const char *slash = strrchr(path, '/');
  size_t len = slash ? (size_t)(slash - path) : 1;
  if (slash && len == 0) len = 1; /* "/x": the root */
  if (len + 1 > out_size) return 0;
  memcpy(out, slash ? path : ".", len);
  out[len] = '\0';
  return 1;
}

/* Removes PATH.tmp-PID-N files whose process no longer exists: a saver killed between creating
 * its temporary and renaming it leaves one behind. A live process (or one of another user, which
 * kill() cannot probe) keeps its file. Best effort: failures here never fail a save. */
static void remove_stale_temps(const char *path) {
  char folder[4096], *full;
  const char *base = strrchr(path, '/');
  size_t base_len;
  DIR *d;
  struct dirent *e;
  base = base ? base + 1 : path;
  base_len = strlen(base);
  if (!folder_of(path, folder, sizeof folder) || !(d = opendir(folder))) return;
  full = malloc(strlen(folder) + 300);
  while (full && (e = readdir(d)) != NULL) {
    const char *rest = e->d_name + base_len + 5;
    char *end;
    long pid;
    if (strncmp(e->d_name, base, base_len) != 0 || strncmp(e->d_name + base_len, ".tmp-", 5) != 0) continue;
    errno = 0;
    pid = strtol(rest, &end, 10);
    if (errno || end == rest || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    sprintf(full, "%s/%s", folder, e->d_name);
    remove(full);
  }
  free(full);
  closedir(d);
}

/* Makes a rename in PATH's folder durable: the folder's own entry list is synced. A folder that
 * cannot be opened for reading, or a file system that cannot sync folders, is not an error. */
static int sync_folder(const char *path) {
  char folder[4096];
  int fd, rc, err;
  if (!folder_of(path, folder, sizeof folder)) return 0;
  fd = open(folder, O_RDONLY);
  if (fd < 0) return 0;
  rc = fsync(fd);
  err = errno;
  close(fd);
  errno = err;
  return rc == 0 || err == EINVAL || err == EROFS || err == ENOTSUP || err == EBADF ? 0 : -1;
}
#endif

int nnrt_checkpoint_save(const char *path, const char *model_name, uint64_t model_hash,
                         const nnrt_section *sections, int n_sections) {
  ckpt_writer w;
  char *tmp;
  size_t tmp_size;
  int err, i;

  if (ckpt_check_args(path, model_name, sections, n_sections) != 0) return -1;
#ifdef NNRT_POSIX
  remove_stale_temps(path);
#endif
  tmp_size = strlen(path) + 48;
  tmp = malloc(tmp_size);
  if (!tmp) {
    nnrt_set_error("%s: out of memory", path);
    return -1;
  }
  w.f = open_temp(path, tmp, tmp_size, &err);
  if (!w.f) {
    nnrt_set_error("%s: cannot create temporary file %s: %s", path, tmp, errno_text(err));
    free(tmp);
    return -1;
  }
  w.hash = FNV_OFFSET;
  w.failed = 0;

  ckpt_write(&w, ckpt_magic, sizeof ckpt_magic);
  ckpt_write_u32(&w, NNRT_CKPT_VERSION);
  ckpt_write_string(&w, model_name);
  ckpt_write_u64(&w, model_hash);
  ckpt_write_u32(&w, (uint32_t)n_sections);
  for (i = 0; i < n_sections; i++) {
    ckpt_write_string(&w, sections[i].name);
    ckpt_write_u64(&w, (uint64_t)sections[i].bytes);
    ckpt_write(&w, sections[i].data, sections[i].bytes);
  }
  ckpt_write_u64(&w, w.hash);

  errno = 0;
  if (!w.failed && fflush(w.f) != 0) w.failed = errno ? errno : -1;
#ifdef NNRT_POSIX
  /* Make the data durable before the rename makes it visible under PATH. */
  if (!w.failed && fsync(fileno(w.f)) != 0) w.failed = errno ? errno : -1;
#endif
  errno = 0;
  if (fclose(w.f) != 0 && !w.failed) w.failed = errno ? errno : -1;
  if (w.failed) {
    nnrt_set_error("%s: cannot write %s: %s", path, tmp, errno_text(w.failed));
    remove(tmp);
    free(tmp);
    return -1;
  }
  errno = 0;
  if (rename(tmp, path) != 0) {
    nnrt_set_error("%s: cannot rename %s over it: %s", path, tmp, errno_text(errno ? errno : -1));
    remove(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
#ifdef NNRT_POSIX
  /* and the rename itself: without this a crash can bring back the previous file (or none) */
  if (sync_folder(path) != 0) {
    nnrt_set_error("%s: cannot sync its folder: %s", path, errno_text(errno ? errno : -1));
    return -1;
  }
#endif
  return 0;
}

/* ---- checkpoints: load ---- */

/* How far beyond the expected size load reads before it gives up on a file: enough for a
 * longer model name or a few extra small sections, so that a checkpoint of another model still
 * gets a "for model 'x'" message rather than "too large". */
#define CKPT_SLACK 4096

/* Reads at most cap bytes of f into a fresh buffer; *over is set when the file has more. The
 * buffer grows as data arrives, so a short file never costs the full cap. */
static unsigned char *read_bounded(FILE *f, size_t cap, size_t *n_out, int *over, int *err) {
  size_t size = cap < 65536 ? cap : 65536, n = 0;
  unsigned char *buf = malloc(size ? size : 1);
  *over = 0;
  *err = 0;
  errno = 0;
  if (!buf) {
    *err = ENOMEM;
    return NULL;
  }
  for (;;) {
    size_t got;
    if (n == size) {
      unsigned char *grown;
      if (size == cap) {
        int c = fgetc(f);
        if (c != EOF) *over = 1;
        break;
      }
      size = size > cap / 2 ? cap : size * 2;
      grown = realloc(buf, size);
      if (!grown) {
        free(buf);
        *err = ENOMEM;
        return NULL;
      }
      buf = grown;
    }
    got = fread(buf + n, 1, size - n, f);
    n += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    *err = errno ? errno : -1;
    free(buf);
    return NULL;
  }
  *n_out = n;
  return buf;
}

/* A cursor over the file's bytes; take() fails instead of reading past the end. */
typedef struct ckpt_reader {
  const unsigned char *p;
  size_t n, pos;
} ckpt_reader;

static const unsigned char *take(ckpt_reader *r, size_t n) {
  const unsigned char *p;
  if (n > r->n - r->pos) return NULL;
  p = r->p + r->pos;
  r->pos += n;
  return p;
}

static int take_u32(ckpt_reader *r, uint32_t *v) {
  const unsigned char *p = take(r, 4);
  if (!p) return 0;
  *v = get_u32(p);
  return 1;
}

static int take_u64(ckpt_reader *r, uint64_t *v) {
  const unsigned char *p = take(r, 8);
  if (!p) return 0;
  *v = get_u64(p);
  return 1;
}

/* Reads a u32-length-prefixed string as a (pointer, length) slice. */
static int take_string(ckpt_reader *r, const char **s, size_t *len) {
  uint32_t n;
  const unsigned char *p;
  if (!take_u32(r, &n) || !(p = take(r, n))) return 0;
  *s = (const char *)p;
  *len = n;
  return 1;
}

static int slice_equals(const char *s, size_t len, const char *z) {
  return strlen(z) == len && memcmp(s, z, len) == 0;
}

/* Quotes a name from the file for a message, cut short so a hostile file cannot fill the error. */
static void quote_name(char *out, size_t out_size, const char *s, size_t len) {
  size_t i, j = 0;
  for (i = 0; i < len && j + 4 < out_size; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j++] = (c >= 32 && c < 127) ? (char)c : '?';
  }
  out[j] = '\0';
  if (i < len) strcat(out, "...");
}

/* Checks the header (model name and hash) of a file whose checksum could not be verified, for
 * the best message about a file that is too large; returns 1 after setting an error. */
static int header_mismatch(const char *path, ckpt_reader *r, const char *model_name,
                           uint64_t model_hash) {
  const char *name;
  size_t len;
  uint64_t hash;
  char quoted[128];
  if (!take_string(r, &name, &len)) return 0;
  if (!slice_equals(name, len, model_name)) {
    quote_name(quoted, sizeof quoted, name, len);
    nnrt_set_error("%s: checkpoint is for model '%s', not '%s'", path, quoted, model_name);
    return 1;
  }
  if (!take_u64(r, &hash)) return 0;
  if (hash != model_hash) {
    nnrt_set_error("%s: checkpoint is for a different structure of model '%s' (hash %016" PRIx64
                   ", expected %016" PRIx64 ")",
                   path, model_name, hash, model_hash);
    return 1;
  }
  return 0;
}

/* One entry of a parameter table (format at the top), decoded; 0 when the bytes run out. */
typedef struct table_entry {
  const char *name;
  size_t name_len;
  uint32_t block, rank, dim[8];
  uint64_t offset;
} table_entry;

static int take_entry(ckpt_reader *r, table_entry *e) {
  uint32_t k;
  if (!take_string(r, &e->name, &e->name_len) || !take_u32(r, &e->block) || !take_u32(r, &e->rank) || e->rank > 8)
    return 0;
  for (k = 0; k < e->rank; k++)
    if (!take_u32(r, &e->dim[k])) return 0;
  return take_u64(r, &e->offset);
}

/* "'dense.1/weight' [256, 784] at params[0]" */
static void describe_entry(char *out, size_t size, const table_entry *e) {
  char quoted[128];
  size_t used;
  uint32_t k;
  quote_name(quoted, sizeof quoted, e->name, e->name_len);
  used = (size_t)snprintf(out, size, "'%s' [", quoted);
  for (k = 0; k < e->rank && used < size; k++)
    used += (size_t)snprintf(out + used, size - used, "%s%" PRIu32, k ? ", " : "", e->dim[k]);
  if (used < size)
    snprintf(out + used, size - used, "] at %s[%" PRIu64 "]", e->block == 0 ? "params" : e->block == 1 ? "buffers" : "?",
             e->offset);
}

/* Says how the file's parameter table differs from the model's: the first entry that does. */
static void table_mismatch(const char *path, const unsigned char *file, size_t file_bytes, const void *model,
                           size_t model_bytes) {
  ckpt_reader a, b;
  uint32_t n_file, n_model, i;
  table_entry ea, eb;
  char da[256], db[256];
  a.p = file, a.n = file_bytes, a.pos = 0;
  b.p = (const unsigned char *)model, b.n = model_bytes, b.pos = 0;
  if (!take_u32(&a, &n_file) || !take_u32(&b, &n_model)) {
    nnrt_set_error("%s: malformed parameter table", path);
    return;
  }
  for (i = 0; i < n_file && i < n_model; i++) {
    if (!take_entry(&a, &ea) || !take_entry(&b, &eb)) {
      nnrt_set_error("%s: malformed parameter table", path);
      return;
    }
    describe_entry(da, sizeof da, &ea);
    describe_entry(db, sizeof db, &eb);
    if (strcmp(da, db) != 0) {
      nnrt_set_error("%s: parameter %" PRIu32 " is %s in the checkpoint, but %s in this model", path, i + 1, da, db);
      return;
    }
  }
  if (n_file != n_model)
    nnrt_set_error("%s: checkpoint lists %" PRIu32 " parameters, this model has %" PRIu32, path, n_file, n_model);
  else
    nnrt_set_error("%s: malformed parameter table", path);
}

/* Verifies buf (the whole file) against what the caller expects; on success copies the
 * sections out. Sets the error and returns -1 on any mismatch, before any copy. */
static int ckpt_verify_and_copy(const char *path, const unsigned char *buf, size_t n, int over,
                                size_t cap, size_t expected, const char *model_name,
                                uint64_t model_hash, const nnrt_section *sections,
                                int n_sections) {
  ckpt_reader r;
  uint32_t version, count;
  uint64_t hash;
  const char *name;
  size_t len;
  char quoted[128];
  int i;

  if (n == 0) {
    nnrt_set_error("%s: empty file, not an nnc checkpoint", path);
    return -1;
  }
  if (memcmp(buf, ckpt_magic, n < 8 ? n : 8) != 0) {
    nnrt_set_error("%s: not an nnc checkpoint", path);
    return -1;
  }
  r.p = buf;
  r.n = n;
  r.pos = 8;
  if (over) {
    if (n >= 12 && get_u32(buf + 8) == NNRT_CKPT_VERSION) {
      r.pos = 12;
      if (header_mismatch(path, &r, model_name, model_hash)) return -1;
    }
    nnrt_set_error("%s: too large (over %zu bytes, expected %zu)", path, cap,
                   expected);
    return -1;
  }
  /* The checksum comes first: once it holds, every later mismatch is a real difference between
   * the file and this model, not damage. A file that fails it and is shorter than a checkpoint of
   * this model is most likely cut short. */
  if (n < 16 || get_u64(buf + n - 8) != fnv1a(FNV_OFFSET, buf, n - 8)) {
    if (n < expected)
      nnrt_set_error("%s: truncated (%zu bytes, expected %zu)", path, n,
                     expected);
    else
      nnrt_set_error("%s: checksum mismatch (file corrupt)", path);
    return -1;
  }
  r.n = n - 8;
  if (!take_u32(&r, &version)) goto malformed;
  if (version != NNRT_CKPT_VERSION) {
    nnrt_set_error("%s: checkpoint format version %" PRIu32 ", this runtime reads version %u", path,
                   version, NNRT_CKPT_VERSION);
    return -1;
  }
  if (!take_string(&r, &name, &len)) goto malformed;
  if (!slice_equals(name, len, model_name)) {
    quote_name(quoted, sizeof quoted, name, len);
    nnrt_set_error("%s: checkpoint is for model '%s', not '%s'", path, quoted, model_name);
    return -1;
  }
  if (!take_u64(&r, &hash)) goto malformed;
  if (hash != model_hash) {
    nnrt_set_error("%s: checkpoint is for a different structure of model '%s' (hash %016" PRIx64
                   ", expected %016" PRIx64 ")",
                   path, model_name, hash, model_hash);
    return -1;
  }
  if (!take_u32(&r, &count)) goto malformed;
  if (count != (uint32_t)n_sections) {
    nnrt_set_error("%s: checkpoint has %" PRIu32 " sections, expected %d", path, count,
                   n_sections);
    return -1;
  }
  for (i = 0; i < n_sections; i++) {
    uint64_t bytes;
    if (!take_string(&r, &name, &len)) goto malformed;
    if (!slice_equals(name, len, sections[i].name)) {
      quote_name(quoted, sizeof quoted, name, len);
      nnrt_set_error("%s: section %d is '%s', expected '%s'", path, i + 1, quoted,
                     sections[i].name);
      return -1;
    }
    if (!take_u64(&r, &bytes)) goto malformed;
    if (sections[i].verify) {
      const unsigned char *table = bytes <= r.n - r.pos ? take(&r, (size_t)bytes) : NULL;
      if (!table) goto malformed;
      if (bytes != (uint64_t)sections[i].bytes || memcmp(table, sections[i].data, sections[i].bytes) != 0) {
        table_mismatch(path, table, (size_t)bytes, sections[i].data, sections[i].bytes);
        return -1;
      }
      continue;
    }
    if (bytes != (uint64_t)sections[i].bytes) {
      nnrt_set_error("%s: section '%s' has %" PRIu64 " bytes, expected %zu", path,
                     sections[i].name, bytes, sections[i].bytes);
      return -1;
    }
    if (!take(&r, sections[i].bytes)) goto malformed;
  }
  if (r.pos != r.n) goto malformed;

  /* Everything matched: now, and only now, fill the caller's buffers. */
  r.pos = 0;
  take(&r, 8 + 4);
  take_string(&r, &name, &len);
  take(&r, 8 + 4);
  for (i = 0; i < n_sections; i++) {
    take_string(&r, &name, &len);
    take(&r, 8);
    if (sections[i].verify) take(&r, sections[i].bytes);
    else if (sections[i].bytes) memcpy(sections[i].data, take(&r, sections[i].bytes), sections[i].bytes);
  }
  return 0;

malformed:
  nnrt_set_error("%s: malformed checkpoint (its lengths do not add up)", path);
  return -1;
}

int nnrt_checkpoint_load(const char *path, const char *model_name, uint64_t model_hash,
                         const nnrt_section *sections, int n_sections) {
  FILE *f;
  unsigned char *buf;
  size_t expected, cap, n = 0;
  int over, err, rc;

  if (ckpt_check_args(path, model_name, sections, n_sections) != 0) return -1;
  expected = ckpt_file_size(model_name, sections, n_sections);
  cap = expected > (size_t)-1 - CKPT_SLACK ? (size_t)-1 : expected + CKPT_SLACK;
  errno = 0;
  f = fopen(path, "rb");
  if (!f) {
    nnrt_set_error("%s: cannot open: %s", path, errno_text(errno ? errno : -1));
    return -1;
  }
  buf = read_bounded(f, cap, &n, &over, &err);
  fclose(f);
  if (!buf) {
    nnrt_set_error("%s: cannot read: %s", path, errno_text(err));
    return -1;
  }
  rc = ckpt_verify_and_copy(path, buf, n, over, cap, expected, model_name, model_hash, sections,
                            n_sections);
  free(buf);
  return rc;
}

/* ---- threads ----
 * A job is cut into chunks (up to 8 per thread, each at least `grain` items) that the caller and
 * the workers claim one at a time, so that a thread the OS does not run (other processes on the
 * machine) delays the job by at most one chunk: the others take the rest. The claims go through
 * one 64-bit ticket, generation << 32 | chunks << 16 | next chunk, so that a worker that wakes late
 * cannot claim a chunk of a job other than the one it saw; it reads the job only after a claim
 * (the job cannot end, nor be replaced, while one of its chunks is unfinished). Workers spin
 * briefly on the ticket, then sleep on a condition variable: a step's kernels follow each other
 * within microseconds, but a worker spinning through a BLAS call would take a core from it. The
 * caller, its chunks done, waits for the last chunk in the same way. Threads need POSIX threads
 * and GCC's atomic builtins (GCC, Clang); elsewhere, or with NNC_NO_THREADS, the chunks run on the
 * caller, in order. */
#if defined(NNRT_POSIX) && defined(_POSIX_THREADS) && _POSIX_THREADS > 0 && !defined(NNC_NO_THREADS) && \
    (defined(__GNUC__) || defined(__clang__))
#include <pthread.h>
#include <sched.h>
#define NNRT_THREADS 1
#define NNRT_LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define NNRT_STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)
#if defined(__x86_64__) || defined(__i386__)
#define NNRT_PAUSE() __builtin_ia32_pause()
#else
#define NNRT_PAUSE() ((void)0)
#endif
/* a spin is a pause instruction, or past the first NNRT_PAUSES a sched_yield(), which lets a thread
   waiting for a core run */
enum { NNRT_WORKER_SPINS = 4000, NNRT_CALLER_SPINS = 20000, NNRT_PAUSES = 2000 };
#define NNRT_SPIN_ONCE(spin) ((spin) < NNRT_PAUSES ? NNRT_PAUSE() : (void)sched_yield())
#endif

enum { NNRT_CHUNKS_PER_THREAD = 8 };

struct nnrt_pool {
  int threads;
#ifdef NNRT_THREADS
  pthread_t *ids;
  struct nnrt_worker *workers;
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  uint64_t ticket;  /* generation << 32 | chunks << 16 | next chunk to claim */
  int finished;     /* chunks of the current job done */
  int stop;         /* set with the last generation: the workers return */
  nnrt_task task;   /* the current job */
  void *arg;
  long count;
#endif
};

/* the k-th of parts contiguous ranges of [0, count) */
static long pool_bound(long count, int parts, int k) { return (long)((long long)count * k / parts); }

#ifdef NNRT_THREADS
typedef struct nnrt_worker {
  nnrt_pool *pool;
  int index; /* 1..threads-1 */
} nnrt_worker;

static uint32_t ticket_generation(uint64_t t) { return (uint32_t)(t >> 32); }

/* Claims and runs chunks of generation `generation` until none is left. */
static void pool_work(nnrt_pool *pool, uint32_t generation, int thread) {
  uint64_t t = NNRT_LOAD(&pool->ticket);
  for (;;) {
    int chunks = (int)(t >> 16 & 0xffff), next = (int)(t & 0xffff);
    if (ticket_generation(t) != generation || next >= chunks) return;
    if (!__atomic_compare_exchange_n(&pool->ticket, &t, t + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    pool->task(pool->arg, pool_bound(pool->count, chunks, next), pool_bound(pool->count, chunks, next + 1), thread);
    if (__atomic_add_fetch(&pool->finished, 1, __ATOMIC_ACQ_REL) == chunks) {
      pthread_mutex_lock(&pool->lock); /* the caller may be between its test and its wait */
      pthread_cond_signal(&pool->done);
      pthread_mutex_unlock(&pool->lock);
    }
    t = NNRT_LOAD(&pool->ticket);
  }
}

static void *pool_worker(void *p) {
  nnrt_worker *w = p;
  nnrt_pool *pool = w->pool;
  uint32_t seen = 0, now = 0;
  for (;;) {
    for (int spin = 0; spin < NNRT_WORKER_SPINS && (now = ticket_generation(NNRT_LOAD(&pool->ticket))) == seen; spin++)
      NNRT_SPIN_ONCE(spin);
    if (now == seen) {
      pthread_mutex_lock(&pool->lock);
      while ((now = ticket_generation(NNRT_LOAD(&pool->ticket))) == seen) pthread_cond_wait(&pool->wake, &pool->lock);
      pthread_mutex_unlock(&pool->lock);
    }
    seen = now;
    if (NNRT_LOAD(&pool->stop)) return NULL;
    pool_work(pool, seen, w->index);
  }
}

/* publishes a new generation (a job, or the stop) and wakes the sleeping workers */
static uint32_t pool_publish(nnrt_pool *pool, int chunks) {
  uint32_t generation = ticket_generation(NNRT_LOAD(&pool->ticket)) + 1u;
  pthread_mutex_lock(&pool->lock);
  NNRT_STORE(&pool->ticket, (uint64_t)generation << 32 | (uint64_t)chunks << 16);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  return generation;
}

/* stops and joins the first `started` workers */
static void pool_stop(nnrt_pool *pool, int started) {
  NNRT_STORE(&pool->stop, 1);
  pool_publish(pool, 0);
  for (int i = 0; i < started; i++) pthread_join(pool->ids[i], NULL);
}
#endif

nnrt_pool *nnrt_pool_new(int threads) {
  if (threads < 1 || threads > NNRT_MAX_THREADS) {
    nnrt_set_error("threads must be 1..%d, not %d", NNRT_MAX_THREADS, threads);
    return NULL;
  }
  nnrt_pool *pool = calloc(1, sizeof *pool);
  if (!pool) {
    nnrt_set_error("out of memory");
    return NULL;
  }
  pool->threads = threads;
#ifdef NNRT_THREADS
  if (threads == 1) return pool;
  pool->ids = calloc((size_t)threads, sizeof *pool->ids);
  pool->workers = calloc((size_t)threads, sizeof *pool->workers);
  int ok = pool->ids && pool->workers;
  if (ok && pthread_mutex_init(&pool->lock, NULL) != 0) ok = 0;
  if (ok && pthread_cond_init(&pool->wake, NULL) != 0) {
    pthread_mutex_destroy(&pool->lock);
    ok = 0;
  }
  if (ok && pthread_cond_init(&pool->done, NULL) != 0) {
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    ok = 0;
  }
  if (!ok) {
    free(pool->ids);
    free(pool->workers);
    free(pool);
    nnrt_set_error("out of memory");
    return NULL;
  }
  for (int i = 1; i < threads; i++) {
    pool->workers[i].pool = pool;
    pool->workers[i].index = i;
    int rc = pthread_create(&pool->ids[i - 1], NULL, pool_worker, &pool->workers[i]);
    if (rc != 0) {
      pool_stop(pool, i - 1);
      nnrt_pool_free(pool);
      nnrt_set_error("cannot start thread %d of %d: %s", i + 1, threads, strerror(rc));
      return NULL;
    }
  }
#endif
  return pool;
}

void nnrt_pool_free(nnrt_pool *pool) {
  if (!pool) return;
#ifdef NNRT_THREADS
  if (pool->ids) {
    if (!NNRT_LOAD(&pool->stop)) pool_stop(pool, pool->threads - 1);
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ids);
    free(pool->workers);
  }
#endif
  free(pool);
}

int nnrt_pool_threads(const nnrt_pool *pool) { return pool ? pool->threads : 1; }

void nnrt_pool_run(nnrt_pool *pool, long count, long grain, nnrt_task task, void *arg) {
  if (count <= 0) return;
  long most = count / (grain > 1 ? grain : 1);
  if (!pool || pool->threads < 2 || most < 2) {
    task(arg, 0, count, 0);
    return;
  }
  int chunks = most < (long)pool->threads * NNRT_CHUNKS_PER_THREAD ? (int)most : pool->threads * NNRT_CHUNKS_PER_THREAD;
#ifdef NNRT_THREADS
  pool->task = task;
  pool->arg = arg;
  pool->count = count;
  NNRT_STORE(&pool->finished, 0);
  pool_work(pool, pool_publish(pool, chunks), 0);
  for (int spin = 0; spin < NNRT_CALLER_SPINS && NNRT_LOAD(&pool->finished) != chunks; spin++) NNRT_SPIN_ONCE(spin);
  if (NNRT_LOAD(&pool->finished) == chunks) return;
  pthread_mutex_lock(&pool->lock);
  while (NNRT_LOAD(&pool->finished) != chunks) pthread_cond_wait(&pool->done, &pool->lock);
  pthread_mutex_unlock(&pool->lock);
#else
  for (int k = 0; k < chunks; k++) task(arg, pool_bound(count, chunks, k), pool_bound(count, chunks, k + 1), 0);
#endif
}
