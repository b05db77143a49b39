"""nnc_twin.py — what every PyTorch twin written by `nnc export --torch` shares: nnc's random
generator, nnc checkpoints read into and written from a module's state_dict (and torch.optim's
state), the layers whose nnc semantics torch spells differently, and the side-by-side benchmark
behind `nnc bench --vs torch`.

nnc writes this file beside NAME_torch.py (the suffix keeps a model named like a Python
module, say `copy`, from shadowing it); NAME_torch.py describes its model (PARAMS, OPTIMIZER, HASH, ...) and
passes itself as `twin` to the functions here. Needs Debian's python3-torch (1.13).

Checkpoint layout (runtime/nnrt.c, format version 2), all integers little-endian:
  magic "NNCKPT\\0\\1", u32 version, u32-prefixed model name, u64 structure hash, u32 section count,
  sections (u32-prefixed name, u64 byte count, bytes), u64 FNV-1a-64 of every byte before it.
Sections: param_table (per parameter: name, block, shape, offset), params, buffers, opt.m, opt.v
(nn_real each: float32, or float64 for a model built --double, whose hash is HASH ^ DOUBLE_HASH_FLIP),
step (u64), rng (6 u64: xoshiro256** state, Box-Muller spare as a double, has_spare).
"""
import math
import os
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

MAGIC = b"NNCKPT\0\1"
VERSION = 2
DOUBLE_HASH_FLIP = 0x9E3779B97F4A7C15
SECTIONS = ("param_table", "params", "buffers", "opt.m", "opt.v", "step", "rng")
BLOCKS = ("params", "buffers")
M64 = (1 << 64) - 1


class CheckpointError(ValueError):
    """A file that is not a checkpoint of this model; the message says why."""


# ---------------------------------------------------------------- nnc's random generator


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    """nnrt_rng: xoshiro256** seeded through splitmix64, Box-Muller normals (runtime/nnrt.c)."""

    def __init__(self, seed):
        sm, self.s = seed & M64, []
        for _ in range(4):
            sm = (sm + 0x9E3779B97F4A7C15) & M64
            z = sm
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            self.s.append(z ^ (z >> 31))
        self.spare, self.has_spare = 0.0, 0

    def next(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def normal(self):
        if self.has_spare:
            self.has_spare = 0
            return self.spare
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 6.283185307179586476925286766559 * u2
        self.spare, self.has_spare = r * math.sin(theta), 1
        return r * math.cos(theta)

    def state_bytes(self):
        """The checkpoint's "rng" section."""
        return struct.pack("<4Qdq", *self.s, self.spare, self.has_spare)


# ---------------------------------------------------------------- layers torch spells differently


def dropout(x, p, training, masks, k, alpha):
    """dropout / alpha_dropout as nnc defines them (torch's own formulas). With `masks` (a list of
    nnc's masks, from NAME_debug_dropout_mask) the k-th call uses nnc's mask instead of drawing one,
    so both sides can be compared in training mode: the mask holds the kept values' factor (1/(1-p),
    or alpha dropout's a) and 0 where dropped."""
    if not training:
        return x
    if masks is None:
        return F.alpha_dropout(x, p, True) if alpha else F.dropout(x, p, True)
    mask = masks[k].to(x.dtype).reshape(x.shape)
    if not alpha:
        return x * mask
    alpha_p = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha_p * alpha_p * p + 1) * (1 - p))
    return x * mask + torch.where(mask != 0, torch.full_like(x, alpha_p * a * p), torch.full_like(x, alpha_p * a * (p - 1)))


# ---------------------------------------------------------------- checkpoints: bytes


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


class _Reader:
    def __init__(self, path, data, pos, end):
        self.path, self.data, self.pos, self.end = path, data, pos, end

    def take(self, n):
        if n > self.end - self.pos:
            raise CheckpointError(f"{self.path}: malformed checkpoint (its lengths do not add up)")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def string(self):
        return self.take(self.u32()).decode("utf-8", "replace")


def encode_table(entries):
    """param_table bytes from (name, block, shape, offset) entries: as the generated C has them."""
    out = [struct.pack("<I", len(entries))]
    for name, block, shape, offset in entries:
        raw = name.encode()
        out.append(struct.pack("<I", len(raw)) + raw + struct.pack("<II", BLOCKS.index(block), len(shape)))
        out.append(struct.pack(f"<{len(shape)}IQ", *shape, offset))
    return b"".join(out)


