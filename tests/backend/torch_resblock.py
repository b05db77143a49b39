"""torch_resblock.py — tests/gradcheck/resblock.nn in PyTorch, written by hand, against nnc's numbers.

usage: torch_resblock.py DUMP   (DUMP written by resblock_dump.c; prints SKIPPED: without torch,
       fails instead under NNC_REQUIRE_TORCH=1)

The twin takes nnc's initial parameters in creation order, then checks, in float64: forward() in
inference (running statistics), the training loss and every parameter gradient (batch
statistics), and after one torch.optim.SGD step (momentum 0.9, weight decay 1e-4; batchnorm
momentum 1 - 0.9 as spec §4 says) the parameters and forward() again, which now reads the
updated running statistics (unbiased variance). Relative tolerance 1e-9 (forward() returns
floats: 1e-6 there).
"""
import os
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    if os.environ.get("NNC_REQUIRE_TORCH") == "1":  # CI: a missing torch is a failure, not a skip
        print("FAIL: torch is not installed and NNC_REQUIRE_TORCH=1")
        sys.exit(1)
    print("SKIPPED: torch is not installed")
    sys.exit(0)

torch.set_default_dtype(torch.float64)
data = {}
for line in open(sys.argv[1]):
    name, count, *values = line.split()
    assert int(count) == len(values), name
    data[name] = torch.tensor([float(v) for v in values])

B = 4
x = data["x"].reshape(B, 1, 6, 5)
y = data["y"].long()
flat = data["params"]
at = 0


def take(*shape):
    global at
    n = 1
    for d in shape:
        n *= d
    t = flat[at:at + n].reshape(shape).clone().requires_grad_(True)
    at += n
    return t


def conv(cin, cout, k):
    return [take(cout, cin, k, k), take(cout)]


def bn(c):
    return {"w": take(c), "b": take(c), "rm": torch.zeros(c), "rv": torch.ones(c)}


# creation order, as in resblock.nn
c0, n0 = conv(1, 2, 3), bn(2)
b1c1, b1n1, b1c2, b1n2 = conv(2, 2, 3), bn(2), conv(2, 2, 3), bn(2)
d_c1, d_n1, d_c2, d_n2, d_cs, d_ns = conv(2, 3, 3), bn(3), conv(3, 3, 3), bn(3), conv(2, 3, 1), bn(3)
fc_w, fc_b = take(3, 3), take(3)
assert at == len(flat), (at, len(flat))
params = [t for t in [*c0, n0["w"], n0["b"], *b1c1, b1n1["w"], b1n1["b"], *b1c2, b1n2["w"], b1n2["b"],
                      *d_c1, d_n1["w"], d_n1["b"], *d_c2, d_n2["w"], d_n2["b"], *d_cs, d_ns["w"], d_ns["b"],
                      fc_w, fc_b]]


def norm(h, n, training):
    return F.batch_norm(h, n["rm"], n["rv"], n["w"], n["b"], training=training, momentum=1 - 0.9, eps=1e-5)


def model(x, training):
    h = F.relu(norm(F.conv2d(x, *c0, padding=1), n0, training))
    r = h
    h = F.relu(norm(F.conv2d(h, *b1c1, padding=1), b1n1, training))
    h = norm(F.conv2d(h, *b1c2, padding=1), b1n2, training)
    h = F.relu(h + r)
    r = h
    h = F.relu(norm(F.conv2d(h, *d_c1, stride=2, padding=1), d_n1, training))
    h = norm(F.conv2d(h, *d_c2, padding=1), d_n2, training)
    s = norm(F.conv2d(r, *d_cs, stride=2), d_ns, training)
    h = F.relu(h + s)
    return F.linear(h.mean((2, 3)), fc_w, fc_b)


failed = False


def compare(what, got, want, tol):
    global failed
    err = ((got - want).abs() / want.abs().clamp(min=1e-3)).max().item()
    print(f"{what}: {want.numel()} values, worst relative error {err:.3g} (tolerance {tol:g})")
    if not err <= tol:
        print(f"FAIL: {what}")
        failed = True


with torch.no_grad():
    compare("forward (inference)", data["forward"], model(x, False).flatten(), 1e-6)
opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)
loss = F.cross_entropy(model(x, True), y)
loss.backward()
compare("training loss", data["loss"], loss.detach().reshape(1), 1e-9)
compare("parameter gradients", data["grads"], torch.cat([p.grad.flatten() for p in params]), 1e-9)
opt.step()
compare("parameters after one step", data["params_after"], torch.cat([p.detach().flatten() for p in params]), 1e-9)
with torch.no_grad():
    compare("forward after the step (running statistics)", data["forward_after"], model(x, False).flatten(), 1e-6)
sys.exit(1 if failed else 0)
