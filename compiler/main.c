/* main.c — the nnc command line: flags, then a straight-line pipeline per command.
 *
 *   nnc check FILE.nn [--dump-ir]      parse, lower, check shapes; print the summary
 *   nnc build FILE.nn -o DIR [...]     differentiate, plan, emit C plus the runtime's sources
 *   nnc train FILE.nn [...]            build into a temporary folder, compile with the system C
 *                                      compiler, run the training driver (runtime/nnrt_train.c)
 *   nnc bench FILE.nn [...]            the same with a timing main() (--vs torch: and the twin)
 *   nnc export FILE.nn --torch -o DIR  the PyTorch twin (export.c, runtime/nnc_twin.py)
 *   nnc plot STATS.csv -o FILE.svg     the statistics of nnc train --stats as an SVG (plot.c)
 *
 * Exit status: 0 success, 1 an error in the input, 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nnc.h"
#include "nnrt.h"
#include "nnrt_train.h"

static void usage(FILE *out) {
  fputs("usage: nnc <command> FILE.nn [options]\n"
        "\n"
        "commands:\n"
        "  check FILE.nn [--dump-ir]   parse and shape-check; print the layer summary\n"
        "        [-Werror]             warnings are errors (also for build, train and bench)\n"
        "  build FILE.nn -o DIR        write DIR/NAME.h, DIR/NAME.c and the runtime (nnrt.h, nnrt.c)\n"
        "        [--no-blas]           plain loops instead of cblas_sgemm (link with -lm only)\n"
        "        [--double]            compute in double precision (implies --no-blas)\n"
        "        [--debug-api]         also emit NAME_debug_* hooks (gradient checks)\n"
        "        [--stats]             also emit per-layer statistics (NAME_stats_record, NAME_stats)\n"
        "        [--mpi]               also emit NAME_train_step_mpi (data parallel; build with mpicc)\n"
        "        [--dump-ir]           print the IR after differentiation\n"
        "  train FILE.nn [options]     build, compile and train (see 'nnc train --help')\n"
        "        [--build-dir DIR]     keep the generated sources and binary in DIR\n"
        "        [--cc CC]             the C compiler (default: $CC, else cc)\n"
        "        [--no-blas]           as for build\n"
        "        [--stats FILE [--stats-every N]]  per-layer statistics as CSV (spec §8; see 'nnc plot')\n"
        "        [--mpi N]             on N processes under Open MPI's mpirun (data parallel)\n"
        "  bench FILE.nn [options]     time the generated train_step and forward (examples/s, GFLOP/s)\n"
        "        [--batch N] [--steps N] [--runs N] [--threads N]   defaults 128, 50, 5, 1\n"
        "        [--build-dir DIR] [--cc CC] [--no-blas]\n"
        "        [--vs torch]          and the PyTorch twin, side by side (--runs alternating rounds)\n"
        "  export FILE.nn --torch -o DIR\n"
        "                              write the PyTorch twin: DIR/NAME_torch.py and DIR/nnc_twin.py\n"
        "  plot STATS.csv -o FILE.svg  draw what 'nnc train --stats' recorded (activation variance and\n"
        "                              gradient norm by depth, loss by step)\n"
        "  --help                      this text ('nnc COMMAND --help' for one command)\n"
        "  --version                   the version\n"
        "\n"
        "FILE.nn may be '-' for standard input.\n",
        out);
}

/* `nnc COMMAND --help`: the command's own lines of the usage, on stdout. */
static bool command_help(int argc, char **argv, const char *text) {
  if (argc < 3 || (strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0)) return false;
  fputs(text, stdout);
  return true;
}

static const char *check_help =
    "usage: nnc check FILE.nn [--dump-ir] [-Werror]\n\n"
    "Parses, lowers and shape-checks FILE.nn ('-' for standard input) and prints one row per layer\n"
    "(name, op, output shape, parameters, forward FLOPs per example) and the totals.\n"
    "  --dump-ir   print the IR instead of the summary\n"
    "  -Werror     report warnings (unused names; self-normalizing networks' conditions; deep plain\n"
    "              ReLU stacks) as errors, and fail\n";
