/* train_rss.c — the training driver keeps the dataset as loaded bytes (nnrt_data.h).
 *
 *   train_rss NNC CC MODEL.nn NAME WORK
 *
 * Writes an IDX dataset of 12,000 + 2,000 random 28x28 images (10.9 MB of pixels) into WORK,
 * builds MODEL's trainer with `nnc train --build-dir`, then runs the trainer twice on it: on all
 * of it, and with --limit-train/--limit-test 64 (which reads and checks the same files but keeps
 * 64 examples: everything but the dataset's own memory). The peak resident sizes (wait4's
 * ru_maxrss) may differ by at most 1.25 times the pixels' bytes plus 3 MB: bytes kept as bytes
 * (plus labels and the shuffling order), where floats would take 4 times as much.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* wait4 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIDE 28
#define N_TRAIN 12000
#define N_TEST 2000

static unsigned long long state = 88172645463325252ULL;
static unsigned next_byte(void) {
  state ^= state << 13, state ^= state >> 7, state ^= state << 17;
  return (unsigned)(state >> 24) & 255u;
}

static void write_idx(const char *dir, const char *name, int images, unsigned count) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(1);
  }
  unsigned char head[16] = {0, 0, 8, (unsigned char)(images ? 3 : 1),
                            (unsigned char)(count >> 24), (unsigned char)(count >> 16),
                            (unsigned char)(count >> 8), (unsigned char)count,
                            0, 0, 0, SIDE, 0, 0, 0, SIDE};
  fwrite(head, 1, images ? 16 : 8, f);
  for (size_t i = 0; i < (size_t)count * (images ? SIDE * SIDE : 1); i++)
    fputc(images ? (int)next_byte() : (int)(next_byte() % 10), f);
  if (fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* Runs argv, returns its peak resident size in kB, or -1 when it fails. */
static long run(char **argv) {
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    perror(argv[0]);
    _exit(127);
  }
  int status;
  struct rusage use;
  if (pid < 0 || wait4(pid, &status, 0, &use) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "FAIL: %s did not succeed\n", argv[0]);
    return -1;
  }
  return use.ru_maxrss;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: train_rss NNC CC MODEL.nn NAME WORK\n");
    return 2;
  }
  const char *nnc = argv[1], *cc = argv[2], *model = argv[3], *name = argv[4], *work = argv[5];
  write_idx(work, "train-images-idx3-ubyte", 1, N_TRAIN);
  write_idx(work, "train-labels-idx1-ubyte", 0, N_TRAIN);
  write_idx(work, "t10k-images-idx3-ubyte", 1, N_TEST);
  write_idx(work, "t10k-labels-idx1-ubyte", 0, N_TEST);
  char build[4096], binary[4096], ckpt[4096];
  snprintf(build, sizeof build, "%s/build", work);
  snprintf(binary, sizeof binary, "%s/build/%s-train", work, name);
  snprintf(ckpt, sizeof ckpt, "%s/model.ckpt", work);
  char *compile[] = {(char *)nnc, "train", (char *)model, "--cc", (char *)cc, "--build-dir", build, "--data", (char *)work,
                     "--limit-train", "64", "--limit-test", "64", "--quiet", "--checkpoint", ckpt, NULL};
  if (run(compile) < 0) return 1;
  char *limited[] = {binary, "--data", (char *)work, "--limit-train", "64", "--limit-test", "64", "--quiet",
                     "--checkpoint", ckpt, NULL};
  char *whole[] = {binary, "--data", (char *)work, "--quiet", "--checkpoint", ckpt, NULL};
  long base = run(limited), full = run(whole);
  if (base < 0 || full < 0) return 1;
  double pixels_kb = (double)(N_TRAIN + N_TEST) * SIDE * SIDE / 1024, bound = 1.25 * pixels_kb + 3072;
  printf("peak RSS: %ld kB with 64 examples, %ld kB with all %d (pixels: %.0f kB); difference %ld kB, bound %.0f kB\n",
         base, full, N_TRAIN + N_TEST, pixels_kb, full - base, bound);
  if (full - base > bound) {
    fprintf(stderr, "FAIL: the dataset costs more memory than its bytes\n");
    return 1;
  }
  return 0;
}
