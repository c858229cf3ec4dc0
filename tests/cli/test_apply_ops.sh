#!/usr/bin/env bash
# maxdrop apply cutout / random-erasing end to end: masks broadcast over the
# channels, output and gradient follow the mask, 3-D input is one image,
# evaluation is the identity, the seed decides the result.
set -u
BIN=${MAXDROP_BIN:?MAXDROP_BIN is not set}
PY=${MD_PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$PY" - "$BIN" "$T" <<'PYEOF'
import subprocess, sys
import numpy as np

BIN, T = sys.argv[1], sys.argv[2]
fails = []
checks = 0


def check(cond, msg):
    global checks
    checks += 1
    if not cond:
        fails.append(msg)
        print("FAIL:", msg)


def apply(op, x, *opts):
    np.save(f"{T}/x.npy", x)
    np.save(f"{T}/dy.npy", dy_for(x))
    p = subprocess.run([BIN, "apply", op, "--in", f"{T}/x.npy", "--out", f"{T}/y.npy",
                        "--mask-out", f"{T}/m.npy", "--grad-in", f"{T}/dy.npy",
                        "--grad-out", f"{T}/dx.npy", *opts], capture_output=True, text=True)
    check(p.returncode == 0, f"apply {op} {opts}: exit {p.returncode}: {p.stderr}")
    if p.returncode:
        return None
    return [np.load(f"{T}/{n}.npy") for n in ("y", "m", "dx")]


rng = np.random.default_rng(1)
def dy_for(x):
    return np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)


x4 = (rng.random((6, 3, 12, 10)) + 1).astype(np.float32)  # never 0
x3 = (rng.random((3, 12, 10)) + 1).astype(np.float32)
cases = [
    ("cutout", ("--length", "6", "--n-holes", "2")),
    ("random-erasing", ("--probability", "1", "--fill", "zero")),
    ("random-erasing", ("--probability", "1", "--fill", "value", "--value", "0.5,-1,2")),
    ("random-erasing", ("--probability", "1", "--fill", "value", "--value", "7")),
    ("random-erasing", ("--probability", "1", "--scale", "0.1,0.2", "--ratio", "0.5,2",
                        "--attempts", "5")),
    ("random-erasing", ("--probability", "1",)),  # random fill
]
for op, opts in cases:
    for x in (x4, x3):
        r = apply(op, x, "--seed", "5", *opts)
        if r is None:
            continue
        y, m, dx = r
        name = f"{op} {' '.join(opts)} on {x.shape}"
        check(m.dtype == np.uint8 and m.shape == x.shape, f"{name}: mask {m.dtype}{m.shape}")
        c = 1 if x.ndim == 4 else 0
        check(bool(np.all(m == m.take([0], axis=c))), f"{name}: mask differs between channels")
        check(0 < m.mean() < 1, f"{name}: mask mean {m.mean()}")
        check(np.array_equal(y[m == 1], x[m == 1]), f"{name}: kept values changed")
        check(np.array_equal(dx, np.where(m == 1, dy_for(x), np.float32(0))),
              f"{name}: gradient is not dy on kept elements and 0 elsewhere")
        erased = y[m == 0]
        if "zero" in opts or op == "cutout":
            check(bool(np.all(erased == 0)), f"{name}: erased values not 0")
        elif "value" in opts:
            vals = [float(v) for v in opts[opts.index("--value") + 1].split(",")]
            want = np.broadcast_to(np.array(vals * (3 // len(vals)), np.float32).reshape(
                (3, 1, 1) if x.ndim == 3 else (1, 3, 1, 1)), x.shape)
            check(np.array_equal(y[m == 0], want[m == 0]), f"{name}: erased values not the fill")
        else:
            check(bool(np.all(np.abs(erased) < 10)) and erased.std() > 0.5,
                  f"{name}: random fill looks wrong (std {erased.std()})")
        again = apply(op, x, "--seed", "5", *opts)
        other = apply(op, x, "--seed", "6", *opts)
        if again and other:
            check(np.array_equal(again[0], y), f"{name}: same seed, different result")
            check(not np.array_equal(other[1], m), f"{name}: seeds 5 and 6 give one mask")
    r = apply(op, x4, "--eval", *opts)
    if r:
        check(np.array_equal(r[0], x4) and bool(np.all(r[1] == 1)) and
              np.array_equal(r[2], dy_for(x4)), f"{op} --eval is not the identity")

print(f"{checks - len(fails)} passed, {len(fails)} failed")
sys.exit(1 if fails else 0)
PYEOF