static const char *build_help =
    "usage: nnc build FILE.nn -o DIR [--no-blas] [--double] [--debug-api] [--stats] [--mpi] [--dump-ir] [-Werror]\n\n"
    "Writes DIR/NAME.h, DIR/NAME.c, DIR/nnrt.h and DIR/nnrt.c (all or none of them); build them with\n"
    "cc -O2 -std=c99 -c DIR/*.c and link with -lopenblas -lm (-lm alone with --no-blas).\n"
    "  -o DIR        the output folder (made if missing)\n"
    "  --no-blas     plain loops instead of cblas_sgemm\n"
    "  --double      compute in double precision (implies --no-blas)\n"
    "  --debug-api   also emit NAME_debug_* hooks (gradient checks)\n"
    "  --stats       also emit per-layer statistics: NAME_stats_record() and NAME_stats() (spec §8)\n"
    "  --mpi         also emit NAME_train_step_mpi(m, x, y, n, MPI_Comm comm), data-parallel\n"
    "                training over MPI (NAME.h includes mpi.h: build with mpicc)\n"
    "  --dump-ir     print the IR after differentiation\n"
    "  -Werror       warnings are errors\n";
static const char *bench_help =
    "usage: nnc bench FILE.nn [--batch N] [--steps N] [--runs N] [--threads N] [--build-dir DIR] [--cc CC]\n"
    "                 [--no-blas]\n\n"
    "Builds and compiles FILE.nn, then times the generated train_step and forward on random data:\n"
    "examples/s and GFLOP/s, the median of the runs.\n"
    "  --batch N       examples per step (default 128)\n"
    "  --steps N       steps per run (default 50)\n"
    "  --runs N        runs (default 5)\n"
    "  --threads N     threads for the BLAS and nnc's own kernels (default 1)\n"
    "  --build-dir DIR keep the generated sources and binary in DIR\n"
    "  --cc CC         the C compiler (default: $CC, else cc)\n"
    "  --no-blas       plain loops instead of cblas_sgemm\n";

/* Edit distance up to 3 (more counts as 3): enough to tell a typo from another word. */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 32 || lb > 32) return 3;
  int d[33][33];
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1; /* a swap of neighbours */
      d[i][j] = best;
    }
  return d[la][lb] < 3 ? d[la][lb] : 3;
}

static bool werror; /* -Werror: the front end's warnings are errors */

static int usage_error(const char *fmt, const char *arg) {
  fputs("nnc: error: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n(run 'nnc --help' for usage)\n", stderr);
  return 2;
}

static int cmd_check(int argc, char **argv) {
  if (command_help(argc, argv, check_help)) return 0;
  const char *file = NULL;
  bool dump_ir = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--dump-ir") == 0) dump_ir = true;
    else if (strcmp(argv[i], "-Werror") == 0) werror = true;
    else if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option '%s' for 'check'", argv[i]);
    else if (file) return usage_error("'check' takes one file (got '%s' too)", argv[i]);
    else file = argv[i];
  }
  if (!file) return usage_error("%s", "'check' needs a FILE.nn");
  Compilation c;
  if (compilation_read_file(&c, file, stderr) != 0) {
    compilation_free(&c);
    return 1;
  }
  c.diag.werror = werror;
  bool ok = compile_front(&c);
  if (ok) {
    if (dump_ir) ir_print(&c.graph, stdout);
    else summary_print(&c.graph, stdout);
    if (!dump_ir && grad_build(&c)) {
      Plan plan = plan_build(&c, false, true);
      summary_print_memory(&c.graph, &plan, stdout);
    }
  }
  compilation_free(&c);
  return ok ? 0 : 1;
}

