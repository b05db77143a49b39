"""plot.py — the depth experiment's training-loss curves as one self-contained SVG (no libraries).

usage: plot.py curves.csv results.csv out.svg
"""
import csv
import math
import sys

curves, results = {}, {}
for row in csv.DictReader(open(sys.argv[1])):
    curves.setdefault(row["model"], []).append((int(row["step"]), float(row["loss"])))
for row in csv.DictReader(open(sys.argv[2])):
    results[row["model"]] = row

W, H, L, R, T, B = 720, 440, 70, 200, 40, 50
steps = [s for pts in curves.values() for s, _ in pts]
losses = [l for pts in curves.values() for _, l in pts]
x_max = max(steps)
y_lo, y_hi = math.log10(min(losses)) - 0.05, math.log10(max(losses)) + 0.05
def px(step): return L + (W - L - R) * step / x_max
def py(loss): return T + (H - T - B) * (y_hi - math.log10(loss)) / (y_hi - y_lo)

style = {"plain20": ("#1f77b4", "6,4"), "plain56": ("#d62728", "6,4"),
         "resnet20": ("#1f77b4", ""), "resnet56": ("#d62728", "")}
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="22" font-size="15">Training loss on Fashion-MNIST: plain vs residual CNNs (log scale)</text>',
       f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
       f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">step (batch {next(iter(results.values()))["batch"]})</text>']
for k in range(5):
    step = x_max * k / 4
    out.append(f'<text x="{px(step):.1f}" y="{H - B + 16}" text-anchor="middle">{step:.0f}</text>')
for e in range(math.floor(y_lo * 4), math.ceil(y_hi * 4) + 1):
    v = 10 ** (e / 4)
    if y_lo <= e / 4 <= y_hi:
        out.append(f'<line x1="{L - 4}" y1="{py(v):.1f}" x2="{W - R}" y2="{py(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{L - 8}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.2g}</text>')
for i, (model, pts) in enumerate(sorted(curves.items())):
    color, dash = style.get(model, ("black", ""))
    d = " ".join(f"{px(s):.1f},{py(l):.1f}" for s, l in pts)
    out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{d}"/>')
    y = T + 20 + 22 * i
    out.append(f'<line x1="{W - R + 15}" y1="{y}" x2="{W - R + 45}" y2="{y}" stroke="{color}" stroke-width="2" '
               f'stroke-dasharray="{dash}"/>')
    acc = results.get(model, {}).get("test_accuracy", "?")
    out.append(f'<text x="{W - R + 52}" y="{y + 4}">{model}: test {acc}%</text>')
out.append("</svg>")
open(sys.argv[3], "w").write("\n".join(out) + "\n")
