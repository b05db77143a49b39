# readme_figures.cmake — README.md's example `nnc train` output agrees with its Results table
# (epoch 1's and epoch 3's accuracy, and epoch 1's time and speed), and it says under which
# conditions results are bit-identical.
#
#   cmake -DREADME=README.md -P readme_figures.cmake
cmake_minimum_required(VERSION 3.20)
file(READ "${README}" text)
if(NOT text MATCHES "\\| `models/fashion_snn.nn`[^|]*\\| ([0-9.]+) % \\(([0-9.]+) % after 3 epochs\\) \\| ([0-9.]+) s \\(([0-9,]+) examples/s\\)")
  message(FATAL_ERROR "README: no fashion_snn row in the Results table")
endif()
set(acc1 "${CMAKE_MATCH_1}")
set(acc3 "${CMAKE_MATCH_2}")
set(seconds "${CMAKE_MATCH_3}")
set(speed "${CMAKE_MATCH_4}")
if(NOT text MATCHES "\\$ nnc train models/fashion_snn.nn --epochs 3\n[^\n]*\nepoch 1/3  loss [0-9.]+  test acc ([0-9.]+)%  \\(([0-9.]+) s, ([0-9,]+) ex/s\\)\nepoch 2/3[^\n]*\nepoch 3/3  loss [0-9.]+  test acc ([0-9.]+)%")
  message(FATAL_ERROR "README: no three-epoch example of nnc train models/fashion_snn.nn")
endif()
foreach(pair "acc1;${CMAKE_MATCH_1}" "seconds;${CMAKE_MATCH_2}" "speed;${CMAKE_MATCH_3}" "acc3;${CMAKE_MATCH_4}")
  list(GET pair 0 name)
  list(GET pair 1 example)
  if(NOT example STREQUAL "${${name}}")
    message(FATAL_ERROR "README: the example's ${name} is ${example}, the table's ${${name}}")
  endif()
endforeach()
if(NOT text MATCHES "bit-identical results on the same machine with the same BLAS")
  message(FATAL_ERROR "README: bit-identical results are claimed without naming the machine and BLAS")
endif()
message("README: the example agrees with the table (${acc1} %, ${seconds} s, ${speed} ex/s, ${acc3} %)")