/* front end + emission into memory; false after reporting errors */
static bool generate_model(Compilation *c, const char *file, const EmitOptions *opt, Driver driver,
                           OutFile *files, int *n_files) {
  if (compilation_read_file(c, file, stderr) != 0) return false;
  c->diag.werror = werror;
  if (!compile_front(c)) return false;
  return generate(c, opt, driver, files, n_files);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return strcmp(path, "-") == 0 ? "stdin.nn" : slash ? slash + 1 : path;
}

static int cmd_export(int argc, char **argv) {
  const char *file = NULL, *dir = NULL;
  bool torch = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0) {
      if (++i >= argc) return usage_error("%s", "'-o' needs a folder");
      dir = argv[i];
    } else if (strcmp(argv[i], "--torch") == 0) torch = true;
    else if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option '%s' for 'export'", argv[i]);
    else if (file) return usage_error("'export' takes one file (got '%s' too)", argv[i]);
    else file = argv[i];
  }
  if (!file) return usage_error("%s", "'export' needs a FILE.nn");
  if (!torch) return usage_error("%s", "'export' needs a target: --torch");
  if (!dir) return usage_error("%s", "'export' needs an output folder: -o DIR");
  Compilation c;
  OutFile files[2];
  int n_files = 0;
  bool ok = compilation_read_file(&c, file, stderr) == 0 && compile_front(&c);
  if (ok) {
    generate_torch(&c, base_name(file), files, &n_files);
    ok = write_files(dir, files, n_files, stderr);
  }
  compilation_free(&c);
  return ok ? 0 : 1;
}

static const char *plot_help =
    "usage: nnc plot STATS.csv -o FILE.svg\n\n"
    "Draws the per-layer statistics that 'nnc train --stats STATS.csv' wrote ('-' for standard input)\n"
    "into one self-contained SVG: activation variance and gradient norm against depth (log scale),\n"
    "one line per recorded step from early (blue) to late (orange), and the loss of each recorded step.\n"
    "  -o FILE.svg   the picture (written whole or not at all)\n";

static int cmd_plot(int argc, char **argv) {
  if (command_help(argc, argv, plot_help)) return 0;
  const char *file = NULL, *svg_path = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0) {
      if (++i >= argc || !*argv[i]) return usage_error("%s", "'-o' needs a file name");
      svg_path = argv[i];
    } else if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option '%s' for 'plot'", argv[i]);
    else if (file) return usage_error("'plot' takes one file (got '%s' too)", argv[i]);
    else file = argv[i];
  }
  if (!file) return usage_error("%s", "'plot' needs a STATS.csv (from nnc train --stats)");
  if (!svg_path) return usage_error("%s", "'plot' needs an output file: -o FILE.svg");
  const char *slash = strrchr(svg_path, '/');
  if (slash && !slash[1]) return usage_error("'-o %s' names a folder; give a file name", svg_path);
  Compilation c;
  bool ok = compilation_read_file(&c, file, stderr) == 0;
  char *svg = NULL;
  size_t svg_len = 0;
  if (ok) {
    char *base = arena_printf(&c.arena, "%s", base_name(file));
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = '\0';
    ok = plot_stats(&c, c.diag.file, c.src, base, &svg, &svg_len, stderr);
  }
  if (ok) {
    OutFile out = {slash ? slash + 1 : svg_path, svg, svg_len};
    const char *dir = !slash ? "." : slash == svg_path ? "/" : arena_strndup(&c.arena, svg_path, (size_t)(slash - svg_path));
    ok = write_files(dir, &out, 1, stderr);
  }
  free(svg);
  compilation_free(&c);
  return ok ? 0 : 1;
}

