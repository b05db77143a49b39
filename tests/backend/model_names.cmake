# model_names.cmake — every model name the language accepts gives C that compiles and trains, also
# when the name is an identifier of the C library, CBLAS, the runtime's driver or nnc's own
# generated code (tm: OpenBLAS's cblas.h pulls in <time.h>'s struct tm; train, update, sections,
# nn_real, ...: names nnc used to generate; create, step, steps: the trainer's; now, batch: the
# benchmark's; m, x, n: parameter names).
#
#   cmake -DNNC=nnc -DCC=cc -DWORK=dir -DDRIVER=model_names_main.c "-DNAMES=a|b" "-DTRAIN_NAMES=..."
#         "-DBENCH_NAMES=..." -DDATA=tests/data "-DBLAS_LIBS=..." "-DCBLAS_INCLUDE=..." -P model_names.cmake
#
# For each of NAMES: `nnc build` a small model so named, compile the output as §7 of the spec
# says (cc -O2 -std=c99 -c DIR/*.c; here also -Wall -Wextra -Werror -pedantic) with
# model_names_main.c (nnrt.c once for all), link with the BLAS and -lm, and run it (20 train steps, save, load, forward).
# For each of TRAIN_NAMES: `nnc train` 1 epoch on the tiny CSV data; BENCH_NAMES: `nnc bench`.
cmake_minimum_required(VERSION 3.20)
foreach(var NAMES TRAIN_NAMES BENCH_NAMES BLAS_LIBS CBLAS_INCLUDE)
  string(REPLACE "|" ";" ${var} "${${var}}")
endforeach()
file(REMOVE_RECURSE "${WORK}")

function(write_model dir name)
  file(WRITE "${dir}/${name}.nn" "model ${name}\ninput x : [8]\nlabel y : class[3]\n"
             "h = dropout(relu(dense(x, 16)), 0.1)\nloss softmax_cross_entropy(dense(h, 3), y)\n"
             "optimizer adam(lr=0.01)\n")
endfunction()

function(run what dir)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(JOIN " " cmd ${ARGN})
    message(FATAL_ERROR "${what}: `${cmd}` failed (exit ${rc}):\n${out}${err}")
  endif()
  set(last_out "${out}" PARENT_SCOPE)
endfunction()

foreach(name IN LISTS NAMES)
  set(dir "${WORK}/${name}")
  file(MAKE_DIRECTORY "${dir}/gen")
  write_model("${dir}" "${name}")
  run("model ${name}" "${dir}" "${NNC}" build "${name}.nn" -o gen)
  if(NOT EXISTS "${WORK}/nnrt.o") # the same runtime for every model: compiled once
    run("nnrt.c" "${dir}" "${CC}" -O2 -std=c99 -Wall -Wextra -Werror -pedantic -c gen/nnrt.c -o "${WORK}/nnrt.o")
  endif()
  # -DNNC_NO_DISPATCH: the names are what is tested here, not the run-time dispatch (slow to compile)
  run("model ${name}" "${dir}" "${CC}" -O2 -std=c99 -Wall -Wextra -Werror -pedantic -DNNC_NO_DISPATCH ${CBLAS_INCLUDE} -I gen
      -DMODEL=${name} "-DMODEL_H=\"${name}.h\"" "gen/${name}.c" "${DRIVER}" "${WORK}/nnrt.o" -o test ${BLAS_LIBS} -lm)
  run("model ${name}" "${dir}" "${dir}/test" "${dir}/${name}.ckpt")
  message("${name}: ${last_out}")
endforeach()

foreach(name IN LISTS TRAIN_NAMES)
  set(dir "${WORK}/train_${name}")
  file(MAKE_DIRECTORY "${dir}")
  write_model("${dir}" "${name}")
  run("nnc train, model ${name}" "${dir}" "${NNC}" train "${name}.nn" --cc "${CC}" --train-csv "${DATA}/tiny_train.csv"
      --test-csv "${DATA}/tiny_test.csv" --epochs 1 --batch 16 --quiet)
  if(NOT EXISTS "${dir}/${name}.ckpt")
    message(FATAL_ERROR "nnc train, model ${name}: no checkpoint ${name}.ckpt")
  endif()
  message("nnc train, model ${name}: ${last_out}")
endforeach()

foreach(name IN LISTS BENCH_NAMES)
  set(dir "${WORK}/bench_${name}")
  file(MAKE_DIRECTORY "${dir}")
  write_model("${dir}" "${name}")
  run("nnc bench, model ${name}" "${dir}" "${NNC}" bench "${name}.nn" --cc "${CC}" --batch 8 --steps 2 --runs 1)
  message("nnc bench, model ${name}: ${last_out}")
endforeach()
