# tests/frontend.cmake — the front end's tests, included at the end of tests/CMakeLists.txt.
#
#   test_lexer, test_parse, test_lower   cmocka unit tests of the lexer, the parser and lowering
#   test_errors                          every tests/errors/*.nn against the `# expect:` lines in it
#                                        (one cmocka test per file; format in test_errors.c)
#   test_robust                          thousands of random and mutated inputs: no crash, no hang,
#                                        and a failed compile always reports an error
#   test_plan                            random models differentiated and planned: replaying train()
#                                        and infer() over a shadow arena, no value is overwritten
#                                        before its last read
#   models_check                         `nnc check` on models/*.nn: exit 0, no warnings
#   spec_examples_check                  the same on the spec's examples (skipped without the spec)
#   golden_tiny_ir                       `nnc check --dump-ir` of tests/golden/tiny.nn against
#                                        tiny.ir.expected (UPDATE_GOLDEN=1 ctest ... regenerates)
#   nnc_cli_exit                         exit statuses of `nnc check` (0, 1, 2) and '-' for stdin
#   nnc_werror                           -Werror: a lint warning is an error (location, caret, exit 1,
#                                        nothing built)
#   fuzz_frontend                        libFuzzer target, only with -DNNC_FUZZ=ON and clang
#                                        (how to run it: tests/fuzz/fuzz_frontend.c)
#
# All carry the label `frontend`: ctest -L frontend.
# The spec is looked for beside the clone, at ../shared/spec/language.md; tests that need it skip
# (or leave those inputs out) when it is not there.

set(NNC_FE_TESTS ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(NNC_FE_REPO ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
get_filename_component(NNC_FE_SPEC ${NNC_FE_REPO}/../shared/spec/language.md ABSOLUTE)

option(NNC_FUZZ "Build the libFuzzer target fuzz_frontend (clang only; instruments nnccore)" OFF)

function(nnc_frontend_test name)
  add_executable(${name} ${NNC_FE_TESTS}/unit/${name}.c)
  target_include_directories(${name} PRIVATE ${CMOCKA_INCLUDE_DIR} ${NNC_FE_TESTS}/unit)
  target_link_libraries(${name} PRIVATE nnccore ${CMOCKA_LIBRARIES})
  target_compile_definitions(${name} PRIVATE NNC_TESTS_DIR="${NNC_FE_TESTS}" NNC_REPO_DIR="${NNC_FE_REPO}"
                                             NNC_SPEC_PATH="${NNC_FE_SPEC}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 LABELS frontend FAIL_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()

nnc_frontend_test(test_lexer)
nnc_frontend_test(test_parse)
nnc_frontend_test(test_lower)
nnc_frontend_test(test_errors)
nnc_frontend_test(test_robust)
nnc_frontend_test(test_plan)

# ---- the nnc command line on whole files ----
add_test(NAME models_check
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DMODELS=${NNC_FE_REPO}/models
                 -P ${NNC_FE_TESTS}/scripts/check_models.cmake)
add_test(NAME spec_examples_check
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DSPEC=${NNC_FE_SPEC}
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/spec_examples -P ${NNC_FE_TESTS}/scripts/check_models.cmake)
set_tests_properties(spec_examples_check PROPERTIES SKIP_REGULAR_EXPRESSION "spec not found")
add_test(NAME golden_tiny_ir
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DIN=${NNC_FE_TESTS}/golden/tiny.nn
                 -DEXPECTED=${NNC_FE_TESTS}/golden/tiny.ir.expected -DACTUAL=${CMAKE_CURRENT_BINARY_DIR}/tiny.ir
                 -P ${NNC_FE_TESTS}/scripts/golden_ir.cmake)
add_test(NAME nnc_cli_exit
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DMODEL=${NNC_FE_REPO}/models/fashion_snn.nn
                 -DBAD=${NNC_FE_TESTS}/errors/spec_resnet20.nn -DWARN=${NNC_FE_TESTS}/errors/warn_unused.nn
                 -P ${NNC_FE_TESTS}/scripts/cli_exit.cmake)
add_test(NAME nnc_werror
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DWARN=${NNC_FE_TESTS}/errors/warn_selu_dropout.nn
                 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/werror -P ${NNC_FE_TESTS}/scripts/werror.cmake)
set_tests_properties(models_check spec_examples_check golden_tiny_ir nnc_cli_exit nnc_werror PROPERTIES TIMEOUT 120 LABELS frontend)

# ---- libFuzzer (clang): cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNNC_FUZZ=ON ----
if(NNC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "NNC_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  set(NNC_FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_compile_options(nnccore PUBLIC -fsanitize=fuzzer-no-link ${NNC_FUZZ_FLAGS})
  target_link_options(nnccore PUBLIC -fsanitize=address,undefined)
  add_executable(fuzz_frontend ${NNC_FE_TESTS}/fuzz/fuzz_frontend.c)
  target_compile_options(fuzz_frontend PRIVATE -fsanitize=fuzzer ${NNC_FUZZ_FLAGS})
  target_link_options(fuzz_frontend PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_frontend PRIVATE nnccore)
  # A short smoke run over the seed corpus, so the target stays buildable and its seeds pass.
  add_test(NAME fuzz_frontend_seeds COMMAND fuzz_frontend -runs=0 ${NNC_FE_TESTS}/fuzz/corpus)
  set_tests_properties(fuzz_frontend_seeds PROPERTIES TIMEOUT 120 LABELS frontend)
endif()
