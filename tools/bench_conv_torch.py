#!/usr/bin/python3
"""PyTorch's Conv2d forward and backward times on the shapes of
tests/parity/driver_conv_bench.c (CIFAR ResNet-18 and WRN-16-4), as JSON lines
in the same format, for the same batch and thread count.

    tools/bench_conv_torch.py [--batch N] [--reps R] [--net resnet18|wrn16-4|all]
                              [--threads T] [--compare MAXDROP_JSONL]
                              [--metric ms|min_ms|cpu_ms]
                              [--driver DRIVER_CONV_BENCH [--rounds R]]

With --compare, reads the driver's output (a file of its JSON lines) and
prints, per shape and per network, maxdrop's time divided by PyTorch's
(below 1: maxdrop is faster); --metric chooses median wall time (ms), the
minimum (min_ms) or the median CPU time of the process (cpu_ms, the steadiest
on a machine shared with other work). With --driver PATH (the built
tests/parity/driver_conv_bench), runs it and PyTorch in --rounds alternate
rounds with the same thread count and compares the smallest times of each. Backward computes the input gradient (except
for the first layer, whose input needs none) and the weight gradient; times
are medians over R repetitions after one warm-up, in milliseconds (also the
minimum, and the median CPU time of the process over all its threads, which
other processes on a shared machine disturb less).
"""
import argparse
import json
import os
import statistics
import subprocess
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
        tf, tb, cf, cb = [], [], [], []
        for r in range(args.reps + 1):
            conv.weight.grad = None
            x.grad = None
            c0, t0 = time.process_time(), time.perf_counter()
            y = conv(x)
            t1, c1 = time.perf_counter(), time.process_time()
            y.backward(dy)
            t2, c2 = time.perf_counter(), time.process_time()
            if r > 0:
                tf.append((t1 - t0) * 1e3)
                tb.append((t2 - t1) * 1e3)
                cf.append((c1 - c0) * 1e3)
                cb.append((c2 - c1) * 1e3)
        mf, mb = statistics.median(tf), statistics.median(tb)
        oh = (hw + 2 * p - k) // s + 1
        flops = 2.0 * args.batch * cout * oh * oh * cin * k * k
        d = {"impl": "torch", "net": net, "in_c": cin, "out_c": cout, "hw": hw, "k": k,
             "stride": s, "pad": p, "batch": args.batch, "threads": torch.get_num_threads(),
             "count": count, "fwd_ms": round(mf, 3), "bwd_ms": round(mb, 3),
             "fwd_gflops": round(flops / mf * 1e-6, 1),
             "bwd_gflops": round((1 if first else 2) * flops / mb * 1e-6, 1),
             "fwd_min_ms": round(min(tf), 3), "bwd_min_ms": round(min(tb), 3),
             "fwd_cpu_ms": round(statistics.median(cf), 3),
             "bwd_cpu_ms": round(statistics.median(cb), 3)}
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


def read_lines(lines):
    """The per-shape JSON objects among lines, by shape."""
    out = {}
    for line in lines:
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            if not d.get("total"):
                out[key(d)] = d
    return out


def keep_min(best, new):
    """best[shape][field] = min over rounds of every *_ms field."""
    for k, d in new.items():
        b = best.setdefault(k, dict(d))
        for f, v in d.items():
            if f.endswith("_ms"):
                b[f] = min(b[f], v)


def compare(ours, rows, metric):
    """Per shape and per network (each shape times its count): maxdrop / PyTorch,
    with the times named by metric: ms (median wall), min_ms, cpu_ms."""
    fk, bk = f"fwd_{metric}", f"bwd_{metric}"
    print(f"ratio = maxdrop {metric} / PyTorch {metric} (below 1: maxdrop is faster)")
    sums = {}
    for t in rows:
        o = ours.get(key(t))
        if not o:
            continue
        print(f"  {t['net']:9s} {t['in_c']:3d}->{t['out_c']:3d} {t['hw']:2d}x{t['hw']:<2d} "
              f"k{t['k']} s{t['stride']}  x{t['count']}:  fwd {o[fk]:8.2f} / "
              f"{t[fk]:8.2f} = {o[fk] / t[fk]:.2f}   bwd {o[bk]:8.2f} "
              f"/ {t[bk]:8.2f} = {o[bk] / t[bk]:.2f}")
        s = sums.setdefault(t["net"], [0.0, 0.0, 0.0, 0.0])
        s[0] += t["count"] * o[fk]
        s[1] += t["count"] * t[fk]
        s[2] += t["count"] * o[bk]
        s[3] += t["count"] * t[bk]
    for net, (mf, tf, mb, tb) in sums.items():
        print(f"  {net} per step: fwd {mf:.0f} / {tf:.0f} = {mf / tf:.2f}, "
              f"bwd {mb:.0f} / {tb:.0f} = {mb / tb:.2f}, "
              f"total {mf + mb:.0f} / {tf + tb:.0f} = {(mf + mb) / (tf + tb):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--net", default="all", choices=["resnet18", "wrn16-4", "all"])
    ap.add_argument("--threads", type=int,
                    default=int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count())
    ap.add_argument("--compare", metavar="MAXDROP_JSONL")
    ap.add_argument("--metric", default="ms", choices=["ms", "min_ms", "cpu_ms"],
                    help="times compared: median wall (ms), minimum wall, median CPU")
    ap.add_argument("--driver", metavar="DRIVER_CONV_BENCH",
                    help="run this maxdrop driver and PyTorch in alternate rounds, compare")
    ap.add_argument("--rounds", type=int, default=3, help="rounds with --driver")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.driver:
        # alternate rounds of maxdrop and PyTorch; the smallest time of each
        best_md, best_pt = {}, {}
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        for _ in range(args.rounds):
            p = subprocess.run([args.driver, "--net", args.net, "--batch", str(args.batch),
                                "--reps", str(args.reps)], env=env, capture_output=True,
                               text=True, check=True)
            keep_min(best_md, read_lines(p.stdout.splitlines()))
            rows, _ = bench(args)
            keep_min(best_pt, {key(r): r for r in rows})
        rows = [best_pt[key(r)] for r in rows]
        compare(best_md, rows, args.metric)
        return
    rows, _ = bench(args)
    if args.compare:
        with open(args.compare) as f:
            compare(read_lines(f), rows, args.metric)


if __name__ == "__main__":
    main()
