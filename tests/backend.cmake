# tests/backend.cmake — the back end's tests, included at the end of tests/CMakeLists.txt.
#
# They run `nnc build` at test time and compile what it writes with the C compiler, so each test
# names the op, optimizer, model or case that fails. All are labelled `backend`
# (ctest -L backend), run in well under a minute on two cores, and pass under -DNNC_SANITIZE=ON,
# where the generated code is compiled with the sanitizer flags too (NNC_GEN_CFLAGS).
#
#   gradcheck_<case>        tests/gradcheck/<case>.nn built --double --debug-api against
#                           gradcheck.c: every parameter's generated gradient against a 4-point
#                           central difference (h = 1e-4), |fd - an| / max(|fd| + |an|, 1e-5) <= 1e-6;
#                           one case per differentiable op and loss, plus fashion_snn scaled down;
#                           each runs on a full batch (n = max_batch) and a partial one
#   forward_<case>          tests/forward/<case>.nn built as float (BLAS) and double, against
#                           forward_check.c: outputs and loss against the long-double reference of
#                           tests/forward/cases.h (formulas in reference.h, written from the spec),
#                           in ulps, for n = max_batch, n < max_batch and forward() in chunks
#   conv_fwd_<case>         conv_check.c: conv2d (a case worked out by hand; strides, padding, 1x1,
#                           5x5), max/avg/global pooling, max-pool ties and batchnorm (batch
#                           statistics in training, running statistics after steps) against
#                           references written in the driver
#   resblock_dump, torch_resblock  tests/gradcheck/resblock.nn (residual blocks with batchnorm)
#                           against a hand-written PyTorch twin: forward (running statistics), loss,
#                           gradients, one sgd step, forward after it (torch_resblock.py; skipped
#                           without torch)
#   dispatch_identical      dispatch.nn built at -O2 with and without run-time dispatch (hot
#                           functions cloned per instruction set at -O3): the same bits out
#                           (losses, parameters, forward) from dispatch_check.c
#   threads_<model>_<blas|noblas>  threads_check.c on threads_conv.nn (direct and unfolded
#                           convolutions, batchnorm, residuals) and threads_dense.nn (selu,
#                           alpha_dropout, adam), built -DNNC_MIN_WORK=1 so that every loop
#                           NAME_set_threads can split is split: 1, 2, 3 and 5 threads give the
#                           same losses, parameters and forward() bits; bad counts refused
#   init_check              init_check.c: each initializer's bound / std / mean, zero biases (§4)
#   dropout_check           dropout_check.c: the kept and dropped values of dropout (inverted) and
#                           alpha_dropout (torch.nn.AlphaDropout) in training, identity in inference
#   nonfinite_step          nonfinite.c: NaN reaches forward's output through relu; train_step
#                           refuses (NaN, nothing changed, generator included) a step whose loss
#                           or any gradient is not finite
#   optim_<case>            optim.c: train_step against torch.optim's formulas computed by hand in
#                           double, 3 steps, relative 1e-12 (sgd, momentum, nesterov, weight decay,
#                           rmsprop, adam)
#   one_pass_<case>_<build> one_pass.c: batch-1 steps, each dense weight updated in one pass, against
#                           the written gradients plus the optimizer's expressions, bit for bit;
#                           an overflowing weight gradient refused (float BLAS, double plain C)
#   optim_torch_<case>      the same steps replayed by torch.optim in float64 (torch_parity.py,
#                           relative 1e-12); skipped when NNC_TEST_PYTHON cannot import torch
#   compile_<model>_<mode>  models/*.nn (and the spec's examples, when the spec is beside the clone)
#                           that the emitter supports, tiny_mlp and multilabel: the output of
#                           nnc build (blas), --no-blas and --double compiles with
#                           cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -c and links with
#                           api_main.c, which calls every API function (compile_check.cmake),
#                           and compares its outputs (before and after one train_step) with the
#                           double build's (float modes, 3e-5) or with the saved reference
#                           backend/outputs/<model>.txt (double mode, 1e-9; UPDATE_GOLDEN=1 ctest
#                           -R _double rewrites it); <mode> clang: the --no-blas output with clang,
#                           when it is installed
#   precision_label_noblas, precision_target_blas  precision.c: the float build's forward and one
#                           train_step against the double build's on the same parameters, 1e-5;
#                           precision_label_blas_one: the same with one example (BLAS build)
#   vectorize_<model>       vectorize_check.sh (GCC only): at cc -O2, no element-wise loop of nnc_train()
#                           or nnc_infer() that uses nnc_select (selu, elu, leaky_relu, their
#                           gradients) is left scalar for "control flow in loop" (-fopt-info-vec)
#   matmul_check            matmul_check.c: nnc_matmul() (emit_dense.c) as emitted, ~8,000 products
#                           of shapes 1..70 (and K past a k-block), every transpose: equal to a
#                           plain k-order loop bit for bit (beta 0), within 1e-5 (beta 0.5); the
#                           dispatched, undispatched and plain-C builds agree bit for bit
#   blas_core_match         blas_core.c: the OpenBLAS build, under the core nnc's guard picks for a
#                           generic OpenBLAS on this CPU, against the --no-blas build: forward and
#                           three train_steps, 2e-5
#   blas_guard              blas_guard.cmake: with OPENBLAS_CORETYPE=Prescott, nnc bench and nnc
#                           train say so and run the fitting core (read from /proc/cpuinfo)
#   ckpt_<case>_<blas|noblas>  checkpoint.c through the generated API: save/load round trip,
#                           bit-identical resume, wrong model, another parameter table, corrupt files, failed saves, seeds,
#                           forward in batches and chunks, rejected train_step arguments
#   train_e2e_<case>        nnc train on tests/data/tiny_*.csv (train_e2e.cmake), its losses against
#                           a curve recorded from an independent PyTorch run (expected_losses.py;
#                           train_e2e_expected_losses replays it where torch is installed)
#   train_rss               train_rss.c: nnc train's trainer on 14,000 random 28x28 images keeps
#                           them as bytes: its peak RSS exceeds that of a run keeping 64 examples
#                           by at most 1.25x the pixels' bytes + 3 MB (floats would be 4x)
#   model_names             model_names.cmake: models named tm, train, forward, create, nn_real, m,
#                           ... (C library, CBLAS and nnc identifiers) build as the spec's §7 says,
#                           train, save and load; a few through nnc train and nnc bench too
#   build_output_atomic     scripts/build_output.cmake: a build that fails on its third file (a
#                           folder named nnrt.c) leaves the first two as they were, and one that
#                           fails in a folder it made removes that folder
#   checkpoint_durable      scripts/durable_save.cmake: nnrt.c compiled as generated code is (plain
#                           -std=c99) fsyncs the temporary and the folder, and a save removes the
#                           temporaries of savers that are gone (durable_save.c)
#   train_interrupt_compile scripts/interrupt.sh: Ctrl-C (SIGINT to the process group) while
#                           nnc train runs the C compiler: exit 130, "interrupted", $TMPDIR clean
#   setup_script            scripts/setup_script.sh: scripts/setup with stand-in tools: not root and
#                           no sudo explained (exit 1), packages listed, apt-get waits for the lock
#   readme_figures          README's example nnc train output agrees with its Results table
#   docs_examples           docs/language.md: every example model passes nnc check (and build),
#                           every error example fails as stated, the C API and options are real
#   twin_parity_<model>     twin_parity.py: the exported PyTorch twin against the generated C (built
#                           --double, its driver at -O2) on a fixed batch: forward, loss, gradients, 3 optimizer steps,
#                           initialisers, checkpoint round trip and a torch-trained checkpoint in nnc;
#                           models/*.nn, the spec's examples, tiny_mlp, multilabel, tests/gradcheck,
#                           tests/twin;
#                           skipped (77) while nnc build cannot generate a model's ops
#   twin_reference_<model>  twin_parity.py reference: the twin alone: parameter and buffer counts as
#                           nnc check's, glorot bounds with k^2 fans, a Python checkpoint round trip,
#                           and for tests/twin/*.nn (conv2d, pools, batchnorm) forward, loss and running
#                           statistics against loops written from spec §4
#   export_cli              nnc export and nnc bench --vs torch: exit statuses, files, missing torch
#   twin_accuracy_fashion_snn  nnc train (2,000 examples, 1 epoch), then the twin's test accuracy on
#                           Fashion-MNIST equals nnc's within 0.05 points
#   golden_tiny_dense_c     nnc build tests/golden/tiny_dense.nn against tiny_dense.c.expected and
#                           tiny_dense.h.expected (UPDATE_GOLDEN=1 ctest -R golden_ regenerates;
#                           golden.cmake). tiny.nn there is the front end's (IR) and has convolutions.

