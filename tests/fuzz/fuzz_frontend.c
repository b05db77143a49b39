/* fuzz_frontend.c — libFuzzer target for the front end (lexer, parser, lowering, shape checks).
 *
 * Built only with -DNNC_FUZZ=ON and clang (see tests/frontend.cmake), which instruments nnccore
 * with -fsanitize=fuzzer-no-link,address,undefined. Every input must compile or fail with at
 * least one reported error; a crash, a sanitizer report, a hang or a silent failure is a bug.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNNC_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_frontend
 *   mkdir -p /tmp/fuzz-work
 *   build-fuzz/tests/fuzz_frontend -max_total_time=600 -jobs=1 -timeout=25 \
 *       -dict=tests/fuzz/nn.dict /tmp/fuzz-work tests/fuzz/corpus
 *
 * New inputs go to the first directory; tests/fuzz/corpus holds the seeds (the models, the golden
 * model, a sample of tests/errors) and stays small.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "nnc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static FILE *devnull;
  if (!devnull) devnull = fopen("/dev/null", "w");
  Compilation c;
  compilation_init(&c, "fuzz.nn", (const char *)data, size, devnull);
  c.max_nodes = 100000; /* keep each input fast; the limit's own path is the same at any size */
  bool ok = compile_front(&c);
  if (!ok && c.diag.n_errors == 0) {
    fprintf(stderr, "fuzz_frontend: compile_front failed without reporting an error\n");
    abort();
  }
  if (ok) {
    if (!ir_verify(&c.graph, stderr)) abort();
    summary_print(&c.graph, devnull);
    ir_print(&c.graph, devnull);
  }
  compilation_free(&c);
  return 0;
}
