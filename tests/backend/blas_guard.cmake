# blas_guard.cmake — nnc train and nnc bench when OpenBLAS picks generic kernels.
#
#   cmake -DNNC=nnc -DCC=cc -DDATA=tests/data -DWORK=dir -P blas_guard.cmake
#
# OPENBLAS_CORETYPE=Prescott in nnc's environment makes OpenBLAS generic, as an OpenBLAS older than
# the CPU does. On a CPU with AVX2 and FMA (read here from /proc/cpuinfo, apart from the runtime's
# __builtin_cpu_supports), nnc bench must say so in one line and run the program with the fitting
# core (SkylakeX with AVX-512 F/BW/DQ/VL, else Zen on AMD, else Haswell), which the program's own
# "blas:" line confirms; nnc train must say the same. Without AVX2, or with --no-blas, nothing is
# said and Prescott stays.
cmake_minimum_required(VERSION 3.20)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(model "${DATA}/tiny_mlp.nn")

set(expected "")
if(EXISTS /proc/cpuinfo)
  file(STRINGS /proc/cpuinfo flags REGEX "^flags" LIMIT_COUNT 1)
  file(STRINGS /proc/cpuinfo vendor REGEX "^vendor_id" LIMIT_COUNT 1)
  set(flags "${flags} ")
  if(flags MATCHES " avx2 " AND flags MATCHES " fma ")
    if(flags MATCHES " avx512f " AND flags MATCHES " avx512bw " AND flags MATCHES " avx512dq "
       AND flags MATCHES " avx512vl ")
      set(expected SkylakeX)
    elseif(vendor MATCHES "AuthenticAMD")
      set(expected Zen)
    else()
      set(expected Haswell)
    endif()
  endif()
endif()
message("expected core for a generic OpenBLAS: '${expected}'")

set(ENV{OPENBLAS_CORETYPE} Prescott)
function(run_nnc)
  execute_process(COMMAND "${NNC}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("$ nnc ${ARGN}  (exit ${rc})\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc ${ARGN} failed")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

set(line_re "nnc: OpenBLAS chose its generic Prescott kernels on this (AVX2|AVX-512) CPU; running with OPENBLAS_CORETYPE=([A-Za-z]+)\n")
run_nnc(bench "${model}" --cc "${CC}" --batch 4 --steps 1 --runs 1)
string(REGEX MATCHALL "nnc: OpenBLAS" lines "${err}") # (a whole line would split at its ";")
list(LENGTH lines n_lines)
if(expected)
  if(NOT n_lines EQUAL 1 OR NOT err MATCHES "${line_re}" OR NOT CMAKE_MATCH_2 STREQUAL expected)
    message(FATAL_ERROR "nnc bench: expected one line choosing OPENBLAS_CORETYPE=${expected}")
  endif()
  if(NOT out MATCHES "blas: OpenBLAS ${expected}, ")
    message(FATAL_ERROR "nnc bench: the program did not run OpenBLAS's ${expected} kernels")
  endif()
else()
  if(NOT n_lines EQUAL 0 OR NOT out MATCHES "blas: OpenBLAS Prescott, ")
    message(FATAL_ERROR "nnc bench on a CPU without AVX2: nothing to say, Prescott stays")
  endif()
endif()

run_nnc(bench "${model}" --cc "${CC}" --batch 4 --steps 1 --runs 1 --no-blas)
if(err MATCHES "nnc: OpenBLAS")
  message(FATAL_ERROR "nnc bench --no-blas spoke of OpenBLAS")
endif()

run_nnc(train "${model}" --cc "${CC}" --train-csv "${DATA}/tiny_train.csv" --test-csv "${DATA}/tiny_test.csv"
        --quiet --limit-train 32 --checkpoint "${WORK}/tiny.ckpt")
if(expected AND (NOT err MATCHES "${line_re}" OR NOT CMAKE_MATCH_2 STREQUAL expected))
  message(FATAL_ERROR "nnc train: expected the line choosing OPENBLAS_CORETYPE=${expected}")
endif()
if(NOT expected AND err MATCHES "nnc: OpenBLAS")
  message(FATAL_ERROR "nnc train on a CPU without AVX2: nothing to say")
endif()
