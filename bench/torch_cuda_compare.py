#!/usr/bin/env python3
# Times the bench_cuda architectures in PyTorch eager on the GPU (cudnn.benchmark on, TF32
# off, CUDA events, SPEC §5 trimmed mean) and prints libesm / PyTorch ratios. Not part of
# the library or its build: an optional cross-check that needs torch and a CUDA device.
#
#   cmake -S . -B build -DESM_CUDA=ON && cmake --build build -j
#   python3 bench/torch_cuda_compare.py                 # runs build/bench_cuda itself
#   python3 bench/torch_cuda_compare.py --esm-csv out.csv   # or reads its --csv output
#   python3 bench/torch_cuda_compare.py --check-params      # CPU only: same networks as libesm?
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile

# --- networks from the canonical architecture text (SPEC §2, §3) -----------------------


def make_divisible(v):
    r = max(8, int(math.floor((v + 4) / 8)) * 8)
    if r < 0.9 * v:
        r += 8
    return r


RESNET_E = {"50": 1 / 2, "67": 2 / 3, "100": 1.0}   # width factor of W/4
MBV3_E = {"50": 3, "67": 4, "100": 6}                # expand ratio 6*e
BLOCK = re.compile(r"^k(\d+)e(\d+)$")
DENSE = re.compile(r"^d(\d+)k(\d+)$")


def parse_blocks(text, space):
    prefix = space + ":"
    if not text.startswith(prefix):
        raise ValueError(f"expected '{prefix}...': {text}")
    units = []
    for unit in text[len(prefix):].split("/"):
        blocks = []
        for b in unit.split("-"):
            m = BLOCK.match(b)
            if not m:
                raise ValueError(f"bad block '{b}' in {text}")
            blocks.append((int(m.group(1)), m.group(2)))
        units.append(blocks)
    if len(units) != 4:
        raise ValueError(f"expected 4 units: {text}")
    return units


def build(text):
    import torch.nn as nn

    def conv_bn(cin, cout, k, s, act, groups=1):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        return nn.Sequential(*layers)

    space = text.split(":", 1)[0]
    if space == "resnet":
        widths, strides = [256, 512, 1024, 2048], [1, 2, 2, 2]

        class Bottleneck(nn.Module):
            def __init__(self, cin, w, k, e, s):
                super().__init__()
                m = make_divisible(w / 4 * e)
                self.main = nn.Sequential(conv_bn(cin, m, 1, 1, nn.ReLU), conv_bn(m, m, k, s, nn.ReLU),
                                          conv_bn(m, w, 1, 1, None))
                self.short = conv_bn(cin, w, 1, s, None) if (s != 1 or cin != w) else nn.Identity()
                self.relu = nn.ReLU()

            def forward(self, x):
                return self.relu(self.main(x) + self.short(x))

        layers, cin = [conv_bn(3, 64, 7, 2, nn.ReLU), nn.MaxPool2d(3, 2, 1)], 64
        for u, blocks in enumerate(parse_blocks(text, "resnet")):
            for i, (k, e) in enumerate(blocks):
                layers.append(Bottleneck(cin, widths[u], k, RESNET_E[e], strides[u] if i == 0 else 1))
                cin = widths[u]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
        return nn.Sequential(*layers)

    if space == "mobilenetv3":
        widths, acts, ses = [16, 32, 64, 128], [nn.ReLU, nn.ReLU, nn.Hardswish, nn.Hardswish], [0, 1, 1, 1]

        class SE(nn.Module):
            def __init__(self, c):
                super().__init__()
                r = make_divisible(c / 4)
                self.f = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, r, 1), nn.ReLU(), nn.Conv2d(r, c, 1),
                                       nn.Hardsigmoid())

            def forward(self, x):
                return x * self.f(x)

        class MBConv(nn.Module):
            def __init__(self, cin, out, k, expand, s, act, se):
                super().__init__()
                h = make_divisible(cin * expand)
                layers = [conv_bn(cin, h, 1, 1, act), conv_bn(h, h, k, s, act, groups=h)]
                if se:
                    layers.append(SE(h))
                layers.append(conv_bn(h, out, 1, 1, None))
                self.body = nn.Sequential(*layers)
                self.residual = s == 1 and cin == out

            def forward(self, x):
                y = self.body(x)
                return y + x if self.residual else y

        layers, cin = [conv_bn(3, 16, 3, 2, nn.Hardswish)], 16
        for u, blocks in enumerate(parse_blocks(text, "mobilenetv3")):
            for i, (k, e) in enumerate(blocks):
                layers.append(MBConv(cin, widths[u], k, MBV3_E[e], 2 if i == 0 else 1, acts[u], ses[u]))
                cin = widths[u]
        layers += [conv_bn(128, 768, 1, 1, nn.Hardswish), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   nn.Linear(768, 1280), nn.Hardswish(), nn.Linear(1280, 1000)]
        return nn.Sequential(*layers)

    if space == "densenet":
        import torch

        units = []
        for u in text.split(":", 1)[1].split("/"):
            m = DENSE.match(u)
            if not m:
                raise ValueError(f"bad unit '{u}' in {text}")
            units.append((int(m.group(1)), int(m.group(2))))
        if len(units) != 5:
            raise ValueError(f"expected 5 units: {text}")

        class DenseLayer(nn.Module):
            def __init__(self, c, k):
                super().__init__()
                self.f = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), conv_bn(c, 128, 1, 1, nn.ReLU),
                                       nn.Conv2d(128, 32, k, 1, k // 2, bias=False))

            def forward(self, x):
                return torch.cat([x, self.f(x)], 1)

        layers, c = [conv_bn(3, 64, 7, 2, nn.ReLU), nn.MaxPool2d(3, 2, 1)], 64
        for u, (depth, k) in enumerate(units):
            for _ in range(depth):
                layers.append(DenseLayer(c, k))
                c += 32
            if u + 1 < len(units):
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2, 2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1000)]
        return nn.Sequential(*layers)

    raise ValueError(f"no PyTorch builder for space '{space}'")


