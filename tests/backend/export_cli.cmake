# export_cli.cmake — `nnc export` and `nnc bench --vs torch` on the command line: exit statuses
# (0 success, 1 an error in the input, 2 bad usage), the files written, nothing written on error,
# and the message when torch is missing.
#
#   cmake -DNNC=path/to/nnc -DMODEL=ok.nn -DBAD=error.nn -DWORK=dir -P export_cli.cmake
cmake_minimum_required(VERSION 3.20)

function(expect_exit want)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "${want}")
    message(FATAL_ERROR "${ARGN}: exit ${rc}, expected ${want}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK}")
file(STRINGS "${MODEL}" line REGEX "^[ \t]*model[ \t]+[A-Za-z_][A-Za-z0-9_]*" LIMIT_COUNT 1)
string(REGEX REPLACE "^[ \t]*model[ \t]+([A-Za-z_][A-Za-z0-9_]*).*" "\\1" name "${line}")

expect_exit(0 ${NNC} export ${MODEL} --torch -o ${WORK}/twin)
foreach(f ${name}_torch.py nnc_twin.py)
  if(NOT EXISTS ${WORK}/twin/${f})
    message(FATAL_ERROR "nnc export wrote no ${f}")
  endif()
endforeach()
file(READ ${WORK}/twin/${name}_torch.py text)
if(NOT text MATCHES "class Model\\(nn.Module\\)" OR NOT text MATCHES "PARAMS = {")
  message(FATAL_ERROR "${name}_torch.py has no Model class or PARAMS table")
endif()

expect_exit(1 ${NNC} export ${BAD} --torch -o ${WORK}/bad)
if(NOT last_err MATCHES ": error: " OR EXISTS ${WORK}/bad)
  message(FATAL_ERROR "export of a bad model: no error, or files written:\n${last_err}")
endif()
expect_exit(2 ${NNC} export ${MODEL} -o ${WORK}/none)
if(NOT last_err MATCHES "needs a target: --torch")
  message(FATAL_ERROR "export without --torch:\n${last_err}")
endif()
expect_exit(2 ${NNC} export ${MODEL} --torch)
expect_exit(2 ${NNC} export ${MODEL} --torch -o ${WORK}/x --onnx)
expect_exit(2 ${NNC} bench ${MODEL} --vs tensorflow)
if(EXISTS ${WORK}/none OR EXISTS ${WORK}/x)
  message(FATAL_ERROR "a usage error wrote files")
endif()
# without torch: a clear message and exit 1, before anything is compiled
set(ENV{NNC_PYTHON} /bin/false)
expect_exit(1 ${NNC} bench ${MODEL} --vs torch --build-dir ${WORK}/bench)
if(NOT last_err MATCHES "--vs torch needs PyTorch, but /bin/false cannot import torch" OR EXISTS ${WORK}/bench)
  message(FATAL_ERROR "bench --vs torch without torch:\n${last_err}")
endif()
