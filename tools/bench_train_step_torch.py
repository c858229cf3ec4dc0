#!/usr/bin/python3
"""PyTorch's figures for `maxdrop bench train-step`: the same model, batch and
thread count, timed and measured the same way.

One training step: optimizer.zero_grad(), forward in training mode,
F.cross_entropy, backward, SGD step (lr 0.1, momentum 0.9, Nesterov, weight
decay 5e-4). One evaluation forward: model.eval() under torch.no_grad(). The
input is a fixed batch of standard-normal values and random labels; one
warm-up of each precedes the timed runs and medians are reported. The models
are tools/checkpoint_torch.py's (the reference code's ResNet-18 and
Wide-ResNet; --reg maxdropout puts the reference MaxDropout module after each
stage / inside each block). Peak resident memory: the kernel's high-water mark
of the whole process (resource.getrusage ru_maxrss, i.e. VmHWM), taken after
the timed runs; baseline_rss_mb is the resident memory just before the model
is built (after importing torch). Prints one JSON object.

usage: /usr/bin/python3 tools/bench_train_step_torch.py [--model resnet18|wrn]
       [--width W] [--depth D] [--widen K] [--classes C] [--batch B]
       [--threads N] [--steps S] [--reg none|maxdropout|dropout] [--rate R]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_torch as ct  # noqa: E402


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("resnet18", "wrn"), default="resnet18")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=28)
    ap.add_argument("--widen", type=int, default=10)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--reg", choices=("none", "maxdropout", "dropout"), default="none")
    ap.add_argument("--rate", type=float, default=0.3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    baseline = rss_now_mb()
    if a.model == "resnet18":
        if a.reg == "dropout":
            ap.error("the reference ResNet-18 has no Dropout variant")
        model = ct.ResNet18(width=a.width, num_classes=a.classes,
                            maxdrop_rate=a.rate if a.reg == "maxdropout" else 0.0)
    else:
        model = ct.WideResNet(depth=a.depth, widen_factor=a.widen, num_classes=a.classes,
                              drop=a.reg, rate=a.rate if a.reg != "none" else 0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    g = torch.Generator().manual_seed(2026)
    x = torch.randn(a.batch, 3, 32, 32, generator=g)
    y = torch.randint(0, a.classes, (a.batch,), generator=g)
    ts, tf, tb, te = [], [], [], []
    model.train()
    for s in range(a.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if s > 0:
            tf.append(t1 - t0)
            tb.append(t2 - t1)
            ts.append(t3 - t0)
    model.eval()
    with torch.no_grad():
        for s in range(a.steps + 1):
            t0 = time.perf_counter()
            model(x)
            if s > 0:
                te.append(time.perf_counter() - t0)
    step, ev = statistics.median(ts), statistics.median(te)
    out = {"name": "train_step", "impl": "pytorch", "torch": torch.__version__,
           "model": a.model}
    if a.model == "resnet18":
        out["width"] = a.width
    else:
        out.update(depth=a.depth, widen=a.widen)
    out.update(reg=a.reg, classes=a.classes, batch=a.batch, threads=torch.get_num_threads(),
               steps=a.steps, params=sum(p.numel() for p in model.parameters()),
               train_step_median_s=round(step, 4),
               train_forward_median_s=round(statistics.median(tf), 4),
               train_backward_median_s=round(statistics.median(tb), 4),
               eval_forward_median_s=round(ev, 4),
               train_images_per_s=round(a.batch / step, 2),
               eval_images_per_s=round(a.batch / ev, 2),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
               baseline_rss_mb=round(baseline, 1), last_loss=round(loss.item(), 6))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
