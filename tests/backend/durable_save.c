/* durable_save.c — nnrt_checkpoint_save is durable and cleans up after killed savers, with nnrt.c
 * compiled the way generated code is: `cc -std=c99` and no feature macros (durable_save.cmake),
 * plus -Dfsync=counting_fsync, so that every fsync nnrt.c makes lands here.
 *
 * usage: durable_save DIR     (an empty folder)
 *
 *   - one save fsyncs one regular file (its temporary) and one folder (after the rename);
 *   - DIR/ck.tmp-PID-N of a process that is gone is removed by the save; one of a live process
 *     (our parent), another checkpoint's and a name not of that form are kept.
 */
#define _POSIX_C_SOURCE 200809L /* fork, fstat */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nnrt.h"

static int n_file_syncs, n_folder_syncs, failed;

int counting_fsync(int fd);
int counting_fsync(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  if (S_ISDIR(st.st_mode)) n_folder_syncs++;
  else if (S_ISREG(st.st_mode)) n_file_syncs++;
  return 0;
}

static void touch(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fputs("partial", f) < 0 || fclose(f) != 0) abort();
}

static void expect_exists(const char *dir, const char *name, int want) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if ((stat(path, &st) == 0) != want) {
    fprintf(stderr, "FAIL: %s should %s\n", path, want ? "still be there" : "have been removed");
    failed = 1;
  }
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *dir = argv[1];
  pid_t dead = fork();
  if (dead < 0) return 2;
  if (dead == 0) _exit(0);
  if (waitpid(dead, NULL, 0) != dead) return 2;
  char stale[64], alive[64], other[64];
  snprintf(stale, sizeof stale, "ck.tmp-%ld-000001", (long)dead);
  snprintf(alive, sizeof alive, "ck.tmp-%ld-000002", (long)getppid());
  snprintf(other, sizeof other, "ck2.tmp-%ld-000003", (long)dead);
  touch(dir, stale);
  touch(dir, alive);
  touch(dir, other);
  touch(dir, "ck.tmp-abc");

  float values[4] = {1, 2, 3, 4};
  nnrt_section s = {"params", values, sizeof values, 0};
  char path[4096];
  snprintf(path, sizeof path, "%s/ck", dir);
  if (nnrt_checkpoint_save(path, "m", 1, &s, 1) != 0) {
    fprintf(stderr, "FAIL: save: %s\n", nnrt_last_error());
    return 1;
  }
  if (n_file_syncs != 1 || n_folder_syncs != 1) {
    fprintf(stderr, "FAIL: a save fsynced %d files and %d folders, expected 1 and 1\n", n_file_syncs, n_folder_syncs);
    failed = 1;
  }
  expect_exists(dir, "ck", 1);
  expect_exists(dir, stale, 0);
  expect_exists(dir, alive, 1);
  expect_exists(dir, other, 1);
  expect_exists(dir, "ck.tmp-abc", 1);
  printf("durable_save: %s\n", failed ? "FAILED" : "ok");
  return failed;
}
