/* scratch_dir.h — a temporary folder per test: made by the fixture's setup, removed with what the
 * test left in it (files, and folders one level deep) by its teardown. Shared by the runtime tests. */
#ifndef SCRATCH_DIR_H
#define SCRATCH_DIR_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Removes every entry of dir; with depth > 0 it empties subfolders first. */
static void scratch_dir_empty(const char *dir, int depth) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[1024];
  while (d && (e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (remove(path) != 0 && depth > 0) {
      scratch_dir_empty(path, depth - 1);
      remove(path);
    }
  }
  if (d) closedir(d);
}

static void scratch_dir_remove(const char *dir) {
  scratch_dir_empty(dir, 1);
  rmdir(dir);
}

#endif
