#!/bin/sh
# bench/report.sh [ROUNDS]
#
# The README's benchmark report: bench/spec_build_vs_torch.sh (spec §7's build against the PyTorch
# twin, alternating rounds, medians) for fashion_snn, fashion_relu and resnet20 at batch 1, 16 and
# 128 on 1 and 2 threads; prints one markdown table and the environment it ran in. ROUNDS (default
# 5) alternating rounds per figure, resnet20 ROUNDS - 2 (at least 3): its rounds take seconds.
# A round times 256 examples of each fashion model (256 steps at batch 1, 16 at 16, 4 at 128) and
# 64 of resnet20 (64, 4 and 2 steps). On the project's 2-core machine at a load average of 5, the
# 1-thread half took 2 minutes and the 2-thread half 25 (PyTorch's two threads crawl when the
# cores are busy): REPORT_THREADS=1 for the headline figures.
# REPORT_MODELS, REPORT_BATCHES and REPORT_THREADS narrow it (e.g. REPORT_MODELS=fashion_snn);
# the environment reaches both sides, e.g. OPENBLAS_CORETYPE=Haswell bench/report.sh.
# Progress goes to standard error, the report to standard output.
set -eu
rounds=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
models=${REPORT_MODELS:-fashion_snn fashion_relu resnet20}
batches=${REPORT_BATCHES:-1,16,128}
threads=${REPORT_THREADS:-1,2}
python=${NNC_PYTHON:-/usr/bin/python3}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
for model in $models; do
  r=$rounds examples=256 least=4
  if [ "$model" = resnet20 ]; then
    r=$((rounds > 5 ? rounds - 2 : 3)) examples=64 least=2
  fi
  BENCH_EXAMPLES=$examples BENCH_MIN_STEPS=$least sh "$here/bench/spec_build_vs_torch.sh" "$here/models/$model.nn" "$batches" "$r" "$threads" \
    2>&1 | tee -a "$log" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "| model | batch | threads | train: nnc | PyTorch | ratio | forward: nnc | PyTorch | ratio | rounds × steps |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '$1 == "result" {
  printf "| `%s` | %d | %d%s | %.0f | %.0f | %.2f× | %.0f | %.0f | %.2f× | %d × %d |\n",
    $2, $3, $4, $4 == 1 ? "" : " (wall)", $7, $8, $7 / $8, $9, $10, $9 / $10, $5, $6 }' "$log"
nnc_core=$(awk '$1 == "blas" && $2 == "nnc" {print $3}' "$log" | sort -u | tr '\n' ' ')
torch_core=$(awk '$1 == "blas" && $2 == "torch" {print $3}' "$log" | sort -u | tr '\n' ' ')
echo
echo "examples/s, medians of alternating rounds; 1 thread: each side's thread CPU time; 2 threads: wall time."
echo "$start; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average $load_before before, $load_after after;"
echo "OpenBLAS $(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo '?') core ${nnc_core% } (nnc) / ${torch_core% } (PyTorch), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset};"
echo "nnc: \`cc -O2 -std=c99\`, \`-lopenblas -lm\` ($(cc --version | head -1)); PyTorch $("$python" -c 'import torch; print(torch.__version__)')."
