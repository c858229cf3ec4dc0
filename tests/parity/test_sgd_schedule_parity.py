"""maxdrop's SGD and MultiStepLR against PyTorch's torch.optim.SGD (foreach=False)
and torch.optim.lr_scheduler.MultiStepLR.

SGD: 20 steps on random parameters and gradients, for every combination of
momentum {0, 0.9}, weight decay {0, 5e-4} and Nesterov {off, on} (Nesterov
needs momentum), plus dampening and a changing learning rate. The parameters
of several PyTorch tensors of different sizes (vectorised body and scalar tail
of PyTorch's kernels) are one contiguous buffer on maxdrop's side. Expected:
BIT-IDENTICAL parameters and momentum buffers after every step. Both sides do
the same float32 operations in the same order, and both fuse `a + alpha * b`
into one rounding (PyTorch's AVX2/AVX-512 kernels use FMA, maxdrop uses fmaf);
this needs PyTorch to run those kernels, which the test checks first. On a
CPU where PyTorch falls back to its non-FMA kernels the results may differ by
rounding, so the test then accepts a few ulp (and says so).

MultiStepLR: 200 epochs, milestones 60, 120, 160, gamma 0.2, base 0.1, in the
standard mode (scheduler.step() after each epoch) and the reference code's
mode (scheduler.step(epoch) at the end of each epoch); plus unsorted,
repeated and zero milestones. Expected: every epoch's learning rate equal as
a double.
"""
import os
import warnings

import numpy as np
import torch

import mdparity as mp

tmp = mp.tmpdir()
capability = next((line.split(":", 1)[1].strip()
                   for line in torch.__config__.show().splitlines()
                   if "CPU capability usage" in line), "unknown")
fma_kernels = capability in ("AVX2", "AVX512")
print(f"PyTorch CPU capability: {capability}; expecting "
      f"{'bit-identical results' if fma_kernels else 'agreement within a few ulp'}")

# ---------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------
SHAPES = [(16, 3, 3, 3), (16,), (16,), (37,), (10, 64), (10,), (5,)]  # 1156 elements
STEPS = 20


def torch_sgd(p0, grads, lrs, momentum, dampening, wd, nesterov):
    """Runs torch.optim.SGD; returns (steps, n) parameters and momentum buffers."""
    params, off = [], 0
    for shp in SHAPES:
        k = int(np.prod(shp))
        params.append(torch.nn.Parameter(torch.from_numpy(p0[off:off + k].reshape(shp).copy())))
        off += k
    opt = torch.optim.SGD(params, lr=lrs[0], momentum=momentum, dampening=dampening,
                          weight_decay=wd, nesterov=nesterov, foreach=False)
    out_p, out_m = [], []
    for s in range(len(lrs)):
        off = 0
        for prm in params:
            k = prm.numel()
            prm.grad = torch.from_numpy(grads[s, off:off + k].reshape(prm.shape).copy())
            off += k
        opt.param_groups[0]["lr"] = lrs[s]
        opt.step()
        out_p.append(np.concatenate([prm.detach().numpy().ravel() for prm in params]))
        if momentum != 0:
            out_m.append(np.concatenate(
                [opt.state[prm]["momentum_buffer"].numpy().ravel() for prm in params]))
        else:
            out_m.append(np.zeros_like(out_p[-1]))
    return np.stack(out_p), np.stack(out_m)


def ulp_diff(a, b):
    """Distance in float32 units in the last place (monotone integer mapping)."""
    def key(x):
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return np.abs(key(a) - key(b))


rng = np.random.default_rng(20240501)
n = sum(int(np.prod(s)) for s in SHAPES)
configs = []
for momentum in (0.0, 0.9):
    for wd in (0.0, 5e-4):
        for nesterov in (False, True):
            if nesterov and momentum == 0:
                continue
            configs.append((momentum, 0.0, wd, nesterov, "step"))
configs.append((0.9, 0.1, 5e-4, False, "step"))     # dampening
configs.append((0.9, 0.0, 5e-4, True, "const"))      # the reference recipe, lr 0.1 throughout
configs.append((0.5, 0.0, 1e-2, True, "large"))      # large lr / decay: visible updates

