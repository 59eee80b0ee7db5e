#!/usr/bin/env python3
# Times the bench_cuda architectures in PyTorch eager on the GPU (cudnn.benchmark on, TF32
# off, CUDA events, SPEC §5 trimmed mean) and prints libesm / PyTorch ratios. Not part of
# the library or its build: an optional cross-check that needs torch and a CUDA device.
# The networks come from bench/torch_compare.py's builder (shared with the CPU comparison).
#
#   cmake -S . -B build -DESM_CUDA=ON && cmake --build build -j
#   python3 bench/torch_cuda_compare.py                 # runs build/bench_cuda itself
#   python3 bench/torch_cuda_compare.py --esm-csv out.csv   # or reads its --csv output
#   python3 bench/torch_cuda_compare.py --check-params      # CPU only: same networks as libesm?
import argparse
import math
import os
import subprocess
import sys
import tempfile

# --- networks: the one PyTorch builder of the project, bench/torch_compare.py ----------
# (SPEC §2 from the canonical arch text; written for the CPU comparison). Not a second copy.

HERE = os.path.dirname(os.path.abspath(__file__))


def build(preset, text):
    sys.path.insert(0, HERE)
    try:
        from torch_compare import build as shared_build
    except ImportError as e:
        raise SystemExit(f"torch_cuda_compare: needs bench/torch_compare.py (the shared PyTorch model builder): {e}")
    return shared_build(preset, text)


# --- timing ------------------------------------------------------------------------------


def trimmed(times):
    t = sorted(times)
    lo, hi = len(t) // 5, len(t) - len(t) // 5
    mid = t[lo:hi]
    mean = sum(mid) / len(mid)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in mid) / len(mid))


def time_torch(preset, text, warmup, runs):
    import torch

    model = build(preset, text).cuda().eval()
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
    ap.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench_cuda"), help="bench_cuda binary")
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
            model = build(preset, arch).eval()
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
    if not os.path.exists(csv):  # bench_cuda skipped: libesm built without CUDA, or sees no device
        print("torch_cuda_compare: skipped: bench_cuda ran no cases (libesm without CUDA or without a device)")
        return 0
    with open(csv) as f:
        header = f.readline().strip()
    print(header)
    print(f"# torch {torch.__version__}, cudnn {torch.backends.cudnn.version()}, {torch.cuda.get_device_name(0)}, "
          f"cudnn.benchmark=True, tf32={int(a.tf32)}, eager, inference_mode, BN unfolded")
    print("preset,label,esm_ms,torch_ms,torch_over_esm,params_match,arch")
    for r in read_esm_csv(csv):
        params, (ms, _) = time_torch(r["preset"], r["arch"], a.warmup, a.runs)
        match = "yes" if params == r["params"] else f"NO({params} vs {r['params']})"
        print(f"{r['preset']},{r['label']},{r['ms']:.4f},{ms:.4f},{ms / r['ms']:.3f},{match},{r['arch']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