# --- timing ------------------------------------------------------------------------------


def trimmed(times):
    t = sorted(times)
    lo, hi = len(t) // 5, len(t) - len(t) // 5
    mid = t[lo:hi]
    mean = sum(mid) / len(mid)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in mid) / len(mid))


def time_torch(text, warmup, runs):
    import torch

    model = build(text).cuda().eval()
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(1, 3, 224, 224, device="cuda")
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            torch.cuda.synchronize()
            start.record()
            model(x)
            stop.record()
            stop.synchronize()
            if i >= warmup:
                times.append(start.elapsed_time(stop))
    del model
    torch.cuda.empty_cache()
    return params, trimmed(times)


def read_esm_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or line.startswith("preset,") or not line.strip():
                continue
            preset, label, arch, params, macs, ms, sd = line.strip().split(",")[:7]
            rows.append(dict(preset=preset, label=label, arch=arch, params=int(params), ms=float(ms), sd=float(sd)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "bench_cuda"), help="bench_cuda binary")
    ap.add_argument("--esm-csv", help="bench_cuda --csv output to compare with (default: run --bench)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--runs", type=int, default=150)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 in PyTorch (and in bench_cuda when run here)")
    ap.add_argument("--check-params", action="store_true",
                    help="no timing, no GPU: build every network on the CPU and compare its parameter count "
                         "with libesm's (bench_cuda --list) and its output shape")
    a = ap.parse_args()

    import torch

    if a.check_params:
        out = subprocess.run([a.bench, "--list"], check=True, capture_output=True, text=True).stdout
        bad = 0
        for line in out.splitlines()[1:]:
            preset, label, arch, params = line.split(",")[:4]
            model = build(arch).eval()
            got = sum(p.numel() for p in model.parameters())
            with torch.no_grad():
                shape = tuple(model(torch.zeros(1, 3, 64, 64)).shape)
            ok = got == int(params) and shape == (1, 1000)
            bad += not ok
            print(f"{preset},{label},params esm {params} torch {got},output {shape},{'ok' if ok else 'MISMATCH'}")
        print(f"{len(out.splitlines()) - 1 - bad} passed, {bad} failed")
        return 1 if bad else 0

    if not torch.cuda.is_available():
        print("torch_cuda_compare: skipped: torch sees no CUDA device")
        return 0
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32

    csv = a.esm_csv
    if csv is None:
        csv = os.path.join(tempfile.mkdtemp(), "bench_cuda.csv")
        cmd = [a.bench, "--csv", csv, "--runs", str(a.runs), "--warmup", str(a.warmup)] + (["--tf32"] if a.tf32 else [])
        print("running", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, check=True)
    with open(csv) as f:
        header = f.readline().strip()
    print(header)
    print(f"# torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}, "
          f"cudnn.benchmark=True, tf32={int(a.tf32)}, eager, inference_mode, BN unfolded")
    print("preset,label,esm_ms,torch_ms,torch_over_esm,params_match,arch")
    for r in read_esm_csv(csv):
        params, (ms, _) = time_torch(r["arch"], a.warmup, a.runs)
        match = "yes" if params == r["params"] else f"NO({params} vs {r['params']})"
        print(f"{r['preset']},{r['label']},{r['ms']:.4f},{ms:.4f},{ms / r['ms']:.3f},{match},{r['arch']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
