#!/usr/bin/python3
"""Times PyTorch's reference MaxDropout op (forward + backward, training mode)
on the ResNet-18 stage-output shapes, for comparison with
`maxdrop bench maxdropout`. One JSON object per line; medians over --reps runs
after one warm-up run.

The op is the published module's forward restated: up = max(x),
down = min(x), x_norm = (x - down) / (up - down), y = x.clone() with
y[x_norm > 1 - rate] = 0; autograd provides the backward.

usage: /usr/bin/python3 tools/bench_maxdropout_torch.py [--threads N] [--reps R] [--batch B]
"""
import argparse
import json
import statistics
import time

import torch


def reference_maxdropout(x, rate):
    up = torch.max(x)
    down = torch.min(x)
    x_norm = (x - down) / (up - down)
    x_copy = x.clone()
    x_copy[x_norm > 1 - rate] = 0
    return x_copy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rate", type=float, default=0.3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(2026)
    for c, h, w in [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]:
        shape = (a.batch, c, h, w)
        base = torch.rand(shape, generator=g)
        base = torch.where(base < 0.5, torch.zeros_like(base), (base - 0.5) * 8)
        dy = torch.rand(shape, generator=g) * 2 - 1
        times, tf, tb = [], [], []
        for r in range(a.reps + 1):
            x = base.clone().requires_grad_(True)
            t0 = time.perf_counter()
            y = reference_maxdropout(x, a.rate)
            t1 = time.perf_counter()
            y.backward(dy)
            t2 = time.perf_counter()
            if r > 0:
                tf.append(t1 - t0)
                tb.append(t2 - t1)
                times.append(t2 - t0)
        for name, ts in (("torch_maxdropout_fwd_bwd", times), ("torch_maxdropout_fwd", tf),
                         ("torch_maxdropout_bwd", tb)):
            print(json.dumps({"name": name, "shape": list(shape), "threads": a.threads,
                              "reps": a.reps, "median_s": statistics.median(ts),
                              "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
