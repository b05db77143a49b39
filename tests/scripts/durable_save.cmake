# durable_save.cmake — builds tests/backend/durable_save.c with runtime/nnrt.c compiled as
# generated code is (cc -std=c99, no feature macros; fsync counted), and runs it in WORK.
#
#   cmake -DCC=cc -DSRC=repo -DWORK=dir [-DCFLAGS=a|b] -P durable_save.cmake
cmake_minimum_required(VERSION 3.20)
string(REPLACE "|" ";" CFLAGS "${CFLAGS}")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/files")
execute_process(COMMAND "${CC}" -std=c99 -pedantic -Wall -Wextra -Werror ${CFLAGS} -Dfsync=counting_fsync
                        -I "${SRC}/runtime" "${SRC}/runtime/nnrt.c" "${SRC}/tests/backend/durable_save.c"
                        -o "${WORK}/durable_save" -lm
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling durable_save failed (exit ${rc}):\n${out}${err}")
endif()
execute_process(COMMAND "${WORK}/durable_save" "${WORK}/files" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "durable_save failed (exit ${rc})")
endif()