static int cmd_build(int argc, char **argv) {
  if (command_help(argc, argv, build_help)) return 0;
  const char *file = NULL, *dir = NULL;
  bool dump_ir = false;
  EmitOptions opt = {true, false, false, NULL, false, false};
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0) {
      if (++i >= argc) return usage_error("%s", "'-o' needs a folder");
      dir = argv[i];
    } else if (strcmp(argv[i], "--no-blas") == 0) opt.blas = false;
    else if (strcmp(argv[i], "--double") == 0) opt.double_precision = true, opt.blas = false;
    else if (strcmp(argv[i], "--debug-api") == 0) opt.debug_api = true;
    else if (strcmp(argv[i], "--stats") == 0) opt.stats = true;
    else if (strcmp(argv[i], "-Werror") == 0) werror = true;
    else if (strcmp(argv[i], "--mpi") == 0) opt.mpi = true;
    else if (strcmp(argv[i], "--dump-ir") == 0) dump_ir = true;
    else if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option '%s' for 'build'", argv[i]);
    else if (file) return usage_error("'build' takes one file (got '%s' too)", argv[i]);
    else file = argv[i];
  }
  if (!file) return usage_error("%s", "'build' needs a FILE.nn");
  if (!dir || !*dir) return usage_error("%s", "'build' needs an output folder: -o DIR");
  opt.source_name = base_name(file);
  Compilation c;
  OutFile files[16];
  int n_files = 0;
  bool ok = generate_model(&c, file, &opt, DRIVER_NONE, files, &n_files) && write_files(dir, files, n_files, stderr);
  if (ok && dump_ir) ir_print(&c.graph, stdout);
  compilation_free(&c);
  return ok ? 0 : 1;
}

static volatile sig_atomic_t interrupted; /* SIGINT or SIGQUIT arrived while a child ran */

static void note_interrupt(int sig) { interrupted = sig; }

/* Runs args[0] with args (no shell) and returns its exit status, 128 + the signal that ended it,
 * or -1 if it could not start. Like system(), nnc does not stop at Ctrl-C while the child runs:
 * the child gets it and stops, nnc notes it (`interrupted`) and goes on to remove its temporary
 * folder. */
static int run(char **args) {
  fflush(stdout);
  fflush(stderr);
  struct sigaction note, old_int, old_quit;
  memset(&note, 0, sizeof note);
  note.sa_handler = note_interrupt;
  sigemptyset(&note.sa_mask);
  /* a signal ignored from the start (a background job, nohup) stays ignored */
  sigaction(SIGINT, NULL, &old_int);
  sigaction(SIGQUIT, NULL, &old_quit);
  if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &note, NULL);
  if (old_quit.sa_handler != SIG_IGN) sigaction(SIGQUIT, &note, NULL);
  pid_t pid = fork();
  if (pid == 0) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    execvp(args[0], args);
    fprintf(stderr, "nnc: error: cannot run '%s': %s\n", args[0], strerror(errno));
    _exit(127);
  }
  int status = 0, result = -1;
  if (pid > 0) {
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (got == pid) result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGQUIT, &old_quit, NULL);
  return result;
}

static void remove_tree(const char *dir, const OutFile *files, int n_files, const char *binary) {
  for (int i = 0; i < n_files; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
    remove(path);
  }
  remove(binary);
  rmdir(dir);
}

/* Generates the model with a driver main() into build_dir (a temporary folder when NULL),
 * compiles it with cc, and runs it with args[1..] (under `mpirun -np ranks` when ranks > 0);
 * returns the driver's exit status. */
/* With a python, the bench driver is the PyTorch twin's (written beside the binary), which runs
 * the binary itself, alternating with the twin: args then holds its arguments after the binary. */