def decode_table(path, data):
    r = _Reader(path, data, 0, len(data))
    entries = []
    for _ in range(r.u32()):
        name, block, rank = r.string(), r.u32(), r.u32()
        if block > 1 or rank > 8:
            raise CheckpointError(f"{path}: malformed parameter table")
        shape = tuple(r.u32() for _ in range(rank))
        entries.append((name, BLOCKS[block], shape, r.u64()))
    if r.pos != r.end:
        raise CheckpointError(f"{path}: malformed parameter table")
    return entries


def layout(twin):
    """(name, block, shape, offset) per parameter, offsets as nnc's plan.c gives them: each block
    holds its parameters in creation order."""
    entries, used = [], {"params": 0, "buffers": 0}
    for name, (_, block, shape) in twin.PARAMS.items():
        entries.append((name, block, shape, used[block]))
        used[block] += math.prod(shape)
    return entries, used


def read_checkpoint(twin, path):
    """Verifies the whole file (magic, checksum, version, model, hash, sections, parameter table)
    and returns (dtype, sections, table)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8 or data[:8] != MAGIC:
        raise CheckpointError(f"{path}: not an nnc checkpoint")
    if len(data) < 16 or int.from_bytes(data[-8:], "little") != fnv1a(data[:-8]):
        raise CheckpointError(f"{path}: checksum mismatch (file corrupt or truncated)")
    r = _Reader(path, data, 8, len(data) - 8)
    version = r.u32()
    if version != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version}, this twin reads version {VERSION}")
    name = r.string()
    if name != twin.NAME:
        raise CheckpointError(f"{path}: checkpoint is for model '{name}', not '{twin.NAME}'")
    h = r.u64()
    if h not in (twin.HASH, twin.HASH ^ DOUBLE_HASH_FLIP):
        raise CheckpointError(f"{path}: checkpoint is for a different structure of model '{twin.NAME}' "
                              f"(hash {h:016x}, expected {twin.HASH:016x})")
    dtype = torch.float32 if h == twin.HASH else torch.float64
    sections = {}
    for _ in range(r.u32()):
        sname = r.string()
        sections[sname] = r.take(r.u64())
    if r.pos != r.end:
        raise CheckpointError(f"{path}: malformed checkpoint (its lengths do not add up)")
    if tuple(sections) != SECTIONS:
        raise CheckpointError(f"{path}: sections {list(sections)}, expected {list(SECTIONS)}")
    table = decode_table(path, sections["param_table"])
    # by name: the file may list them in any order, but each must be this model's, same shape
    known = {name: (block, shape) for name, block, shape, _ in layout(twin)[0]}
    seen = set()
    width = 4 if dtype == torch.float32 else 8
    for name, block, shape, offset in table:
        if name not in known:
            raise CheckpointError(f"{path}: parameter '{name}' is not in model '{twin.NAME}'")
        if known[name] != (block, shape) or name in seen:
            raise CheckpointError(f"{path}: parameter '{name}' is {block} {list(shape)} in the checkpoint, "
                                  f"{known[name][0]} {list(known[name][1])} in this model")
        if (offset + math.prod(shape)) * width > len(sections[block]):
            raise CheckpointError(f"{path}: parameter '{name}' lies outside the '{block}' section")
        seen.add(name)
    if len(seen) != len(known):
        missing = sorted(set(known) - seen)
        raise CheckpointError(f"{path}: the checkpoint has no parameter '{missing[0]}'")
    n_params = len(sections["params"])
    if len(sections["opt.m"]) != n_params or len(sections["opt.v"]) != n_params or \
            len(sections["step"]) != 8 or len(sections["rng"]) != 48:
        raise CheckpointError(f"{path}: section sizes do not match this model")
    return dtype, sections, table


def write_checkpoint(path, name, model_hash, sections):
    """Writes PATH.tmp-PID, flushes and fsyncs it, and renames it over PATH, as nnrt does: a failed
    write never destroys the previous checkpoint."""
    out = [MAGIC, struct.pack("<I", VERSION), struct.pack("<I", len(name.encode())), name.encode(),
           struct.pack("<QI", model_hash, len(sections))]
    for sname, payload in sections:
        out += [struct.pack("<I", len(sname)), sname.encode(), struct.pack("<Q", len(payload)), payload]
    body = b"".join(out)
    body += struct.pack("<Q", fnv1a(body))
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# ---------------------------------------------------------------- checkpoints: state_dict and optimizer


def _from_bytes(payload, dtype):
    return torch.frombuffer(bytearray(payload), dtype=dtype) if payload else torch.zeros(0, dtype=dtype)


def load_checkpoint(twin, model, path, optimizer=None):
    """Copies an nnc checkpoint into model's state_dict (parameters and batchnorm statistics), by
    name through the file's parameter table, and into optimizer's state where torch.optim keeps the
    same state (sgd's momentum buffers, rmsprop's square averages, adam's moments and step). Nothing
    is changed unless the whole file checks out. Returns {"step", "rng", "dtype"} for
    save_checkpoint, so that a round trip rewrites the same file."""
    dtype, sections, table = read_checkpoint(twin, path)
    blocks = {b: _from_bytes(sections[b], dtype) for b in BLOCKS}
    moments = [_from_bytes(sections[s], dtype) for s in ("opt.m", "opt.v")]
    step = struct.unpack("<Q", sections["step"])[0]
    state = model.state_dict()
    named = dict(model.named_parameters())
    slices = {}
    with torch.no_grad():
        for name, block, shape, offset in table:
            key = twin.PARAMS[name][0]
            size = math.prod(shape)
            state[key].copy_(blocks[block][offset : offset + size].reshape(shape))
            if block == "params":
                slices[key] = (offset, size, shape)
        if optimizer is not None:
            kind = twin.OPTIMIZER["kind"]
            for key, (offset, size, shape) in slices.items():
                p = named[key]
                m, v = (t[offset : offset + size].reshape(shape).to(p.dtype).clone() for t in moments)
                if kind == "sgd":
                    optimizer.state[p] = {"momentum_buffer": m} if twin.OPTIMIZER["momentum"] > 0 else {}
                elif kind == "rmsprop":
                    optimizer.state[p] = {"step": step, "square_avg": m}
                else:
                    optimizer.state[p] = {"step": torch.tensor(float(step)), "exp_avg": m, "exp_avg_sq": v}
    return {"step": step, "rng": sections["rng"], "dtype": dtype}


def save_checkpoint(twin, model, path, optimizer=None, step=None, rng=None, dtype=torch.float32, seed=1):
    """Writes model's state_dict (and optimizer's state) as an nnc checkpoint that NAME_load accepts:
    float32 for a model built by `nnc build`, float64 (dtype) for one built --double. The step count
    and generator state come from `step` and `rng` (load_checkpoint's result), else from the
    optimizer's state and a generator seeded with `seed`."""
    entries, used = layout(twin)
    state = model.state_dict()
    named = dict(model.named_parameters())
    blocks = {b: torch.zeros(used[b], dtype=dtype) for b in BLOCKS}
    moments = [torch.zeros(used["params"], dtype=dtype) for _ in range(2)]
    steps = []
    kind = twin.OPTIMIZER["kind"]
    with torch.no_grad():
        for name, block, shape, offset in entries:
            key = twin.PARAMS[name][0]
            size = math.prod(shape)
            blocks[block][offset : offset + size] = state[key].detach().reshape(-1).to(dtype)
            st = optimizer.state.get(named[key], {}) if optimizer is not None and block == "params" else {}
            for k, field in enumerate(("square_avg" if kind == "rmsprop" else "momentum_buffer" if kind == "sgd"
                                       else "exp_avg", "exp_avg_sq")):
                if st.get(field) is not None:
                    moments[k][offset : offset + size] = st[field].reshape(-1).to(dtype)
            if "step" in st:
                steps.append(int(float(st["step"])))
    if step is None:
        step = max(steps, default=0)
    if rng is None:
        rng = Rng(seed).state_bytes()
    model_hash = twin.HASH if dtype == torch.float32 else twin.HASH ^ DOUBLE_HASH_FLIP
    payload = lambda t: t.numpy().tobytes()  # noqa: E731
    write_checkpoint(path, twin.NAME, model_hash, [
        ("param_table", encode_table(entries)), ("params", payload(blocks["params"])),
        ("buffers", payload(blocks["buffers"])), ("opt.m", payload(moments[0])), ("opt.v", payload(moments[1])),
        ("step", struct.pack("<Q", step)), ("rng", bytes(rng))])


# ---------------------------------------------------------------- benchmark


def bench_data(twin, batch, dtype=torch.float32):
    """The inputs and labels (or targets) nnc's generated bench draws: nnrt_rng seeded 42."""
    rng = Rng(42)
    n_in = math.prod(twin.INPUT_SHAPE)
    x = torch.tensor([rng.normal() for _ in range(batch * n_in)], dtype=torch.float32)
    x = x.to(dtype).reshape(batch, *twin.INPUT_SHAPE)
    if twin.N_CLASSES:
        y = torch.tensor([rng.next() % twin.N_CLASSES for _ in range(batch)], dtype=torch.int64)
    else:
        n_t = math.prod(twin.TARGET_SHAPE)
        y = torch.tensor([rng.uniform() for _ in range(batch * n_t)], dtype=torch.float32)
        y = y.to(dtype).reshape(batch, *twin.TARGET_SHAPE)
    return x, y


def _torch_round(model, optimizer, x, y, steps):
    def train_step():
        optimizer.zero_grad(set_to_none=True)
        model.loss(x, y).backward()
        optimizer.step()

    model.train()
    for _ in range(3):
        train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    train = steps * x.shape[0] / (time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        for _ in range(3):
            model(x)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(x)
        forward = steps * x.shape[0] / (time.perf_counter() - t0)
    model.train()
    return train, forward


def _torch_blas():
    """The BLAS library loaded into this process and, for OpenBLAS, its core type and threads."""
    import ctypes
    paths = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "blas" in os.path.basename(path) and path not in paths:
                paths.append(path)
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return f"OpenBLAS {lib.openblas_get_corename().decode()} ({os.path.basename(path)}), " \
                   f"{lib.openblas_get_num_threads()} thread(s)"
        except (OSError, AttributeError):
            continue
    return ", ".join(os.path.basename(p) for p in paths) or "none found"


def _median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def bench(twin, argv):
    """bench [--batch N] [--steps N] [--rounds N] [--threads N] [--vs BINARY]: times the twin's
    training step and forward on nnc's bench data; with --vs, alternates rounds with nnc's generated
    bench binary (which takes BATCH STEPS RUNS THREADS) and prints both sides and their ratio."""
    opts = {"--batch": 128, "--steps": 50, "--rounds": 5, "--threads": 1, "--vs": None}
    for flag, value in zip(argv[::2], argv[1::2]):
        if flag not in opts:
            raise SystemExit(f"bench: unknown option '{flag}'")
        opts[flag] = value if flag == "--vs" else int(value)
    batch, steps, rounds, threads = (opts[k] for k in ("--batch", "--steps", "--rounds", "--threads"))
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = twin.Model()
    optimizer = twin.make_optimizer(model)
    x, y = bench_data(twin, batch)
    rates = {"nnc": ([], []), "torch": ([], [])}
    nnc_env = ""
    for _ in range(rounds):
        if opts["--vs"]:
            out = subprocess.run([opts["--vs"], str(batch), str(steps), "1", str(threads)], check=True,
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                words = line.split()
                if words and words[0] in ("train", "forward"):
                    rates["nnc"][words[0] == "forward"].append(float(words[1]))
                elif words and words[0] == "blas:":
                    nnc_env = line.split(":", 1)[1].strip()
        train, forward = _torch_round(model, optimizer, x, y, steps)
        rates["torch"][0].append(train)
        rates["torch"][1].append(forward)
    print(f"model {twin.NAME}: batch {batch}, {threads} thread{'s' if threads != 1 else ''}, "
          f"median of {rounds} alternating rounds of {steps} steps")
    if opts["--vs"]:
        print(f"nnc:   generated C; BLAS: {nnc_env or 'none (plain loops)'}")
    print(f"torch: {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}; BLAS: {_torch_blas()}")
    for k, phase in enumerate(("train", "forward")):
        t = _median(rates["torch"][k])
        if opts["--vs"]:
            n = _median(rates["nnc"][k])
            print(f"{phase:8s} nnc {n:10.0f} examples/s   torch {t:10.0f} examples/s   ratio {n / t:.2f}x")
        else:
            print(f"{phase:8s} torch {t:10.0f} examples/s")
    return 0


def main(twin, argv):
    """python3 NAME.py bench [...]: see bench()."""
    if not argv or argv[0] != "bench":
        print(f"usage: python3 {twin.NAME}_torch.py bench [--batch N] [--steps N] [--rounds N] [--threads N] "
              "[--vs BINARY]", file=sys.stderr)
        return 2
    return bench(twin, argv[1:])
