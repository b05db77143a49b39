# build_output.cmake — `nnc build` changes the output folder all at once or not at all.
#
#   cmake -DNNC=path/to/nnc -DMODEL=a.nn -DWORK=dir -P build_output.cmake
#
#   1. build MODEL into WORK/out; then the same with a changed layer size while WORK/out/nnrt.c is
#      a folder: exit 1, an error naming nnrt.c, NAME.h and NAME.c still the first build's, and
#      no temporary file left in the folder;
#   2. a build into WORK/new/<a component too long for the file system>: exit 1, and WORK/new,
#      which the build made, is gone again.
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

file(STRINGS "${MODEL}" line REGEX "^model " LIMIT_COUNT 1)
string(REGEX REPLACE "^model +" "" name "${line}")
file(READ "${MODEL}" text)
string(REGEX REPLACE "dense\\(x, ([0-9]+)" "dense(x, 7\\1" changed "${text}")
if(changed STREQUAL text)
  message(FATAL_ERROR "${MODEL}: no 'dense(x, N' to change")
endif()
file(WRITE "${WORK}/changed.nn" "${changed}")

execute_process(COMMAND "${NNC}" build "${MODEL}" -o "${WORK}/out" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the first build failed (exit ${rc}):\n${err}")
endif()
file(SHA256 "${WORK}/out/${name}.h" h_before)
file(SHA256 "${WORK}/out/${name}.c" c_before)
file(REMOVE "${WORK}/out/nnrt.c")
file(MAKE_DIRECTORY "${WORK}/out/nnrt.c")
execute_process(COMMAND "${NNC}" build "${WORK}/changed.nn" -o "${WORK}/out" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "nnrt\\.c")
  message(FATAL_ERROR "a build over a folder named nnrt.c: exit ${rc}, expected 1 and an error naming it:\n${err}")
endif()
file(SHA256 "${WORK}/out/${name}.h" h_after)
file(SHA256 "${WORK}/out/${name}.c" c_after)
if(NOT h_after STREQUAL h_before OR NOT c_after STREQUAL c_before)
  message(FATAL_ERROR "the failed build replaced ${name}.h or ${name}.c")
endif()
file(GLOB left RELATIVE "${WORK}/out" "${WORK}/out/.*")
if(left)
  message(FATAL_ERROR "the failed build left temporary files: ${left}")
endif()

string(REPEAT "x" 300 long)
execute_process(COMMAND "${NNC}" build "${MODEL}" -o "${WORK}/new/${long}" RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "a build into an impossible folder: exit ${rc}, expected 1:\n${err}")
endif()
if(EXISTS "${WORK}/new")
  message(FATAL_ERROR "the failed build left the folder it made behind: ${WORK}/new")
endif()
message("ok: a failed build changes nothing and leaves no folder")
