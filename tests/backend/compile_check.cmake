# compile_check.cmake — the generated C of one model compiles cleanly and links on its own.
#
#   cmake -DNNC=nnc -DCC=cc -DMODEL=x.nn -DMODE=blas|no-blas|double -DWORK=dir -DAPI_MAIN=api_main.c
#         -DRUN_MODEL=run_model.cmake [-DCFLAGS=...] [-DBLAS_LIBS=...] [-DCBLAS_INCLUDE=-Idir]
#         [-DNNRT_LIB=libnnrt.a] [-DEXPECT=file|tol|...] [-DREFERENCE=file] -P compile_check.cmake
#
# Builds MODEL with `nnc build` (blas: default; no-blas: --no-blas; double: --double), then
#   1. compiles NAME.c and nnrt.c as spec §7 says a user would, but strictly:
#      CC -std=c99 -O2 -Wall -Wextra -Werror -pedantic -c   (no other flags, no include path but
#      cblas.h's folder in blas mode),
#   2. links them with api_main.c, which calls every public API function, using only -lm (plus
#      BLAS in blas mode), and runs it: it writes WORK/outputs.txt (outputs before and after one
#      train_step, and its loss) and compares them with each EXPECT file to its tolerance (the
#      double build's outputs, or the saved reference of tests/backend/outputs/).
# With UPDATE_GOLDEN=1 in the environment, WORK/outputs.txt is copied to REFERENCE instead of being
# compared with it (review the change with git diff before committing it).
# nnrt.c is the same file in every mode: with NNRT_LIB (the tree's build of it) given, only the
# blas mode compiles it, and the other modes link NNRT_LIB instead (to save time).
# The generated files get exactly the flags above (what a user's build sees; the other back-end
# tests run the generated code under the sanitizers); CFLAGS (the sanitizer flags, when the tree
# is built with them) go to api_main.c and the link.
cmake_minimum_required(VERSION 3.20)
foreach(var CFLAGS BLAS_LIBS EXPECT)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()
if(MODE STREQUAL "blas")
  set(flags "")
  set(libs ${BLAS_LIBS})
elseif(MODE STREQUAL "no-blas")
  set(flags "--no-blas")
  set(libs "")
elseif(MODE STREQUAL "double")
  set(flags "--double")
  set(libs "")
else()
  message(FATAL_ERROR "MODE must be blas, no-blas or double")
endif()

# nnc build and model_config.h, through run_model.cmake (no driver: it stops there)
execute_process(COMMAND "${CMAKE_COMMAND}" "-DNNC=${NNC}" "-DCC=${CC}" "-DWORK=${WORK}" "-DMODELS=${MODEL}"
                        "-DBUILD_FLAGS=${flags}" -P "${RUN_MODEL}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${out}${err}")
endif()
file(GLOB generated RELATIVE "${WORK}/gen" "${WORK}/gen/*.c")
list(SORT generated)
if(NNRT_LIB AND NOT MODE STREQUAL "blas")
  list(REMOVE_ITEM generated nnrt.c)
  list(APPEND libs "${NNRT_LIB}")
endif()
message("generated: ${generated}")

set(include "")
if(MODE STREQUAL "blas" AND CBLAS_INCLUDE)
  set(include "${CBLAS_INCLUDE}")
endif()
set(objects "")
foreach(src IN LISTS generated)
  execute_process(COMMAND "${CC}" -std=c99 -O2 -Wall -Wextra -Werror -pedantic ${include} -c "${src}" -o "${src}.o"
                  WORKING_DIRECTORY "${WORK}/gen" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
    message(FATAL_ERROR "${CC} -std=c99 -O2 -Wall -Wextra -Werror -pedantic -c ${src} (${MODE}) is not clean (exit ${rc}):\n${out}${err}")
  endif()
  list(APPEND objects "${WORK}/gen/${src}.o")
endforeach()
execute_process(COMMAND "${CC}" -std=c99 -O2 -Wall -Wextra -Werror -pedantic ${CFLAGS} -I "${WORK}/gen"
                        "${API_MAIN}" ${objects} -o "${WORK}/api_main" ${libs} -lm
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "linking api_main.c with the generated code (${MODE}; libraries: ${libs} -lm) failed:\n${out}${err}")
endif()
set(expect_args "")
set(updating OFF)
if(REFERENCE AND "$ENV{UPDATE_GOLDEN}" STREQUAL "1")
  set(updating ON)
endif()
while(EXPECT)
  list(POP_FRONT EXPECT file tol)
  if(NOT (updating AND file STREQUAL REFERENCE))
    list(APPEND expect_args --expect "${file}" "${tol}")
  endif()
endwhile()
execute_process(COMMAND "${WORK}/api_main" "${WORK}" ${expect_args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "api_main failed (exit ${rc})")
endif()
if(updating)
  file(COPY_FILE "${WORK}/outputs.txt" "${REFERENCE}")
  message("updated ${REFERENCE}")
endif()

# `nnc check` reports the arena that NAME_new allocates per example (the float builds' plan)
if(NOT MODE STREQUAL "double")
  execute_process(COMMAND "${NNC}" check "${MODEL}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(GLOB model_c "${WORK}/gen/*.c")
  list(FILTER model_c EXCLUDE REGEX "/nnrt[^/]*\\.c$")
  file(STRINGS ${model_c} acts REGEX "^#define NNC_ACTS_PER_EXAMPLE ")
  string(REGEX REPLACE "^#define NNC_ACTS_PER_EXAMPLE ([0-9]+).*" "\\1" acts "${acts}")
  string(REGEX MATCH "memory: activations ([0-9,]+) floats" reported "${out}")
  string(REPLACE "," "" reported "${CMAKE_MATCH_1}")
  if(NOT rc EQUAL 0 OR NOT reported STREQUAL acts)
    message(FATAL_ERROR "nnc check reports ${reported} floats per example for training, the generated code allocates ${acts}:\n${out}${err}")
  endif()
endif()