for momentum, dampening, wd, nesterov, lr_kind in configs:
    p0 = rng.standard_normal(n).astype(np.float32)
    # gradients of different magnitudes, with exact zeros mixed in
    grads = (rng.standard_normal((STEPS, n)) *
             10.0 ** rng.integers(-4, 2, size=(STEPS, n))).astype(np.float32)
    grads[rng.random((STEPS, n)) < 0.05] = 0.0
    p0[rng.random(n) < 0.05] = 0.0
    if lr_kind == "step":
        lrs = [0.1] * 10 + [0.1 * 0.2] * 10
    elif lr_kind == "const":
        lrs = [0.1] * STEPS
    else:
        lrs = [0.9] * STEPS
    name = (f"SGD momentum={momentum} dampening={dampening} wd={wd} nesterov={nesterov} "
            f"lr={lr_kind}")
    p0_path = os.path.join(tmp, "p0.npy")
    g_path = os.path.join(tmp, "g.npy")
    op = os.path.join(tmp, "out_p.npy")
    om = os.path.join(tmp, "out_m.npy")
    np.save(p0_path, p0)
    np.save(g_path, grads)
    mp.driver("driver_optim", "sgd", p0_path, g_path, op, om, repr(momentum), repr(dampening),
              repr(wd), int(nesterov), ",".join(repr(x) for x in lrs))
    got_p, got_m = np.load(op), np.load(om)
    want_p, want_m = torch_sgd(p0, grads, lrs, momentum, dampening, wd, nesterov)
    if fma_kernels:
        for s in range(STEPS):
            mp.check_identical(f"{name}: parameters after step {s + 1}", got_p[s], want_p[s])
            mp.check_identical(f"{name}: momentum after step {s + 1}", got_m[s], want_m[s])
    else:
        d = max(int(ulp_diff(got_p, want_p).max()), int(ulp_diff(got_m, want_m).max()))
        mp.check(d <= 8, f"{name}: {d} ulp apart from PyTorch's non-FMA kernels (limit 8)")
    # The updates must actually move the parameters (a no-op would be caught).
    mp.check(np.abs(want_p[-1] - p0).max() > 1e-3, f"{name}: PyTorch moved the parameters")

# ---------------------------------------------------------------------------
# MultiStepLR
# ---------------------------------------------------------------------------


def torch_schedule(base, milestones, gamma, epochs, mode):
    prm = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([prm], lr=base, momentum=0.9)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=gamma)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated but still honoured
        for epoch in range(epochs):
            out.append(opt.param_groups[0]["lr"])  # the lr this epoch trains with
            opt.step()
            if mode == "standard":
                sched.step()
            else:
                sched.step(epoch)  # the reference code, at the end of the epoch
    return out


for base, milestones, gamma, epochs in [(0.1, [60, 120, 160], 0.2, 200),
                                        (0.05, [30, 0, 30, 10], 0.1, 50),
                                        (0.1, [], 0.2, 5)]:
    for mode in ("standard", "reference"):
        want = torch_schedule(base, milestones, gamma, epochs, mode)
        out = mp.driver("driver_optim", "lr", mode, repr(base), repr(gamma), epochs,
                        ",".join(str(m) for m in milestones)).stdout.split()
        got = [float(x) for x in out]
        name = f"MultiStepLR {mode} base={base} milestones={milestones} gamma={gamma}"
        if len(got) != epochs:
            mp.check(False, f"{name}: {len(got)} values for {epochs} epochs")
            continue
        bad = [e for e in range(epochs) if got[e] != want[e]]
        mp.check(not bad, f"{name}: {len(bad)} epochs differ" +
                 (f"; first epoch {bad[0]}: got {got[bad[0]]!r}, want {want[bad[0]]!r}"
                  if bad else ""))

# The reference code's step(epoch) shifts each decay one epoch later (PyTorch's
# own values, REFERENCE.md section 3).
std = torch_schedule(0.1, [60, 120, 160], 0.2, 200, "standard")
ref = torch_schedule(0.1, [60, 120, 160], 0.2, 200, "reference")
mp.check([e for e in range(1, 200) if std[e] != std[e - 1]] == [60, 120, 160],
         "PyTorch standard mode decays at epochs 60, 120, 160")
mp.check([e for e in range(1, 200) if ref[e] != ref[e - 1]] == [61, 121, 161],
         "PyTorch reference mode decays at epochs 61, 121, 161")

mp.finish()
