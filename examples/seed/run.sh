#!/bin/sh
# run.sh [OUT] — the seed's experiments, rerunnable (README, "Seeing depth"): does the signal survive
# 32 layers? Writes into OUT (default examples/seed/results) the --stats CSV, the nnc plot SVG and
# the run's output of each model, and results.md, the table of measured numbers.
#
#   (a) the fixed point: 256 random N(0,1) inputs (normal_csv.awk) through 32 dense layers with
#       LeCun-normal weights, SELU (fixed_selu.nn) and ReLU (fixed_relu.nn): one step of 256, its
#       statistics recorded
#   (b) depth on Fashion-MNIST: 33 dense layers, plain ReLU with LeCun and with He weights, SELU
#       with LeCun, and residual ReLU (depth_*.nn), one epoch each (batch 128, seed 1), statistics
#       every 47 steps (10 lines per plot)
#   (c) plain against residual convolutional networks: models/plain20.nn and models/resnet20.nn
#       (batchnorm in both) on the first 12,800 training images (200 steps of 64, seed 1), tested
#       on 2,000, statistics every 40 steps
#
# PARTS picks the experiments (default abc, e.g. PARTS=c for the convolutional pair alone).
# NNC names the compiler (default build/compiler/nnc); run from anywhere. On the project's 2-core
# machine the whole script takes about 5 minutes (most of it the four epochs).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
NNC=${NNC:-$repo/build/compiler/nnc}
OUT=${1:-$here/results}
mkdir -p "$OUT"

# the last number of a CSV column (by header name) for the rows of one step and depth
column_at() { # FILE COLUMN STEP DEPTH ("last" for the deepest row)
  awk -F, -v col="$2" -v step="$3" -v depth="$4" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
    $1 == step && (depth == "last" || $5 == depth) { v = $c }
    END { print v }' "$1"
}
first_step() { awk -F, 'NR == 2 { print $1; exit }' "$1"; }

PARTS=${PARTS:-abc}
case $PARTS in *a*) ;; *) skip_a=1 ;; esac
if [ -z "${skip_a:-}" ]; then
echo "== (a) the fixed point: 32 dense layers, N(0,1) inputs"
awk -v seed=1 -v rows=256 -v dim=256 -f "$here/normal_csv.awk" > "$OUT/normal.csv"
for act in selu relu; do
  "$NNC" train "$here/fixed_$act.nn" --train-csv "$OUT/normal.csv" --test-csv "$OUT/normal.csv" --no-standardize \
    --batch 256 --quiet --checkpoint "$OUT/fixed_$act.ckpt" --stats "$OUT/fixed_$act.csv" > "$OUT/fixed_$act.out" 2>&1
  "$NNC" plot "$OUT/fixed_$act.csv" -o "$OUT/fixed_$act.svg"
done
fi

case $PARTS in *b*)
echo "== (b) depth on Fashion-MNIST: 33 dense layers, one epoch each"
for m in relu_lecun relu_he selu residual; do
  echo "-- depth_$m"
  "$NNC" train "$here/depth_$m.nn" --epochs 1 --quiet --stats "$OUT/depth_$m.csv" --stats-every 47 \
    --checkpoint "$OUT/depth_$m.ckpt" 2>&1 | tee "$OUT/depth_$m.out"
  "$NNC" plot "$OUT/depth_$m.csv" -o "$OUT/depth_$m.svg"
done
;; esac

case $PARTS in *c*)
echo "== (c) plain against residual CNNs: 20 layers, 200 steps of 64"
for m in plain20 resnet20; do
  echo "-- cnn_$m"
  "$NNC" train "$repo/models/$m.nn" --epochs 1 --batch 64 --limit-train 12800 --limit-test 2000 --quiet \
    --stats "$OUT/cnn_$m.csv" --stats-every 40 --checkpoint "$OUT/cnn_$m.ckpt" 2>&1 | tee "$OUT/cnn_$m.out"
  "$NNC" plot "$OUT/cnn_$m.csv" -o "$OUT/cnn_$m.svg"
done
;; esac
rm -f "$OUT"/*.ckpt "$OUT/normal.csv"
[ "$PARTS" = abc ] || exit 0

{
  echo "| experiment | model | test accuracy | act_var: first layer, last layer (first recorded step) | grad_norm: first layer, last layer |"
  echo "|---|---|---|---|---|"
  for f in fixed_selu fixed_relu depth_relu_lecun depth_relu_he depth_selu depth_residual cnn_plain20 cnn_resnet20; do
    csv="$OUT/$f.csv"
    s=$(first_step "$csv")
    acc=$(sed -n 's/.*test acc \([0-9.]*%\).*/\1/p' "$OUT/$f.out" | tail -1)
    case $f in
      fixed_*) exp="fixed point (random inputs, 1 step)"; acc="–" ;;
      cnn_*) exp="Fashion-MNIST, 200 steps of 64" ;;
      *) exp="Fashion-MNIST, 1 epoch" ;;
    esac
    printf '| %s | `%s` | %s | %.3g, %.3g | %.3g, %.3g |\n' "$exp" "$f" "$acc" \
      "$(column_at "$csv" act_var "$s" 0)" "$(column_at "$csv" act_var "$s" last)" \
      "$(column_at "$csv" grad_norm "$s" 0)" "$(column_at "$csv" grad_norm "$s" last)"
  done
} > "$OUT/results.md"
cat "$OUT/results.md"
