#!/bin/sh
# bench/spec_build_vs_torch.sh MODEL.nn [BATCHES [ROUNDS [THREADS]]]
#
# The generated code built exactly as spec §7 says (nnc build, then cc -O2 -std=c99, OpenBLAS), side by
# side with its PyTorch twin (nnc export --torch; PyTorch 1.13 with torch.set_num_threads and
# OPENBLAS_NUM_THREADS = THREADS), in ROUNDS alternating rounds; prints each round and the medians of
# training and forward examples/s and their ratios. Both sides time their steps in the CPU time of the
# thread that runs them (CLOCK_THREAD_CPUTIME_ID, torch's time.thread_time) when THREADS is 1, so
# that other jobs on a shared machine do not decide the ratio; with more threads, in wall time.
#
# BATCHES and THREADS are a number or a comma-separated list (e.g. 1,16,128): the model is built
# once and measured for each. A round times STEPS steps of each side (the same number for training
# and forward); STEPS defaults to EXAMPLES / batch (at least MIN_STEPS, 2), EXAMPLES to 512; all three
# are read from the environment (BENCH_STEPS, BENCH_EXAMPLES, BENCH_MIN_STEPS). Every other variable, e.g. OPENBLAS_CORETYPE, reaches
# both sides unchanged. Besides the table, one line per batch and thread count for scripts:
#   result MODEL BATCH THREADS ROUNDS STEPS NNC_TRAIN TORCH_TRAIN NNC_FORWARD TORCH_FORWARD
# and the OpenBLAS core each side loaded:  blas nnc CORE / blas torch CORE.
set -eu
usage="usage: bench/spec_build_vs_torch.sh MODEL.nn [BATCHES [ROUNDS [THREADS]]]"
model=${1:?$usage}
batches=${2:-64}
rounds=${3:-5}
threads_list=${4:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
nnc=${NNC:-$here/build/compiler/nnc}
python=${NNC_PYTHON:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# nnc bench writes the bench's main.c; the model and runtime are rebuilt here at -O2. The timing
# main() alone gets -DNNRT_OPENBLAS, which makes it set and print OpenBLAS's core and threads.
"$nnc" bench "$model" --batch 1 --steps 1 --runs 1 --build-dir "$work/b" >/dev/null
name=$(basename "$model" .nn)
"$nnc" build "$model" -o "$work/gen"
"$nnc" export "$model" --torch -o "$work/twin"
mkdir "$work/clock"
for clock in CLOCK_MONOTONIC CLOCK_THREAD_CPUTIME_ID; do
  sed "s/CLOCK_MONOTONIC/$clock/" "$work/b/main.c" > "$work/clock/$clock.c"
done
(cd "$work/gen" && cc -O2 -std=c99 -c ./*.c)
for clock in CLOCK_MONOTONIC CLOCK_THREAD_CPUTIME_ID; do
  cc -O2 -std=c99 -DNNRT_OPENBLAS -I"$work/gen" -c "$work/clock/$clock.c" -o "$work/clock/$clock.o"
  cc -o "$work/bench-$clock" "$work/gen"/*.o "$work/clock/$clock.o" -lopenblas -lm
done

# One python per thread count (OpenBLAS reads OPENBLAS_NUM_THREADS when it loads); it alternates
# its own rounds with runs of nnc's binary, so torch is imported once.
cat > "$work/twin/rounds.py" <<'PY'
import ctypes, os, subprocess, sys, time
twin_dir, name, binary, threads, rounds = sys.argv[1:6]
batches = [int(b) for b in sys.argv[6].split(",")]
threads, rounds = int(threads), int(rounds)
sys.path.insert(0, twin_dir)
import torch
import nnc_twin
twin = __import__(name + "_torch")
torch.set_num_threads(threads)
clock = time.thread_time if threads == 1 else time.perf_counter
blas = ctypes.CDLL("libblas.so.3")
blas.openblas_get_corename.restype = ctypes.c_char_p
print("blas torch", blas.openblas_get_corename().decode(), flush=True)

def steps_for(batch):
    if os.environ.get("BENCH_STEPS"):
        return int(os.environ["BENCH_STEPS"])
    least = int(os.environ.get("BENCH_MIN_STEPS", "2"))
    return max(least, -(-int(os.environ.get("BENCH_EXAMPLES", "512")) // batch))

def torch_round(m, opt, x, y, batch, n):
    def step():
        opt.zero_grad(); loss = m.loss(x, y); loss.backward(); opt.step()
    m.train()
    for _ in range(3): step()
    t = clock()
    for _ in range(n): step()
    train = n * batch / (clock() - t)
    m.eval()
    with torch.no_grad():
        for _ in range(3): m(x)
        t = clock()
        for _ in range(n): m(x)
        fwd = n * batch / (clock() - t)
    return train, fwd

for batch in batches:
    n = steps_for(batch)
    m = twin.Model(); m.reset_parameters(); opt = twin.make_optimizer(m)
    x, y = nnc_twin.bench_data(twin, batch)
    got = []
    for r in range(rounds):
        time.sleep(0.2)  # torch's OpenMP workers stop spinning before nnc's round
        out = subprocess.run([binary, str(batch), str(n), "1", str(threads)], check=True,
                             capture_output=True, text=True).stdout
        rate = {w[0]: float(w[1]) for w in (l.split() for l in out.splitlines()) if w and w[0] in ("train", "forward")}
        if r == 0:
            core = [l.split()[2].rstrip(",") for l in out.splitlines() if l.startswith("blas:")]
            print("blas nnc", core[0] if core else "?", flush=True)
        tt, tf = torch_round(m, opt, x, y, batch, n)
        got.append((rate["train"], tt, rate["forward"], tf))
        print(f"{name} batch {batch}, {threads} thread(s), round {r + 1}: nnc train {rate['train']:.1f} "
              f"forward {rate['forward']:.1f} | torch train {tt:.1f} forward {tf:.1f}", flush=True)
    med = []
    for k in range(4):
        v = sorted(g[k] for g in got)
        med.append(v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)
    print(f"{name} batch {batch}, {threads} thread(s), medians of {rounds} rounds of {n} steps (examples/s):")
    print(f"  train    nnc {med[0]:8.1f}  torch {med[1]:8.1f}  ratio {med[0] / med[1]:.2f}")
    print(f"  forward  nnc {med[2]:8.1f}  torch {med[3]:8.1f}  ratio {med[2] / med[3]:.2f}")
    print(f"result {name} {batch} {threads} {rounds} {n} {med[0]:.1f} {med[1]:.1f} {med[2]:.1f} {med[3]:.1f}", flush=True)
PY

for threads in $(echo "$threads_list" | tr ',' ' '); do
  clock=CLOCK_MONOTONIC
  [ "$threads" = 1 ] && clock=CLOCK_THREAD_CPUTIME_ID
  OPENBLAS_NUM_THREADS=$threads PYTHONDONTWRITEBYTECODE=1 \
    "$python" "$work/twin/rounds.py" "$work/twin" "$name" "$work/bench-$clock" "$threads" "$rounds" "$batches"
done
