/* output.c — turning a compiled model into files: the generated sources, the runtime's sources
 * (embedded into nnc at build time, cmake/embed.cmake), and the atomic write of all of them.
 *
 * Nothing is written until everything has been generated in memory; then every file is written to
 * a temporary name in the target folder, and only then are they renamed over the final ones; on
 * any failure the folder is restored as it was (write_files), so an error never leaves a partial
 * file, nor a mix of old and new ones, behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nnc.h"

/* Makes dir and its missing parents. The ones it made are listed in *made (deepest last), so
 * that a failed build can remove them again. */
static bool make_dirs(const char *dir, char ***made, int *n_made, FILE *err) {
  char path[4096];
  size_t len = strlen(dir);
  *made = NULL;
  *n_made = 0;
  if (len == 0 || len >= sizeof path) {
    fprintf(err, "nnc: error: bad output folder '%s'\n", dir);
    return false;
  }
  memcpy(path, dir, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (path[i] != '/' && path[i] != 0) continue;
    char saved = path[i];
    path[i] = 0;
    if (mkdir(path, 0777) == 0) {
      *made = realloc(*made, sizeof **made * (size_t)(*n_made + 1));
      if (!*made || !((*made)[*n_made] = strdup(path))) nn_die("out of memory");
      ++*n_made;
    } else if (errno != EEXIST) {
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

static char *path_join(const char *dir, const char *prefix, const char *name, const char *suffix) {
  size_t len = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 32;
  char *p = malloc(len);
  if (!p) nn_die("out of memory");
  snprintf(p, len, "%s/%s%s%s", dir, prefix, name, suffix);
  return p;
}

/* All or nothing: every file is written to a temporary first; then each existing file is kept
 * under a second name (a hard link) and the temporaries are renamed into place. If any step
 * fails, the old files are put back, new ones removed (and folders this call made), so the
 * folder is as it was. */
bool write_files(const char *dir, const OutFile *files, int n_files, FILE *err) {
  char **made;
  int n_made;
  bool ok = make_dirs(dir, &made, &n_made, err);
  char **tmp = calloc((size_t)n_files + 1, sizeof *tmp), **final = calloc((size_t)n_files + 1, sizeof *final);
  char **old = calloc((size_t)n_files + 1, sizeof *old);
  bool *existed = calloc((size_t)n_files + 1, sizeof *existed), *placed = calloc((size_t)n_files + 1, sizeof *placed);
  if (!tmp || !final || !old || !existed || !placed) nn_die("out of memory");
  char suffix[32];
  char old_suffix[32];
  snprintf(suffix, sizeof suffix, ".tmp%ld", (long)getpid());
  snprintf(old_suffix, sizeof old_suffix, ".old%ld", (long)getpid());
  for (int i = 0; i < n_files; i++) {
    final[i] = path_join(dir, "", files[i].name, "");
    tmp[i] = path_join(dir, ".", files[i].name, suffix);
    old[i] = path_join(dir, ".", files[i].name, old_suffix);
  }
  for (int i = 0; i < n_files && ok; i++) {
    FILE *f = fopen(tmp[i], "wb");
    if (!f) {
      fprintf(err, "nnc: error: cannot write '%s': %s\n", tmp[i], strerror(errno));
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
    struct stat st;
    if (lstat(final[i], &st) != 0) continue;
    if (!S_ISREG(st.st_mode)) {
      fprintf(err, "nnc: error: cannot write '%s': it exists and is not a file\n", final[i]);
      ok = false;
    } else if (link(final[i], old[i]) != 0) {
      fprintf(err, "nnc: error: cannot replace '%s': %s\n", final[i], strerror(errno));
      ok = false;
    } else {
      existed[i] = true;
    }
  }
  for (int i = 0; i < n_files && ok; i++) {
    if (rename(tmp[i], final[i]) != 0) {
      fprintf(err, "nnc: error: cannot write '%s': %s\n", final[i], strerror(errno));
      ok = false;
    } else {
      placed[i] = true;
    }
  }
  for (int i = 0; i < n_files; i++) {
    if (!ok && placed[i]) {
      if (existed[i]) rename(old[i], final[i]);
      else remove(final[i]);
    }
    remove(tmp[i]);
    if (existed[i]) remove(old[i]);
    free(tmp[i]);
    free(final[i]);
    free(old[i]);
  }
  for (int i = n_made - 1; i >= 0; i--) {
    if (!ok) rmdir(made[i]);
    free(made[i]);
  }
  free(made);
  free(tmp);
  free(final);
  free(old);
  free(existed);
  free(placed);
  return ok;
}

const EmbeddedFile *embedded_file(const char *name) {
  for (const EmbeddedFile *f = runtime_files; f->name; f++)
    if (strcmp(f->name, name) == 0) return f;
  nn_die("runtime file %s is not embedded", name);
}

void add_embedded(Compilation *c, const char *name, OutFile *files, int *n_files) {
  const EmbeddedFile *f = embedded_file(name);
  OutFile *o = &files[(*n_files)++];
  o->name = f->name;
  o->size = f->size;
  o->data = arena_alloc(&c->arena, f->size + 1);
  memcpy(o->data, f->data, f->size);
}

/* Moves a memstream's buffer into the arena. */
static void take(Compilation *c, OutFile *o, const char *name, char *buf, size_t size) {
  o->name = name;
  o->size = size;
  o->data = arena_alloc(&c->arena, size + 1);
  memcpy(o->data, buf, size);
  free(buf);
}

bool generate(Compilation *c, const EmitOptions *opt, Driver driver, OutFile *files, int *n_files) {
  *n_files = 0;
  if (!grad_build(c)) return false;
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
    if (driver == DRIVER_TRAIN) emit_train_main(c, m, opt->stats, opt->mpi);
    else emit_bench_main(c, m);
    fclose(m);
    take(c, &files[(*n_files)++], "main.c", mbuf, mlen);
  }
  if (driver == DRIVER_TRAIN) {
    add_embedded(c, "nnrt_data.h", files, n_files);
    add_embedded(c, "nnrt_data.c", files, n_files);
    add_embedded(c, "nnrt_train.h", files, n_files);
    add_embedded(c, "nnrt_train.c", files, n_files);
    if (opt->mpi) {
      add_embedded(c, "nnrt_mpi.h", files, n_files);
      add_embedded(c, "nnrt_mpi.c", files, n_files);
    }
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