static int compile_and_run(const char *file, const EmitOptions *opt, Driver driver, const char *build_dir,
                           const char *cc, char **args, const char *python, int ranks) {
  Compilation c;
  OutFile files[16];
  int n_files = 0;
  if (!generate_model(&c, file, opt, driver, files, &n_files)) {
    compilation_free(&c);
    return 1;
  }
  if (python) generate_torch(&c, opt->source_name, files, &n_files);
  char path[4096];
  const char *dir = build_dir;
  if (!dir) {
    const char *tmpdir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/nnc-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    dir = mkdtemp(path);
    if (!dir) {
      fprintf(stderr, "nnc: error: cannot make a temporary folder: %s\n", strerror(errno));
      compilation_free(&c);
      return 1;
    }
  }
  int status = 1;
  char binary[4096];
  snprintf(binary, sizeof binary, "%s/%s-%s", dir, c.graph.model_name, driver == DRIVER_TRAIN ? "train" : "bench");
  if (write_files(dir, files, n_files, stderr)) {
    char *cmd[40];
    int n = 0;
    cmd[n++] = (char *)cc;
    cmd[n++] = "-O3";
    cmd[n++] = "-march=native";
    cmd[n++] = "-DNNC_NO_DISPATCH"; /* -march=native already targets this CPU: no clones to compile */
    cmd[n++] = "-std=c99";
    if (opt->blas) cmd[n++] = "-DNNRT_OPENBLAS";
    cmd[n++] = "-o";
    cmd[n++] = binary;
    for (int i = 0; i < n_files && n < 32; i++) {
      size_t len = strlen(files[i].name);
      if (len >= 2 && strcmp(files[i].name + len - 2, ".c") == 0)
        cmd[n++] = arena_printf(&c.arena, "%s/%s", dir, files[i].name);
    }
    if (opt->blas) cmd[n++] = "-lopenblas";
    if (driver == DRIVER_TRAIN) cmd[n++] = "-lz";
    cmd[n++] = "-lm";
    cmd[n] = NULL;
    fprintf(stderr, "nnc: compiling %s with %s\n", c.graph.model_name, cc);
    int rc = run(cmd);
    if (interrupted) {
      /* Ctrl-C during the compilation: not the compiler's failure; stop as the shell would */
      fprintf(stderr, "\nnnc: interrupted while compiling\n");
      status = 128 + (int)interrupted;
    } else if (rc != 0) {
      fprintf(stderr, "nnc: error: the C compiler failed (exit %d); the sources are kept in %s\n", rc, dir);
      build_dir = dir;
    } else {
      args[0] = binary;
      if (python) {
        /* python DIR/NAME_torch.py bench ... --vs BINARY */
        char *twin[40];
        int k = 0;
        twin[k++] = (char *)python;
        twin[k++] = arena_printf(&c.arena, "%s/%s_torch.py", dir, c.graph.model_name);
        for (int i = 1; args[i] && k < 36; i++) twin[k++] = args[i];
        twin[k++] = "--vs";
        twin[k++] = binary;
        twin[k] = NULL;
        setenv("PYTHONDONTWRITEBYTECODE", "1", 1); /* no __pycache__ left in the folder */
        status = run(twin);
      } else if (ranks > 0) {
        /* mpirun -np N --oversubscribe --quiet --bind-to none --mca mpi_yield_when_idle 1
           -x OPENBLAS_NUM_THREADS BINARY args...: --oversubscribe runs more ranks than cores; on a
           machine shared with other work, unbound ranks that yield while they wait for the others
           train faster (README, Data parallel); -x passes the BLAS thread count on */
        char *launch[48];
        int k = 0;
        launch[k++] = "mpirun";
        launch[k++] = "-np";
        launch[k++] = arena_printf(&c.arena, "%d", ranks);
        launch[k++] = "--oversubscribe";
        launch[k++] = "--quiet"; /* the ranks say what failed; no banner about it */
        launch[k++] = "--bind-to";
        launch[k++] = "none";
        launch[k++] = "--mca";
        launch[k++] = "mpi_yield_when_idle";
        launch[k++] = "1";
        launch[k++] = "-x";
        launch[k++] = "OPENBLAS_NUM_THREADS";
        for (int i = 0; args[i] && k < 47; i++) launch[k++] = args[i];
        launch[k] = NULL;
        status = run(launch);
      } else {
        status = run(args);
      }
      if (status < 0) {
        fprintf(stderr, "nnc: error: cannot run %s\n", binary);
        status = 1;
      } else if (status > 128) {
        fprintf(stderr, "\nnnc: %s stopped by signal %d\n", binary, status - 128);
      }
    }
  }
  if (!build_dir) remove_tree(dir, files, n_files, binary);
  compilation_free(&c);
  return status;
}

