# train_e2e.cmake — `nnc train` end to end on tests/data/tiny_*.csv with tests/data/tiny_mlp.nn.
#
#   cmake -DNNC=nnc -DCC=cc -DDATA=tests/data -DWORK=dir -DCASE=... -P train_e2e.cmake
#
#   train     --epochs 5 --batch 16 --quiet --checkpoint WORK/tiny.ckpt: exit 0, five epoch lines
#             whose losses are EXPECTED_LOSSES' first five to 1.5e-4 (recorded from an independent
#             run in PyTorch, tests/data/expected_losses.py, as llm.c's expected_losses), the last
#             test accuracy >= 90% (the data are linearly separable; it reaches 100%), and
#             WORK/tiny.ckpt is an nnc checkpoint. Run in WORK as the resume case's fixture.
#   resume    (after train) --epochs 7 --resume WORK/tiny.ckpt: exit 0, "resumed from ... after
#             epoch 5", then exactly epochs 6 and 7, whose loss and accuracy equal those of an
#             uninterrupted 7-epoch run (made here too, with the default checkpoint name, which must
#             appear in the working folder WORK/straight) and EXPECTED_LOSSES' 6th and 7th
#   missing_data  --train-csv of a file that does not exist: exit 1, "error: PATH: cannot open",
#             no checkpoint written
#   bad_flag  --epochs zero, then an unknown flag: exit 2 and "error:" each, without compiling
#   help      `nnc train --help`: exit 0, the flags listed on stdout
# CC is passed to nnc train as --cc.
cmake_minimum_required(VERSION 3.20)

set(model "${DATA}/tiny_mlp.nn")
set(train_csv "${DATA}/tiny_train.csv")
set(test_csv "${DATA}/tiny_test.csv")

function(nnc_train out_var rc_var dir)
  file(MAKE_DIRECTORY "${dir}")
  execute_process(COMMAND "${NNC}" train "${model}" --cc "${CC}" --train-csv "${train_csv}" --test-csv "${test_csv}"
                          --batch 16 --quiet ${ARGN}
                  WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(JOIN " " shown ${ARGN})
  message("$ nnc train ... ${shown}  (exit ${rc})\n${out}${err}")
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${rc_var} "${rc}" PARENT_SCOPE)
  set(last_stderr "${err}" PARENT_SCOPE)
endfunction()

# "epoch 6/7  loss 0.1234  test acc 98.00%" without the timing that follows
function(epoch_lines out_var text)
  string(REGEX MATCHALL "epoch [0-9]+/[0-9]+  loss [0-9.]+  test acc [0-9.]+%" lines "${text}")
  set(${out_var} "${lines}" PARENT_SCOPE)
endfunction()

# "1.1775" -> 1177500: a loss in millionths, for integer comparisons
function(micro out_var value)
  if(NOT value MATCHES "^([0-9]+)\\.([0-9]+)$")
    message(FATAL_ERROR "'${value}' is not a decimal number")
  endif()
  set(whole "${CMAKE_MATCH_1}")
  set(frac "${CMAKE_MATCH_2}000000")
  string(SUBSTRING "${frac}" 0 6 frac)
  math(EXPR v "${whole} * 1000000 + 1${frac} - 1000000") # 1 first: no leading zeros
  set(${out_var} ${v} PARENT_SCOPE)
endfunction()

# The losses of epoch lines against EXPECTED_LOSSES (space-separated, epoch 1 first).
function(check_losses lines)
  separate_arguments(expected UNIX_COMMAND "${EXPECTED_LOSSES}")
  foreach(line IN LISTS lines)
    string(REGEX MATCH "^epoch ([0-9]+)/[0-9]+  loss ([0-9.]+)" _ "${line}")
    math(EXPR i "${CMAKE_MATCH_1} - 1")
    set(got ${CMAKE_MATCH_2})
    list(GET expected ${i} want)
    micro(g ${got})
    micro(w ${want})
    math(EXPR diff "${g} - ${w}")
    if(diff GREATER 150 OR diff LESS -150)
      message(FATAL_ERROR "epoch ${CMAKE_MATCH_1}: loss ${got}, but the independent run (tests/data/expected_losses.py) "
                          "recorded ${want}")
    endif()
  endforeach()
  message("losses agree with the independent run: ${lines}")
endfunction()

function(is_checkpoint path)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "no checkpoint at ${path}")
  endif()
  file(READ "${path}" magic LIMIT 8 HEX)
  if(NOT magic STREQUAL "4e4e434b50540001") # "NNCKPT\0\1"
    message(FATAL_ERROR "${path} is not an nnc checkpoint (starts with '${magic}')")
  endif()