set(NNC_BE_SRC ${CMAKE_CURRENT_LIST_DIR})
set(NNC_BE_WORK ${CMAKE_CURRENT_BINARY_DIR}/backend)
get_filename_component(NNC_BE_REPO ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
get_filename_component(NNC_BE_SPEC ${NNC_BE_REPO}/../shared/spec/language.md ABSOLUTE)

set(NNC_GEN_CFLAGS "" CACHE STRING "Extra flags for the generated C that the tests compile")
if(EXISTS /usr/bin/python3)
  set(nnc_default_python /usr/bin/python3)
else()
  find_program(nnc_default_python python3)
endif()
set(NNC_TEST_PYTHON "${nnc_default_python}" CACHE FILEPATH "Python with torch for optim_torch_* (skipped without)")

separate_arguments(nnc_gen_cflags UNIX_COMMAND "${NNC_GEN_CFLAGS}")
if(NNC_SANITIZE)
  list(APPEND nnc_gen_cflags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
endif()
string(JOIN "|" nnc_gen_cflags_arg ${nnc_gen_cflags})
string(JOIN "|" nnc_blas_libs_arg ${BLAS_LIBRARIES})
find_path(NNC_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
set(nnc_cblas_include "")
if(NNC_CBLAS_INCLUDE_DIR AND NOT NNC_CBLAS_INCLUDE_DIR IN_LIST CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES)
  set(nnc_cblas_include "-I${NNC_CBLAS_INCLUDE_DIR}")
endif()
# determinism and speed: one BLAS thread; the sanitizers stop at the first error; trainers cache
# inflated IDX files in the build folder, not the user's
set(nnc_be_env OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    NNC_CACHE_DIR=${CMAKE_BINARY_DIR}/nnc-cache)

# nnc_be_model_test(NAME MODELS a.nn... [FLAGS ...] [MODEL_FLAGS ...] [DRIVER x.c] [ARGS ...] [LIBS ...]
#                   [BUILD_ONLY])
# A test that runs backend/run_model.cmake: nnc build, compile with the driver, run it.
function(nnc_be_model_test name)
  cmake_parse_arguments(PARSE_ARGV 1 A "BUILD_ONLY;DISPATCH" "DRIVER" "MODELS;FLAGS;MODEL_FLAGS;ARGS;LIBS;CFLAGS")
  string(JOIN "|" models ${A_MODELS})
  string(JOIN "|" model_flags ${A_MODEL_FLAGS})
  string(JOIN "|" flags ${A_FLAGS})
  string(JOIN "|" args ${A_ARGS})
  set(libs $<TARGET_FILE:nnrt> ${A_LIBS})
  string(JOIN "|" libs ${libs})
  # -O0 builds: the hot functions' clones (each at -O3) would only cost compile time; the clones'
  # results are compared with the plain build in dispatch_identical (DISPATCH keeps them)
  set(no_dispatch -DNNC_NO_DISPATCH)
  if(A_DISPATCH)
    set(no_dispatch "")
  endif()
  string(JOIN "|" cflags ${nnc_cblas_include} ${nnc_gen_cflags} ${no_dispatch} ${A_CFLAGS})
  set(build_only "")
  if(A_BUILD_ONLY)
    set(build_only -DBUILD_ONLY=1)
  endif()
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DWORK=${NNC_BE_WORK}/${name}
                   "-DMODELS=${models}" "-DBUILD_FLAGS=${flags}" "-DMODEL_FLAGS=${model_flags}"
                   -DDRIVER=${A_DRIVER} "-DARGS=${args}"
                   "-DLIBS=${libs}" "-DCFLAGS=${cflags}" ${build_only} -P ${NNC_BE_SRC}/backend/run_model.cmake)
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 LABELS backend ENVIRONMENT "${nnc_be_env}")
endfunction()

# ---- gradient checks: one per op and loss ----
file(GLOB nnc_gradcheck_models CONFIGURE_DEPENDS ${NNC_BE_SRC}/gradcheck/*.nn)
foreach(model IN LISTS nnc_gradcheck_models)
  get_filename_component(case ${model} NAME_WE)
  set(args "")
  if(case MATCHES "dropout")
    list(APPEND args --stochastic) # masks frozen for the differences; checks needing a fixed forward off
  endif()
  if(case MATCHES "batchnorm|resblock")
    list(APPEND args --batch-coupled) # batch statistics: a lone example's loss differs
  endif()
  if(case MATCHES "^loss_(xent|mse|bce)$")
    list(APPEND args --loss ${CMAKE_MATCH_1}) # the loss value against its formula too
  endif()
  nnc_be_model_test(gradcheck_${case} MODELS ${model} FLAGS --double --debug-api
                    DRIVER ${NNC_BE_SRC}/gradcheck/gradcheck.c ARGS ${args})
endforeach()

# ---- forward values against the spec's formulas (tests/forward: a .nn and a cases.h row each) ----
file(GLOB nnc_forward_cases CONFIGURE_DEPENDS ${NNC_BE_SRC}/forward/*.nn)
foreach(model IN LISTS nnc_forward_cases)
  get_filename_component(case ${model} NAME_WE)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${model})
  file(READ ${model} text)
  set(dir ${NNC_BE_WORK}/forward_models/${case})
  foreach(build f d) # the same model under two names: float (fwd_f) and double (fwd_d)
    string(REGEX REPLACE "\nmodel [A-Za-z_0-9]+" "\nmodel fwd_${build}" renamed "${text}")
    file(WRITE ${dir}/fwd_${build}.nn "${renamed}")
  endforeach()
  nnc_be_model_test(forward_${case} MODELS ${dir}/fwd_f.nn ${dir}/fwd_d.nn MODEL_FLAGS --debug-api --double,--debug-api
                    DRIVER ${NNC_BE_SRC}/forward/forward_check.c LIBS ${BLAS_LIBRARIES} ARGS ${case})
endforeach()

# ---- forward semantics the gradient checks cannot see: initializers, dropout's values ----
nnc_be_model_test(init_check MODELS ${NNC_BE_SRC}/backend/init_check.nn FLAGS --double --debug-api
                  DRIVER ${NNC_BE_SRC}/backend/init_check.c)
nnc_be_model_test(dropout_check MODELS ${NNC_BE_SRC}/backend/dropout_inv.nn ${NNC_BE_SRC}/backend/dropout_alpha.nn
                  FLAGS --double --debug-api DRIVER ${NNC_BE_SRC}/backend/dropout_check.c)

# ---- NaN propagates, and a step with a non-finite loss or gradient is refused ----
nnc_be_model_test(nonfinite_step MODELS ${NNC_BE_SRC}/backend/nonfinite.nn FLAGS --debug-api --no-blas
                  DRIVER ${NNC_BE_SRC}/backend/nonfinite.c ARGS @WORK@)

# ---- convolutional ops' forward values against conv_check.c's own references ----
# case | input shape | the expression o = ... | conv_check's arguments after the shape
set(nnc_conv_fwd_cases
  "hand|1, 4, 4|conv2d(x, 1, 3, stride=2, pad=1)|hand"
  "conv_same|3, 7, 6|conv2d(x, 4, 3, pad=1)|conv 4 3 1 1 1"
  "conv_stride|3, 7, 6|conv2d(x, 2, 3, stride=2, pad=1, bias=false)|conv 2 3 2 1 0"
  "conv_5x5|2, 9, 8|conv2d(x, 3, 5, stride=3, pad=2)|conv 3 5 3 2 1"
  "conv_valid|2, 6, 7|conv2d(x, 3, 2)|conv 3 2 1 0 1"
  "conv_group|2, 16, 17|conv2d(x, 3, 3, pad=1)|conv 3 3 1 1 1"
  "conv_1x1|4, 5, 3|conv2d(x, 3, 1)|conv 3 1 1 0 1"
  "conv_1x1_stride|4, 5, 3|conv2d(x, 3, 1, stride=2)|conv 3 1 2 0 1"
  "max_pool|2, 7, 6|max_pool2d(x, 2)|max_pool 2 2"
  "max_pool_overlap|2, 7, 6|max_pool2d(x, 3, stride=2)|max_pool 3 2"
  "avg_pool|2, 7, 6|avg_pool2d(x, 2)|avg_pool 2 2"
  "avg_pool_stride1|2, 5, 6|avg_pool2d(x, 3, stride=1)|avg_pool 3 1"
  "gap|3, 5, 4|global_avg_pool(x)|gap"
  "maxpool_tie|2, 2, 2|max_pool2d(conv2d(x, 1, 1, bias=false), 2)|maxpool_tie"
  "batchnorm|3, 4, 5|batchnorm(x)|batchnorm 0.9 1e-5"
  "batchnorm_args|2, 3, 3|batchnorm(x, momentum=0.7, eps=0.01)|batchnorm 0.7 0.01")
foreach(entry IN LISTS nnc_conv_fwd_cases)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 CASE)
  list(GET entry 1 SHAPE)
  list(GET entry 2 EXPR)
  list(GET entry 3 args)
  string(REPLACE ", " ";" dims "${SHAPE}")
  separate_arguments(args UNIX_COMMAND "${args}")
  configure_file(${NNC_BE_SRC}/backend/conv_fwd.nn.in ${NNC_BE_WORK}/conv_fwd_${CASE}.nn @ONLY)
  nnc_be_model_test(conv_fwd_${CASE} MODELS ${NNC_BE_WORK}/conv_fwd_${CASE}.nn FLAGS --double --debug-api
                    DRIVER ${NNC_BE_SRC}/backend/conv_check.c ARGS ${dims} ${args})
endforeach()

# ---- a residual network with batchnorm against PyTorch (hand-written twin) ----
nnc_be_model_test(resblock_dump MODELS ${NNC_BE_SRC}/gradcheck/resblock.nn FLAGS --double --debug-api
                  DRIVER ${NNC_BE_SRC}/backend/resblock_dump.c ARGS ${NNC_BE_WORK}/resblock.dump)
set_tests_properties(resblock_dump PROPERTIES FIXTURES_SETUP resblock_dump)
if(NNC_TEST_PYTHON)
  add_test(NAME torch_resblock COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/backend/torch_resblock.py ${NNC_BE_WORK}/resblock.dump)
  set_tests_properties(torch_resblock PROPERTIES TIMEOUT 120 LABELS backend SKIP_REGULAR_EXPRESSION "SKIPPED:"
                       FIXTURES_REQUIRED resblock_dump)
endif()

# ---- run-time dispatch: the clones compute bit for bit what the plain build computes ----
nnc_be_model_test(dispatch_clones MODELS ${NNC_BE_SRC}/backend/dispatch.nn FLAGS --no-blas --debug-api
                  DRIVER ${NNC_BE_SRC}/backend/dispatch_check.c ARGS ${NNC_BE_WORK}/dispatch_clones.out
                  DISPATCH CFLAGS -O2)
nnc_be_model_test(dispatch_plain MODELS ${NNC_BE_SRC}/backend/dispatch.nn FLAGS --no-blas --debug-api
                  DRIVER ${NNC_BE_SRC}/backend/dispatch_check.c ARGS ${NNC_BE_WORK}/dispatch_plain.out CFLAGS -O2)
set_tests_properties(dispatch_clones dispatch_plain PROPERTIES FIXTURES_SETUP dispatch_outputs)
set_tests_properties(dispatch_clones PROPERTIES TIMEOUT 600) # three clones at -O3 compile slowly
add_test(NAME dispatch_identical
         COMMAND ${CMAKE_COMMAND} -E compare_files ${NNC_BE_WORK}/dispatch_clones.out ${NNC_BE_WORK}/dispatch_plain.out)
set_tests_properties(dispatch_identical PROPERTIES LABELS backend FIXTURES_REQUIRED dispatch_outputs)

# ---- threads: the same bits on 1, 2, 3 and 5 threads, every splittable loop split ----
foreach(model conv dense)
  nnc_be_model_test(threads_${model}_blas MODELS ${NNC_BE_SRC}/backend/threads_${model}.nn FLAGS --debug-api
                    DRIVER ${NNC_BE_SRC}/backend/threads_check.c LIBS ${BLAS_LIBRARIES} CFLAGS -O2 -DNNC_MIN_WORK=1)
  nnc_be_model_test(threads_${model}_noblas MODELS ${NNC_BE_SRC}/backend/threads_${model}.nn FLAGS --no-blas --debug-api
                    DRIVER ${NNC_BE_SRC}/backend/threads_check.c CFLAGS -O2 -DNNC_MIN_WORK=1)
endforeach()

# ---- optimizers: hand-computed torch.optim updates; torch itself when available ----
# case | the optimizer call in the .nn file
set(nnc_optim_cases
  "sgd|sgd(lr=0.05)"
  "sgd_momentum|sgd(lr=0.05, momentum=0.9)"
  "nesterov|sgd(lr=0.05, momentum=0.9, nesterov=true)"
  "weight_decay|sgd(lr=0.05, momentum=0.5, weight_decay=0.1)"
  "rmsprop|rmsprop(lr=0.01, rho=0.8, eps=0.001)"
  "rmsprop_wd|rmsprop(lr=0.01, weight_decay=0.05)"
  "adam|adam(lr=0.01, beta1=0.8, beta2=0.95, eps=0.001)"
  "adam_wd|adam(lr=0.01, weight_decay=0.1)")
set(nnc_optim_torch_cases sgd_momentum adam)
foreach(entry IN LISTS nnc_optim_cases)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 CASE)
  list(GET entry 1 OPTIMIZER)
  configure_file(${NNC_BE_SRC}/backend/optim_linear.nn.in ${NNC_BE_WORK}/optim_${CASE}.nn @ONLY)
  # sgd(lr=0.05, momentum=0.9) -> sgd lr=0.05 momentum=0.9: optim.c's arguments
  string(REGEX REPLACE "[(), ]+" ";" args "${OPTIMIZER}")
  list(REMOVE_ITEM args "")
  nnc_be_model_test(optim_${CASE} MODELS ${NNC_BE_WORK}/optim_${CASE}.nn FLAGS --double --debug-api
                    DRIVER ${NNC_BE_SRC}/backend/optim.c ARGS ${args})
  if(CASE IN_LIST nnc_optim_torch_cases AND NNC_TEST_PYTHON)
    add_test(NAME optim_torch_${CASE}
             COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/backend/torch_parity.py ${NNC_BE_WORK}/optim_${CASE}.dump)
    set_tests_properties(optim_torch_${CASE} PROPERTIES TIMEOUT 120 LABELS backend
                         SKIP_REGULAR_EXPRESSION "SKIPPED:" FIXTURES_REQUIRED optim_dump_${CASE})
    # the dump comes from a second run of optim_<case>'s binary, as the fixture's setup
    add_test(NAME optim_dump_${CASE}
             COMMAND ${NNC_BE_WORK}/optim_${CASE}/test ${args} --dump ${NNC_BE_WORK}/optim_${CASE}.dump)
    set_tests_properties(optim_dump_${CASE} PROPERTIES LABELS backend FIXTURES_SETUP optim_dump_${CASE}
                         FIXTURES_REQUIRED optim_build_${CASE} ENVIRONMENT "${nnc_be_env}")
    set_tests_properties(optim_${CASE} PROPERTIES FIXTURES_SETUP optim_build_${CASE})
  endif()
endforeach()

# ---- batch-1 training in one pass: bit for bit the written path, per optimizer and build ----
foreach(entry IN LISTS nnc_optim_cases)
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 CASE)
  list(GET entry 1 OPTIMIZER)
  configure_file(${NNC_BE_SRC}/backend/one_pass.nn.in ${NNC_BE_WORK}/one_pass_${CASE}.nn @ONLY)
  string(REGEX REPLACE "[(), ]+" ";" args "${OPTIMIZER}")
  list(REMOVE_ITEM args "")
  foreach(build float double_plain)
    set(flags --debug-api)
    set(libs ${BLAS_LIBRARIES})
    if(build STREQUAL "double_plain")
      set(flags --debug-api --double --no-blas)
      set(libs "")
    endif()
    nnc_be_model_test(one_pass_${CASE}_${build} MODELS ${NNC_BE_WORK}/one_pass_${CASE}.nn FLAGS ${flags}
                      DRIVER ${NNC_BE_SRC}/backend/one_pass.c ARGS ${args} @WORK@ LIBS ${libs})
  endforeach()
endforeach()
nnc_be_model_test(one_pass_adam_wd_float_plain MODELS ${NNC_BE_WORK}/one_pass_adam_wd.nn FLAGS --debug-api --no-blas
                  DRIVER ${NNC_BE_SRC}/backend/one_pass.c ARGS adam lr=0.01 weight_decay=0.1 @WORK@)

# ---- the generated C compiles cleanly in every mode and links with only what §7 says ----
file(GLOB nnc_models CONFIGURE_DEPENDS ${NNC_BE_REPO}/models/*.nn)
set(nnc_compile_models ${nnc_models} ${NNC_BE_SRC}/data/tiny_mlp.nn ${NNC_BE_SRC}/backend/multilabel.nn)
# the spec's examples, when they are not already in models/
if(EXISTS ${NNC_BE_SPEC})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NNC_BE_SPEC})
  file(READ ${NNC_BE_SPEC} spec)
  string(REPLACE ";" "<semicolon>" spec "${spec}")
  string(REGEX MATCHALL "```\n[^`]*```" blocks "${spec}")
  foreach(block IN LISTS blocks)
    if(NOT block MATCHES "\nmodel ([A-Za-z_][A-Za-z0-9_]*)")
      continue()
    endif()
    set(name ${CMAKE_MATCH_1})
    string(REGEX REPLACE "^```\n" "" block "${block}")
    string(REGEX REPLACE "```$" "" block "${block}")
    string(REPLACE "<semicolon>" ";" block "${block}")
    if(EXISTS ${NNC_BE_REPO}/models/${name}.nn)
      file(READ ${NNC_BE_REPO}/models/${name}.nn existing)
      if(existing STREQUAL block)
        continue()
      endif()
    endif()
    file(WRITE ${NNC_BE_WORK}/spec/spec_${name}.nn "${block}")
    list(APPEND nnc_compile_models ${NNC_BE_WORK}/spec/spec_${name}.nn)
  endforeach()
endif()
set(nnc_float_vs_double 3e-5) # api_main --expect: the float builds' outputs against the double build's
set(nnc_clang "")
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  find_program(NNC_TEST_CLANG clang)
  if(NNC_TEST_CLANG)
    set(nnc_clang ${NNC_TEST_CLANG})
  endif()
endif()
foreach(model IN LISTS nnc_compile_models)
  get_filename_component(stem ${model} NAME_WE)
  # with clang too (its -Wall has -Wunused-function for unused static inline helpers, which gcc's
  # lacks): the --no-blas output, compiled and linked exactly as above, without sanitizers
  # outputs: the double build's against the saved reference, the float builds' against the double's
  set(reference ${NNC_BE_SRC}/backend/outputs/${stem}.txt)
  set(double_outputs "${NNC_BE_WORK}/compile_${stem}_double/outputs.txt|${nnc_float_vs_double}")
  if(nnc_clang)
    add_test(NAME compile_${stem}_clang
             COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${nnc_clang} -DMODEL=${model} -DMODE=no-blas
                     -DWORK=${NNC_BE_WORK}/compile_${stem}_clang -DAPI_MAIN=${NNC_BE_SRC}/backend/api_main.c
                     "-DEXPECT=${double_outputs}"
                     -DRUN_MODEL=${NNC_BE_SRC}/backend/run_model.cmake -P ${NNC_BE_SRC}/backend/compile_check.cmake)
    set_tests_properties(compile_${stem}_clang PROPERTIES TIMEOUT 600 LABELS backend
                         FIXTURES_REQUIRED compile_double_${stem})
  endif()
  foreach(mode blas no-blas double)
    string(REPLACE "-" "" m ${mode})
    set(expect "${double_outputs}")
    if(mode STREQUAL "double")
      set(expect "${reference}|1e-9")
    endif()
    add_test(NAME compile_${stem}_${m}
             COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DMODEL=${model} -DMODE=${mode}
                     -DWORK=${NNC_BE_WORK}/compile_${stem}_${m} -DAPI_MAIN=${NNC_BE_SRC}/backend/api_main.c
                     -DRUN_MODEL=${NNC_BE_SRC}/backend/run_model.cmake "-DCFLAGS=${nnc_gen_cflags_arg}"
                     "-DBLAS_LIBS=${nnc_blas_libs_arg}" "-DCBLAS_INCLUDE=${nnc_cblas_include}" -DNNRT_LIB=$<TARGET_FILE:nnrt>
                     "-DEXPECT=${expect}" -DREFERENCE=${reference}
                     -P ${NNC_BE_SRC}/backend/compile_check.cmake)
    # resnet20's train() compiled three times at -O3 (run-time dispatch) takes some 40 s of CPU
    set_tests_properties(compile_${stem}_${m} PROPERTIES TIMEOUT 600 LABELS backend ENVIRONMENT "${nnc_be_env}")
    if(mode STREQUAL "double")
      set_tests_properties(compile_${stem}_${m} PROPERTIES FIXTURES_SETUP compile_double_${stem})
    else()
      set_tests_properties(compile_${stem}_${m} PROPERTIES FIXTURES_REQUIRED compile_double_${stem})
    endif()
  endforeach()
endforeach()

# ---- the PyTorch twin (nnc export --torch) against the generated C: every model in models/, the
# spec's examples, the small models above and every gradient-check model (which together cover
# every dense op, loss and optimizer); twin_parity.py exits 77 (skipped) for models whose ops
# nnc build cannot generate yet, so they start running once it can ----
if(NNC_TEST_PYTHON)
  file(GLOB nnc_twin_only_models CONFIGURE_DEPENDS ${NNC_BE_SRC}/twin/*.nn)
  set(nnc_twin_models ${nnc_compile_models} ${nnc_gradcheck_models} ${nnc_twin_only_models})
  list(REMOVE_DUPLICATES nnc_twin_models)
  # -O2 (after run_model.cmake's -O0): resnet20 in double otherwise takes minutes; run_model.cmake splits at |
  string(JOIN "|" nnc_twin_cflags -O2 ${nnc_cblas_include} ${nnc_gen_cflags})
  foreach(model IN LISTS nnc_twin_models)
    get_filename_component(stem ${model} NAME_WE)
    add_test(NAME twin_parity_${stem}
             COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/backend/twin_parity.py parity --nnc $<TARGET_FILE:nnc>
                     --cc ${CMAKE_C_COMPILER} --model ${model} --work ${NNC_BE_WORK}/twin_parity_${stem}
                     "--cflags=${nnc_twin_cflags}")
    set_tests_properties(twin_parity_${stem} PROPERTIES TIMEOUT 900 LABELS backend SKIP_RETURN_CODE 77
                         ENVIRONMENT "${nnc_be_env}")
  endforeach()
  # the twin on its own, against nnc check and loops written from spec §4 (convolutions, pooling and
  # batchnorm are checked this way while nnc build cannot generate them)
  foreach(model IN LISTS nnc_compile_models nnc_twin_only_models)
    get_filename_component(stem ${model} NAME_WE)
    add_test(NAME twin_reference_${stem}
             COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/backend/twin_parity.py reference --nnc $<TARGET_FILE:nnc>
                     --model ${model} --work ${NNC_BE_WORK}/twin_reference_${stem})
    set_tests_properties(twin_reference_${stem} PROPERTIES TIMEOUT 300 LABELS backend SKIP_RETURN_CODE 77)
  endforeach()
  add_test(NAME export_cli
           COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DMODEL=${NNC_BE_SRC}/data/tiny_mlp.nn
                   -DBAD=${NNC_BE_SRC}/errors/call_unknown_function.nn -DWORK=${NNC_BE_WORK}/export_cli
                   -P ${NNC_BE_SRC}/backend/export_cli.cmake)
  set_tests_properties(export_cli PROPERTIES TIMEOUT 60 LABELS backend)
  # a checkpoint trained by nnc train evaluates to the same test accuracy in the twin
  add_test(NAME twin_accuracy_fashion_snn
           COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/backend/twin_parity.py accuracy --nnc $<TARGET_FILE:nnc>
                   --model ${NNC_BE_REPO}/models/fashion_snn.nn --work ${NNC_BE_WORK}/twin_accuracy_fashion_snn)
  set_tests_properties(twin_accuracy_fashion_snn PROPERTIES TIMEOUT 300 LABELS backend SKIP_RETURN_CODE 77
                       ENVIRONMENT "${nnc_be_env}" COST 50)
endif()

# ---- float kernels against double ones ----
foreach(kind label target conv)
  set(template ${NNC_BE_SRC}/backend/precision.nn.in)
  if(kind STREQUAL "target")
    set(template ${NNC_BE_SRC}/backend/precision_target.nn.in)
  elseif(kind STREQUAL "conv")
    set(template ${NNC_BE_SRC}/backend/precision_conv.nn.in)
  endif()
  foreach(NAME prec_f prec_d)
    configure_file(${template} ${NNC_BE_WORK}/precision_${kind}/${NAME}.nn @ONLY)
  endforeach()
  # the float kernels do not depend on BLAS (only matmuls do): one mode each keeps the suite short
  if(kind STREQUAL "label")
    set(mode noblas)
    set(flags --debug-api --no-blas)
    set(libs "")
  else()
    set(mode blas)
    set(flags --debug-api)
    set(libs ${BLAS_LIBRARIES})
  endif()
  nnc_be_model_test(precision_${kind}_${mode}
                    MODELS ${NNC_BE_WORK}/precision_${kind}/prec_f.nn ${NNC_BE_WORK}/precision_${kind}/prec_d.nn
                    FLAGS ${flags} MODEL_FLAGS - --double,--debug-api DRIVER ${NNC_BE_SRC}/backend/precision.c
                    LIBS ${libs})
endforeach()
# one example: a BLAS build's matrix-vector forward and outer-product weight gradients (emit_matmul)
nnc_be_model_test(precision_label_blas_one
                  MODELS ${NNC_BE_WORK}/precision_label/prec_f.nn ${NNC_BE_WORK}/precision_label/prec_d.nn
                  FLAGS --debug-api MODEL_FLAGS - --double,--debug-api DRIVER ${NNC_BE_SRC}/backend/precision.c
                  LIBS ${BLAS_LIBRARIES} CFLAGS -DPRECISION_BATCH=1)
# a batch of 16: training runs Winograd's layers on Winograd (CONV3X3_WINOGRAD_MIN_BATCH; batch 8
# above trains them on the direct kernel, and inference runs Winograd at any batch)
nnc_be_model_test(precision_conv_blas_wide
                  MODELS ${NNC_BE_WORK}/precision_conv/prec_f.nn ${NNC_BE_WORK}/precision_conv/prec_d.nn
                  FLAGS --debug-api MODEL_FLAGS - --double,--debug-api DRIVER ${NNC_BE_SRC}/backend/precision.c
                  LIBS ${BLAS_LIBRARIES} CFLAGS -DPRECISION_BATCH=16)
# the convolutions' portable path too (im2col + gemm, what CPUs without AVX2 and FMA run)
nnc_be_model_test(precision_conv_portable
                  MODELS ${NNC_BE_WORK}/precision_conv/prec_f.nn ${NNC_BE_WORK}/precision_conv/prec_d.nn
                  FLAGS --debug-api MODEL_FLAGS - --double,--debug-api DRIVER ${NNC_BE_SRC}/backend/precision.c
                  LIBS ${BLAS_LIBRARIES} CFLAGS -DNNC_NO_SIMD)

# ---- nnc's own product for dense layers ----
add_test(NAME matmul_check
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DSRC=${NNC_BE_SRC}/backend
                 -DWORK=${NNC_BE_WORK}/matmul_check "-DCFLAGS=${nnc_gen_cflags_arg}" -P ${NNC_BE_SRC}/backend/matmul_check.cmake)
set_tests_properties(matmul_check PROPERTIES TIMEOUT 300 LABELS backend)

# ---- element-wise loops vectorize at cc -O2 (GCC's -fopt-info) ----
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  foreach(model ${NNC_BE_SRC}/backend/vectorize.nn ${NNC_BE_REPO}/models/fashion_snn.nn ${NNC_BE_REPO}/models/fashion_relu.nn)
    get_filename_component(stem ${model} NAME_WE)
    add_test(NAME vectorize_${stem}
             COMMAND sh ${NNC_BE_SRC}/backend/vectorize_check.sh $<TARGET_FILE:nnc> ${CMAKE_C_COMPILER} ${model}
                     ${NNC_BE_WORK}/vectorize_${stem})
    set_tests_properties(vectorize_${stem} PROPERTIES TIMEOUT 120 LABELS backend)
  endforeach()
endif()

# ---- OpenBLAS's generic kernels: the guard's choice of core, and its results ----
foreach(NAME core_blas core_loop)
  configure_file(${NNC_BE_SRC}/backend/blas_core.nn.in ${NNC_BE_WORK}/blas_core/${NAME}.nn @ONLY)
endforeach()
nnc_be_model_test(blas_core_match MODELS ${NNC_BE_WORK}/blas_core/core_blas.nn ${NNC_BE_WORK}/blas_core/core_loop.nn
                  FLAGS --debug-api MODEL_FLAGS - --no-blas,--debug-api DRIVER ${NNC_BE_SRC}/backend/blas_core.c
                  LIBS ${BLAS_LIBRARIES})
add_test(NAME blas_guard
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DDATA=${NNC_BE_SRC}/data
                 -DWORK=${NNC_BE_WORK}/blas_guard -P ${NNC_BE_SRC}/backend/blas_guard.cmake)
set_tests_properties(blas_guard PROPERTIES TIMEOUT 120 LABELS backend ENVIRONMENT "${nnc_be_env}")

# ---- checkpoints, determinism and argument checks through the generated API ----
set(nnc_ckpt_cases roundtrip resume wrong_model param_table corrupt failed_save seed forward_batch forward_chunks packed_weights
    bad_args)
foreach(mode blas noblas)
  set(flags --debug-api)
  set(libs "")
  if(mode STREQUAL "noblas")
    list(APPEND flags --no-blas)
  else()
    set(libs ${BLAS_LIBRARIES})
  endif()
  nnc_be_model_test(ckpt_build_${mode} MODELS ${NNC_BE_SRC}/backend/ckpt_a.nn ${NNC_BE_SRC}/backend/ckpt_b.nn
                    FLAGS ${flags} DRIVER ${NNC_BE_SRC}/backend/checkpoint.c LIBS ${libs} BUILD_ONLY)
  set_tests_properties(ckpt_build_${mode} PROPERTIES FIXTURES_SETUP ckpt_${mode})
  foreach(case IN LISTS nnc_ckpt_cases)
    add_test(NAME ckpt_${case}_${mode}
             COMMAND ${NNC_BE_WORK}/ckpt_build_${mode}/test ${case} ${NNC_BE_WORK}/ckpt_build_${mode}/${case})
    set_tests_properties(ckpt_${case}_${mode} PROPERTIES TIMEOUT 60 LABELS backend FIXTURES_REQUIRED ckpt_${mode}
                         ENVIRONMENT "${nnc_be_env}")
  endforeach()
endforeach()

# ---- nnc train end to end ----
# tiny_mlp's mean training loss per epoch (batch 16, seed 1), recorded from an independent run:
# tests/data/expected_losses.py replays the training in PyTorch (train_e2e_expected_losses checks
# the record against it where torch is installed)
set(nnc_expected_losses "1.177487 0.371302 0.196659 0.117562 0.071081 0.043510 0.049972")
if(NNC_TEST_PYTHON)
  add_test(NAME train_e2e_expected_losses
           COMMAND ${NNC_TEST_PYTHON} ${NNC_BE_SRC}/data/expected_losses.py --epochs 7 --check "${nnc_expected_losses}")
  set_tests_properties(train_e2e_expected_losses PROPERTIES TIMEOUT 120 LABELS backend SKIP_REGULAR_EXPRESSION "SKIPPED:")
endif()
foreach(case train resume missing_data bad_flag help)
  set(work ${NNC_BE_WORK}/train_e2e)
  if(NOT case MATCHES "^(train|resume)$")
    set(work ${NNC_BE_WORK}/train_e2e_${case})
  endif()
  add_test(NAME train_e2e_${case}
           COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DDATA=${NNC_BE_SRC}/data
                   -DWORK=${work} -DCASE=${case} "-DEXPECTED_LOSSES=${nnc_expected_losses}"
                   -P ${NNC_BE_SRC}/backend/train_e2e.cmake)
  set_tests_properties(train_e2e_${case} PROPERTIES TIMEOUT 120 LABELS backend ENVIRONMENT "${nnc_be_env}")
endforeach()
# the longest chain (two compilations of the trainer, then two more): start it first
set_tests_properties(train_e2e_train PROPERTIES FIXTURES_SETUP train_e2e COST 100)
set_tests_properties(train_e2e_resume PROPERTIES FIXTURES_REQUIRED train_e2e COST 100)

# ---- the training driver's memory: the dataset kept as bytes ----
add_executable(train_rss ${NNC_BE_SRC}/backend/train_rss.c)
add_test(NAME train_rss
         COMMAND sh -c "rm -rf \"$1\" && mkdir -p \"$1\" && exec \"$2\" \"$3\" \"$4\" \"$5\" rss_mlp \"$1\"" sh
                 ${NNC_BE_WORK}/train_rss $<TARGET_FILE:train_rss> $<TARGET_FILE:nnc> ${CMAKE_C_COMPILER}
                 ${NNC_BE_SRC}/backend/rss_mlp.nn)
set_tests_properties(train_rss PROPERTIES TIMEOUT 120 LABELS backend ENVIRONMENT "${nnc_be_env}")

# ---- golden emitted C ----
add_test(NAME golden_tiny_dense_c
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DMODEL=${NNC_BE_SRC}/golden/tiny_dense.nn
                 -DWORK=${NNC_BE_WORK}/golden_tiny_dense_c -P ${NNC_BE_SRC}/backend/golden.cmake)
set_tests_properties(golden_tiny_dense_c PROPERTIES TIMEOUT 60 LABELS backend)

# ---- model names that are C library, CBLAS or nnc identifiers still give working C ----
set(nnc_name_cases tm sgemm openblas blas train infer update sections forward save load steps create destroy
    step begin_step init_params all_finite nn_real nn_expm1 matmul gemm im2col col2im nn_sum nn_dot_centered NN_HOT m x y t n batch max_batch seed out rng
    api argc now by_value sum row mask result fixed acts TM A tm_ nnc1 NNRt2)
string(JOIN "|" nnc_name_list ${nnc_name_cases})
add_test(NAME model_names
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DCC=${CMAKE_C_COMPILER} -DWORK=${NNC_BE_WORK}/model_names
                 -DDRIVER=${NNC_BE_SRC}/backend/model_names_main.c "-DNAMES=${nnc_name_list}"
                 "-DTRAIN_NAMES=create|steps" "-DBENCH_NAMES=now" -DDATA=${NNC_BE_SRC}/data
                 "-DBLAS_LIBS=${nnc_blas_libs_arg}" "-DCBLAS_INCLUDE=${nnc_cblas_include}"
                 -P ${NNC_BE_SRC}/backend/model_names.cmake)
set_tests_properties(model_names PROPERTIES TIMEOUT 300 LABELS backend ENVIRONMENT "${nnc_be_env}")

# ---- nnc build replaces the output folder's files all at once or not at all ----
add_test(NAME build_output_atomic
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DMODEL=${NNC_BE_SRC}/data/tiny_mlp.nn
                 -DWORK=${NNC_BE_WORK}/build_output_atomic -P ${NNC_BE_SRC}/scripts/build_output.cmake)
set_tests_properties(build_output_atomic PROPERTIES TIMEOUT 60 LABELS backend)

# ---- checkpoints are fsynced (file and folder) whatever the flags, and killed savers' leftovers go ----
add_test(NAME checkpoint_durable
         COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DSRC=${NNC_BE_REPO} -DWORK=${NNC_BE_WORK}/checkpoint_durable
                 "-DCFLAGS=${nnc_gen_cflags_arg}" -P ${NNC_BE_SRC}/scripts/durable_save.cmake)
set_tests_properties(checkpoint_durable PROPERTIES TIMEOUT 60 LABELS backend ENVIRONMENT "${nnc_be_env}")

# ---- Ctrl-C while nnc train compiles: exit 130, no temporary folder left ----
add_test(NAME train_interrupt_compile
         COMMAND sh ${NNC_BE_SRC}/scripts/interrupt.sh $<TARGET_FILE:nnc> ${NNC_BE_SRC}/data/tiny_mlp.nn
                 ${NNC_BE_SRC}/data/tiny_train.csv ${NNC_BE_SRC}/data/tiny_test.csv ${NNC_BE_WORK}/train_interrupt_compile)
set_tests_properties(train_interrupt_compile PROPERTIES TIMEOUT 60 LABELS backend)

# ---- scripts/setup: a missing sudo explained, its packages listed, the dpkg lock waited for ----
add_test(NAME setup_script COMMAND sh ${NNC_BE_SRC}/scripts/setup_script.sh ${NNC_BE_REPO} ${NNC_BE_WORK}/setup_script)
set_tests_properties(setup_script PROPERTIES TIMEOUT 60 LABELS backend)

# ---- README's example output agrees with its Results table ----
add_test(NAME readme_figures COMMAND ${CMAKE_COMMAND} -DREADME=${NNC_BE_REPO}/README.md -P ${NNC_BE_SRC}/scripts/readme_figures.cmake)
set_tests_properties(readme_figures PROPERTIES TIMEOUT 30 LABELS backend)

# ---- docs/language.md: its examples compile (or fail as stated), its API and options are real ----
string(JOIN "|" nnc_unsupported_arg ${NNC_BACKEND_UNSUPPORTED_OPS})
add_test(NAME docs_examples
         COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DDOC=${NNC_BE_REPO}/docs/language.md
                 -DWORK=${NNC_BE_WORK}/docs_examples "-DUNSUPPORTED=${nnc_unsupported_arg}"
                 -P ${NNC_BE_SRC}/scripts/docs_examples.cmake)
set_tests_properties(docs_examples PROPERTIES TIMEOUT 60 LABELS backend)

# ---- the same with batchnorm: a refused step leaves the running statistics too ----
nnc_be_model_test(nonfinite_step_bn MODELS ${NNC_BE_SRC}/backend/nonfinite_bn.nn FLAGS --debug-api --no-blas
                  DRIVER ${NNC_BE_SRC}/backend/nonfinite.c ARGS @WORK@)

# ---- nnc build/train --stats (tests/stats/): the statistics against values computed apart ----
nnc_be_model_test(stats_check
                  MODELS ${NNC_BE_REPO}/tests/stats/stats_full.nn ${NNC_BE_REPO}/tests/stats/stats_cut_h1.nn
                         ${NNC_BE_REPO}/tests/stats/stats_cut_a1.nn ${NNC_BE_REPO}/tests/stats/stats_cut_r.nn
                         ${NNC_BE_REPO}/tests/stats/stats_infer_only.nn
                  FLAGS --no-blas MODEL_FLAGS "--no-blas,--stats,--debug-api" - - - "--no-blas,--stats"
                  DRIVER ${NNC_BE_REPO}/tests/stats/stats_check.c)
add_test(NAME stats_fixed_point
         COMMAND sh ${NNC_BE_REPO}/tests/stats/fixed_point.sh $<TARGET_FILE:nnc> ${CMAKE_C_COMPILER} ${NNC_BE_REPO}
                 ${NNC_BE_WORK}/stats_fixed_point)
set_tests_properties(stats_fixed_point PROPERTIES TIMEOUT 180 LABELS backend ENVIRONMENT "${nnc_be_env}")
add_test(NAME stats_plot_render
         COMMAND sh ${NNC_BE_REPO}/tests/stats/plot_render.sh $<TARGET_FILE:nnc> ${NNC_BE_REPO} ${NNC_BE_WORK}/stats_plot_render)
set_tests_properties(stats_plot_render PROPERTIES TIMEOUT 180 LABELS backend SKIP_RETURN_CODE 77)
add_test(NAME stats_compile
         COMMAND sh ${NNC_BE_REPO}/tests/stats/stats_compile.sh $<TARGET_FILE:nnc> ${CMAKE_C_COMPILER} ${NNC_BE_REPO}
                 ${NNC_BE_WORK}/stats_compile)
set_tests_properties(stats_compile PROPERTIES TIMEOUT 300 LABELS backend)
