# golden.cmake — `nnc build` output compared with committed files.
#
#   cmake -DNNC=nnc -DMODEL=tests/golden/x.nn -DWORK=dir [-DFLAGS=--no-blas|...] -P golden.cmake
#
# Builds MODEL into WORK and compares NAME.c and NAME.h with x.c.expected and x.h.expected beside
# MODEL, byte for byte; on a difference it prints `diff -u` and fails. With the environment variable
# UPDATE_GOLDEN=1 it copies the new output over the expected files instead (and passes): review
# the change with `git diff tests/golden` before committing it.
cmake_minimum_required(VERSION 3.20)
string(REPLACE "|" ";" FLAGS "${FLAGS}")
get_filename_component(dir "${MODEL}" DIRECTORY)
get_filename_component(stem "${MODEL}" NAME_WE)
file(STRINGS "${MODEL}" line REGEX "^[ \t]*model[ \t]+[A-Za-z_][A-Za-z0-9_]*" LIMIT_COUNT 1)
string(REGEX REPLACE "^[ \t]*model[ \t]+([A-Za-z_][A-Za-z0-9_]*).*" "\\1" name "${line}")

file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${NNC}" build "${MODEL}" -o "${WORK}" ${FLAGS} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nnc build ${MODEL} failed (exit ${rc}):\n${err}")
endif()

set(differ "")
foreach(ext c h)
  set(got "${WORK}/${name}.${ext}")
  set(want "${dir}/${stem}.${ext}.expected")
  if("$ENV{UPDATE_GOLDEN}" STREQUAL "1")
    file(COPY_FILE "${got}" "${want}")
    message("updated ${want}")
    continue()
  endif()
  if(NOT EXISTS "${want}")
    message(FATAL_ERROR "${want} is missing (UPDATE_GOLDEN=1 ctest -R golden writes it)")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${got}" "${want}" RESULT_VARIABLE same)
  if(NOT same EQUAL 0)
    execute_process(COMMAND diff -u "${want}" "${got}" OUTPUT_VARIABLE diff)
    message("${diff}")
    list(APPEND differ "${name}.${ext}")
  endif()
endforeach()
if(differ)
  message(FATAL_ERROR "nnc build output differs from the golden files for: ${differ}\n"
                      "If the change is intended: UPDATE_GOLDEN=1 ctest -R golden_ and review git diff tests/golden")
endif()
