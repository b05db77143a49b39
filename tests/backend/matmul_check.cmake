# matmul_check.cmake — nnc_matmul() as nnc emits it, against matmul_check.c's plain loops.
#
#   cmake -DNNC=nnc -DCC=cc -DSRC=tests/backend -DWORK=dir [-DCFLAGS=a|b] -P matmul_check.cmake
#
# Builds dense_kernel.nn --no-blas (float) and --double, compiles matmul_check.c with each (which
# includes the generated dense_kernel.c) in several ways, runs each, and requires the float builds'
# checksums to agree: run-time dispatch at -O2 (the AVX2 clone on an AVX2 CPU), -O0 without
# dispatch, and NNC_PLAIN_C (the plain loop nest), bit for bit.
cmake_minimum_required(VERSION 3.20)
string(REPLACE "|" ";" CFLAGS "${CFLAGS}")
file(REMOVE_RECURSE "${WORK}")
set(checksums "")
foreach(variant float_dispatch float_no_dispatch float_plain double)
  set(flags --no-blas)
  set(cflags -O2)
  if(variant STREQUAL "double")
    set(flags --double)
  elseif(variant STREQUAL "float_no_dispatch")
    set(cflags -O0 -DNNC_NO_DISPATCH)
  elseif(variant STREQUAL "float_plain")
    set(cflags -O2 -DNNC_PLAIN_C)
  endif()
  set(dir "${WORK}/${variant}")
  execute_process(COMMAND "${NNC}" build "${SRC}/dense_kernel.nn" -o "${dir}" ${flags} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc build failed:\n${err}")
  endif()
  execute_process(COMMAND "${CC}" -std=c99 -pedantic -Wall -Wextra -Werror -ffp-contract=off ${cflags} ${CFLAGS}
                          -I "${dir}" "${SRC}/matmul_check.c" "${dir}/nnrt.c" -o "${dir}/check" -lm
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "compiling matmul_check.c (${variant}) failed:\n${out}${err}")
  endif()
  execute_process(COMMAND "${dir}/check" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${variant}: ${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "matmul_check (${variant}) failed")
  endif()
  if(NOT variant STREQUAL "double")
    string(REGEX MATCH "checksum [0-9a-f]+" sum "${out}")
    list(APPEND checksums "${sum}")
  endif()
endforeach()
list(REMOVE_DUPLICATES checksums)
list(LENGTH checksums n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "the float builds computed different bits: ${checksums}")
endif()
