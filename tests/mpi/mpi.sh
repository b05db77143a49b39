#!/bin/bash
# mpi.sh — data-parallel training over Open MPI (tests/mpi/mpi.cmake runs each case as a test).
#
# usage: mpi.sh CASE NNC REPO WORK [ARGS...]
#   step MODE NP CFLAGS [MODEL.nn [BATCH]]  nnc build --mpi --debug-api of tests/mpi/mpi_{mlp,bn}.nn (or
#                   MODEL.nn; mode bn_image: mpi_bn_image.nn, 9 positions per channel), compiled with mpicc -std=c99 -Wall -Wextra -Werror -pedantic against
#                   mpi_step.c and run on NP ranks (mpi_step.c says what it checks)
#   train           nnc train tests/data/tiny_mlp.nn --mpi 2 against the single-process run: one
#                   set of epoch lines (rank 0's), the same losses and accuracies; 3 ranks at
#                   --batch 2 (a rank with no examples in every step) the same; checkpoints: 2-rank
#                   → single process and single → 2-rank resumes continue as the straight runs do,
#                   and a 2-rank resume of a 2-rank checkpoint ends byte-identical to the straight
#                   2-rank run; a junk checkpoint to resume and a diverging loss stop every rank
#                   with exit 1 (one error line for the loss, no mpirun banner)
#   modes CFLAGS    nnc build --mpi of a label model with dropout, a target model and a batchnorm
#                   model, as float with BLAS, --no-blas and --double: mpicc -std=c99 -Wall -Wextra
#                   -Werror -pedantic compiles each
#   errors          bad --mpi values, --stats with --mpi and a missing mpirun: exit status and message
#   no_mpi          without --mpi nothing of MPI is emitted, written or linked
# Skips (77) without mpicc or mpirun, unless NNC_REQUIRE_MPI=1 (CI), which makes that a failure.
set -u
case_=$1 nnc=$2 repo=$3 work=$4
shift 4
rm -rf "$work"
mkdir -p "$work"
cd "$work" || exit 1
export OPENBLAS_NUM_THREADS=1
# Open MPI refuses to run as root without these (its documented switch); nnc train sets them itself
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if [ "$case_" != errors ] && { ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; }; then
  if [ "${NNC_REQUIRE_MPI:-0}" = 1 ]; then echo "FAIL: mpicc or mpirun missing and NNC_REQUIRE_MPI=1"; exit 1; fi
  echo "skipped: Open MPI (mpicc, mpirun) is not installed (scripts/setup installs it)"
  exit 77
fi

data=$repo/tests/data
train_flags=(--train-csv "$data/tiny_train.csv" --test-csv "$data/tiny_test.csv" --quiet)

# "epoch 2/3  loss 0.3713  test acc 99.00%" lines without their timings
epochs() { grep -o 'epoch [0-9]*/[0-9]*  loss [0-9.]*  test acc [0-9.]*%' "$1"; }

# same_epochs A B WHAT: the same epoch lines, losses within 3e-4 (float summation order), the
# accuracies equal (100 test examples: one example is a whole point)
same_epochs() {
  local a b
  a=$(epochs "$1") b=$(epochs "$2")
  if [ -z "$a" ] || [ "$(wc -l <<<"$a")" != "$(wc -l <<<"$b")" ]; then
    fail "$3: epoch lines differ in number"; echo "$a"; echo "--"; echo "$b"; return
  fi
  paste <(echo "$a") <(echo "$b") | awk -F'\t' -v what="$3" '{
      split($1, x, " "); split($2, y, " ");
      d = x[4] - y[4]; if (d < 0) d = -d;
      if (x[2] != y[2] || d > 3e-4 || x[7] != y[7]) { print "FAIL: " what ": " $1 " vs " $2; bad = 1 } }
      END { exit bad }' || failures=$((failures + 1))
}

