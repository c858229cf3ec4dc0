#!/usr/bin/python3
"""Checks on maxdrop run folders and checkpoints, for the CLI tests.

  run_files_check.py same-tensors A.safetensors B.safetensors
      every tensor of A is in B with the same dtype, shape and bytes, and
      the reverse (parameters, statistics, counters, momentum, random streams)
  run_files_check.py same-metrics A/metrics.csv B/metrics.csv
      the same rows, every column but 'seconds' compared as text
  run_files_check.py run-folder DIR EPOCHS
      config.json and summary.json parse, metrics.csv has EPOCHS rows with
      finite numbers in range, the checkpoint is a valid safetensors file
      whose metadata says EPOCHS epochs; prints the first and last train loss
  run_files_check.py meta FILE KEY
      prints the metadata value KEY of a safetensors file
Exit status 1 with a message on any difference.
"""
import csv
import json
import math
import struct
import sys


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def read_st(path):
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail(f"{path}: too short")
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    tensors = {}
    end = 0
    for name, e in header.items():
        b, x = e["data_offsets"]
        tensors[name] = (e["dtype"], tuple(e["shape"]), data[b:x])
        end = max(end, x)
    if end != len(data):
        fail(f"{path}: data section is {len(data)} bytes, tensors end at {end}")
    return tensors, meta


def same_tensors(a, b):
    ta, _ = read_st(a)
    tb, _ = read_st(b)
    if set(ta) != set(tb):
        fail(f"tensor names differ: only in {a}: {sorted(set(ta) - set(tb))[:5]}, "
             f"only in {b}: {sorted(set(tb) - set(ta))[:5]}")
    for name in ta:
        if ta[name][:2] != tb[name][:2]:
            fail(f"{name}: {ta[name][:2]} vs {tb[name][:2]}")
        if ta[name][2] != tb[name][2]:
            ra, rb = ta[name][2], tb[name][2]
            k = next(i for i in range(len(ra)) if ra[i] != rb[i])
            fail(f"{name} ({ta[name][0]} {list(ta[name][1])}): bytes differ from byte {k}")
    print(f"same tensors: {len(ta)} tensors identical")


def read_metrics(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["epoch", "lr", "train_loss", "train_acc", "test_loss",
                               "test_acc", "seconds"]:
        fail(f"{path}: bad header {rows[:1]}")
    return rows


def same_metrics(a, b):
    ra, rb = read_metrics(a), read_metrics(b)
    if len(ra) != len(rb):
        fail(f"{a} has {len(ra) - 1} rows, {b} {len(rb) - 1}")
    for x, y in zip(ra[1:], rb[1:]):
        if x[:6] != y[:6]:
            fail(f"rows differ:\n  {x}\n  {y}")
    print(f"same metrics: {len(ra) - 1} rows identical (seconds aside)")


def run_folder(d, epochs):
    cfg = json.load(open(f"{d}/config.json"))
    for k in ("dataset", "model", "epochs", "batch_size", "learning_rate", "seed", "reg",
              "milestones"):
        if k not in cfg:
            fail(f"config.json lacks {k}")
    summ = json.load(open(f"{d}/summary.json"))
    if summ.get("status") != "finished" or summ.get("epochs_completed") != epochs:
        fail(f"summary.json: {summ.get('status')}, {summ.get('epochs_completed')} epochs")
    rows = read_metrics(f"{d}/metrics.csv")[1:]
    if len(rows) != epochs:
        fail(f"metrics.csv has {len(rows)} rows, expected {epochs}")
    for i, r in enumerate(rows):
        v = [float(x) for x in r]
        if int(v[0]) != i + 1 or not all(math.isfinite(x) for x in v):
            fail(f"metrics.csv row {i + 1}: {r}")
        if not (0 <= v[3] <= 1 and 0 <= v[5] <= 1 and v[2] > 0 and v[4] > 0 and v[6] >= 0):
            fail(f"metrics.csv row {i + 1} out of range: {r}")
    if abs(summ["final_test_acc"] - float(rows[-1][5])) > 0:
        fail("summary.json final_test_acc differs from the last metrics row")
    t, meta = read_st(f"{d}/checkpoint.safetensors")
    if meta.get("format") != "maxdrop" or meta.get("epoch") != str(epochs):
        fail(f"checkpoint metadata: format {meta.get('format')}, epoch {meta.get('epoch')}")
    if "config" not in meta or json.loads(meta["config"])["epochs"] != cfg["epochs"]:
        fail("checkpoint lacks the run configuration")
    hist = json.loads(meta["trainer.history"])
    if len(hist) != epochs:
        fail(f"checkpoint history has {len(hist)} epochs")
    print(f"run folder ok: {epochs} epochs, train loss {rows[0][2]} -> {rows[-1][2]}, "
          f"test acc {rows[-1][5]}")
    print(f"FIRST_LOSS={rows[0][2]} LAST_LOSS={rows[-1][2]} LAST_ACC={rows[-1][5]}")


def main(argv):
    if len(argv) == 4 and argv[1] == "same-tensors":
        same_tensors(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "same-metrics":
        same_metrics(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "run-folder":
        run_folder(argv[2], int(argv[3]))
    elif len(argv) == 4 and argv[1] == "meta":
        print(read_st(argv[2])[1].get(argv[3], ""))
    else:
        fail("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv)
