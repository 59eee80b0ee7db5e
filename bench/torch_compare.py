#!/usr/bin/env python3
"""PyTorch comparison for bench_executor (docs/performance.md): builds the same networks in
PyTorch straight from SPEC §2 and the canonical arch text (eval mode, no_grad, the same
thread count for PyTorch's and OpenBLAS's pools: bench/torch_threads.py), times them the
same way (median of >= 5 runs after 3 warm-ups) and prints PyTorch latency and the ratio
ours / torch. Not a correctness check (the C++ tests compare against the oracle);
optional: run only when torch imports.

usage: torch_compare.py RESULTS [ESM_RUN]
  RESULTS: lines "preset which arch threads ms" from bench_executor --results
  ESM_RUN: path of esm-run (default: next to RESULTS). When it exists, our latency is
           measured again right before PyTorch's (interleaved, so both see the same machine
           load), ROUNDS times in turn (environment, default 3), and both sides report the
           fastest of the same number of runs; otherwise the median from RESULTS is
           compared with PyTorch's median.
"""
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn as nn

from torch_threads import POOLS, set_threads

RESNET = dict(width=[256, 512, 1024, 2048], stride=[1, 2, 2, 2], e={"50": 0.5, "67": 2 / 3, "100": 1.0}, stem=64)
MBV3 = dict(width=[16, 32, 64, 128], stride=[2, 2, 2, 2], act=["relu", "relu", "hswish", "hswish"],
            se=[0, 1, 1, 1], e={"50": 3, "67": 4, "100": 6}, stem=16, first_block=0, head=[768, 1280])
OFA = dict(width=[24, 40, 80, 112, 160], stride=[2, 2, 2, 1, 2], act=["relu", "relu", "hswish", "hswish", "hswish"],
           se=[0, 1, 0, 1, 1], e={"3": 3, "4": 4, "6": 6}, stem=16, first_block=16, head=[960, 1280])


def make_divisible(v):
    r = max(8, int((v + 4) // 8) * 8)
    return r + 8 if r < 0.9 * v else r


def act(name):
    return {"relu": nn.ReLU(inplace=True), "hswish": nn.Hardswish(inplace=True), "none": nn.Identity()}[name]


def conv_bn(cin, cout, k, s=1, groups=1, a="none"):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), act(a))


def parse_blocks(text):
    body = text.split(":", 1)[1].split("@")[0]
    units = []
    for u in body.split("/"):
        units.append([(int(b[1:b.index("e")]), b[b.index("e") + 1:]) for b in u.split("-")])
    return units


class Bottleneck(nn.Module):
    def __init__(self, cin, width, k, s, e):
        super().__init__()
        mid = make_divisible(width / 4 * e)
        self.short = conv_bn(cin, width, 1, s) if (s != 1 or cin != width) else nn.Identity()
        self.main = nn.Sequential(conv_bn(cin, mid, 1, a="relu"), conv_bn(mid, mid, k, s, a="relu"),
                                  conv_bn(mid, width, 1))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.main(x) + self.short(x))


def resnet(text):
    p = RESNET
    layers = [conv_bn(3, p["stem"], 7, 2, a="relu"), nn.MaxPool2d(3, 2, 1)]
    c = p["stem"]
    for u, blocks in enumerate(parse_blocks(text)):
        for i, (k, e) in enumerate(blocks):
            layers.append(Bottleneck(c, p["width"][u], k, p["stride"][u] if i == 0 else 1, p["e"][e]))
            c = p["width"][u]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        r = make_divisible(c / 4)
        self.f = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, r, 1), nn.ReLU(inplace=True), nn.Conv2d(r, c, 1),
                               nn.Hardsigmoid(inplace=True))

    def forward(self, x):
        return x * self.f(x)


class MBConv(nn.Module):
    def __init__(self, cin, out, k, s, expand, a, se):
        super().__init__()
        layers = []
        hidden = cin
        if expand != 1:
            hidden = make_divisible(cin * expand)
            layers.append(conv_bn(cin, hidden, 1, a=a))
        layers.append(conv_bn(hidden, hidden, k, s, groups=hidden, a=a))
        if se:
            layers.append(SE(hidden))
        layers.append(conv_bn(hidden, out, 1))
        self.f = nn.Sequential(*layers)
        self.res = s == 1 and cin == out

    def forward(self, x):
        return x + self.f(x) if self.res else self.f(x)


