#!/usr/bin/env bash
# Side by side on one machine: the generated code of models/fashion_snn.nn (or fashion_relu.nn with
# --relu) against its PyTorch twin (bench/torch_fashion_snn.py), one thread, batch 128, alternating
# ROUNDS times so both see the same load; prints each side's median examples/s and their ratio.
#   bench/vs_torch.sh [--relu] [ROUNDS]        (needs build/compiler/nnc and Debian's python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/fashion_snn.nn twin=()
if [[ ${1:-} == --relu ]]; then model=models/fashion_relu.nn twin=(--relu); shift; fi
rounds=${1:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
build/compiler/nnc bench "$model" --build-dir "$dir" --runs 1 --steps 5 >/dev/null 2>&1   # compile once
bin=$(ls "$dir"/*-bench)
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: >"$dir/nnc.train"; : >"$dir/nnc.fwd"; : >"$dir/torch.train"; : >"$dir/torch.fwd"
for ((r = 0; r < rounds; r++)); do
  out=$(OPENBLAS_NUM_THREADS=1 "$bin" 128 50 3 1)
  awk '$1 == "train" {print $2}' <<<"$out" >>"$dir/nnc.train"
  awk '$1 == "forward" {print $2}' <<<"$out" >>"$dir/nnc.fwd"
  out=$(/usr/bin/python3 bench/torch_fashion_snn.py "${twin[@]}" --runs 3)
  awk '$2 == "train" {print $3}' <<<"$out" >>"$dir/torch.train"
  awk '$2 == "forward" {print $3}' <<<"$out" >>"$dir/torch.fwd"
done
for phase in train fwd; do
  n=$(median <"$dir/nnc.$phase") t=$(median <"$dir/torch.$phase")
  printf '%-8s nnc %8.0f examples/s   torch %8.0f examples/s   ratio %.2fx\n' "$phase" "$n" "$t" \
    "$(awk -v a="$n" -v b="$t" 'BEGIN {print a / b}')"
done
