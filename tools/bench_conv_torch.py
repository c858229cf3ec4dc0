#!/usr/bin/python3
"""PyTorch's Conv2d forward and backward times on the shapes of
tests/parity/driver_conv_bench.c (CIFAR ResNet-18 and WRN-16-4), as JSON lines
in the same format, for the same batch and thread count.

    tools/bench_conv_torch.py [--batch N] [--reps R] [--net resnet18|wrn16-4|all]
                              [--threads T] [--compare MAXDROP_JSONL]

With --compare, reads the driver's output (a file of its JSON lines) and
prints, per shape and per network, maxdrop's time divided by PyTorch's
(below 1: maxdrop is faster). Backward computes the input gradient (except
for the first layer, whose input needs none) and the weight gradient; times
are medians over R repetitions after one warm-up, in milliseconds.
"""
import argparse
import json
import os
import statistics
import time

import torch

SHAPES = [
    # net        in   out  hw  k  s  p  count first
    ("resnet18", 3, 64, 32, 3, 1, 1, 1, True),
    ("resnet18", 64, 64, 32, 3, 1, 1, 4, False),
    ("resnet18", 64, 128, 32, 3, 2, 1, 1, False),
    ("resnet18", 128, 128, 16, 3, 1, 1, 3, False),
    ("resnet18", 64, 128, 32, 1, 2, 0, 1, False),
    ("resnet18", 128, 256, 16, 3, 2, 1, 1, False),
    ("resnet18", 256, 256, 8, 3, 1, 1, 3, False),
    ("resnet18", 128, 256, 16, 1, 2, 0, 1, False),
    ("resnet18", 256, 512, 8, 3, 2, 1, 1, False),
    ("resnet18", 512, 512, 4, 3, 1, 1, 3, False),
    ("resnet18", 256, 512, 8, 1, 2, 0, 1, False),
    ("wrn16-4", 3, 16, 32, 3, 1, 1, 1, True),
    ("wrn16-4", 16, 64, 32, 3, 1, 1, 1, False),
    ("wrn16-4", 16, 64, 32, 1, 1, 0, 1, False),
    ("wrn16-4", 64, 64, 32, 3, 1, 1, 3, False),
    ("wrn16-4", 64, 128, 32, 3, 2, 1, 1, False),
    ("wrn16-4", 64, 128, 32, 1, 2, 0, 1, False),
    ("wrn16-4", 128, 128, 16, 3, 1, 1, 3, False),
    ("wrn16-4", 128, 256, 16, 3, 2, 1, 1, False),
    ("wrn16-4", 128, 256, 16, 1, 2, 0, 1, False),
    ("wrn16-4", 256, 256, 8, 3, 1, 1, 3, False),
]


def key(d):
    return (d["net"], d["in_c"], d["out_c"], d["hw"], d["k"], d["stride"], d["pad"])


def bench(args):
    rows = []
    totals = {}
    for net, cin, cout, hw, k, s, p, count, first in SHAPES:
        if args.net != "all" and args.net != net:
            continue
        conv = torch.nn.Conv2d(cin, cout, k, s, p, bias=False)
        x = torch.rand(args.batch, cin, hw, hw) - 0.5
        x.requires_grad_(not first)
        with torch.no_grad():
            dy = torch.rand_like(conv(x)) - 0.5
        tf, tb = [], []
        for r in range(args.reps + 1):
            conv.weight.grad = None
            x.grad = None
            t0 = time.perf_counter()
            y = conv(x)
            t1 = time.perf_counter()
            y.backward(dy)
            t2 = time.perf_counter()
            if r > 0:
                tf.append((t1 - t0) * 1e3)
                tb.append((t2 - t1) * 1e3)
        mf, mb = statistics.median(tf), statistics.median(tb)
        oh = (hw + 2 * p - k) // s + 1
        flops = 2.0 * args.batch * cout * oh * oh * cin * k * k
        d = {"impl": "torch", "net": net, "in_c": cin, "out_c": cout, "hw": hw, "k": k,
             "stride": s, "pad": p, "batch": args.batch, "threads": torch.get_num_threads(),
             "count": count, "fwd_ms": round(mf, 3), "bwd_ms": round(mb, 3),
             "fwd_gflops": round(flops / mf * 1e-6, 1),
             "bwd_gflops": round((1 if first else 2) * flops / mb * 1e-6, 1)}
        print(json.dumps(d), flush=True)
        rows.append(d)
        t = totals.setdefault(net, [0.0, 0.0])
        t[0] += count * mf
        t[1] += count * mb
    for net, (f, b) in totals.items():
        print(json.dumps({"impl": "torch", "net": net, "total": True, "batch": args.batch,
                          "threads": torch.get_num_threads(), "fwd_ms": round(f, 1),
                          "bwd_ms": round(b, 1), "step_conv_ms": round(f + b, 1)}))
    return rows, totals


def compare(path, rows, totals):
    ours = {}
    our_totals = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = json.loads(line)
            if d.get("total"):
                our_totals[d["net"]] = d
            else:
                ours[key(d)] = d
    print("ratio = maxdrop time / PyTorch time (below 1: maxdrop is faster)")
    for t in rows:
        o = ours.get(key(t))
        if not o:
            continue
        print(f"  {t['net']:9s} {t['in_c']:3d}->{t['out_c']:3d} {t['hw']:2d}x{t['hw']:<2d} "
              f"k{t['k']} s{t['stride']}  x{t['count']}:  fwd {o['fwd_ms']:8.2f} / "
              f"{t['fwd_ms']:8.2f} = {o['fwd_ms'] / t['fwd_ms']:.2f}   bwd {o['bwd_ms']:8.2f} "
              f"/ {t['bwd_ms']:8.2f} = {o['bwd_ms'] / t['bwd_ms']:.2f}")
    for net, (f, b) in totals.items():
        o = our_totals.get(net)
        if o:
            print(f"  {net} per step: fwd {o['fwd_ms']:.0f} / {f:.0f} = {o['fwd_ms'] / f:.2f}, "
                  f"bwd {o['bwd_ms']:.0f} / {b:.0f} = {o['bwd_ms'] / b:.2f}, "
                  f"total {o['step_conv_ms']:.0f} / {f + b:.0f} = "
                  f"{o['step_conv_ms'] / (f + b):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--net", default="all", choices=["resnet18", "wrn16-4", "all"])
    ap.add_argument("--threads", type=int,
                    default=int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count())
    ap.add_argument("--compare", metavar="MAXDROP_JSONL")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows, totals = bench(args)
    if args.compare:
        compare(args.compare, rows, totals)


if __name__ == "__main__":
    main()
