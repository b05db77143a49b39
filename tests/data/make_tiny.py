"""make_tiny.py — writes tiny_train.csv and tiny_test.csv (run once; the files are committed).

A 3-class problem in 8 features that a linear classifier separates: each class has a centre on
a random unit-norm direction scaled to 2.5, each example is its centre plus N(0, 0.5^2) noise, and
an example is kept only if its true class wins the linear score w_c . x by a margin of 0.5 (so
the two files are linearly separable with room to spare). Rows: label, then 8 values with 4
decimals. 200 training and 100 test examples. Deterministic: Python's own random with seed 2024.
usage: python3 make_tiny.py   (writes into this folder)
"""
import math
import os
import random

K, D = 3, 8
rng = random.Random(2024)


def unit(v):
    n = math.sqrt(sum(a * a for a in v))
    return [a / n for a in v]


centres = [[2.5 * a for a in unit([rng.gauss(0, 1) for _ in range(D)])] for _ in range(K)]


def score(c, x):  # nearest centre as a linear rule: w_c = centre_c, b_c = -|centre_c|^2 / 2
    return sum(a * b for a, b in zip(centres[c], x)) - 0.5 * sum(a * a for a in centres[c])


def example(label):
    while True:
        x = [round(a + rng.gauss(0, 0.5), 4) for a in centres[label]]
        s = [score(c, x) for c in range(K)]
        if all(s[label] - s[c] > 0.5 for c in range(K) if c != label):
            return x


def write(name, n):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, name), "w") as f:
        f.write("label," + ",".join(f"x{i}" for i in range(D)) + "\n")
        for i in range(n):
            label = i % K if i % 7 else rng.randrange(K)
            f.write(f"{label}," + ",".join(f"{v:.4f}" for v in example(label)) + "\n")


write("tiny_train.csv", 200)
write("tiny_test.csv", 100)
