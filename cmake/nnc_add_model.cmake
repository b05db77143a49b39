# nnc_add_model.cmake — compile a .nn model to C as part of a CMake build.
#
#   nnc_add_model(<target> <file.nn> [NO_BLAS] [MPI] [NAME <model>] [OUTPUT_DIR <dir>])
#
# Adds a rule that runs `nnc build <file.nn> -o <dir>` at build time (again whenever the .nn file
# or nnc itself changes) and a static library <target> made of the generated <model>.c and the
# runtime's nnrt.c. Linking <target> gives its users <model>.h (and nnrt.h) on the include path.
#
#   NO_BLAS      emit plain loops (`nnc build --no-blas`): the library needs only libm. Without
#                it the generated code calls cblas_sgemm; the library then links BLAS::BLAS
#                (find_package(BLAS)) and needs cblas.h (Debian: libopenblas-dev).
#   MPI          also emit <model>_train_step_mpi(m, x, y, n, MPI_Comm comm), data-parallel
#                training (`nnc build --mpi`); <model>.h then includes mpi.h, and <target> links
#                MPI::MPI_C (find_package(MPI COMPONENTS C); Debian: libopenmpi-dev) for its users.
#   NAME         the model's name (`model NAME` in the file), which names the generated files.
#                By default it is read from the file when CMake configures, and an edit of the file
#                re-runs CMake so that a renamed model is picked up. Give NAME when the .nn file is
#                itself generated during the build and so does not exist yet at configure time.
#   OUTPUT_DIR   where the sources are generated; default ${CMAKE_CURRENT_BINARY_DIR}/nnc/<target>.
#
# The nnc executable is the target nnc::nnc: imported by find_package(nnc), or an alias of the
# compiler target inside nnc's own build tree. The enclosing project must enable C.

include_guard(GLOBAL)

function(nnc_add_model target nn_file)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "NO_BLAS;MPI" "NAME;OUTPUT_DIR" "")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nnc_add_model(${target}): unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET nnc::nnc)
    message(FATAL_ERROR "nnc_add_model(${target}): there is no nnc::nnc target; call find_package(nnc) first")
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST languages)
    message(FATAL_ERROR "nnc_add_model(${target}): the generated model is C; enable it with project(... LANGUAGES C) or enable_language(C)")
  endif()

  get_filename_component(nn_file "${nn_file}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")

  # The model's name, which the generated files are named after.
  set(name "${ARG_NAME}")
  if(NOT name)
    if(NOT EXISTS "${nn_file}")
      message(FATAL_ERROR "nnc_add_model(${target}): ${nn_file} does not exist (if it is generated during the build, pass NAME <model>)")
    endif()
    file(STRINGS "${nn_file}" model_line ENCODING UTF-8 LIMIT_COUNT 1
         REGEX "^[ \t]*model[ \t]+[A-Za-z_][A-Za-z0-9_]*")
    if(NOT model_line MATCHES "^[ \t]*model[ \t]+([A-Za-z_][A-Za-z0-9_]*)")
      message(FATAL_ERROR "nnc_add_model(${target}): no 'model NAME' line in ${nn_file}")
    endif()
    set(name "${CMAKE_MATCH_1}")
    # Re-run CMake when the file changes, in case the model was renamed.
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${nn_file}")
  endif()

  set(out "${ARG_OUTPUT_DIR}")
  if(NOT out)
    set(out "${CMAKE_CURRENT_BINARY_DIR}/nnc/${target}")
  endif()
  get_filename_component(out "${out}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")

  set(flags "")
  if(ARG_NO_BLAS)
    set(flags --no-blas)
  endif()
  if(ARG_MPI)
    list(APPEND flags --mpi)
  endif()
  set(generated "${out}/${name}.c" "${out}/${name}.h" "${out}/nnrt.c" "${out}/nnrt.h")
  file(RELATIVE_PATH shown "${CMAKE_SOURCE_DIR}" "${nn_file}")
  add_custom_command(
    OUTPUT ${generated}
    COMMAND nnc::nnc build "${nn_file}" -o "${out}" ${flags}
    DEPENDS "${nn_file}" nnc::nnc
    COMMENT "nnc build ${shown} -> ${name}.c"
    VERBATIM)

  add_library(${target} STATIC ${generated} "${nn_file}")
  set_source_files_properties("${nn_file}" PROPERTIES HEADER_FILE_ONLY ON)
  target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${out}>")
  target_compile_features(${target} PRIVATE c_std_99)

  if(NOT ARG_NO_BLAS)
    if(NOT TARGET BLAS::BLAS)
      find_package(BLAS REQUIRED)
    endif()
    target_link_libraries(${target} PRIVATE BLAS::BLAS)
    # The generated code includes <cblas.h>: Debian has it on the default path, other systems
    # keep it beside OpenBLAS.
    find_path(NNC_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
    if(NOT NNC_CBLAS_INCLUDE_DIR)
      message(FATAL_ERROR "nnc_add_model(${target}): cblas.h not found (install OpenBLAS's development files, set NNC_CBLAS_INCLUDE_DIR, or use NO_BLAS)")
    endif()
    target_include_directories(${target} PRIVATE "${NNC_CBLAS_INCLUDE_DIR}")
  endif()
  if(ARG_MPI)
    if(NOT TARGET MPI::MPI_C)
      find_package(MPI COMPONENTS C)
    endif()
    if(NOT TARGET MPI::MPI_C)
      message(FATAL_ERROR "nnc_add_model(${target}): MPI needs an MPI implementation's C library (Debian: libopenmpi-dev)")
    endif()
    # PUBLIC: <model>.h includes mpi.h
    target_link_libraries(${target} PUBLIC MPI::MPI_C)
  endif()
  find_library(NNC_MATH_LIBRARY m)
  if(NNC_MATH_LIBRARY)
    target_link_libraries(${target} PRIVATE "${NNC_MATH_LIBRARY}")
  endif()
endfunction()