case $case_ in
step)
  mode=$1 np=$2 cflags=${3:-} file=${4:-} global=${5:-7}
  model=mpi_mlp
  positions=1
  [ "$mode" = bn ] && model=mpi_bn
  [ "$mode" = bn_image ] && model=mpi_bn_image mode=bn positions=9
  [ -n "$file" ] || file=$repo/tests/mpi/$model.nn
  model=$(sed -n 's/^model[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$file" | head -n 1)
  upper=$(echo "$model" | tr a-z A-Z)
  "$nnc" build "$file" -o gen --mpi --debug-api || exit 1
  # shellcheck disable=SC2086
  mpicc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -DNNC_NO_DISPATCH $cflags -Igen -DMODEL=$model -DBN_POSITIONS=$positions -DGLOBAL=$global \
    -DMODEL_UPPER=$upper "-DMODEL_H=\"$model.h\"" -DNNRT_OPENBLAS -o step "$repo/tests/mpi/mpi_step.c" \
    gen/$model.c gen/nnrt.c -lopenblas -lm || exit 1
  mpirun -np "$np" --oversubscribe ./step "$mode" "$work" || fail "mpi_step $mode on $np ranks"
  ;;

train)
  "$nnc" train "$data/tiny_mlp.nn" --mpi 2 --build-dir mpi --epochs 3 --batch 16 \
    --checkpoint m3.ckpt "${train_flags[@]}" > m3.out 2> m3.err || { fail "nnc train --mpi 2"; cat m3.err; }
  "$nnc" train "$data/tiny_mlp.nn" --build-dir single --epochs 3 --batch 16 --checkpoint s3.ckpt \
    "${train_flags[@]}" > s3.out 2> s3.err || { fail "nnc train"; cat s3.err; }
  cat m3.out
  [ "$(grep -c '^model tiny_mlp' m3.out)" = 1 ] || fail "--mpi 2: the model line is not printed once (rank 0 alone)"
  [ "$(epochs m3.out | wc -l)" = 3 ] || fail "--mpi 2: not three epoch lines"
  grep -q "checkpoint: m3.ckpt" m3.out || fail "--mpi 2: no checkpoint line"
  [ -s m3.ckpt ] || fail "--mpi 2: no checkpoint written"
  same_epochs m3.out s3.out "--mpi 2 against a single process"
  ls mpi/nnrt_mpi.c >/dev/null || fail "--mpi: nnrt_mpi.c not in the build folder"

  mpibin=(mpirun -np 2 --oversubscribe mpi/tiny_mlp-train)
  single=single/tiny_mlp-train
  # three ranks, two examples a step: one rank has none in every step
  mpirun -np 3 --oversubscribe mpi/tiny_mlp-train --epochs 2 --batch 2 --checkpoint b2m.ckpt "${train_flags[@]}" > b2m.out 2>&1 ||
    { fail "3 ranks, --batch 2"; cat b2m.out; }
  $single --epochs 2 --batch 2 --checkpoint b2s.ckpt "${train_flags[@]}" > b2s.out 2>&1 || fail "single --batch 2"
  same_epochs b2m.out b2s.out "3 ranks at --batch 2 against a single process"

  # a 2-rank checkpoint resumed in a single process, and the other way round
  "${mpibin[@]}" --epochs 1 --batch 16 --checkpoint m1.ckpt "${train_flags[@]}" > m1.out 2>&1 || fail "2 ranks, 1 epoch"
  $single --epochs 3 --batch 16 --resume m1.ckpt --checkpoint m1s.ckpt "${train_flags[@]}" > m1s.out 2>&1 ||
    { fail "a single process resuming a 2-rank checkpoint"; cat m1s.out; }
  grep -q "resumed from m1.ckpt after epoch 1" m1s.out || fail "single from 2-rank: no 'resumed from' line"
  same_epochs m1s.out <(epochs s3.out | tail -n 2) "a single process resumed from a 2-rank checkpoint"
  $single --epochs 1 --batch 16 --checkpoint s1.ckpt "${train_flags[@]}" > s1.out 2>&1 || fail "single, 1 epoch"
  "${mpibin[@]}" --epochs 3 --batch 16 --resume s1.ckpt --checkpoint s1m.ckpt "${train_flags[@]}" > s1m.out 2>&1 ||
    { fail "2 ranks resuming a single-process checkpoint"; cat s1m.out; }
  grep -q "resumed from s1.ckpt after epoch 1" s1m.out || fail "2-rank from single: no 'resumed from' line"
  same_epochs s1m.out <(epochs s3.out | tail -n 2) "2 ranks resumed from a single-process checkpoint"
  # 2 ranks resumed from a 2-rank checkpoint: bit-identical to the straight 2-rank run
  "${mpibin[@]}" --epochs 3 --batch 16 --resume m1.ckpt --checkpoint m1m.ckpt "${train_flags[@]}" > m1m.out 2>&1 ||
    fail "2 ranks resuming a 2-rank checkpoint"
  cmp -s m1m.ckpt m3.ckpt || fail "2 ranks resumed from a 2-rank checkpoint: checkpoint differs from the straight run's"

  # failures stop every rank: before training (a checkpoint that is not one: each rank says so)
  echo "not a checkpoint" > junk.ckpt
  timeout 60 "${mpibin[@]}" --epochs 2 --batch 16 --resume junk.ckpt "${train_flags[@]}" > junk.out 2>&1
  rc=$?
  [ $rc = 1 ] || { fail "2 ranks resuming junk.ckpt: exit $rc, expected 1"; cat junk.out; }
  grep -q "^error: .*junk.ckpt" junk.out || { fail "2 ranks resuming junk.ckpt: no error naming it"; cat junk.out; }
  # and in training (a loss gone infinite, on every rank at once: rank 0 alone says so)
  sed 's/^model tiny_mlp/model diverging/; s/^optimizer.*/optimizer sgd(lr=1e30)/' "$data/tiny_mlp.nn" > diverging.nn
  timeout 60 "$nnc" train diverging.nn --mpi 2 --checkpoint d.ckpt "${train_flags[@]}" > d.out 2> d.err
  rc=$?
  [ $rc = 1 ] || fail "a diverging run on 2 ranks: exit $rc, expected 1"
  [ "$(grep -c '^error: the loss or a gradient became NaN or infinite' d.err)" = 1 ] ||
    { fail "a diverging run on 2 ranks: not one error line"; cat d.err; }
  ! grep -q "mpirun\|Primary job" d.err || { fail "a diverging run on 2 ranks: mpirun's banner shown"; cat d.err; }
  ;;