/* Options shared by train and bench; returns 1 if argv[*i] was one of them, -1 on a usage error. */
static int common_option(int argc, char **argv, int *i, const char **build_dir, const char **cc, EmitOptions *opt) {
  if (strcmp(argv[*i], "--build-dir") == 0 || strcmp(argv[*i], "--cc") == 0) {
    if (*i + 1 >= argc) {
      usage_error("'%s' needs a value", argv[*i]);
      return -1;
    }
    if (argv[*i][2] == 'b') *build_dir = argv[++*i];
    else *cc = argv[++*i];
    return 1;
  }
  if (strcmp(argv[*i], "--no-blas") == 0) {
    opt->blas = false;
    return 1;
  }
  if (strcmp(argv[*i], "-Werror") == 0) {
    werror = true;
    return 1;
  }
  return 0;
}

/* OpenBLAS reads this when it loads: with it the driver starts no idle worker threads that
 * would compete with the one doing the work. */
static void set_blas_threads(int threads) {
  char value[16];
  snprintf(value, sizeof value, "%d", threads);
  setenv("OPENBLAS_NUM_THREADS", value, 1);
}

/* 1 when PATH has an executable `name` */
static bool on_path(const char *name) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/bin:/bin";
  while (*path) {
    size_t len = strcspn(path, ":");
    char candidate[4096];
    snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(len ? len : 1), len ? path : ".", name);
    if (access(candidate, X_OK) == 0) return true;
    path += len + (path[len] == ':');
  }
  return false;
}

#define MAX_RANKS 4096 /* as the message of a bad --mpi says */

static bool parse_positive(const char *s, int max, int *out);

/* --mpi N: the compiler becomes mpicc ($MPICC; --cc CC is the compiler it wraps, OMPI_CC) and
 * the run `mpirun -np N`. As root Open MPI refuses to start unless told, as its manual says, by
 * the two variables set here. Returns the exit status of a failure, or 0. */
static int prepare_mpi(int ranks, const char **cc, bool cc_given) {
  const char *tools[2] = {getenv("MPICC"), "mpirun"};
  if (!tools[0] || !*tools[0]) tools[0] = "mpicc";
  for (int i = 0; i < 2; i++)
    if (!on_path(tools[i])) {
      fprintf(stderr, "nnc: error: --mpi %d needs Open MPI, but %s is not on PATH (Debian: apt-get install "
                      "openmpi-bin libopenmpi-dev)\n", ranks, tools[i]);
      return 1;
    }
  if (cc_given) setenv("OMPI_CC", *cc, 1);
  *cc = tools[0];
  if (geteuid() == 0) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  }
  return 0;
}

/* OpenBLAS picks its kernels when it loads, and the generated program loads the OpenBLAS that nnc
 * runs with: when nnc's copy chose generic kernels for a CPU with AVX2 (an OpenBLAS older than the
 * CPU, or OPENBLAS_CORETYPE set so), the program gets the fitting core in its environment. */
static void guard_openblas(void) {
  const char *core = nnrt_openblas_corename();
  unsigned cpu = nnrt_cpu_features();
  const char *type = nnrt_openblas_coretype(core, cpu);
  if (!type) return;
  setenv("OPENBLAS_CORETYPE", type, 1);
  fprintf(stderr, "nnc: OpenBLAS chose its generic %s kernels on this %s CPU; running with OPENBLAS_CORETYPE=%s\n",
          core, cpu & NNRT_CPU_AVX512 ? "AVX-512" : "AVX2", type);
}

