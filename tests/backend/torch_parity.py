"""torch_parity.py — the generated optimizer against torch.optim itself (spec §4: numerics follow PyTorch).

usage: python3 torch_parity.py DUMP

DUMP is written by optim.c --dump: the optimizer and its hyperparameters, the initial parameters of
optim_linear.nn (W [2, 3] row-major, then b [2]), and per step the batch (x, t), the loss and the
parameters the generated code (built with --double) had after its train_step. This script replays
the same steps with torch.nn.Linear, torch.nn.functional.mse_loss and torch.optim in float64 and
requires every parameter to agree to a relative 1e-12 of max(1, |value|) after every step.
Prints "SKIPPED: ..." and exits 0 when torch cannot be imported (CTest marks the test skipped),
unless NNC_REQUIRE_TORCH=1 is in the environment (CI, which installs torch): then it fails.
"""
import os
import sys

try:
    import torch
except ImportError as e:  # the test is optional
    if os.environ.get("NNC_REQUIRE_TORCH") == "1":
        print(f"FAIL: NNC_REQUIRE_TORCH=1 but torch is not available to {sys.executable} ({e})")
        sys.exit(1)
    print(f"SKIPPED: torch is not available to {sys.executable} ({e})")
    sys.exit(0)

IN, OUT, BATCH = 3, 2, 4


def main(path):
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    head = lines[0]
    assert head[0] == "optimizer"
    kind = head[1]
    hp = {head[i]: float(head[i + 1]) for i in range(2, len(head), 2)}
    params = [float(v) for v in lines[1][1:]]

    lin = torch.nn.Linear(IN, OUT).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(params[: OUT * IN], dtype=torch.float64).view(OUT, IN))
        lin.bias.copy_(torch.tensor(params[OUT * IN :], dtype=torch.float64))
    if kind == "sgd":
        opt = torch.optim.SGD(lin.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                              nesterov=bool(hp["nesterov"]), weight_decay=hp["weight_decay"])
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop(lin.parameters(), lr=hp["lr"], alpha=hp["rho"], eps=hp["eps"],
                                  weight_decay=hp["weight_decay"])
    elif kind == "adam":
        opt = torch.optim.Adam(lin.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                               weight_decay=hp["weight_decay"])
    else:
        raise SystemExit(f"unknown optimizer {kind}")

    worst, failed = 0.0, False
    rest = lines[2:]
    for step in range(len(rest) // 4):
        x, t, loss, got = rest[4 * step : 4 * step + 4]
        x = torch.tensor([float(v) for v in x[1:]], dtype=torch.float64).view(BATCH, IN)
        t = torch.tensor([float(v) for v in t[1:]], dtype=torch.float64).view(BATCH, OUT)
        opt.zero_grad()
        value = torch.nn.functional.mse_loss(lin(x), t)
        value.backward()
        opt.step()
        want = torch.cat([lin.weight.detach().flatten(), lin.bias.detach()]).tolist()
        if abs(value.item() - float(loss[1])) > 1e-12 * max(1.0, abs(value.item())):
            print(f"FAIL: step {step + 1}: torch loss {value.item():.17g}, optim.c's {float(loss[1]):.17g}")
            failed = True
        for i, (w, g) in enumerate(zip(want, (float(v) for v in got[1:]))):
            err = abs(w - g) / max(1.0, abs(w))
            worst = max(worst, err)
            if err > 1e-12:
                print(f"FAIL: step {step + 1}: parameter {i}: torch {w:.17g}, generated code {g:.17g}")
                failed = True
    print(f"{kind} {hp}: {len(rest) // 4} steps against torch {torch.__version__}, worst relative difference {worst:.3g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
