#!/bin/sh
# bench/spec_build_vs_torch.sh MODEL.nn [BATCH [ROUNDS [THREADS]]]
#
# The generated code built exactly as spec §7 says (nnc build, then cc -O2 -std=c99, OpenBLAS), side by
# side with its PyTorch twin (nnc export --torch; PyTorch 1.13 with torch.set_num_threads and
# OPENBLAS_NUM_THREADS = THREADS), in ROUNDS alternating rounds; prints each round and the medians of
# training and forward examples/s and their ratios. Both sides time their steps in the CPU time of the
# thread that runs them (CLOCK_THREAD_CPUTIME_ID, torch's time.thread_time) when THREADS is 1, so
# that other jobs on a shared machine do not decide the ratio; with more threads, in wall time.
set -eu
model=${1:?usage: bench/spec_build_vs_torch.sh MODEL.nn [BATCH [ROUNDS [THREADS]]]}
batch=${2:-64}
rounds=${3:-5}
threads=${4:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
nnc=${NNC:-$here/build/compiler/nnc}
python=${NNC_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# nnc bench writes the bench's main.c; the model and runtime are rebuilt here at -O2
"$nnc" bench "$model" --batch "$batch" --steps 1 --runs 1 --build-dir "$work/b" >/dev/null
name=$(basename "$model" .nn)
"$nnc" build "$model" -o "$work/gen"
"$nnc" export "$model" --torch -o "$work/twin"
clock=CLOCK_MONOTONIC
[ "$threads" = 1 ] && clock=CLOCK_THREAD_CPUTIME_ID
sed "s/CLOCK_MONOTONIC/$clock/" "$work/b/main.c" > "$work/gen/bench_main.c"
(cd "$work/gen" && cc -O2 -std=c99 -o bench ./*.c -lopenblas -lm)

cat > "$work/twin/round.py" <<PY
import os, sys, time
sys.path.insert(0, "$work/twin")
import torch
import ${name}_torch as twin
import nnc_twin
torch.set_num_threads($threads)
clock = time.thread_time if $threads == 1 else time.perf_counter
m = twin.Model(); m.reset_parameters(); opt = twin.make_optimizer(m)
x, y = nnc_twin.bench_data(twin, $batch)
def step():
    opt.zero_grad(); loss = m.loss(x, y); loss.backward(); opt.step()
for _ in range(3): step()
t = clock(); n = 5
for _ in range(n): step()
train = n * $batch / (clock() - t)
m.eval()
with torch.no_grad():
    for _ in range(3): m(x)
    t = clock(); n = 20
    for _ in range(n): m(x)
    fwd = n * $batch / (clock() - t)
print(f"{train:.1f} {fwd:.1f}")
PY

i=0
: > "$work/rounds"
while [ "$i" -lt "$rounds" ]; do
  i=$((i + 1))
  nnc_out=$(OPENBLAS_NUM_THREADS=$threads "$work/gen/bench" "$batch" 5 1 "$threads")
  nt=$(echo "$nnc_out" | awk '$1 == "train" {print $2}')
  nf=$(echo "$nnc_out" | awk '$1 == "forward" {print $2}')
  tt=$(OPENBLAS_NUM_THREADS=$threads "$python" "$work/twin/round.py")
  echo "round $i: nnc train $nt forward $nf | torch train ${tt% *} forward ${tt#* }"
  echo "$nt $nf $tt" >> "$work/rounds"
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
mt=$(awk '{print $1}' "$work/rounds" | median); mf=$(awk '{print $2}' "$work/rounds" | median)
tt=$(awk '{print $3}' "$work/rounds" | median); tf=$(awk '{print $4}' "$work/rounds" | median)
echo "$name batch $batch, $threads thread(s), medians of $rounds rounds (examples/s):"
awk -v a="$mt" -v b="$tt" 'BEGIN {printf "  train    nnc %8.1f  torch %8.1f  ratio %.2f\n", a, b, a / b}'
awk -v a="$mf" -v b="$tf" 'BEGIN {printf "  forward  nnc %8.1f  torch %8.1f  ratio %.2f\n", a, b, a / b}'
