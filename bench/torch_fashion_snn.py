#!/usr/bin/python3
"""PyTorch twin of models/fashion_snn.nn (or its ReLU twin): times training steps on random data,
single-threaded, batch 128, the same way `nnc bench` does (median of runs of N steps).

usage: /usr/bin/python3 bench/torch_fashion_snn.py [--relu] [--batch 128] [--steps 50] [--runs 5]

Debian's torch does its matrix products in OpenBLAS, whose threads torch.set_num_threads does not
limit: OPENBLAS_NUM_THREADS is set to --threads before torch loads, or "one thread" would be two.
"""
import argparse
import os
import statistics
import sys
import time


def threads_from_argv() -> str:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


os.environ["OPENBLAS_NUM_THREADS"] = threads_from_argv()

import torch  # noqa: E402  (after OPENBLAS_NUM_THREADS)
import torch.nn as nn  # noqa: E402


def model(relu: bool) -> nn.Sequential:
    layers, width = [], 784
    for _ in range(8):
        lin = nn.Linear(width, 256)
        if relu:
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
        else:
            nn.init.normal_(lin.weight, std=width ** -0.5)  # lecun_normal
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU() if relu else nn.SELU()]
        width = 256
    out = nn.Linear(256, 10)
    nn.init.xavier_uniform_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(*layers, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--relu", action="store_true")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    net = model(args.relu)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(args.batch, 784)
    y = torch.randint(0, 10, (args.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    rates = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        rates.append(args.steps * args.batch / (time.perf_counter() - t0))
    print(f"torch    train {statistics.median(rates):10.0f} examples/s  (runs: {min(rates):.0f} .. {max(rates):.0f})")
    with torch.no_grad():
        rates = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                net(x)
            rates.append(args.steps * args.batch / (time.perf_counter() - t0))
    print(f"torch    forward {statistics.median(rates):8.0f} examples/s  (runs: {min(rates):.0f} .. {max(rates):.0f})")


if __name__ == "__main__":
    main()