static int cmd_train(int argc, char **argv) {
  const char *build_dir = NULL, *cc = getenv("CC"), *env_cc = cc;
  EmitOptions opt = {true, false, false, NULL, false, false};
  int ranks = 0;
  if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
    fputs("usage: nnc train FILE.nn [--build-dir DIR] [--cc CC] [--no-blas] [-Werror] [--mpi N] [driver options]\n\n"
          "  --mpi N              train data-parallel on N processes under Open MPI's mpirun (compiled\n"
          "                       with mpicc; --cc CC then names the compiler mpicc runs): each batch\n"
          "                       is split across them; rank 0 prints and writes the checkpoints\n", stdout);
    nnrt_train_usage(stdout);
    return 0;
  }
  /* FILE.nn comes first; nnc's own options are taken out, the rest goes to the driver */
  if (argc < 3 || (argv[2][0] == '-' && argv[2][1])) return usage_error("%s", "usage: nnc train FILE.nn [options]");
  const char *file = argv[2];
  char **pass = calloc((size_t)argc + 2, sizeof *pass);
  if (!pass) nn_die("out of memory");
  int n_pass = 1;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--mpi") == 0 || strncmp(argv[i], "--mpi=", 6) == 0) {
      const char *value = argv[i][5] == '=' ? argv[i] + 6 : i + 1 < argc ? argv[++i] : NULL;
      if (!value || !parse_positive(value, MAX_RANKS, &ranks)) {
        free(pass);
        if (!value) return usage_error("%s", "'--mpi' needs the number of processes, e.g. --mpi 2");
        return usage_error("'--mpi' needs a number of processes from 1 to 4096 (got '%s')", value);
      }
      continue;
    }
    int common = common_option(argc, argv, &i, &build_dir, &cc, &opt);
    if (common < 0) {
      free(pass);
      return 2;
    }
    if (!common) pass[n_pass++] = argv[i];
  }
  nnrt_train_args targs;
  int parsed = nnrt_train_parse_args(&targs, n_pass, pass, 1, stderr);
  if (parsed != 0) {
    free(pass);
    return parsed > 0 ? 0 : 2;
  }
  if (nnrt_train_check_files(&targs) != 0) {
    free(pass);
    return 1;
  }
  opt.source_name = base_name(file);
  opt.stats = targs.stats != NULL;
  if (!cc || !*cc) cc = "cc";
  if (ranks > 0 && opt.stats) { /* the data-parallel step does not record them */
    fprintf(stderr, "nnc: error: --stats does not work with --mpi yet: record the statistics in a single-process run\n");
    free(pass);
    return 2;
  }
  if (ranks > 0) {
    int failed = prepare_mpi(ranks, &cc, cc != env_cc);
    if (failed) {
      free(pass);
      return failed;
    }
    opt.mpi = true;
  }
  set_blas_threads(targs.threads);
  if (opt.blas) guard_openblas();
  int status = compile_and_run(file, &opt, DRIVER_TRAIN, build_dir, cc, pass, NULL, ranks);
  free(pass);
  return status;
}

static bool parse_positive(const char *s, int max, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < 1 || v > max) return false;
  *out = (int)v;
  return true;
}

/* The Python that runs the PyTorch twin: $NNC_PYTHON, else Debian's /usr/bin/python3 (which
 * python3-torch installs into), else python3 from PATH. NULL, after saying why, without torch. */
static const char *torch_python(void) {
  const char *python = getenv("NNC_PYTHON");
  if (!python || !*python) python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  char *probe[] = {(char *)python, "-c", "import torch", NULL};
  int saved = dup(2), null = open("/dev/null", O_WRONLY);
  if (null >= 0) dup2(null, 2); /* the probe's own traceback would only confuse */
  int rc = run(probe);
  if (saved >= 0) dup2(saved, 2), close(saved);
  if (null >= 0) close(null);
  if (rc == 0) return python;
  fprintf(stderr, "nnc: error: --vs torch needs PyTorch, but %s cannot import torch "
                  "(Debian: apt-get install python3-torch; or set NNC_PYTHON)\n", python);
  return NULL;
}

