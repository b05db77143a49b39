# run_model.cmake — compile .nn models with nnc, build them with a C test driver, run the driver.
#
#   cmake -DNNC=path/to/nnc -DCC=cc -DWORK=dir -DMODELS=a.nn[|b.nn...] [-DBUILD_FLAGS=--double|...]
#         [-DMODEL_FLAGS=...] [-DDRIVER=driver.c] [-DCFLAGS=...] [-DLIBS=...] [-DARGS=...]
#         [-DBUILD_ONLY=1] -P run_model.cmake
#
# Lists are separated by '|' (a ';' would split CTest's arguments). WORK is emptied first. Each
# model is built with `nnc build MODEL -o WORK/gen FLAGS`, FLAGS being its entry in MODEL_FLAGS
# (flags joined by ','; one entry per model) or, when that is missing or '-', BUILD_FLAGS
# (which also decides M_DOUBLE and M_BLAS below). WORK/gen/model_config.h then names
# the first model's API generically for the driver:
#
#   M(fn)        NAME_##fn             M_IN_SIZE, M_OUT_SIZE   per-example sizes
#   M_model      the model's type      M_LABEL                 1: train_step takes int32_t labels
#   M_real       double or float       M_N_CLASSES / M_TARGET_SIZE
#   M_y          int32_t or float      M_DOUBLE, M_BLAS        the build flags
#
# The driver, the generated model sources and the runtime (LIBS may name a prebuilt libnnrt.a
# instead; otherwise WORK/gen/nnrt.c is compiled) become WORK/test, built with
# `CC -std=c99 -pedantic -Wall -Wextra -Werror -O0 -g CFLAGS`. Unless BUILD_ONLY is set, WORK/test
# then runs with ARGS (the string @WORK@ in an argument becomes WORK) and its exit status decides.
cmake_minimum_required(VERSION 3.20)

foreach(var NNC CC WORK MODELS)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_model.cmake: -D${var}=... is required")
  endif()
endforeach()
foreach(var MODELS BUILD_FLAGS MODEL_FLAGS CFLAGS LIBS ARGS)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()
list(LENGTH MODEL_FLAGS n_model_flags)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/gen")

set(names "")
set(index 0)
foreach(model IN LISTS MODELS)
  set(flags ${BUILD_FLAGS})
  if(index LESS n_model_flags)
    list(GET MODEL_FLAGS ${index} own)
    if(NOT own STREQUAL "-")
      string(REPLACE "," ";" flags "${own}")
    endif()
  endif()
  math(EXPR index "${index} + 1")
  file(STRINGS "${model}" line REGEX "^[ \t]*model[ \t]+[A-Za-z_][A-Za-z0-9_]*" LIMIT_COUNT 1)
  if(NOT line MATCHES "^[ \t]*model[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
    message(FATAL_ERROR "${model}: no 'model NAME' line")
  endif()
  list(APPEND names "${CMAKE_MATCH_1}")
  execute_process(COMMAND "${NNC}" build "${model}" -o "${WORK}/gen" ${flags}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc build ${model} ${flags} failed (exit ${rc}):\n${out}${err}")
  endif()
endforeach()

# model_config.h for the first model
list(GET names 0 name)
string(TOUPPER "${name}" upper)
file(READ "${WORK}/gen/${name}.h" header)
set(cfg "/* model_config.h — written by run_model.cmake: the generated API of model '${name}' under generic names. */\n")
string(APPEND cfg "#include <stdint.h>\n#include \"${name}.h\"\n#define M(fn) ${name}_##fn\n#define M_NAME \"${name}\"\n")
string(APPEND cfg "typedef ${name} M_model;\n#define M_IN_SIZE ${upper}_IN_SIZE\n#define M_OUT_SIZE ${upper}_OUT_SIZE\n")
if(header MATCHES "#define ${upper}_N_CLASSES")
  string(APPEND cfg "#define M_LABEL 1\n#define M_N_CLASSES ${upper}_N_CLASSES\ntypedef int32_t M_y;\n")
else()
  string(APPEND cfg "#define M_LABEL 0\n#define M_TARGET_SIZE ${upper}_TARGET_SIZE\ntypedef float M_y;\n")
endif()
if("--double" IN_LIST BUILD_FLAGS)
  string(APPEND cfg "#define M_DOUBLE 1\ntypedef double M_real;\n")
else()
  string(APPEND cfg "#define M_DOUBLE 0\ntypedef float M_real;\n")
endif()
if("--double" IN_LIST BUILD_FLAGS OR "--no-blas" IN_LIST BUILD_FLAGS)
  string(APPEND cfg "#define M_BLAS 0\n")
else()
  string(APPEND cfg "#define M_BLAS 1\n")
endif()
file(WRITE "${WORK}/gen/model_config.h" "${cfg}")

if(NOT DEFINED DRIVER OR DRIVER STREQUAL "")
  return()
endif()

set(sources "${DRIVER}")
foreach(n IN LISTS names)
  list(APPEND sources "${WORK}/gen/${n}.c")
endforeach()
if(NOT LIBS MATCHES "libnnrt")
  list(APPEND sources "${WORK}/gen/nnrt.c")
endif()
get_filename_component(driver_dir "${DRIVER}" DIRECTORY)
execute_process(
  COMMAND "${CC}" -std=c99 -pedantic -Wall -Wextra -Werror -O0 -g ${CFLAGS} -I "${WORK}/gen" -I "${driver_dir}"
          ${sources} -o "${WORK}/test" ${LIBS} -lm
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling ${DRIVER} with model(s) ${names} failed (exit ${rc}):\n${out}${err}")
endif()

if(BUILD_ONLY)
  return()
endif()
string(REPLACE "@WORK@" "${WORK}" ARGS "${ARGS}")
execute_process(COMMAND "${WORK}/test" ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${WORK}/test ${ARGS} failed (exit ${rc})")
endif()