def mobilenetv3(text, p):
    layers = [conv_bn(3, p["stem"], 3, 2, a="hswish")]
    c = p["stem"]
    if p["first_block"]:
        layers.append(MBConv(c, p["first_block"], 3, 1, 1, "relu", False))
        c = p["first_block"]
    for u, blocks in enumerate(parse_blocks(text)):
        for i, (k, e) in enumerate(blocks):
            layers.append(MBConv(c, p["width"][u], k, p["stride"][u] if i == 0 else 1, p["e"][e], p["act"][u],
                                 bool(p["se"][u])))
            c = p["width"][u]
    layers += [conv_bn(c, p["head"][0], 1, a="hswish"), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(p["head"][0], p["head"][1]), nn.Hardswish(inplace=True), nn.Linear(p["head"][1], 1000)]
    return nn.Sequential(*layers)


class DenseLayer(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, 128, 1, bias=False),
                               nn.BatchNorm2d(128), nn.ReLU(inplace=True), nn.Conv2d(128, 32, k, 1, k // 2, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


def densenet(text):
    units = [(int(u[1:u.index("k")]), int(u[u.index("k") + 1:])) for u in text.split(":", 1)[1].split("/")]
    layers = [conv_bn(3, 64, 7, 2, a="relu"), nn.MaxPool2d(3, 2, 1)]
    c = 64
    for i, (d, k) in enumerate(units):
        for _ in range(d):
            layers.append(DenseLayer(c, k))
            c += 32
        if i + 1 < len(units):
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
    return nn.Sequential(*layers)


def build(preset, text):
    if preset == "resnet":
        return resnet(text)
    if preset == "mobilenetv3":
        return mobilenetv3(text, MBV3)
    if preset == "ofa-mbv3":
        return mobilenetv3(text, OFA)
    if preset == "densenet":
        return densenet(text)
    raise ValueError(preset)


ROUNDS = int(os.environ.get("ROUNDS", "3"))


def torch_times(model, x, runs=None):
    with torch.no_grad():
        for _ in range(3):
            model(x)
        t = []
        start = time.perf_counter()
        while (len(t) < runs) if runs else (len(t) < 5 or (len(t) < 50 and time.perf_counter() - start < 1.5)):
            t0 = time.perf_counter()
            model(x)
            t.append((time.perf_counter() - t0) * 1e3)
    t.sort()
    return t


def ours_min_ms(esm_run, text, threads, runs):
    out = subprocess.run([esm_run, text, "--threads", str(threads), "--runs", str(runs)], check=True,
                         capture_output=True, text=True).stdout
    return float(re.search(r"time_ms\s+([0-9.]+)", out).group(1))


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    esm_run = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(sys.argv[1]) or ".", "esm-run")
    interleaved = os.access(esm_run, os.X_OK)
    stat = "min" if interleaved else "median"
    print(f"PyTorch {torch.__version__}, eval + no_grad, NCHW float32, {POOLS} = thr; comparing the {stat} of each side"
          + (" (ours re-measured with esm-run right before torch)" if interleaved else ""))
    print("ours/torch: libesm's latency / PyTorch's (below 1: libesm faster)")
    print(f"{'preset':<12} {'which':<6} {'thr':>3} {'ours ms':>10} {'torch ms':>10} {'ours/torch':>10}")
    models = {}
    for line in open(sys.argv[1]):
        preset, which, text, threads, ours = line.split()
        threads, ours = int(threads), float(ours)
        if text not in models:
            models[text] = build(preset, text).eval()
        set_threads(threads)
        x = torch.randn(1, 3, 224, 224)
        if interleaved:
            # ROUNDS alternations of the two sides (default 3), the fastest run of each side
            # over all of them: this VM's speed drifts over seconds, so one block per side
            # could land in different phases
            runs = max(5, min(50, int(1500 / max(ours, 1e-3))))
            ours = theirs = float("inf")
            for _ in range(ROUNDS):
                ours = min(ours, ours_min_ms(esm_run, text, threads, runs))
                theirs = min(theirs, torch_times(models[text], x, runs)[0])
        else:
            t = torch_times(models[text], x)
            theirs = t[len(t) // 2]
        print(f"{preset:<12} {which:<6} {threads:>3} {ours:>10.3f} {theirs:>10.3f} {ours / theirs:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