modes)
  cflags=${1:-}
  for file in "$data/tiny_mlp.nn" "$repo/tests/backend/multilabel.nn" "$repo/tests/mpi/mpi_bn_image.nn"; do
    for mode in blas --no-blas --double; do
      flags=(--mpi)
      [ $mode != blas ] && flags+=("$mode")
      out=modes/$(basename "$file" .nn)$mode
      "$nnc" build "$file" -o "$out" "${flags[@]}" || { fail "nnc build $file ${flags[*]}"; continue; }
      # the model alone (nnrt.c does not change with --mpi); no dispatch clones, as the other
      # compile tests: they only cost time
      c=$out/$(basename "$file" .nn).c
      # shellcheck disable=SC2086
      mpicc -std=c99 -O0 -Wall -Wextra -Werror -pedantic -DNNC_NO_DISPATCH $cflags -c "$c" -o "$c.o" ||
        fail "mpicc $c (${flags[*]})"
    done
  done
  ;;

errors)
  model=$repo/tests/data/tiny_mlp.nn
  # expect STATUS MESSAGE ARGS...: nnc train (with PATH=$only_path when set) exits STATUS and prints
  # exactly MESSAGE first on stderr
  expect() {
    local status=$1 message=$2 rc
    shift 2
    env PATH="${only_path:-$PATH}" "$nnc" train "$model" "${train_flags[@]}" "$@" > out.txt 2> err.txt
    rc=$?
    if [ $rc != "$status" ] || [ "$(head -n 1 err.txt)" != "$message" ]; then
      fail "nnc train $*: exit $rc, stderr:"; cat err.txt
    fi
    ! grep -q "compiling" err.txt || fail "nnc train $*: compiled before rejecting"
  }
  expect 2 "nnc: error: '--mpi' needs a number of processes from 1 to 4096 (got '0')" --mpi 0
  expect 2 "nnc: error: '--mpi' needs a number of processes from 1 to 4096 (got 'two')" --mpi two
  expect 2 "nnc: error: '--mpi' needs a number of processes from 1 to 4096 (got '-2')" --mpi=-2
  expect 2 "nnc: error: '--mpi' needs a number of processes from 1 to 4096 (got '5000')" --mpi 5000
  expect 2 "nnc: error: '--mpi' needs the number of processes, e.g. --mpi 2" --mpi
  expect 2 "nnc: error: --stats does not work with --mpi yet: record the statistics in a single-process run" --mpi 2 --stats s.csv
  # Open MPI missing: a PATH with an mpicc but no mpirun, then neither
  mkdir -p fakebin nobin
  printf '#!/bin/sh\nexit 0\n' > fakebin/mpicc
  chmod +x fakebin/mpicc
  only_path=$work/fakebin expect 1 "nnc: error: --mpi 2 needs Open MPI, but mpirun is not on PATH (Debian: apt-get install openmpi-bin libopenmpi-dev)" --mpi 2
  only_path=$work/nobin expect 1 "nnc: error: --mpi 2 needs Open MPI, but mpicc is not on PATH (Debian: apt-get install openmpi-bin libopenmpi-dev)" --mpi 2
  ;;

no_mpi)
  "$nnc" build "$data/tiny_mlp.nn" -o plain || exit 1
  "$nnc" build "$data/tiny_mlp.nn" -o withmpi --mpi || exit 1
  ! grep -il mpi plain/tiny_mlp.c plain/tiny_mlp.h || fail "nnc build without --mpi emits MPI code"
  grep -q "tiny_mlp_train_step_mpi(tiny_mlp \*m, const float \*x, const int32_t \*y, int n, MPI_Comm comm);" withmpi/tiny_mlp.h ||
    fail "nnc build --mpi: no tiny_mlp_train_step_mpi in tiny_mlp.h"
  "$nnc" train "$data/tiny_mlp.nn" --build-dir trained --epochs 1 "${train_flags[@]}" > /dev/null 2>&1 || fail "nnc train"
  ! ls trained | grep -i mpi || fail "nnc train without --mpi writes MPI files"
  ! ldd trained/tiny_mlp-train | grep -i mpi || fail "nnc train without --mpi links MPI"
  ! grep -il mpi trained/main.c || fail "nnc train without --mpi: main.c mentions MPI"
  ;;
*)
  echo "unknown case $case_"; exit 2 ;;
esac
[ $failures = 0 ] && echo "ok" || echo "$failures failure(s)"
[ $failures = 0 ]
