# build_unsupported.cmake — a model whose ops the emitter has no kernels for yet.
#
#   cmake -DNNC=nnc -DMODEL=x.nn -DWORK=dir -P build_unsupported.cmake
#
# `nnc build MODEL -o WORK/out` must exit 1 with a located "FILE:LINE:COL: error: ... not supported
# yet" message (spec §5) and write nothing: WORK/out must not exist afterwards, not even empty.
cmake_minimum_required(VERSION 3.20)
get_filename_component(file "${MODEL}" NAME)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${NNC}" build "${MODEL}" -o "${WORK}/out" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("exit ${rc}\n${out}${err}")
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "nnc build ${file}: exit ${rc}, expected 1")
endif()
if(NOT err MATCHES "${file}:[0-9]+:[0-9]+: error: [^\n]*not supported yet\n")
  message(FATAL_ERROR "nnc build ${file}: no located 'not supported yet' error")
endif()
if(EXISTS "${WORK}/out")
  file(GLOB written "${WORK}/out/*" "${WORK}/out/.*")
  message(FATAL_ERROR "nnc build ${file} failed but created ${WORK}/out (files: ${written})")
endif()
