# tests/mpi/mpi.cmake — data-parallel training over Open MPI (mpi.sh says what each case checks),
# included from tests/CMakeLists.txt. Each case takes seconds: tiny models, 2 or 3 ranks
# oversubscribed on any machine. Without Open MPI they are skipped (77), unless NNC_REQUIRE_MPI=1.
#
#   mpi_step_single_np2, _np3   three data-parallel steps of tests/mpi/mpi_mlp.nn (dropout, sgd with
#                               momentum) against one process on the whole batch; ranks bit-identical
#   mpi_step_fashion_snn_np2    the same for models/fashion_snn.nn (664,074 parameters) on 2 ranks,
#                               a global batch of 128
#   mpi_step_bn_np2, _np3       tests/mpi/mpi_bn.nn: per-rank batch statistics, gradients weighted by
#                               share, the running statistics of the global batch
#   mpi_step_bn_image_np2, _np3 the same for batchnorm of images (mpi_bn_image.nn)
#   mpi_build_modes             nnc build --mpi with BLAS, --no-blas and --double, label and target
#                               models: compiles with mpicc -Wall -Wextra -Werror -pedantic
#   mpi_train                   nnc train --mpi against a single process; checkpoints both ways
#   mpi_errors                  bad --mpi values and a missing mpirun: messages and exit statuses
#   mpi_none_without_flag       without --mpi nothing of MPI is emitted, written or linked
#   package_mpi                 nnc_add_model(... MPI): a consumer built in this tree, run on 2 ranks

set(nnc_mpi_script ${CMAKE_CURRENT_LIST_DIR}/mpi.sh)
set(nnc_mpi_work ${CMAKE_CURRENT_BINARY_DIR}/mpi)
# the generated code and mpi_step.c with the sanitizers too in their build (NNC_GEN_CFLAGS)
string(JOIN " " nnc_mpi_cflags ${nnc_cblas_include} ${nnc_gen_cflags})

foreach(mode single bn bn_image)
  foreach(np 2 3)
    add_test(NAME mpi_step_${mode}_np${np}
             COMMAND bash ${nnc_mpi_script} step $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/step_${mode}_${np}
                     ${mode} ${np} "${nnc_mpi_cflags}")
  endforeach()
endforeach()
# the issue's model: its first steps on 2 ranks (54 + 74 examples) as one process's on the same global
# batch of 128
add_test(NAME mpi_step_fashion_snn_np2
         COMMAND bash ${nnc_mpi_script} step $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/step_fashion_snn
                 single 2 "${nnc_mpi_cflags}" ${PROJECT_SOURCE_DIR}/models/fashion_snn.nn 128)
add_test(NAME mpi_build_modes COMMAND bash ${nnc_mpi_script} modes $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/modes
                                        "${nnc_mpi_cflags}")
foreach(case train errors)
  add_test(NAME mpi_${case} COMMAND bash ${nnc_mpi_script} ${case} $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/${case})
endforeach()
add_test(NAME mpi_none_without_flag COMMAND bash ${nnc_mpi_script} no_mpi $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/no_mpi)
foreach(t mpi_step_fashion_snn_np2 mpi_step_single_np2 mpi_step_single_np3 mpi_step_bn_np2 mpi_step_bn_np3
         mpi_step_bn_image_np2 mpi_step_bn_image_np3 mpi_build_modes mpi_train mpi_errors mpi_none_without_flag)
  # Open MPI keeps allocations until exit, which LeakSanitizer would report
  set_tests_properties(${t} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS mpi ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
endforeach()

# package_mpi: nnc_add_model(... MPI) in this tree (so with its warnings and sanitizers), a consumer
# run on 2 ranks (package_main.c). Without MPI's development files it cannot be built: skipped.
find_package(MPI COMPONENTS C QUIET)
if(TARGET MPI::MPI_C)
  nnc_add_model(package_mpi_model ${PROJECT_SOURCE_DIR}/tests/data/tiny_mlp.nn MPI)
  add_executable(package_mpi ${CMAKE_CURRENT_LIST_DIR}/package_main.c)
  target_link_libraries(package_mpi PRIVATE package_mpi_model)
  add_test(NAME package_mpi COMMAND ${MPIEXEC_EXECUTABLE} -np 2 --oversubscribe $<TARGET_FILE:package_mpi>)
  # Open MPI keeps allocations until exit, which LeakSanitizer would report
  set_tests_properties(package_mpi PROPERTIES TIMEOUT 60 LABELS mpi
                       ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;ASAN_OPTIONS=detect_leaks=0")
else()
  add_test(NAME package_mpi COMMAND sh -c "echo 'MPI (libopenmpi-dev) not found when configuring'; [ \"$NNC_REQUIRE_MPI\" = 1 ] && exit 1; exit 77")
  set_tests_properties(package_mpi PROPERTIES SKIP_RETURN_CODE 77 LABELS mpi)
endif()
