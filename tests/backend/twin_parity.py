#!/usr/bin/python3
"""twin_parity.py — the PyTorch twin (`nnc export --torch`) against the generated C, number for number.

  twin_parity.py parity   --nnc NNC --cc CC --model M.nn --work DIR [--cflags "..."]
  twin_parity.py accuracy --nnc NNC --model M.nn --work DIR [--data DIR]
  twin_parity.py reference --nnc NNC --model M.nn --work DIR

parity: builds M with `nnc build --double --debug-api` against twin_parity.c (run through
run_model.cmake), which dumps a fixed batch of 5, the initial checkpoint, the forward outputs, the
loss and its gradient, and three train_steps (losses, dropout masks, final checkpoint). The twin,
loaded from the initial checkpoint in float64 and handed nnc's dropout masks, must give:
  forward outputs   within 1e-6 (1 + |value|)   (nnc's forward returns float32)
  loss, gradients   within 1e-9 (1 + |value|)   (both in float64)
  3 optimizer steps: losses within 1e-6 (1 + |value|) (train_step returns float32), every parameter,
                    buffer and optimizer state within 1e-8 (1 + |value|)
and its initialisers the same schemes (zeros and ones exactly; others' standard deviation within
20 % of nnc's for 200 values or more). The twin's converter must refuse damaged or foreign files
(flipped byte, cut short, another model, a renamed parameter, another format version) and leave the
model as it was. A checkpoint round trip nnc -> torch -> nnc must rewrite
final.ckpt byte for byte, and the twin's checkpoint after training in torch must load in nnc and
give the twin's outputs (twin_parity.c check).

accuracy: `nnc train M --limit-train 2000 --epochs 1` on Fashion-MNIST, then the twin evaluates
the float32 checkpoint on the 10,000 test images (standardized as nnc train does): the accuracy must
match nnc's within 0.05 points, and the checkpoint must round-trip byte for byte.

reference: the twin on its own (see reference()); for convolutions, pooling and batchnorm, which
`nnc build` cannot generate yet, it is the check of their export against spec §4.

Exit 77 (CTest SKIP_RETURN_CODE) when the model uses ops `nnc build` cannot generate yet, or when
torch is missing outside CI; in CI (CI=true) a missing torch fails.
"""
import argparse
import copy
import gzip
import importlib.util
import math
import os
import re
import shutil
import struct
import subprocess
import sys

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))

try:
    import torch
except ImportError as e:
    print(f"{'FAIL' if os.environ.get('CI') == 'true' else 'SKIPPED'}: torch is not available to {sys.executable} ({e}); "
          "apt-get install python3-torch")
    sys.exit(1 if os.environ.get("CI") == "true" else SKIP)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def load_twin(nnc, model, out_dir):
    r = run([nnc, "export", model, "--torch", "-o", out_dir])
    if r.returncode != 0:
        raise SystemExit(f"FAIL: nnc export failed:\n{r.stderr}")
    name = re.search(r"^\s*model\s+(\w+)", open(model).read(), re.M).group(1)
    spec = importlib.util.spec_from_file_location(name, os.path.join(out_dir, name + "_torch.py"))
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    return twin


def read(path, fmt):
    with open(path, "rb") as f:
        data = f.read()
    return list(struct.unpack(f"<{len(data) // struct.calcsize(fmt)}{fmt}", data))


class Checker:
    def __init__(self, other="nnc"):
        self.failed = 0
        self.other = other  # what the twin is compared with

    def close(self, what, got, want, tol):
        """got (torch) against want (nnc), elementwise |got - want| <= tol (1 + |want|)."""
        got = torch.as_tensor(got, dtype=torch.float64).reshape(-1)
        want = torch.as_tensor(want, dtype=torch.float64).reshape(-1)
        if got.shape != want.shape:
            print(f"FAIL: {what}: {got.numel()} values in torch, {want.numel()} in {self.other}")
            self.failed += 1
            return 0.0
        err = ((got - want).abs() / (1 + want.abs())).max().item() if got.numel() else 0.0
        if not err <= tol:
            i = int(((got - want).abs() / (1 + want.abs())).argmax())
            print(f"FAIL: {what}: torch {got[i].item():.12g}, {self.other} {want[i].item():.12g} (error {err:.3g} > {tol:g})")
            self.failed += 1
        return err