endfunction()

if(CASE STREQUAL "train")
  file(REMOVE_RECURSE "${WORK}")
  nnc_train(out rc "${WORK}" --epochs 5 --checkpoint "${WORK}/tiny.ckpt")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc train failed (exit ${rc})")
  endif()
  epoch_lines(lines "${out}")
  list(LENGTH lines n)
  if(NOT n EQUAL 5)
    message(FATAL_ERROR "expected 5 epoch lines, got ${n}")
  endif()
  check_losses("${lines}")
  list(GET lines 4 last)
  string(REGEX MATCH "test acc ([0-9.]+)%" _ "${last}")
  if(CMAKE_MATCH_1 LESS 90)
    message(FATAL_ERROR "test accuracy ${CMAKE_MATCH_1}% after 5 epochs, expected at least 90%")
  endif()
  is_checkpoint("${WORK}/tiny.ckpt")
  if(NOT out MATCHES "checkpoint: ${WORK}/tiny.ckpt")
    message(FATAL_ERROR "the checkpoint's path was not reported")
  endif()

elseif(CASE STREQUAL "resume")
  is_checkpoint("${WORK}/tiny.ckpt")
  file(COPY "${WORK}/tiny.ckpt" DESTINATION "${WORK}/resumed")
  nnc_train(out rc "${WORK}/resumed" --epochs 7 --resume "${WORK}/resumed/tiny.ckpt" --checkpoint "${WORK}/resumed/tiny.ckpt")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc train --resume failed (exit ${rc})")
  endif()
  if(NOT out MATCHES "resumed from [^\n]*tiny.ckpt after epoch 5")
    message(FATAL_ERROR "no 'resumed from ... after epoch 5' line")
  endif()
  epoch_lines(resumed "${out}")
  file(REMOVE_RECURSE "${WORK}/straight")
  nnc_train(out rc "${WORK}/straight" --epochs 7)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the uninterrupted run failed (exit ${rc})")
  endif()
  is_checkpoint("${WORK}/straight/tiny_mlp.ckpt")
  epoch_lines(straight "${out}")
  list(SUBLIST straight 5 2 tail)
  if(NOT resumed STREQUAL tail OR NOT resumed MATCHES "^epoch 6/7.*;epoch 7/7")
    message(FATAL_ERROR "resumed epochs:\n  ${resumed}\ndiffer from the uninterrupted run's last two:\n  ${tail}")
  endif()
  check_losses("${straight}")

elseif(CASE STREQUAL "missing_data")
  file(REMOVE_RECURSE "${WORK}")
  set(train_csv "${WORK}/no-such-file.csv")
  nnc_train(out rc "${WORK}" --epochs 1 --checkpoint "${WORK}/x.ckpt")
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "exit ${rc}, expected 1")
  endif()
  if(NOT last_stderr MATCHES "error: ${WORK}/no-such-file.csv: cannot open")
    message(FATAL_ERROR "no clear message naming the missing file")
  endif()
  if(EXISTS "${WORK}/x.ckpt")
    message(FATAL_ERROR "a checkpoint was written")
  endif()

elseif(CASE STREQUAL "bad_flag")
  file(REMOVE_RECURSE "${WORK}")
  foreach(bad "--epochs;zero" "--no-such-flag" "--batch;0")
    nnc_train(out rc "${WORK}" ${bad})
    if(NOT rc EQUAL 2)
      message(FATAL_ERROR "nnc train ${bad}: exit ${rc}, expected 2")
    endif()
    if(NOT last_stderr MATCHES "error: " OR last_stderr MATCHES "compiling")
      message(FATAL_ERROR "nnc train ${bad}: no 'error:' message, or it compiled first")
    endif()
  endforeach()
  execute_process(COMMAND "${NNC}" train RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "error: ")
    message(FATAL_ERROR "nnc train without a file: exit ${rc}, ${err}")
  endif()
  execute_process(COMMAND "${NNC}" train "${WORK}/missing.nn" --epochs 1 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "nnc train of a missing .nn file: exit ${rc}, expected 1\n${err}")
  endif()

elseif(CASE STREQUAL "help")
  execute_process(COMMAND "${NNC}" train --help RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nnc train --help: exit ${rc}")
  endif()
  foreach(flag --data --train-csv --test-csv --epochs --batch --seed --threads --checkpoint --resume
               --no-standardize --no-cache --limit-train --limit-test --quiet --build-dir --cc --no-blas)
    if(NOT out MATCHES "${flag}")
      message(FATAL_ERROR "nnc train --help does not mention ${flag}:\n${out}")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "unknown CASE '${CASE}'")
endif()
