/* main.c — the nnc command line: flags, then a straight-line pipeline per command.
 *
 *   nnc check FILE.nn [--dump-ir]      parse, lower, check shapes; print the summary
 *   nnc build FILE.nn -o DIR [...]     emit C (see emit.c)
 *   nnc train FILE.nn [...]            build, compile and run the training driver
 *
 * Exit status: 0 success, 1 an error in the input, 2 bad usage.
 */
#include <string.h>

#include "nnc.h"

static void usage(FILE *out) {
  fputs("usage: nnc <command> FILE.nn [options]\n"
        "\n"
        "commands:\n"
        "  check FILE.nn [--dump-ir]   parse and shape-check; print the layer summary\n"
        "  --help                      this text\n"
        "  --version                   the version\n"
        "\n"
        "FILE.nn may be '-' for standard input.\n",
        out);
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("nnc: error: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n(run 'nnc --help' for usage)\n", stderr);
  return 2;
}

static int cmd_check(int argc, char **argv) {
  const char *file = NULL;
  bool dump_ir = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--dump-ir") == 0) dump_ir = true;
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
  bool ok = compile_front(&c);
  if (ok) {
    if (dump_ir) ir_print(&c.graph, stdout);
    else summary_print(&c.graph, stdout);
  }
  compilation_free(&c);
  return ok ? 0 : 1;
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
  return usage_error("unknown command '%s'", cmd);
}