def masks_of(work, tag):
    masks, k = [], 0
    while os.path.exists(os.path.join(work, f"mask_{tag}_{k}.bin")):
        masks.append(torch.tensor(read(os.path.join(work, f"mask_{tag}_{k}.bin"), "d"), dtype=torch.float64))
        k += 1
    return masks or None


def check_init(twin, nnc_model, check):
    """The twin's initialisers against nnc's initial parameters (nnc_model): same schemes."""
    torch.manual_seed(3)
    fresh = twin.Model().double()
    ref, new = nnc_model.state_dict(), fresh.state_dict()
    for name, (key, _, shape) in twin.PARAMS.items():
        a, b = new[key], ref[key]
        if b.abs().max() == 0 or (b == 1).all():
            check.close(f"initial {name}", a, b, 0)
        elif b.numel() >= 200:
            ratio = a.std().item() / b.std().item()
            if abs(ratio - 1) > 0.2:
                print(f"FAIL: initial {name}: torch std {a.std().item():.4g}, nnc {b.std().item():.4g}")
                check.failed += 1


def check_rejections(twin, init, work, check):
    """The converter refuses damaged or foreign files, with the reason, and changes nothing."""
    data = open(init, "rb").read()
    if len(data) > 1 << 20:  # the checksum is slow in Python: small models only
        return
    first = next(iter(twin.PARAMS)).encode()
    at = data.find(first)
    cases = [("a flipped byte", lambda b: b.__setitem__(len(b) // 2, b[len(b) // 2] ^ 0x10), False, "checksum mismatch"),
             ("cut short", lambda b: b.__delitem__(slice(len(b) - 9, len(b) - 8)), False, "checksum mismatch"),
             ("another model", lambda b: b.__setitem__(16, b[16] ^ 0x01), True, "checkpoint is for model"),
             ("a renamed parameter", lambda b: b.__setitem__(at + len(first) - 1, ord("~")), True, "is not in model"),
             ("another format version", lambda b: b.__setitem__(8, 3), True, "format version 3")]
    model = twin.Model().double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for what, mutate, resum, expect in cases:
        b = bytearray(data)
        mutate(b)
        if resum:
            b[-8:] = twin.nnc_twin.fnv1a(bytes(b[:-8])).to_bytes(8, "little")
        path = os.path.join(work, "bad.ckpt")
        open(path, "wb").write(bytes(b))
        try:
            twin.load_checkpoint(model, path)
            print(f"FAIL: the twin loaded a checkpoint with {what}")
            check.failed += 1
        except twin.nnc_twin.CheckpointError as e:
            if expect not in str(e):
                print(f"FAIL: a checkpoint with {what}: '{e}', expected '{expect}'")
                check.failed += 1
        if any(not torch.equal(v, before[k]) for k, v in model.state_dict().items()):
            print(f"FAIL: a refused checkpoint with {what} changed the model")
            check.failed += 1


def parity(args):
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    r = run([args.nnc, "build", args.model, "-o", os.path.join(work, "probe"), "--double", "--debug-api"])
    if r.returncode != 0 and "is not supported yet" in r.stderr:
        print(f"SKIPPED: nnc build cannot generate this model yet:\n{r.stderr}")
        return SKIP
    if r.returncode != 0:
        print(f"FAIL: nnc build failed:\n{r.stderr}")
        return 1
    test_dir = os.path.join(work, "c")
    r = run(["cmake", f"-DNNC={args.nnc}", f"-DCC={args.cc}", f"-DWORK={test_dir}", f"-DMODELS={args.model}",
             "-DBUILD_FLAGS=--double|--debug-api", f"-DDRIVER={HERE}/twin_parity.c", f"-DCFLAGS={args.cflags}",
             f"-DARGS=dump|{work}", "-P", f"{HERE}/run_model.cmake"])
    if r.returncode != 0:
        print(f"FAIL: building or running twin_parity.c:\n{r.stdout}{r.stderr}")
        return 1
    twin = load_twin(args.nnc, args.model, os.path.join(work, "twin"))
    check = Checker()
    torch.set_default_dtype(torch.float64)
    x = torch.tensor(read(os.path.join(work, "x.bin"), "f"), dtype=torch.float64).reshape(-1, *twin.INPUT_SHAPE)
    batch = x.shape[0]
    if twin.N_CLASSES:
        y = torch.tensor(read(os.path.join(work, "y.bin"), "i"), dtype=torch.int64)
    else:
        y = torch.tensor(read(os.path.join(work, "y.bin"), "f"), dtype=torch.float64).reshape(batch, *twin.TARGET_SHAPE)
    init = os.path.join(work, "init.ckpt")
    model = twin.Model().double()
    twin.load_checkpoint(model, init)
    initial = copy.deepcopy(model)  # the checkpoint's hash is slow in Python: read each file once
    check_init(twin, initial, check)
    check_rejections(twin, init, work, check)

    # forward (inference) and the loss and gradients of one training pass, nnc's masks injected
    model.eval()
    with torch.no_grad():
        e_out = check.close("forward output", model(x), read(os.path.join(work, "out.bin"), "f"), 1e-6)
    model.train()
    model.dropout_masks = masks_of(work, "g")
    loss = model.loss(x, y)
    loss.backward()
    grad = read(os.path.join(work, "grad.bin"), "d")
    e_loss = check.close("loss", loss.item(), grad[0], 1e-9)
    named = dict(model.named_parameters())
    e_grad = 0.0
    for name, block, shape, offset in twin.nnc_twin.layout(twin)[0]:
        if block != "params":
            continue
        p = named[twin.PARAMS[name][0]]
        want = grad[1 + offset : 1 + offset + math.prod(shape)]
        got = p.grad if p.grad is not None else torch.zeros(shape)
        e_grad = max(e_grad, check.close(f"d loss / d {name}", got, want, 1e-9))

    # three optimizer steps from the initial checkpoint (whose optimizer state is torch's initial one:
    # zeros; loading non-zero state is checked with final.ckpt below)
    model = initial
    opt = twin.make_optimizer(model)
    e_steps = 0.0
    for step in range(1, 4):
        model.dropout_masks = masks_of(work, str(step))
        opt.zero_grad()
        loss = model.loss(x, y)
        loss.backward()
        opt.step()
        # train_step returns the loss as a float
        e_steps = max(e_steps, check.close(f"step {step} loss", loss.item(), read(os.path.join(work, f"loss_{step}.bin"), "d"), 1e-6))
    final = os.path.join(work, "final.ckpt")
    ref = twin.Model().double()
    ref_opt = twin.make_optimizer(ref)
    info = twin.load_checkpoint(ref, final, ref_opt)
    got_state, want_state = model.state_dict(), ref.state_dict()
    named, ref_named = dict(model.named_parameters()), dict(ref.named_parameters())
    for name, (key, block, _) in twin.PARAMS.items():
        e_steps = max(e_steps, check.close(f"{name} after 3 steps", got_state[key], want_state[key], 1e-8))
        if block == "params":
            mine, theirs = opt.state.get(named[key], {}), ref_opt.state[ref_named[key]]
            for field, value in theirs.items():
                if torch.is_tensor(value) and value.dim() > 0:
                    mine_value = mine.get(field, torch.zeros_like(value))
                    e_steps = max(e_steps, check.close(f"optimizer {field} of {name} after 3 steps", mine_value, value, 1e-8))
    # nnc -> torch -> nnc rewrites the same file
    again = os.path.join(work, "roundtrip.ckpt")
    twin.save_checkpoint(ref, again, ref_opt, step=info["step"], rng=info["rng"], dtype=info["dtype"])
    same = open(again, "rb").read() == open(final, "rb").read()
    if not same:
        print("FAIL: final.ckpt -> torch -> nnc checkpoint is not byte-identical")
        check.failed += 1
    # torch-trained -> nnc: the twin's outputs
    twin.save_checkpoint(model, os.path.join(work, "torch.ckpt"), opt, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        out = model(x).reshape(-1).tolist()
    with open(os.path.join(work, "torch_out.bin"), "wb") as f:
        f.write(struct.pack(f"<{len(out)}d", *out))
    r = run([os.path.join(test_dir, "test"), "check", work])
    print(r.stdout + r.stderr, end="")
    if r.returncode != 0:
        check.failed += 1
    print(f"{twin.NAME}: forward {e_out:.2g}, loss {e_loss:.2g}, gradients {e_grad:.2g}, 3 {twin.OPTIMIZER['kind']} steps "
          f"{e_steps:.2g} (worst error relative to 1 + |value|); checkpoint round trip "
          f"{'byte-identical' if same else 'DIFFERENT'}; {len(twin.PARAMS)} parameters")
    return 1 if check.failed else 0


# ---- reference: the twin on its own, against nnc check and against loops written from spec §4 ----


def ref_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    f, _, k, _ = w.shape
    xp = torch.zeros(n, c, h + 2 * pad, wd + 2 * pad, dtype=x.dtype)
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = torch.zeros(n, f, oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = torch.einsum("nckl,fckl->nf", patch, w)
    return out if b is None else out + b.view(1, -1, 1, 1)


def ref_pool(x, k, stride, reduce):
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1  # no padding, rounded down
    out = torch.zeros(n, c, oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k].reshape(n, c, -1)
            out[:, :, i, j] = patch.max(2).values if reduce == "max" else patch.mean(2)
    return out


def ref_batchnorm(x, gamma, beta, mean, var, momentum, eps, training):
    """Spec §4: batch statistics in training (the biased variance normalizes), then
    running = momentum * running + (1 - momentum) * batch with the unbiased variance."""
    dims = (0,) if x.dim() == 2 else (0, 2, 3)
    shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
    if training:
        count = x.numel() // x.shape[1]
        m = x.mean(dims)
        v = ((x - m.view(shape)) ** 2).mean(dims)
        mean, var = momentum * mean + (1 - momentum) * m, momentum * var + (1 - momentum) * v * count / (count - 1)
        m_use, v_use = m, v
    else:
        m_use, v_use = mean, var
    y = (x - m_use.view(shape)) / torch.sqrt(v_use.view(shape) + eps) * gamma.view(shape) + beta.view(shape)
    return y, mean, var


def ref_xent(z, y):
    return (torch.logsumexp(z, 1) - z[torch.arange(z.shape[0]), y]).mean()


def ref_twin_conv(p, x, training):
    h = torch.relu(ref_conv(x, p["conv2d.1/weight"], p["conv2d.1/bias"], 2, 1))
    a, b = ref_pool(h, 2, 2, "max"), ref_pool(h, 3, 1, "avg")
    c, rm, rv = ref_batchnorm(ref_conv(x, p["conv2d.2/weight"], None, 3, 0), p["batchnorm.1/weight"], p["batchnorm.1/bias"],
                              p["batchnorm.1/running_mean"], p["batchnorm.1/running_var"], 0.7, 1e-5, training)
    z = (a + b).reshape(x.shape[0], -1) @ p["dense.1/weight"].t() + p["dense.1/bias"]
    z = z + c.mean((2, 3)) @ p["dense.2/weight"].t() + p["dense.2/bias"]
    return z, {"batchnorm.1/running_mean": rm, "batchnorm.1/running_var": rv}


def ref_twin_bn(p, x, training):
    h, rm, rv = ref_batchnorm(x, p["batchnorm.1/weight"], p["batchnorm.1/bias"], p["batchnorm.1/running_mean"],
                              p["batchnorm.1/running_var"], 0.8, 0.01, training)
    return h @ p["dense.1/weight"].t() + p["dense.1/bias"], {"batchnorm.1/running_mean": rm, "batchnorm.1/running_var": rv}


REFERENCES = {"twin_conv": ref_twin_conv, "twin_bn": ref_twin_bn}


def reference(args):
    """The twin alone: its parameter and buffer counts against `nnc check`, a training step, the
    initialisers' bounds, a checkpoint written and read back in Python (byte-identical when
    rewritten; models up to 300,000 values), and for the models in REFERENCES its forward, loss and batchnorm statistics against
    loops written from spec §4 (within 1e-12)."""
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    torch.set_default_dtype(torch.float64)
    twin = load_twin(args.nnc, args.model, os.path.join(work, "twin"))
    check = Checker("reference")
    summary = run([args.nnc, "check", args.model]).stdout
    m = re.search(r"total: \d+ layers?, ([\d,]+) parameters?[^+\n]*(?:\+ ([\d,]+) buffer values)?", summary)
    want = (int(m.group(1).replace(",", "")), int((m.group(2) or "0").replace(",", "")))
    torch.manual_seed(5)
    model = twin.Model()
    got = (sum(p.numel() for p in model.parameters()), sum(b.numel() for b in model.buffers()))
    if got != want:
        print(f"FAIL: the twin has {got[0]:,} parameters and {got[1]:,} buffer values, nnc check says {want[0]:,} and {want[1]:,}")
        check.failed += 1
    # glorot_uniform's bound includes k^2 in both fans for convolutions (spec §4)
    state = model.state_dict()
    for name, (key, block, shape) in twin.PARAMS.items():
        if len(shape) == 4 and "init=" not in open(args.model).read():
            bound = math.sqrt(6 / ((shape[0] + shape[1]) * shape[2] * shape[3]))
            top = state[key].abs().max().item()
            if not 0.5 * bound < top <= bound:
                print(f"FAIL: {name}: largest |w| {top:.4g}, glorot_uniform bound {bound:.4g}")
                check.failed += 1
    n = 4
    x = torch.randn(n, *twin.INPUT_SHAPE)
    y = torch.arange(n) % twin.N_CLASSES if twin.N_CLASSES else torch.rand(n, *twin.TARGET_SHAPE)
    with torch.no_grad():  # running statistics that are not the initial ones
        for name, (key, block, shape) in twin.PARAMS.items():
            if block == "buffers":
                state[key].copy_(torch.rand(shape) + 0.5)
    ref = REFERENCES.get(twin.NAME)
    if ref:
        p = {name: state[key].detach().clone() for name, (key, _, _) in twin.PARAMS.items()}
        model.eval()
        with torch.no_grad():
            check.close("forward (inference) against the reference", model(x), ref(p, x, False)[0], 1e-12)
        model.train()
        z, stats = ref(p, x, True)
        check.close("loss (training) against the reference", model.loss(x, y).item(), ref_xent(z, y).item(), 1e-12)
        for name, value in stats.items():
            check.close(f"{name} after a training pass against the reference", state[twin.PARAMS[name][0]], value, 1e-12)
    opt = twin.make_optimizer(model)
    model.train()
    opt.zero_grad()
    model.loss(x, y).backward()
    opt.step()
    if got[0] + got[1] > 300_000:  # the Python checksum is slow; the parity test covers these
        print(f"{twin.NAME}: {got[0]:,} parameters + {got[1]:,} buffer values as nnc check")
        return 1 if check.failed else 0
    path, again = os.path.join(work, "twin.ckpt"), os.path.join(work, "again.ckpt")
    twin.save_checkpoint(model, path, opt, dtype=torch.float64)
    other = twin.Model()
    other_opt = twin.make_optimizer(other)
    info = twin.load_checkpoint(other, path, other_opt)
    for key, value in model.state_dict().items():
        if not torch.equal(value, other.state_dict()[key]):
            print(f"FAIL: {key} changed through a checkpoint")
            check.failed += 1
    twin.save_checkpoint(other, again, other_opt, step=info["step"], rng=info["rng"], dtype=info["dtype"])
    if open(path, "rb").read() != open(again, "rb").read():
        print("FAIL: a checkpoint read and written again is not byte-identical")
        check.failed += 1
    print(f"{twin.NAME}: {got[0]:,} parameters + {got[1]:,} buffer values as nnc check; "
          f"{'reference forward, loss and statistics checked; ' if ref else ''}checkpoint round trip in Python")
    return 1 if check.failed else 0


def idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims :]), dtype=torch.uint8).reshape(shape)


def find(data_dir, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise SystemExit(f"SKIPPED: no {stem} in {data_dir}")


def accuracy(args):
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ckpt = os.path.join(work, "model.ckpt")
    limit = 2000
    r = run([args.nnc, "train", args.model, "--data", args.data, "--limit-train", str(limit), "--epochs", "1",
             "--checkpoint", ckpt, "--build-dir", os.path.join(work, "build")])
    print(r.stdout, end="")
    if r.returncode != 0:
        print(f"FAIL: nnc train failed:\n{r.stderr}")
        return 1
    nnc_acc = float(re.findall(r"test acc ([\d.]+)%", r.stdout)[-1])
    twin = load_twin(args.nnc, args.model, os.path.join(work, "twin"))
    train_x = idx(find(args.data, "train-images-idx3-ubyte"))[:limit].reshape(limit, -1).to(torch.float32) / 255.0
    # nnc train's standardization: one mean and standard deviation over all training values, in double
    flat = train_x.reshape(-1).double()
    mean = flat.mean().item()
    std = math.sqrt(((flat - mean) ** 2).mean().item())
    mean32, inv32 = torch.tensor(mean, dtype=torch.float32), 1.0 / torch.tensor(std, dtype=torch.float32)
    test_x = idx(find(args.data, "t10k-images-idx3-ubyte")).to(torch.float32) / 255.0
    test_x = ((test_x.reshape(test_x.shape[0], -1) - mean32) * inv32).reshape(-1, *twin.INPUT_SHAPE)
    test_y = idx(find(args.data, "t10k-labels-idx1-ubyte")).long()
    model = twin.Model()
    opt = twin.make_optimizer(model)
    info = twin.load_checkpoint(model, ckpt, opt)
    model.eval()
    with torch.no_grad():
        torch_acc = 100.0 * (model(test_x).argmax(1) == test_y).double().mean().item()
    again = os.path.join(work, "roundtrip.ckpt")
    twin.save_checkpoint(model, again, opt, step=info["step"], rng=info["rng"], dtype=info["dtype"])
    same = open(again, "rb").read() == open(ckpt, "rb").read()
    print(f"{twin.NAME}: test accuracy nnc {nnc_acc:.2f}%, torch twin {torch_acc:.2f}% (10,000 images); "
          f"checkpoint round trip {'byte-identical' if same else 'DIFFERENT'}")
    ok = abs(torch_acc - nnc_acc) <= 0.05 and same
    if not ok:
        print("FAIL: accuracies differ by more than 0.05 points or the round trip changed the file")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("parity", "accuracy", "reference"))
    ap.add_argument("--nnc", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cflags", default="", help="extra C flags for twin_parity.c, separated by |")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    return {"parity": parity, "accuracy": accuracy, "reference": reference}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
