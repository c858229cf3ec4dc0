"""Conv2d and Linear against PyTorch: forward output and every gradient.

PyTorch computes the reference in float64 (torch.nn.functional.conv2d /
linear and autograd) from the same float32 inputs that maxdrop gets; maxdrop
runs in float32 (tests/parity/driver_layers_conv.c). Tolerance, for every
tensor, both of:
  - norm-relative error   ||got - want||_2 / ||want||_2 <= 1e-5
  - element-wise          |got - want| <= 1e-5 * max|want| + 1e-4 * |want|
and the reference must not be all zeros. float32 rounding gives errors near
1e-7 relative here; a wrong index, a missing term or a wrong sign gives errors
of order 1.

Every convolution runs with each algorithm that applies to it (im2col + GEMM
always, Winograd F(2x2, 3x3) for 3x3 stride-1 kernels, and the automatic
choice). Also checked: gradients ACCUMULATE (start from random dx0/dw0/db0, run
backward twice: want = init + 2 * grad), dx = NULL works and leaves dweight /
dbias right, and the results are bit-identical with 1 and 2 threads.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

import mdparity as mp

NORM_RTOL = 1e-5
ELEM_RTOL = 1e-4
ELEM_ATOL_OF_MAX = 1e-5

rng = np.random.default_rng(20240611)


def check_rel(name, got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        mp.check(False, f"{name}: shape {got.shape} != {want.shape}")
        return
    wnorm = np.linalg.norm(want)
    if not wnorm > 0:
        mp.check(False, f"{name}: the reference is all zeros; the test would prove nothing")
        return
    rel = np.linalg.norm(got - want) / wnorm
    err = np.abs(got - want)
    tol = ELEM_ATOL_OF_MAX * np.abs(want).max() + ELEM_RTOL * np.abs(want)
    bad = ~(err <= tol)
    if not rel <= NORM_RTOL:
        mp.check(False, f"{name}: norm-relative error {rel:.3g} > {NORM_RTOL}")
    elif bad.any():
        i = np.flatnonzero(bad)[0]
        mp.check(False, f"{name}: {int(bad.sum())} of {bad.size} elements out of tolerance; "
                 f"first at flat index {i}: got {got.reshape(-1)[i]!r}, "
                 f"want {want.reshape(-1)[i]!r}")
    else:
        mp.check(True, name)
    return rel


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def save(d, name, a):
    np.save(os.path.join(d, name), np.ascontiguousarray(a, dtype=np.float32))


def load(d, name):
    return np.load(os.path.join(d, name))


def reference(kind, x, w, b, dy, conv_args):
    """float64 forward output and gradients (dx, dw, db) from PyTorch."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b is not None else None
    if kind == "conv":
        stride, pad = conv_args
        y = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    else:
        y = F.linear(xt, wt, bt)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(),
            bt.grad.numpy() if bt is not None else None)


def run_case(kind, name, x, w, b, args, out_shape, opts=()):
    """All checks of one layer configuration. args: the driver's layer
    arguments; opts: driver options added to every run (e.g. --algo)."""
    args = list(args)
    extra = list(opts)
    conv_args = (args[4], args[5]) if kind == "conv" else None
    args = args + extra
    dy = f32(*out_shape)
    y_ref, dx_ref, dw_ref, db_ref = reference(kind, x, w, b, dy, conv_args)
    d = mp.tmpdir()
    save(d, "x.npy", x)
    save(d, "w.npy", w)
    if b is not None:
        save(d, "b.npy", b)
    save(d, "dy.npy", dy)
    has_bias = b is not None

    # 1. plain: forward and one backward from zero gradients
    p = mp.driver("driver_layers_conv", kind, d, *args)
    if p.returncode != 0:
        return
    check_rel(f"{name}: y", load(d, "y.npy"), y_ref)
    check_rel(f"{name}: dx", load(d, "dx.npy"), dx_ref)
    check_rel(f"{name}: dw", load(d, "dw.npy"), dw_ref)
    if has_bias:
        check_rel(f"{name}: db", load(d, "db.npy"), db_ref)
    plain = {k: load(d, f"{k}.npy") for k in (["y", "dx", "dw"] + (["db"] if has_bias else []))}

    # 2. thread count: bit-identical with one thread
    p = mp.driver("driver_layers_conv", kind, d, *args, "--threads", "1")
    if p.returncode == 0:
        for k, v in plain.items():
            mp.check_identical(f"{name}: {k} with 1 thread == with 2 threads",
                               load(d, f"{k}.npy"), v)

    # 3. accumulation: random initial gradients, backward called twice
    dx0 = f32(*x.shape)
    dw0 = f32(*w.shape)
    save(d, "dx0.npy", dx0)
    save(d, "dw0.npy", dw0)
    if has_bias:
        db0 = f32(*b.shape)
        save(d, "db0.npy", db0)
    p = mp.driver("driver_layers_conv", kind, d, *args, "--calls", "2")
    if p.returncode == 0:
        check_rel(f"{name}: dx0 + 2 dx (accumulates)", load(d, "dx.npy"),
                  dx0.astype(np.float64) + 2 * dx_ref)
        check_rel(f"{name}: dw0 + 2 dw (accumulates)", load(d, "dw.npy"),
                  dw0.astype(np.float64) + 2 * dw_ref)
        if has_bias:
            check_rel(f"{name}: db0 + 2 db (accumulates)", load(d, "db.npy"),
                      db0.astype(np.float64) + 2 * db_ref)

    # 4. dx = NULL: the other gradients are unchanged, no dx is written
    for f in ("dx0.npy", "dw0.npy", "db0.npy", "dx.npy", "dw.npy", "db.npy"):
        if os.path.exists(os.path.join(d, f)):
            os.remove(os.path.join(d, f))
    p = mp.driver("driver_layers_conv", kind, d, *args, "--no-dx")
    if p.returncode == 0:
        mp.check(not os.path.exists(os.path.join(d, "dx.npy")), f"{name}: no dx with --no-dx")
        mp.check_identical(f"{name}: dw with dx = NULL", load(d, "dw.npy"), plain["dw"])
        if has_bias:
            mp.check_identical(f"{name}: db with dx = NULL", load(d, "db.npy"), plain["db"])


