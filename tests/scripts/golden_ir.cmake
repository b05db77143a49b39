# golden_ir.cmake — `nnc check IN --dump-ir` (run in IN's directory) must print EXPECTED exactly.
#
#   cmake -DNNC=path/to/nnc -DIN=tests/golden/tiny.nn -DEXPECTED=tests/golden/tiny.ir.expected
#         -DACTUAL=scratch/tiny.ir -P golden_ir.cmake
#
# With UPDATE_GOLDEN=1 in the environment it rewrites EXPECTED instead (review the diff).

cmake_minimum_required(VERSION 3.20)

get_filename_component(dir "${IN}" DIRECTORY)
get_filename_component(name "${IN}" NAME)
execute_process(COMMAND ${NNC} check ${name} --dump-ir WORKING_DIRECTORY ${dir}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
  message(FATAL_ERROR "nnc check ${IN} --dump-ir: exit ${rc}\n${err}")
endif()
if("$ENV{UPDATE_GOLDEN}" STREQUAL "1")
  file(WRITE "${EXPECTED}" "${out}")
  message("updated ${EXPECTED}")
  return()
endif()
if(NOT EXISTS "${EXPECTED}")
  message(FATAL_ERROR "${EXPECTED} does not exist; run with UPDATE_GOLDEN=1 to create it")
endif()
file(READ "${EXPECTED}" want)
if(NOT out STREQUAL want)
  file(WRITE "${ACTUAL}" "${out}")
  execute_process(COMMAND diff -u "${EXPECTED}" "${ACTUAL}")
  message(FATAL_ERROR "the IR of ${IN} differs from ${EXPECTED} (UPDATE_GOLDEN=1 regenerates it)")
endif()
