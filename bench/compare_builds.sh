#!/bin/sh
# bench/compare_builds.sh NNC_A NNC_B MODEL.nn [BATCH [ROUNDS [STEPS]]]
#
# Two nnc binaries (e.g. the last commit's and the working tree's) on one model, side by side: each
# generates the model, which is built exactly as spec §7 says (cc -O2 -std=c99, OpenBLAS), and the
# two programs alternate for ROUNDS rounds, one thread, timing their steps in the thread's CPU time
# (CLOCK_THREAD_CPUTIME_ID, so that other jobs on a shared machine do not decide the ratio). Prints
# each round and the medians of training and forward examples/s, and B's ratio to A.
set -eu
usage="usage: bench/compare_builds.sh NNC_A NNC_B MODEL.nn [BATCH [ROUNDS [STEPS]]]"
a=${1:?$usage} b=${2:?$usage} model=${3:?$usage}
batch=${4:-64} rounds=${5:-5} steps=${6:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=$(basename "$model" .nn)
for side in a b; do
  eval nnc=\$$side
  "$nnc" bench "$model" --batch "$batch" --steps 1 --runs 1 --build-dir "$work/$side.b" >/dev/null
  "$nnc" build "$model" -o "$work/$side"
  sed "s/CLOCK_MONOTONIC/CLOCK_THREAD_CPUTIME_ID/" "$work/$side.b/main.c" > "$work/$side/bench_main.c"
  (cd "$work/$side" && cc -O2 -std=c99 -o bench ./*.c -lopenblas -lm)
done
: > "$work/rounds"
i=0
while [ "$i" -lt "$rounds" ]; do
  i=$((i + 1))
  line=""
  for side in a b; do
    out=$(OPENBLAS_NUM_THREADS=1 "$work/$side/bench" "$batch" "$steps" 1 1)
    line="$line $(echo "$out" | awk '$1 == "train" {printf "%s ", $2} $1 == "forward" {printf "%s", $2}')"
  done
  echo "round $i: A train, forward, B train, forward:$line"
  echo "$line" >> "$work/rounds"
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
at=$(awk '{print $1}' "$work/rounds" | median); af=$(awk '{print $2}' "$work/rounds" | median)
bt=$(awk '{print $3}' "$work/rounds" | median); bf=$(awk '{print $4}' "$work/rounds" | median)
echo "$name batch $batch, 1 thread, medians of $rounds rounds (examples/s):"
awk -v a="$at" -v b="$bt" 'BEGIN {printf "  train    A %8.1f  B %8.1f  B/A %.3f\n", a, b, b / a}'
awk -v a="$af" -v b="$bf" 'BEGIN {printf "  forward  A %8.1f  B %8.1f  B/A %.3f\n", a, b, b / a}'