def conv_case(n, c, h, w, oc, kh, kw, stride, pad, bias):
    """Runs with each algorithm that applies: im2col always, Winograd for 3x3
    stride 1, and the automatic choice."""
    algos = ["im2col", "auto"]
    if kh == 3 and kw == 3 and stride == 1:
        algos.insert(1, "winograd")
    for algo in algos:
        name = (f"conv[{algo}] N{n} {c}->{oc} {h}x{w} k{kh}x{kw} s{stride} p{pad} "
                f"{'bias' if bias else 'no bias'}")
        x = f32(n, c, h, w)
        wt = f32(oc, c, kh, kw, scale=1.0 / np.sqrt(c * kh * kw))
        b = f32(oc) if bias else None
        oh = (h + 2 * pad - kh) // stride + 1
        ow = (w + 2 * pad - kw) // stride + 1
        run_case("conv", name, x, wt, b, [c, oc, kh, kw, stride, pad, int(bias)],
                 (n, oc, oh, ow), ["--algo", algo])


def linear_case(n, fin, fout, bias):
    name = f"linear N{n} {fin}->{fout} {'bias' if bias else 'no bias'}"
    x = f32(n, fin)
    w = f32(fout, fin, scale=1.0 / np.sqrt(fin))
    b = f32(fout) if bias else None
    run_case("linear", name, x, w, b, [fin, fout, int(bias)], (n, fout))


#          n  c   h   w   oc kh kw s  p  bias
CONV = [
    (2, 3, 8, 8, 16, 3, 3, 1, 1, False),      # stem-like, 3 -> 16
    (2, 3, 8, 8, 16, 3, 3, 1, 1, True),
    (1, 3, 32, 32, 8, 3, 3, 1, 1, False),     # batch 1, full CIFAR size (tiles inside an image)
    (3, 16, 9, 7, 24, 3, 3, 1, 1, True),      # non-square, odd sizes
    (2, 8, 10, 10, 16, 3, 3, 2, 1, False),    # 3x3 stride 2
    (3, 8, 11, 9, 12, 3, 3, 2, 1, True),      # 3x3 stride 2, odd, non-square
    (2, 16, 8, 8, 32, 1, 1, 1, 0, False),     # 1x1 stride 1 (WRN shortcut), images grouped
    (1, 16, 20, 20, 8, 1, 1, 1, 0, True),     # 1x1 stride 1, tiles inside an image
    (2, 16, 8, 8, 32, 1, 1, 2, 0, False),     # 1x1 stride 2 (ResNet shortcut)
    (3, 6, 9, 13, 10, 1, 1, 2, 0, True),      # 1x1 stride 2, odd sizes
    (2, 4, 12, 12, 6, 5, 5, 1, 2, True),      # 5x5 pad 2
    (2, 3, 15, 15, 8, 7, 7, 2, 3, False),     # 7x7 stride 2 pad 3
    (1, 3, 33, 31, 4, 7, 7, 2, 3, True),      # 7x7 stride 2 pad 3, odd
    (2, 5, 7, 6, 3, 3, 2, 1, 0, True),        # non-square kernel, no padding
    (2, 4, 6, 6, 5, 3, 3, 3, 2, False),       # stride 3, pad 2
    (2, 2, 3, 3, 3, 5, 5, 1, 1, True),        # kernel larger than the input
    (5, 4, 4, 4, 8, 3, 3, 1, 1, False),       # 4x4 maps: many images per tile
    (1, 1, 1, 1, 1, 1, 1, 1, 0, True),        # the smallest
    (2, 32, 17, 17, 16, 3, 3, 1, 1, True),    # 289 positions: image split in 2 tiles
    (2, 16, 16, 16, 16, 3, 3, 1, 1, False),   # Winograd by default (>= 16 channels)
    (3, 24, 9, 7, 16, 3, 3, 1, 1, True),      # Winograd, odd output: half tiles
    (2, 16, 10, 10, 32, 3, 3, 1, 0, True),    # Winograd, no padding
    (2, 16, 6, 6, 16, 3, 3, 1, 2, False),     # Winograd, pad 2
    (1, 16, 50, 50, 16, 3, 3, 1, 1, True),    # Winograd, an image cut into blocks
    (40, 32, 4, 4, 32, 3, 3, 1, 1, False),    # Winograd, blocks of whole 4x4 images
    (2, 64, 8, 8, 128, 3, 3, 1, 1, False),    # ResNet-like widths
]
for cfg in CONV:
    conv_case(*cfg)

LINEAR = [
    (1, 512, 10, True),
    (128, 512, 10, True),
    (1, 64, 100, True),
    (128, 64, 100, True),
    (3, 7, 5, False),
    (130, 70, 65, True),   # more than one block of rows and of weight rows
]
for cfg in LINEAR:
    linear_case(*cfg)

mp.finish()
