# tests/mpi/mpi.cmake — data-parallel training over Open MPI (mpi.sh says what each case checks),
# included from tests/CMakeLists.txt. Each case takes seconds: tiny models, 2 or 3 ranks
# oversubscribed on any machine. Without Open MPI they are skipped (77), unless NNC_REQUIRE_MPI=1.
#
#   mpi_step_single_np2, _np3   three data-parallel steps of tests/mpi/mpi_mlp.nn (dropout, sgd with
#                               momentum) against one process on the whole batch; ranks bit-identical
#   mpi_step_bn_np2, _np3       tests/mpi/mpi_bn.nn: per-rank batch statistics, gradients weighted by
#                               share, the running statistics of the global batch
#   mpi_train                   nnc train --mpi against a single process; checkpoints both ways
#   mpi_errors                  bad --mpi values and a missing mpirun: messages and exit statuses
#   mpi_none_without_flag       without --mpi nothing of MPI is emitted, written or linked

set(nnc_mpi_script ${CMAKE_CURRENT_LIST_DIR}/mpi.sh)
set(nnc_mpi_work ${CMAKE_CURRENT_BINARY_DIR}/mpi)
string(JOIN " " nnc_mpi_cflags ${nnc_cblas_include})

foreach(mode single bn)
  foreach(np 2 3)
    add_test(NAME mpi_step_${mode}_np${np}
             COMMAND bash ${nnc_mpi_script} step $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/step_${mode}_${np}
                     ${mode} ${np} "${nnc_mpi_cflags}")
  endforeach()
endforeach()
foreach(case train errors)
  add_test(NAME mpi_${case} COMMAND bash ${nnc_mpi_script} ${case} $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/${case})
endforeach()
add_test(NAME mpi_none_without_flag COMMAND bash ${nnc_mpi_script} no_mpi $<TARGET_FILE:nnc> ${PROJECT_SOURCE_DIR} ${nnc_mpi_work}/no_mpi)
foreach(t mpi_step_single_np2 mpi_step_single_np3 mpi_step_bn_np2 mpi_step_bn_np3 mpi_train mpi_errors mpi_none_without_flag)
  set_tests_properties(${t} PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS mpi)
endforeach()