static int cmd_bench(int argc, char **argv) {
  if (command_help(argc, argv, bench_help)) return 0;
  const char *file = NULL, *build_dir = NULL, *cc = getenv("CC"), *vs = NULL;
  EmitOptions opt = {true, false, false, NULL, false, false};
  int batch = 128, steps = 50, runs = 5, threads = 1;
  for (int i = 2; i < argc; i++) {
    int common = common_option(argc, argv, &i, &build_dir, &cc, &opt);
    if (common < 0) return 2;
    if (common) continue;
    struct { const char *flag; int *value; int max; } nums[] = {
        {"--batch", &batch, 1 << 16}, {"--steps", &steps, 1 << 20}, {"--runs", &runs, 101}, {"--threads", &threads, 256}};
    bool matched = false;
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
      if (strcmp(argv[i], nums[k].flag) != 0) continue;
      matched = true;
      if (i + 1 >= argc || !parse_positive(argv[i + 1], nums[k].max, nums[k].value))
        return usage_error("'%s' needs a whole number from 1 up", argv[i]);
      i++;
    }
    if (matched) continue;
    if (strcmp(argv[i], "--vs") == 0) {
      if (i + 1 >= argc || strcmp(argv[i + 1], "torch") != 0) return usage_error("%s", "'--vs' takes 'torch'");
      vs = argv[++i];
      continue;
    }
    if (argv[i][0] == '-' && argv[i][1]) return usage_error("unknown option '%s' for 'bench'", argv[i]);
    if (file) return usage_error("'bench' takes one file (got '%s' too)", argv[i]);
    file = argv[i];
  }
  if (!file) return usage_error("%s", "'bench' needs a FILE.nn");
  opt.source_name = base_name(file);
  char nums[4][16];
  snprintf(nums[0], 16, "%d", batch);
  snprintf(nums[1], 16, "%d", steps);
  snprintf(nums[2], 16, "%d", runs);
  snprintf(nums[3], 16, "%d", threads);
  char *args[] = {NULL, nums[0], nums[1], nums[2], nums[3], NULL};
  char *twin_args[] = {NULL, "bench", "--batch", nums[0], "--steps", nums[1], "--rounds", nums[2], "--threads", nums[3], NULL};
  const char *python = vs ? torch_python() : NULL;
  if (vs && !python) return 1;
  set_blas_threads(threads);
  if (opt.blas) guard_openblas();
  return compile_and_run(file, &opt, DRIVER_BENCH, build_dir, cc && *cc ? cc : "cc", vs ? twin_args : args, python, 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("nnc %s\n", NNC_VERSION);
    return 0;
  }
  if (strcmp(cmd, "check") == 0) return cmd_check(argc, argv);
  if (strcmp(cmd, "build") == 0) return cmd_build(argc, argv);
  if (strcmp(cmd, "train") == 0) return cmd_train(argc, argv);
  if (strcmp(cmd, "bench") == 0) return cmd_bench(argc, argv);
  if (strcmp(cmd, "export") == 0) return cmd_export(argc, argv);
  if (strcmp(cmd, "plot") == 0) return cmd_plot(argc, argv);
  static const char *commands[] = {"check", "build", "train", "bench", "export", "plot", "help"};
  const char *nearest = NULL;
  int best = 3;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    int d = edit_distance(cmd, commands[i]);
    if (d < best && d < (int)strlen(commands[i]) - 1) best = d, nearest = commands[i];
  }
  if (nearest) {
    fprintf(stderr, "nnc: error: unknown command '%s'; did you mean '%s'?\n(run 'nnc --help' for usage)\n", cmd,
            nearest);
    return 2;
  }
  return usage_error("unknown command '%s'", cmd);
}
