# werror.cmake — -Werror: a lint warning becomes an error with its location, caret and [-Werror],
# exit 1, and nnc build writes nothing; without it the same file compiles (exit 0) and builds.
#
#   cmake -DNNC=path/to/nnc -DWARN=tests/errors/warn_selu_dropout.nn -DWORK=dir -P werror.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND ${NNC} check -Werror ${WARN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(want "warn_selu_dropout.nn:10:5: error: dropout in a network with selu shifts the mean and variance selu keeps at 0 and 1; use alpha_dropout [-Werror]\nd = dropout(x, 0.1)\n    ^\n")
string(FIND "${err}" "/${want}" at)
if(NOT rc EQUAL 1 OR at EQUAL -1 OR NOT out STREQUAL "")
  message(FATAL_ERROR "nnc check -Werror: exit ${rc}, stderr:\n${err}\nwanted in it:\n${want}")
endif()
execute_process(COMMAND ${NNC} build ${WARN} -o ${WORK}/out -Werror RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR EXISTS ${WORK}/out)
  message(FATAL_ERROR "nnc build -Werror: exit ${rc} (want 1), or ${WORK}/out was written:\n${err}")
endif()
execute_process(COMMAND ${NNC} build ${WARN} -o ${WORK}/out RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/out/m.c OR NOT err MATCHES ": warning: dropout in a network with selu")
  message(FATAL_ERROR "nnc build without -Werror: exit ${rc}, no m.c or no warning:\n${err}")
endif()
message("werror: ok")
