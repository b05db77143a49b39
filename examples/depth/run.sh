#!/usr/bin/env bash
# run.sh — He et al. (2015)'s depth experiment on Fashion-MNIST: plain and residual CNNs of 20 and
# 56 layers (plain20 and resnet20 from models/, plain56 and resnet56 here), trained for the same
# budget of steps from the same seed. Writes into examples/depth/out/ (or $OUT):
#   curves.csv    model,step,loss       the mean training loss over each LOG_EVERY steps
#   results.csv   model,layers,steps,batch,final_loss,test_accuracy,seconds
#   depth.svg     the four training-loss curves, with the test accuracies in the legend
# usage: examples/depth/run.sh [STEPS [BATCH [LOG_EVERY]]]    (default 600 64 25; two models at a
# time, one thread each). Needs nnc built (scripts/setup), OpenBLAS, zlib and the dataset package.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
nnc=${NNC:-$repo/build/compiler/nnc}
out=${OUT:-$here/out}
data=${DATA:-/usr/share/datasets/fashion-mnist}
steps=${1:-600} batch=${2:-64} log_every=${3:-25}
mkdir -p "$out"

run_one() { # model file
  local name=$1 file=$2 dir=$out/$1
  rm -rf "$dir" && mkdir -p "$dir"
  "$nnc" build "$file" -o "$dir/gen" >/dev/null
  printf '#include "%s.h"\n#define M(fn) %s_##fn\n#define M_NAME "%s"\ntypedef %s M_model;\n' \
    "$name" "$name" "$name" "$name" > "$dir/gen/model.h"
  # as nnc train builds it: for this machine, without the run-time dispatch's clones (which take
  # minutes to compile for a 56-layer model)
  cc -O3 -march=native -DNNC_NO_DISPATCH -std=c99 -D_POSIX_C_SOURCE=200809L -I"$dir/gen" -I"$repo/runtime" -I/usr/include/openblas \
     "$dir/gen/$name.c" "$dir/gen/nnrt.c" "$repo/runtime/nnrt_data.c" "$here/depth.c" \
     -o "$dir/depth" -lopenblas -lz -lm
  local start=$SECONDS
  OPENBLAS_NUM_THREADS=1 "$dir/depth" "$data" "$steps" "$batch" "$log_every" "$dir/curve.csv" > "$dir/result.txt"
  local acc; acc=$(awk '/^accuracy/ {print $2}' "$dir/result.txt")
  local final; final=$(tail -1 "$dir/curve.csv" | cut -d, -f3)
  local layers=${name//[a-z]/}
  echo "$name,$layers,$steps,$batch,$final,$acc,$((SECONDS - start))" > "$dir/result.csv"
  echo "$name: final training loss $final, test accuracy $acc% ($((SECONDS - start)) s)"
}

run_one plain20 "$repo/models/plain20.nn" & run_one resnet20 "$repo/models/resnet20.nn" & wait
run_one plain56 "$here/plain56.nn" & run_one resnet56 "$here/resnet56.nn" & wait

echo "model,layers,steps,batch,final_loss,test_accuracy,seconds" > "$out/results.csv"
echo "model,step,loss" > "$out/curves.csv"
for m in plain20 resnet20 plain56 resnet56; do
  cat "$out/$m/result.csv" >> "$out/results.csv"
  tail -n +2 "$out/$m/curve.csv" >> "$out/curves.csv"
done
python3 "$here/plot.py" "$out/curves.csv" "$out/results.csv" "$out/depth.svg"
echo "wrote $out/results.csv, $out/curves.csv and $out/depth.svg"
