/* arena.c — the per-compilation memory pool.
 *
 * Everything a compilation allocates (source, tokens, AST, IR) comes from one Arena and is freed
 * by one arena_free(), so passes never free and in-process tests stay leak-free under ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "nnc.h"

/* The strictest alignment any arena object needs (C99 has no max_align_t). */
typedef union ArenaAlign {
  long double ld;
  long long ll;
  void *p;
  void (*fn)(void);
} ArenaAlign;

struct ArenaChunk {
  ArenaChunk *next;
  size_t used, cap;
  ArenaAlign data[]; /* flexible array member: the chunk's storage */
};

void nn_die_at(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "nnc: internal error at %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

void *arena_alloc(Arena *a, size_t bytes) {
  size_t align = sizeof(ArenaAlign);
  bytes = (bytes + align - 1) / align * align;
  if (bytes == 0) bytes = align;
  ArenaChunk *ch = a->head;
  if (!ch || ch->cap - ch->used < bytes) {
    size_t cap = bytes > (1u << 20) ? bytes : (1u << 20);
    ch = malloc(sizeof(ArenaChunk) + cap);
    if (!ch) nn_die("out of memory (%zu bytes)", bytes);
    ch->used = 0;
    ch->cap = cap;
    ch->next = a->head;
    a->head = ch;
  }
  void *p = (char *)ch->data + ch->used;
  ch->used += bytes;
  memset(p, 0, bytes);
  return p;
}

void *arena_realloc(Arena *a, void *old, size_t old_bytes, size_t new_bytes) {
  if (new_bytes <= old_bytes) return old;
  void *p = arena_alloc(a, new_bytes);
  if (old) memcpy(p, old, old_bytes);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) nn_die("bad format");
  char *p = arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

ArenaMark arena_mark(const Arena *a) {
  ArenaMark m = {a->head, a->head ? a->head->used : 0};
  return m;
}

void arena_release(Arena *a, ArenaMark m) {
  while (a->head && a->head != m.head) {
    ArenaChunk *next = a->head->next;
    free(a->head);
    a->head = next;
  }
  if (a->head) a->head->used = m.used;
}

void arena_free(Arena *a) {
  ArenaChunk *ch = a->head;
  while (ch) {
    ArenaChunk *next = ch->next;
    free(ch);
    ch = next;
  }
  a->head = NULL;
}
