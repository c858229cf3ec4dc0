#!/usr/bin/python3
"""PyTorch's figures for `maxdrop bench loader`: the reference code's data
pipeline on the same CIFAR-10 training images, timed the same way.

Training mode is the reference train.py's transform, applied per image by a
torch.utils.data.DataLoader (batch --batch, shuffle, num_workers 0, so one
process like maxdrop's loader thread without prefetching):
transforms.Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(),
ToTensor(), Normalize(mean, std)]) on PIL images; evaluation mode is
ToTensor + Normalize. One warm-up epoch, then the median of --epochs.
Prints one JSON object per mode, with the keys of `maxdrop bench loader`.

usage: /usr/bin/python3 tools/bench_loader_torch.py [--data DIR] [--batch B]
       [--epochs E] [--limit N] [--threads T]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_torch_quick import MEAN, STD, find_data  # noqa: E402


class Images(torch.utils.data.Dataset):
    def __init__(self, x, y, tf):
        self.x, self.y, self.tf = x, y, tf

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.tf(Image.fromarray(self.x[i])), int(self.y[i])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--data", default=None)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.batch < 1 or a.epochs < 1 or a.limit < 0 or a.threads < 1:
        ap.error("--batch, --epochs and --threads must be >= 1, --limit >= 0")
    torch.set_num_threads(a.threads)
    folder = find_data(a.data)
    recs = np.concatenate([np.fromfile(os.path.join(folder, f"data_batch_{i}.bin"),
                                       dtype=np.uint8).reshape(-1, 3073) for i in range(1, 6)])
    if a.limit:
        recs = recs[:a.limit]
    x = recs[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()  # HWC for PIL
    y = recs[:, 0].astype(np.int64)
    norm = [transforms.ToTensor(), transforms.Normalize(MEAN.tolist(), STD.tolist())]
    modes = {
        "train": transforms.Compose([transforms.RandomCrop(32, padding=4),
                                     transforms.RandomHorizontalFlip()] + norm),
        "eval": transforms.Compose(norm),
    }
    torch.manual_seed(1)
    for mode, tf in modes.items():
        dl = torch.utils.data.DataLoader(Images(x, y, tf), batch_size=a.batch,
                                         shuffle=mode == "train", num_workers=0)
        times, checksum = [], 0.0
        for e in range(-1, a.epochs):
            t0 = time.perf_counter()
            for xb, _ in dl:
                checksum += float(xb[0, 0, 0, 0])
            if e >= 0:
                times.append(time.perf_counter() - t0)
        epoch = statistics.median(times)
        n = len(y)
        print(json.dumps({"name": "loader", "impl": "pytorch", "torch": torch.__version__,
                          "mode": mode, "images": n, "batch": a.batch, "epochs": a.epochs,
                          "num_workers": 0, "epoch_median_s": round(epoch, 4),
                          "images_per_s": round(n / epoch),
                          "ms_per_batch": round(1e3 * epoch / ((n + a.batch - 1) // a.batch), 3),
                          "checksum": round(checksum, 4)}), flush=True)


if __name__ == "__main__":
    main()
