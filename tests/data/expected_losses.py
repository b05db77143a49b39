"""expected_losses.py — an independent run of train_e2e's training, in PyTorch: the loss curve that
`nnc train tests/data/tiny_mlp.nn` must reproduce (as llm.c's expected_losses).

usage: python3 expected_losses.py [--epochs N] [--check "L1 L2 ..."]

Written from the spec and nnrt's documented procedures, not from the generated C: the same data
(tests/data/tiny_*.csv, standardized with the training set's global mean and standard deviation),
the same initial weights (he_normal and glorot_uniform drawn from nnrt's generator, xoshiro256**
seeded by splitmix64, Box-Muller normals), the same batches (batch 16; epoch e visits the examples
in the Fisher-Yates permutation of nnrt_train.c's epoch_permutation), the same dropout masks
(drawn from the model's generator after its initialisation, example by example), and
torch.nn.functional.cross_entropy with torch.optim.Adam(lr=0.01), in float64. Prints each epoch's
mean training loss and test accuracy as `nnc train` does. With --check, compares them with the
given losses (train_e2e.cmake's) to 1e-4 and exits 1 on a difference; prints "SKIPPED: ..." and
exits 0 without torch (unless NNC_REQUIRE_TORCH=1).
"""
import csv
import math
import os
import struct
import sys

try:
    import torch
except ImportError as e:
    if os.environ.get("NNC_REQUIRE_TORCH") == "1":
        print(f"FAIL: NNC_REQUIRE_TORCH=1 but torch is not available to {sys.executable} ({e})")
        sys.exit(1)
    print(f"SKIPPED: torch is not available to {sys.executable} ({e})")
    sys.exit(0)

M64 = (1 << 64) - 1
HERE = os.path.dirname(os.path.abspath(__file__))
SEED, BATCH, P_DROP = 1, 16, 0.1


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


class Rng:
    """nnrt_rng: xoshiro256** 1.0 seeded by splitmix64; uniform on [0, 1); Box-Muller normals."""

    def __init__(self, seed):
        self.s = []
        sm = seed & M64
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))
        self.spare = None

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 6.283185307179586476925286766559 * u2
        self.spare = r * math.sin(theta)
        return r * math.cos(theta)

    def below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            r = self.next()
            if r >= threshold:
                return r % n


def permutation(n, epoch):
    rng = Rng(SEED ^ ((0x9E3779B97F4A7C15 * (epoch + 1)) & M64))
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def load(name):
    with open(os.path.join(HERE, name)) as f:
        rows = list(csv.reader(f))[1:]
    return [[float(v) for v in r[1:]] for r in rows], [int(float(r[0])) for r in rows]


def main():
    epochs, check = 5, None
    args = sys.argv[1:]
    while args:
        if args[0] == "--epochs":
            epochs = int(args[1])
        elif args[0] == "--check":
            check = [float(v) for v in args[1].split()]
        else:
            sys.exit(f"expected_losses.py: bad argument {args[0]}")
        args = args[2:]

    xs, ys = load("tiny_train.csv")
    xt, yt = load("tiny_test.csv")
    # standardization: the mean and standard deviation in double, used as floats; (x - mean) / std in float
    flat = [f32(v) for row in xs for v in row]
    mean = sum(flat) / len(flat)
    std = math.sqrt(sum((v - mean) ** 2 for v in flat) / len(flat))
    mean, inv = f32(mean), f32(1.0 / f32(std))
    norm = lambda rows: torch.tensor([[f32(f32(f32(v) - mean) * inv) for v in r] for r in rows], dtype=torch.float64)
    x_train, x_test = norm(xs), norm(xt)
    y_train, y_test = torch.tensor(ys), torch.tensor(yt)

    # tiny_mlp.nn: dense(8 -> 16, he_normal), relu, dropout(0.1), dense(16 -> 3, glorot_uniform)
    rng = Rng(SEED)
    w1 = [f32(math.sqrt(2.0 / 8) * rng.normal()) for _ in range(16 * 8)]
    bound = math.sqrt(6.0 / (16 + 3))
    w2 = [f32(bound * (2 * rng.uniform() - 1)) for _ in range(3 * 16)]
    params = [torch.tensor(w1, dtype=torch.float64).reshape(16, 8), torch.zeros(16, dtype=torch.float64),
              torch.tensor(w2, dtype=torch.float64).reshape(3, 16), torch.zeros(3, dtype=torch.float64)]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=0.01)
    keep = f32(1.0 / (1.0 - P_DROP))

    def forward(x, mask=None):
        h = torch.relu(x @ params[0].T + params[1])
        if mask is not None:
            h = h * mask
        return h @ params[2].T + params[3]

    losses = []
    n = len(ys)
    for epoch in range(epochs):
        perm = permutation(n, epoch)
        total = 0.0
        for first in range(0, n, BATCH):
            idx = perm[first:first + BATCH]
            mask = torch.tensor([0.0 if rng.uniform() < P_DROP else keep for _ in range(len(idx) * 16)],
                                dtype=torch.float64).reshape(len(idx), 16)
            loss = torch.nn.functional.cross_entropy(forward(x_train[idx], mask), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            acc = (forward(x_test).argmax(1) == y_test).double().mean().item()
        losses.append(total / n)
        print(f"epoch {epoch + 1}/{epochs}  loss {total / n:.6f}  test acc {100 * acc:.2f}%")
    if check is not None:
        if len(check) != len(losses) or any(abs(a - b) > 1e-4 for a, b in zip(check, losses)):
            print(f"FAIL: the recorded losses {check} are not this run's {[round(v, 6) for v in losses]}")
            sys.exit(1)
        print("the recorded losses agree with this run")


if __name__ == "__main__":
    main()
