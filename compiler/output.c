/* output.c — turning a compiled model into files: the generated sources, the runtime's sources
 * (embedded into nnc at build time, cmake/embed.cmake), and the atomic write of all of them.
 *
 * Nothing is written until everything has been generated in memory; each file is then written to
 * a temporary name in the target folder and renamed over the final one, and on any failure the
 * temporaries are removed, so an error never leaves a partial file behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc.h"

static bool make_dirs(const char *dir, FILE *err) {
  char path[4096];
  size_t len = strlen(dir);
  if (len == 0 || len >= sizeof path) {
    fprintf(err, "nnc: error: bad output folder '%s'\n", dir);
    return false;
  }
  memcpy(path, dir, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    char saved = path[i];
    path[i] = 0;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      fprintf(err, "nnc: error: cannot create folder '%s': %s\n", path, strerror(errno));
      return false;
    }
    path[i] = saved;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(err, "nnc: error: '%s' is not a folder\n", dir);
    return false;
  }
  return true;
}

bool write_files(const char *dir, const OutFile *files, int n_files, FILE *err) {
  if (!make_dirs(dir, err)) return false;
  char **tmp = calloc((size_t)n_files, sizeof *tmp);
  if (!tmp) nn_die("out of memory");
  bool ok = true;
  for (int i = 0; i < n_files && ok; i++) {
    size_t len = strlen(dir) + strlen(files[i].name) + 32;
    tmp[i] = malloc(len);
    if (!tmp[i]) nn_die("out of memory");
    snprintf(tmp[i], len, "%s/.%s.tmp%ld", dir, files[i].name, (long)getpid());
    FILE *f = fopen(tmp[i], "wb");
    if (!f) {
      fprintf(err, "nnc: error: cannot write '%s': %s\n", tmp[i], strerror(errno));
      free(tmp[i]);
      tmp[i] = NULL;
      ok = false;
      break;
    }
    bool wrote = fwrite(files[i].data, 1, files[i].size, f) == files[i].size;
    wrote &= fclose(f) == 0;
    if (!wrote) {
      fprintf(err, "nnc: error: cannot write '%s': %s\n", tmp[i], strerror(errno));
      ok = false;
    }
  }
  for (int i = 0; i < n_files && ok; i++) {
    size_t len = strlen(dir) + strlen(files[i].name) + 2;
    char *final = malloc(len);
    if (!final) nn_die("out of memory");
    snprintf(final, len, "%s/%s", dir, files[i].name);
    if (rename(tmp[i], final) != 0) {
      fprintf(err, "nnc: error: cannot write '%s': %s\n", final, strerror(errno));
      ok = false;
    } else {
      free(tmp[i]);
      tmp[i] = NULL;
    }
    free(final);
  }
  for (int i = 0; i < n_files; i++) {
    if (tmp[i]) remove(tmp[i]);
    free(tmp[i]);
  }
  free(tmp);
  return ok;
}

void add_embedded(Compilation *c, const char *name, OutFile *files, int *n_files) {
  for (const EmbeddedFile *f = runtime_files; f->name; f++)
    if (strcmp(f->name, name) == 0) {
      OutFile *o = &files[(*n_files)++];
      o->name = f->name;
      o->size = f->size;
      o->data = arena_alloc(&c->arena, f->size + 1);
      memcpy(o->data, f->data, f->size);
      return;
    }
  nn_die("runtime file %s is not embedded", name);
}

/* Moves a memstream's buffer into the arena. */
static void take(Compilation *c, OutFile *o, const char *name, char *buf, size_t size) {
  o->name = name;
  o->size = size;
  o->data = arena_alloc(&c->arena, size + 1);
  memcpy(o->data, buf, size);
  free(buf);
}

/* Reports every call whose op the back end cannot generate yet: each source location once, not
 * only the first, nor once per block instance. */
static bool backend_supports(Compilation *c) {
  Graph *g = &c->graph;
  SrcLoc *reported = arena_alloc(&c->arena, sizeof(SrcLoc) * (size_t)(g->n_forward + 1));
  int n_reported = 0;
  for (int i = 0; i < g->n_forward; i++) {
    Op op = g->nodes[i].op;
    if (op != OP_CONV2D && op != OP_BATCHNORM && op != OP_MAX_POOL && op != OP_AVG_POOL && op != OP_GLOBAL_AVG_POOL)
      continue;
    bool seen = false;
    for (int k = 0; k < n_reported && !seen; k++) seen = reported[k] == g->nodes[i].loc;
    if (seen) continue;
    reported[n_reported++] = g->nodes[i].loc;
    diag_error(&c->diag, g->nodes[i].loc, "code generation for %s() is not supported yet", op_name(op));
  }
  return n_reported == 0;
}

bool generate(Compilation *c, const EmitOptions *opt, Driver driver, OutFile *files, int *n_files) {
  *n_files = 0;
  if (!backend_supports(c) || !grad_build(c)) return false;
  char *hbuf = NULL, *cbuf = NULL;
  size_t hlen = 0, clen = 0;
  FILE *h = open_memstream(&hbuf, &hlen), *cf = open_memstream(&cbuf, &clen);
  if (!h || !cf) nn_die("open_memstream failed");
  emit_c(c, opt, h, cf);
  fclose(h);
  fclose(cf);
  const char *name = c->graph.model_name;
  take(c, &files[(*n_files)++], arena_printf(&c->arena, "%s.h", name), hbuf, hlen);
  take(c, &files[(*n_files)++], arena_printf(&c->arena, "%s.c", name), cbuf, clen);
  add_embedded(c, "nnrt.h", files, n_files);
  add_embedded(c, "nnrt.c", files, n_files);
  if (driver != DRIVER_NONE) {
    char *mbuf = NULL;
    size_t mlen = 0;
    FILE *m = open_memstream(&mbuf, &mlen);
    if (!m) nn_die("open_memstream failed");
    if (driver == DRIVER_TRAIN) emit_train_main(c, m);
    else emit_bench_main(c, m);
    fclose(m);
    take(c, &files[(*n_files)++], "main.c", mbuf, mlen);
  }
  if (driver == DRIVER_TRAIN) {
    add_embedded(c, "nnrt_data.h", files, n_files);
    add_embedded(c, "nnrt_data.c", files, n_files);
    add_embedded(c, "nnrt_train.h", files, n_files);
    add_embedded(c, "nnrt_train.c", files, n_files);
  }
  return true;
}

void generate_torch(Compilation *c, const char *source_name, OutFile *files, int *n_files) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) nn_die("open_memstream failed");
  export_torch(c, source_name, f);
  fclose(f);
  take(c, &files[(*n_files)++], arena_printf(&c->arena, "%s_torch.py", c->graph.model_name), buf, len);
  add_embedded(c, "nnc_twin.py", files, n_files);
}
