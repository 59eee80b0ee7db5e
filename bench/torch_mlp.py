#!/usr/bin/env python3
"""The same MLP (inputs -> 64 -> 64 -> 64 -> 1, ReLU) and training (Adam lr 0.01, weight decay
1e-4, batch 64, MSE) in PyTorch on one thread, against libesm's figures from
`bench_learning --batches`. Prints per-batch-size throughput and ratios. Optional: needs
Debian's python3-torch; not part of the library or its tests."""
import os
import subprocess
import sys
import time

import torch

from torch_threads import POOLS, set_threads

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
INPUTS = 46  # ofa-mbv3 fcc: 45 counts + res/max_res


def esm_figures():
    out = subprocess.run([os.path.join(BUILD, "bench_learning"), "--batches"], check=True,
                         capture_output=True, text=True).stdout
    fig = {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "esm_train_8000x200_s":
            fig["train"] = float(f[1])
        elif f[0] == "esm_batch":
            fig[int(f[1])] = (float(f[3]), float(f[5]))
    return fig


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(INPUTS, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))


def main():
    set_threads(1)
    fig = esm_figures()
    model = net().eval()
    x_all = torch.rand(8192, INPUTS)
    print(f"torch {torch.__version__}, {POOLS} = 1; libesm predict = encode + MLP from in-memory archs, "
          f"torch = MLP forward on pre-encoded rows (no encoding)")
    print("ratios: libesm's rate / torch's (above 1: libesm faster)")
    print(f"{'batch':>6} {'torch/s':>12} {'esm mlp/s':>12} {'esm pred/s':>12} {'mlp ratio':>10} {'pred ratio':>10}")
    with torch.inference_mode():
        for b in (1, 8, 32, 64, 256, 1024, 4096):
            total = 20000 if b == 1 else 400000
            xb = [x_all[i:i + b] for i in range(0, 8192 - b + 1, b)]
            for i in range(10):
                model(xb[i % len(xb)])
            tps = 0.0
            for _ in range(3):  # best of 3, as bench_learning does (noisy machines)
                t0 = time.perf_counter()
                done, i = 0, 0
                while done < total:
                    model(xb[i % len(xb)])
                    done += b
                    i += 1
                tps = max(tps, done / (time.perf_counter() - t0))
            pred, mlp = fig[b]
            print(f"{b:>6} {tps:>12.0f} {mlp:>12.0f} {pred:>12.0f} {mlp / tps:>9.1f}x {pred / tps:>9.1f}x")
    # Training: 8000 rows, batch 64, Adam; 20 epochs timed and scaled to 200.
    model = net().train()
    x = torch.rand(8000, INPUTS)
    y = torch.rand(8000, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    loss_fn = torch.nn.MSELoss()
    epochs = 20
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(8000)
        for s in range(0, 8000, 64):
            idx = perm[s:s + 64]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    t = (time.perf_counter() - t0) * 200 / epochs
    print(f"training 8000 x 200 epochs (batch 64): torch {t:.2f} s (from {epochs} epochs), "
          f"libesm {fig['train']:.2f} s, torch / libesm {t / fig['train']:.1f}x (above 1: libesm faster)")


if __name__ == "__main__":
    main()
