# cli_exit.cmake — exit statuses of `nnc check` (spec §7): 0 success, 1 an error in the input,
# 2 bad usage; '-' reads standard input.
#
#   cmake -DNNC=path/to/nnc -DMODEL=ok.nn -DBAD=error.nn -DWARN=warning-only.nn -P cli_exit.cmake

cmake_minimum_required(VERSION 3.20)

function(expect_exit want)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "${want}")
    message(FATAL_ERROR "${ARGN}: exit ${rc}, expected ${want}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
  set(last_err "${err}" PARENT_SCOPE)
endfunction()

expect_exit(0 ${NNC} check ${MODEL})
if(NOT last_out MATCHES "total: " OR NOT last_err STREQUAL "")
  message(FATAL_ERROR "check ${MODEL}: no summary, or unexpected stderr:\n${last_err}")
endif()
expect_exit(1 ${NNC} check ${BAD})
if(NOT last_err MATCHES ": error: " OR NOT last_out STREQUAL "")
  message(FATAL_ERROR "check ${BAD}: no error on stderr, or output on stdout:\n${last_out}")
endif()
expect_exit(0 ${NNC} check ${WARN})
if(NOT last_err MATCHES ": warning: ")
  message(FATAL_ERROR "check ${WARN}: no warning")
endif()
expect_exit(1 ${NNC} check ${MODEL}.does-not-exist)
if(NOT last_err MATCHES "cannot open")
  message(FATAL_ERROR "a missing file: ${last_err}")
endif()
expect_exit(2 ${NNC} check)
expect_exit(2 ${NNC} check ${MODEL} --no-such-option)
expect_exit(2 ${NNC} frobnicate)
# '-' reads standard input; messages then name <stdin>.
expect_exit(0 ${NNC} check - INPUT_FILE ${MODEL})
expect_exit(1 ${NNC} check - INPUT_FILE ${BAD})
if(NOT last_err MATCHES "<stdin>:[0-9]+:[0-9]+: error: ")
  message(FATAL_ERROR "stdin errors should name <stdin>:\n${last_err}")
endif()
