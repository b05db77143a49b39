# package.cmake — the CMake package (find_package(nnc) + nnc_add_model) and examples/train_xor.
#
# Included from tests/CMakeLists.txt, it adds two tests:
#   package_in_tree   examples/train_xor built inside this tree with nnc_add_model(... NO_BLAS),
#                     so with this build's warnings, -Werror and sanitizers
#   package_install   runs this file as a script (cmake -P): installs nnc into a fresh prefix,
#                     configures and builds examples/train_xor against it as an outside project
#                     would, runs it, and checks that touching the .nn regenerates the C (and that a
#                     build with nothing changed does not).

if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(example ${PROJECT_SOURCE_DIR}/examples/train_xor)

  nnc_add_model(package_in_tree_model ${example}/xor_net.nn NO_BLAS)
  add_executable(package_in_tree ${example}/main.c)
  target_link_libraries(package_in_tree PRIVATE package_in_tree_model)
  add_test(NAME package_in_tree COMMAND package_in_tree ${CMAKE_CURRENT_BINARY_DIR}/package_in_tree.ckpt)
  set_tests_properties(package_in_tree PROPERTIES TIMEOUT 60)

  add_test(NAME package_install
           COMMAND ${CMAKE_COMMAND}
                   -DNNC_BUILD_DIR=${PROJECT_BINARY_DIR}
                   -DCONFIG=$<CONFIG>
                   -DEXAMPLE=${example}
                   -DWORK=${CMAKE_CURRENT_BINARY_DIR}/package_install
                   "-DGENERATOR=${CMAKE_GENERATOR}"
                   -DMAKE_PROGRAM=${CMAKE_MAKE_PROGRAM}
                   -DC_COMPILER=${CMAKE_C_COMPILER}
                   -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(package_install PROPERTIES TIMEOUT 180)
  return()
endif()

# ---- script mode: the package_install test ----
cmake_minimum_required(VERSION 3.20)

# Runs a command and stops with its output if it fails; OUT receives stdout + stderr.
function(step what out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE text)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package_install: ${what} failed (${rc}):\n${text}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(mtime file out)
  if(NOT EXISTS ${file})
    message(FATAL_ERROR "package_install: ${file} was not generated")
  endif()
  file(TIMESTAMP ${file} t "%s")
  set(${out} ${t} PARENT_SCOPE)
endfunction()

set(prefix ${WORK}/prefix)
set(src ${WORK}/src)
set(build ${WORK}/build)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# 1. install nnc
set(config_arg "")
if(CONFIG)
  set(config_arg --config ${CONFIG})
endif()
step("installing nnc" log ${CMAKE_COMMAND} --install ${NNC_BUILD_DIR} --prefix ${prefix} ${config_arg})
file(GLOB_RECURSE config_file ${prefix}/*/nncConfig.cmake)
file(GLOB_RECURSE version_file ${prefix}/*/nncConfigVersion.cmake)
if(NOT EXISTS ${prefix}/bin/nnc OR NOT config_file OR NOT version_file)
  message(FATAL_ERROR "package_install: the prefix lacks bin/nnc or nncConfig*.cmake:\n${log}")
endif()

# 2. a copy of the example, so that touching its .nn leaves the source tree alone
file(COPY ${EXAMPLE}/ DESTINATION ${src})

# 3. configure and build it against the installed package
set(configure_args -S ${src} -B ${build} -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release
                   -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER})
if(MAKE_PROGRAM)
  list(APPEND configure_args -DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM})
endif()
step("configuring examples/train_xor" log ${CMAKE_COMMAND} ${configure_args})
file(STRINGS ${build}/CMakeCache.txt nnc_dir REGEX "^nnc_DIR:")
string(FIND "${nnc_dir}" "${prefix}/" at)
if(NOT at GREATER 0)
  message(FATAL_ERROR "package_install: found nnc elsewhere than in ${prefix}: ${nnc_dir}")
endif()
step("building examples/train_xor" log ${CMAKE_COMMAND} --build ${build} --parallel 2)
set(generated ${build}/nnc/xor_net_model/xor_net.c)
mtime(${generated} t_built)

# 4. run it: trains, checks the checkpoint round trip, exits 0 when accuracy >= 90%
execute_process(COMMAND ${build}/train_xor ${build}/xor_net.ckpt WORKING_DIRECTORY ${build}
                RESULT_VARIABLE rc OUTPUT_VARIABLE text ERROR_VARIABLE text)
message(STATUS "train_xor:\n${text}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "package_install: train_xor exited with ${rc}")
endif()

# 5. a build with nothing changed leaves the generated C alone; touching the .nn regenerates it
step("rebuilding with nothing changed" log ${CMAKE_COMMAND} --build ${build} --parallel 2)
mtime(${generated} t_again)
if(NOT t_again EQUAL t_built)
  message(FATAL_ERROR "package_install: a build with nothing changed regenerated ${generated}:\n${log}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1) # file(TIMESTAMP) has whole seconds
file(TOUCH ${src}/xor_net.nn)
step("rebuilding after touching xor_net.nn" log ${CMAKE_COMMAND} --build ${build} --parallel 2)
mtime(${generated} t_touched)
if(NOT t_touched GREATER t_built)
  message(FATAL_ERROR "package_install: touching xor_net.nn did not regenerate ${generated}:\n${log}")
endif()
message(STATUS "package_install: ok")
