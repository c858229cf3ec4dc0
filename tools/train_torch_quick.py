#!/usr/bin/python3
"""The quick protocol of 'maxdrop train --preset quick', trained with PyTorch.

An independent implementation of the same experiment, to compare maxdrop's
accuracy with PyTorch's: the model definitions come from
tools/checkpoint_torch.py (the reference code's CIFAR ResNet-18 and its
MaxDropout: min-max over the whole tensor, drop where q > 1 - rate, training
mode only); the data pipeline and the training loop are written here:

  - data: CIFAR-10 binary files, the first --limit-train training images and
    the first --limit-test test images (0 = all), in file order;
  - augmentation (training only): zero-pad 4, random 32x32 crop, horizontal
    flip with probability 0.5, then x/255 and per-channel normalisation with
    mean (125.3, 123.0, 113.9)/255 and std (63.0, 62.1, 66.7)/255;
  - SGD momentum 0.9, Nesterov, weight decay 5e-4 on every parameter;
    MultiStepLR stepped once per epoch (standard PyTorch use);
  - cross-entropy; test accuracy after every epoch.

The random numbers are PyTorch's and NumPy's, not maxdrop's: runs agree in
distribution, not bit for bit. Defaults are the quick preset's values (see
docs/TRAINING.md); every option can be changed.

Usage:
  tools/train_torch_quick.py [--reg none|maxdropout] [--seed S] [--out FILE.csv] ...
Writes one CSV row per epoch (epoch,lr,train_loss,train_acc,test_loss,test_acc,
seconds) and prints progress on stderr.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checkpoint_torch import ResNet18  # noqa: E402

MEAN = np.array([125.3, 123.0, 113.9], dtype=np.float64) / 255.0
STD = np.array([63.0, 62.1, 66.7], dtype=np.float64) / 255.0


def find_data(explicit):
    cands = [explicit] if explicit else [os.environ.get("MAXDROP_DATA"), "./data",
                                         "../shared/data"]
    for c in cands:
        if not c:
            continue
        for sub in ("cifar-10-batches-bin", ""):
            d = os.path.join(c, sub)
            if os.path.exists(os.path.join(d, "test_batch.bin")):
                return d
    sys.exit(f"train_torch_quick.py: no cifar-10-batches-bin found in {cands}")


def read_batches(folder, names):
    recs = [np.fromfile(os.path.join(folder, n), dtype=np.uint8).reshape(-1, 3073)
            for n in names]
    r = np.concatenate(recs)
    return r[:, 1:].reshape(-1, 3, 32, 32), r[:, 0].astype(np.int64)


def normalise(x_uint8):
    """(n, 3, 32, 32) uint8 -> float32, as ToTensor + Normalize compute it."""
    x = torch.from_numpy(x_uint8).float().div_(255.0)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


def augment(x, rng):
    """Random crop with zero padding 4 and random horizontal flip, per image."""
    n = x.shape[0]
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = x
    dy = rng.integers(0, 9, size=n)
    dx = rng.integers(0, 9, size=n)
    flip = rng.random(n) < 0.5
    out = np.empty_like(x)
    for i in range(n):
        img = padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32]
        out[i] = img[:, :, ::-1] if flip[i] else img
    return out


def evaluate(model, x, y, batch):
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            xb = normalise(x[i:i + batch])
            yb = torch.from_numpy(y[i:i + batch])
            out = model(xb)
            loss_sum += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(1) == yb).sum().item()
    return loss_sum / len(y), correct / len(y)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="folder holding cifar-10-batches-bin/")
    ap.add_argument("--reg", choices=["none", "maxdropout"], default="maxdropout")
    ap.add_argument("--drop", type=float, default=0.3, help="MaxDropout rate")
    ap.add_argument("--width", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--learning-rate", type=float, default=0.05)
    ap.add_argument("--milestones", default="5,8")
    ap.add_argument("--gamma", type=float, default=0.2)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--limit-train", type=int, default=10000)
    ap.add_argument("--limit-test", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="CSV file of per-epoch results")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    folder = find_data(a.data)
    xtr, ytr = read_batches(folder, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = read_batches(folder, ["test_batch.bin"])
    if a.limit_train > 0:
        xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
    if a.limit_test > 0:
        xte, yte = xte[:a.limit_test], yte[:a.limit_test]

    model = ResNet18(width=a.width, num_classes=10,
                     maxdrop_rate=a.drop if a.reg == "maxdropout" else 0.0)
    opt = torch.optim.SGD(model.parameters(), lr=a.learning_rate, momentum=a.momentum,
                          nesterov=True, weight_decay=a.weight_decay)
    milestones = [int(m) for m in a.milestones.split(",") if m]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=a.gamma)
    crit = nn.CrossEntropyLoss()

    rows = []
    writer_file = open(a.out, "w", newline="") if a.out else None
    writer = csv.writer(writer_file) if writer_file else None
    if writer:
        writer.writerow(["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
                         "seconds"])
    for epoch in range(a.epochs):
        t0 = time.time()
        lr = opt.param_groups[0]["lr"]
        model.train()
        perm = rng.permutation(len(ytr))
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(perm), a.batch_size):
            idx = perm[i:i + a.batch_size]
            xb = normalise(augment(xtr[idx], rng))
            yb = torch.from_numpy(ytr[idx])
            opt.zero_grad()
            out = model(xb)
            loss = crit(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
        sched.step()
        test_loss, test_acc = evaluate(model, xte, yte, 500)
        row = [epoch + 1, lr, loss_sum / seen, correct / seen, test_loss, test_acc,
               round(time.time() - t0, 3)]
        rows.append(row)
        if writer:
            writer.writerow(row)
            writer_file.flush()
        print(f"epoch {epoch + 1}/{a.epochs}: lr {lr:.4g} train loss {row[2]:.4f} acc "
              f"{100 * row[3]:.2f}% test loss {test_loss:.4f} acc {100 * test_acc:.2f}% "
              f"{row[6]:.1f} s", file=sys.stderr, flush=True)
    if writer_file:
        writer_file.close()
    print(f"final test error {100 * (1 - rows[-1][5]):.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
