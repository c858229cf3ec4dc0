"""MaxDropout and Dropout of `maxdrop apply` against PyTorch.

The oracle is MaxDropout as the reference code writes it (REFERENCE.md
section 1), computed here by PyTorch in float32:

    up = x.max(); down = x.min()
    x_norm = (x - down) / (up - down)
    out = x.clone(); out[x_norm > 1 - rate] = 0

with the gradient taken by autograd through exactly that. `maxdrop apply
maxdropout` must give bit-identical outputs, keep-masks and gradients on
random tensors of several shapes and distributions (the four ResNet-18 stage
outputs at batch 128 included), at several rates, and on edge cases (constant
tensors, NaN, infinities, values on the threshold and next to it, one
element, 1-D and 2-D tensors). The options are checked against PyTorch
versions written here; Dropout against its definition.
"""
import os

import numpy as np
import torch

import mdparity as mp

np.seterr(over="ignore", invalid="ignore")  # float32 overflow to inf is part of the cases
D = mp.tmpdir()
RATES = [0.1, 0.3, 0.5, 0.9, 0.0, 1.0]
STREAM_LAYER = 256  # MD_STREAM_LAYER (include/maxdrop/rng.h)
rng = np.random.default_rng(12345)


def path(name):
    return os.path.join(D, name)


def save_inputs(x, dy):
    np.save(path("x.npy"), x)
    np.save(path("dy.npy"), dy)


def apply(op, *opts, grad=True):
    """Runs maxdrop apply on x.npy (and dy.npy); returns (y, mask, dx) or None."""
    args = ["apply", op, "--in", path("x.npy"), "--out", path("y.npy"),
            "--mask-out", path("m.npy"), *opts]
    if grad:
        args += ["--grad-in", path("dy.npy"), "--grad-out", path("dx.npy")]
    r = mp.maxdrop(*args)
    if r.returncode != 0:
        return None
    y = np.load(path("y.npy"))
    m = np.load(path("m.npy"))
    dx = np.load(path("dx.npy")) if grad else None
    return y, m, dx


def as4d(t):
    """The shape maxdrop gives a tensor: N,C,H,W; C,H,W; N,F; L (see apply --help)."""
    if t.dim() == 4:
        return t
    if t.dim() == 3:
        return t.unsqueeze(0)
    if t.dim() == 2:
        return t[:, :, None, None]
    return t.reshape(1, 1, 1, -1)


# ---------------------------------------------------------------------------
# The references, in PyTorch
# ---------------------------------------------------------------------------
def ref_maxdropout(x, dy, rate):
    """REFERENCE.md section 1, as the reference code computes it."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    up = xt.max()
    down = xt.min()
    x_norm = (xt - down) / (up - down)
    out = xt.clone()
    dropped = x_norm > 1 - rate
    out[dropped] = 0
    out.backward(torch.from_numpy(dy.copy()))
    return (out.detach().numpy(), (~dropped).numpy().astype(np.uint8), xt.grad.numpy(),
            x_norm.detach().numpy())


def ref_grouped(x, dy, rate, dims):
    """Min-max statistics per group: the reduction dims of the N,C,H,W view
    ((1,2,3) per sample, (0,2,3) per channel, (2,3) per feature map)."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    x4 = as4d(xt)
    up = x4.amax(dim=dims, keepdim=True)
    down = x4.amin(dim=dims, keepdim=True)
    x_norm = (x4 - down) / (up - down)
    dropped = x_norm > 1 - rate
    out = x4.clone()
    out[dropped] = 0
    out.backward(as4d(torch.from_numpy(dy.copy())))
    return (out.detach().reshape(x.shape).numpy(),
            (~dropped).reshape(x.shape).numpy().astype(np.uint8), xt.grad.numpy(),
            x_norm.detach().reshape(x.shape).numpy())


def ref_l2(x, dy, rate):
    """The paper's Algorithm 1: x / ||x||_2, dropped where above (1 - rate) times
    its maximum. Returns the normalised values and the threshold as well."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    normed = xt / xt.norm()
    thr = (1 - rate) * normed.max()
    dropped = normed > thr
    out = xt.clone()
    out[dropped] = 0
    out.backward(torch.from_numpy(dy.copy()))
    return (out.detach().numpy(), (~dropped).numpy().astype(np.uint8), xt.grad.numpy(),
            normed.detach().numpy(), np.float32(thr.item()))


def ref_v2(x, dy, rate, l2=False):
    """MaxDropoutV2: channel sum, normalised per sample over H x W (min-max, or
    L2 with the paper's relative threshold), whole positions dropped in every
    channel."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    x4 = as4d(xt)
    s = x4.sum(dim=1, keepdim=True)  # N,1,H,W
    if l2:
        q = s / s.norm(dim=(2, 3), keepdim=True)
        thr = (1 - rate) * q.amax(dim=(2, 3), keepdim=True)
    else:
        up = s.amax(dim=(2, 3), keepdim=True)
        down = s.amin(dim=(2, 3), keepdim=True)
        q = (s - down) / (up - down)
        thr = torch.full_like(q, 1 - rate)
    dropped = (q > thr).expand_as(x4)
    out = x4.clone()
    out[dropped] = 0
    out.backward(as4d(torch.from_numpy(dy.copy())))
    qe = q.expand_as(x4).detach().reshape(x.shape).numpy()
    te = thr.expand_as(x4).detach().reshape(x.shape).numpy()
    return (out.detach().reshape(x.shape).numpy(),
            (~dropped).reshape(x.shape).numpy().astype(np.uint8), xt.grad.numpy(), qe, te)


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------
def describe(i, x, q, thr, got_m, want_m):
    i = int(i)
    xs = x.reshape(-1)
    qs = np.asarray(q).reshape(-1) if q is not None else None
    ts = np.broadcast_to(np.asarray(thr, dtype=np.float32), x.shape).reshape(-1) \
        if thr is not None else None
    s = f"flat index {i}: x={xs[i]!r}"
    if qs is not None:
        s += f", torch's normalised value {qs[i]!r}"
    if ts is not None:
        s += f", threshold {ts[i]!r}"
    return s + f"; maxdrop kept={int(got_m.reshape(-1)[i])}, torch kept={int(want_m.reshape(-1)[i])}"


def compare_exact(name, got, want, x, q=None, thr=None):
    if got is None:
        mp.check(False, f"{name}: maxdrop apply failed")
        return
    y, m, dx = got
    wy, wm, wdx = want
    if m.shape == wm.shape and not np.array_equal(m, wm):
        bad = np.flatnonzero(m.reshape(-1) != wm.reshape(-1))
        details = "; ".join(describe(i, x, q, thr, m, wm) for i in bad[:3])
        mp.check(False, f"{name}: masks differ in {bad.size} of {m.size} elements; {details}")
    else:
        mp.check(m.dtype == np.uint8 and m.shape == wm.shape,
                 f"{name}: mask {m.dtype}{m.shape}, want uint8{wm.shape}")
    mp.check_identical(f"{name}: output", y, wy)
    if dx is not None:
        mp.check_identical(f"{name}: gradient", dx, wdx)


def compare_near_threshold(name, got, want, x, dy, q, thr):
    """For options whose PyTorch form computes the statistics in another order
    (torch's norm() and sum() use their own reduction order, maxdrop sums
    element by element), the normalised values can differ in the last bit, so
    an element whose normalised value sits within one float32 ulp of the
    threshold may fall on the other side. Only such elements may disagree;
    everywhere else output, mask and gradient must be bit-identical to
    PyTorch, and maxdrop's output and gradient must follow its own mask."""
    if got is None:
        mp.check(False, f"{name}: maxdrop apply failed")
        return
    y, m, dx = got
    wy, wm, wdx = want
    if m.shape != wm.shape:
        mp.check(False, f"{name}: mask shape {m.shape}, want {wm.shape}")
        return
    qf = np.asarray(q, dtype=np.float64)
    tf = np.broadcast_to(np.asarray(thr, dtype=np.float32), x.shape)
    near = np.abs(qf - tf.astype(np.float64)) <= np.spacing(np.abs(tf)).astype(np.float64)
    differ = m != wm
    bad = differ & ~near
    n_allowed = int((differ & near).sum())
    if bad.any():
        idx = np.flatnonzero(bad.reshape(-1))
        details = "; ".join(describe(i, x, q, thr, m, wm) for i in idx[:3])
        mp.check(False, f"{name}: {idx.size} mask disagreements away from the threshold "
                 f"(and {n_allowed} within 1 ulp of it); {details}")
    else:
        mp.check(True, f"{name}: masks agree ({n_allowed} of {m.size} elements within 1 ulp "
                 "of the threshold disagree)")
    same = ~differ
    mp.check_identical(f"{name}: output where the masks agree", y[same], wy[same])
    mp.check_identical(f"{name}: output follows maxdrop's mask", y,
                       np.where(m == 1, x, np.float32(0)).astype(np.float32))
    if dx is not None:
        mp.check_identical(f"{name}: gradient where the masks agree", dx[same], wdx[same])
        mp.check_identical(f"{name}: gradient follows maxdrop's mask", dx,
                           np.where(m == 1, dy, np.float32(0)).astype(np.float32))


def rate_arg(rate):
    return repr(float(rate))


def check_reference(name, x, dy, rates=RATES, extra=()):
    save_inputs(x, dy)
    for rate in rates:
        got = apply("maxdropout", "--rate", rate_arg(rate), *extra)
        y, m, dx, q = ref_maxdropout(x, dy, rate)
        compare_exact(f"{name} rate {rate}", got, (y, m, dx), x, q, np.float32(1 - rate))


# ---------------------------------------------------------------------------
# 1. The reference MaxDropout, bit for bit
# ---------------------------------------------------------------------------
def dist(kind, shape):
    if kind == "normal":
        return rng.standard_normal(shape, dtype=np.float32)
    if kind == "relu":  # post-ReLU: about half exact zeros, the minimum is 0
        return np.maximum(rng.standard_normal(shape, dtype=np.float32), np.float32(0))
    if kind == "uniform":
        return rng.random(shape, dtype=np.float32)
    if kind == "large":
        return (rng.standard_normal(shape) * 1e30).astype(np.float32)
    if kind == "overflowing range":  # up - down overflows to inf
        return rng.uniform(-3e38, 3e38, shape).astype(np.float32)
    raise ValueError(kind)


def grad_like(x):
    return rng.standard_normal(x.shape, dtype=np.float32)


for shape in [(2, 3, 5, 7), (8, 16, 8, 8), (3, 6, 6), (4, 10), (37,)]:
    for kind in ["normal", "relu", "uniform", "large", "overflowing range"]:
        x = dist(kind, shape)
        check_reference(f"{kind} {shape}", x, grad_like(x))

# The four ResNet-18 stage outputs at batch 128 (post-ReLU, as in the network,
# at every rate; and standard normal at the default rate).
for shape in [(128, 64, 32, 32), (128, 128, 16, 16), (128, 256, 8, 8), (128, 512, 4, 4)]:
    x = dist("relu", shape)
    check_reference(f"ResNet-18 stage {shape} post-ReLU", x, grad_like(x))
    x = dist("normal", shape)
    check_reference(f"ResNet-18 stage {shape} normal", x, grad_like(x), rates=[0.3])

# ---------------------------------------------------------------------------
# 2. Edge cases
# ---------------------------------------------------------------------------
edge = {
    "constant tensor": np.full((2, 3, 4, 4), 2.5, np.float32),
    "all zeros": np.zeros((2, 3, 4, 4), np.float32),
    "single element": np.array([1.5], np.float32),
    "single element 4-D": np.full((1, 1, 1, 1), -3.0, np.float32),
    "two values": np.array([0.0, 1.0], np.float32),
    "1-D": dist("normal", (101,)),
    "2-D": dist("normal", (9, 13)),
    "negative zero and zero": np.array([-0.0, 0.0, -0.0, 1.0, 0.5], np.float32),
}
base = dist("normal", (2, 3, 4, 4))
n = base.size
for where, i in [("first", 0), ("middle", n // 2), ("last", n - 1)]:
    v = base.copy().reshape(-1)
    v[i] = np.nan
    edge[f"NaN at the {where} index"] = v.reshape(base.shape)
for label, vals in [("+inf", [np.inf]), ("-inf", [-np.inf]), ("+inf and -inf", [np.inf, -np.inf])]:
    v = base.copy().reshape(-1)
    for k, val in enumerate(vals):
        v[7 + 11 * k] = val
    edge[f"{label} present"] = v.reshape(base.shape)
edge["NaN and +inf"] = edge["+inf present"].copy()
edge["NaN and +inf"].reshape(-1)[20] = np.nan
for name, x in edge.items():
    check_reference(name, x, grad_like(x))


def near_threshold_values(rate, lo, hi, steps=4):
    """Values x in [lo, hi] whose normalised value (x - lo) / (hi - lo), in
    float32, is PyTorch's threshold float32(1 - rate) or 1 to `steps` float32
    steps either side of it."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    t = np.float32(1 - rate)
    targets = [t]
    up = dn = t
    for _ in range(steps):
        up = np.nextafter(up, np.float32(np.inf))
        dn = np.nextafter(dn, np.float32(-np.inf))
        targets += [up, dn]
    start = np.float32(float(lo32) + float(t) * (float(hi32) - float(lo32)))
    cand = [start]
    a = b = start
    for _ in range(200):
        a = np.nextafter(a, np.float32(np.inf))
        b = np.nextafter(b, np.float32(-np.inf))
        cand += [a, b]
    cand = np.array([c for c in cand if lo32 <= c <= hi32], np.float32)
    q = (cand - lo32) / (hi32 - lo32)
    out = []
    for tg in targets:
        hit = cand[q == tg]
        if hit.size:
            out.append(hit[0])
    return np.array(out, np.float32), t


# Ties: values whose normalised value is exactly the threshold (kept: the
# comparison is strict) and those a few float32 steps either side of it.
for rate in RATES + [0.2, 0.25, 0.7, 0.75, 0.95, 0.99]:
    for lo, hi in [(0.0, 1.0), (-2.0, 3.0), (0.0, 6.25), (-1e-3, 7.5)]:
        vals, t = near_threshold_values(rate, lo, hi)
        # On [0, 1] the normalised value is x itself, so the exact tie always
        # exists; on other ranges the float32 grid may miss it (then the
        # neighbours found, if any, are still worth checking).
        if (lo, hi) == (0.0, 1.0):
            mp.check(t in vals, f"tie construction for rate {rate}: {t!r} not found")
        if vals.size == 0:
            continue
        x = np.concatenate([np.array([lo, hi], np.float32), vals,
                            np.linspace(lo, hi, 16, dtype=np.float32)]).astype(np.float32)
        rng.shuffle(x)
        save_inputs(x, grad_like(x))
        dy = np.load(path("dy.npy"))
        got = apply("maxdropout", "--rate", rate_arg(rate))
        y, m, dx, q = ref_maxdropout(x, dy, rate)
        compare_exact(f"threshold ties, rate {rate}, range [{lo}, {hi}]", got, (y, m, dx), x, q,
                      np.float32(1 - rate))

# ---------------------------------------------------------------------------
# 3. Evaluation mode is the identity
# ---------------------------------------------------------------------------
x = dist("normal", (4, 8, 6, 6))
dy = grad_like(x)
save_inputs(x, dy)
for opts in [(), ("--rate", "1"), ("--v2",), ("--norm", "l2", "--stats", "sample"),
             ("--random-rate", "--rate", "0.9")]:
    got = apply("maxdropout", "--eval", *opts)
    ones = np.ones(x.shape, np.uint8)
    compare_exact(f"--eval {' '.join(opts)}", got, (x, ones, dy), x)

# ---------------------------------------------------------------------------
# 4. Options against PyTorch versions of them
# ---------------------------------------------------------------------------
# Per-sample, per-channel and per-feature-map statistics: the same arithmetic
# as the reference within each group, so bit-identical.
stats_dims = {"sample": (1, 2, 3), "channel": (0, 2, 3), "sample-channel": (2, 3)}
grouped_inputs = {
    "normal (4, 6, 5, 5)": dist("normal", (4, 6, 5, 5)),
    "post-ReLU (128, 512, 4, 4)": dist("relu", (128, 512, 4, 4)),
    "normal (6, 10) 2-D": dist("normal", (6, 10)),
    "normal (3, 7, 7) 3-D": dist("normal", (3, 7, 7)),
    "uniform (23,) 1-D": dist("uniform", (23,)),
}
# a dead (all-zero) channel, a constant sample and a NaN in one feature map:
# only their own group is left untouched
g = dist("relu", (4, 5, 6, 6))
g[:, 2] = 0
g[1] = 0.75
g[3, 4, 2, 2] = np.nan
grouped_inputs["dead channel, constant sample, one NaN (4, 5, 6, 6)"] = g
for name, x in grouped_inputs.items():
    dy = grad_like(x)
    save_inputs(x, dy)
    for stats, dims in stats_dims.items():
        for rate in [0.1, 0.3, 0.5, 0.9, 1.0]:
            got = apply("maxdropout", "--stats", stats, "--rate", rate_arg(rate))
            y, m, dx, q = ref_grouped(x, dy, rate, dims)
            compare_exact(f"--stats {stats}, {name}, rate {rate}", got, (y, m, dx), x, q,
                          np.float32(1 - rate))
    # --stats batch is the reference itself
    got = apply("maxdropout", "--stats", "batch", "--rate", "0.3")
    y, m, dx, q = ref_maxdropout(x, dy, 0.3)
    compare_exact(f"--stats batch, {name}", got, (y, m, dx), x, q, np.float32(0.7))

# MaxDropoutV2 (channel sums: PyTorch's sum() may round differently in the
# last bit) and L2 normalisation (PyTorch's norm() likewise): near-threshold
# disagreements only.
v2_inputs = {
    "normal (4, 8, 6, 6)": dist("normal", (4, 8, 6, 6)),
    "post-ReLU (128, 64, 32, 32)": dist("relu", (128, 64, 32, 32)),
    "post-ReLU (128, 512, 4, 4)": dist("relu", (128, 512, 4, 4)),
    "uniform (3, 5, 5) 3-D": dist("uniform", (3, 5, 5)),
    "one channel (2, 1, 7, 7)": dist("normal", (2, 1, 7, 7)),
}
for name, x in v2_inputs.items():
    dy = grad_like(x)
    save_inputs(x, dy)
    for rate in [0.1, 0.3, 0.5, 0.9, 1.0]:
        got = apply("maxdropout", "--v2", "--rate", rate_arg(rate))
        y, m, dx, q, thr = ref_v2(x, dy, rate)
        compare_near_threshold(f"--v2, {name}, rate {rate}", got, (y, m, dx), x, dy, q, thr)
    got = apply("maxdropout", "--v2", "--norm", "l2", "--rate", "0.3")
    y, m, dx, q, thr = ref_v2(x, dy, 0.3, l2=True)
    compare_near_threshold(f"--v2 --norm l2, {name}", got, (y, m, dx), x, dy, q, thr)
    # V2 drops whole positions: the mask is the same in every channel
    if got is not None:
        m4 = got[1].reshape(as4d(torch.from_numpy(x)).shape)
        mp.check(bool(np.all(m4 == m4[:, :1])), f"--v2, {name}: mask differs between channels")

l2_inputs = {
    "normal (4, 8, 6, 6)": dist("normal", (4, 8, 6, 6)),
    "post-ReLU (128, 256, 8, 8)": dist("relu", (128, 256, 8, 8)),
    "uniform (50, 20)": dist("uniform", (50, 20)),
    "normal (1000,)": dist("normal", (1000,)),
}
for name, x in l2_inputs.items():
    dy = grad_like(x)
    save_inputs(x, dy)
    for rate in [0.1, 0.3, 0.5, 0.9, 0.0, 1.0]:
        got = apply("maxdropout", "--norm", "l2", "--rate", rate_arg(rate))
        y, m, dx, q, thr = ref_l2(x, dy, rate)
        compare_near_threshold(f"--norm l2, {name}, rate {rate}", got, (y, m, dx), x, dy, q, thr)
for name, x in [("zeros", np.zeros((2, 3, 4, 4), np.float32)), ("NaN", edge["NaN at the middle index"])]:
    dy = grad_like(x)
    save_inputs(x, dy)
    got = apply("maxdropout", "--norm", "l2", "--rate", "0.5")
    y, m, dx, q, thr = ref_l2(x, dy, 0.5)
    compare_exact(f"--norm l2, {name}", got, (y, m, dx), x, q, thr)


# --random-rate (paper): the rate is R * u, u the first md_rng_uniform of the
# layer's stream (MD_STREAM_LAYER of the seed): the top 24 bits of the first
# word of NumPy's Philox(key = seed + stream * 2**64) at counter 0, times 2**-24.
def drawn_rate(R, seed):
    g = np.random.Philox(key=seed + (STREAM_LAYER << 64), counter=(1 << 256) - 1)
    w = int(g.random_raw(1)[0])
    u = np.float32((w >> 40) * 2.0 ** -24)
    return np.float32(np.float32(R) * u)


x = dist("relu", (16, 32, 8, 8))
dy = grad_like(x)
save_inputs(x, dy)
seen = set()
for seed in [0, 1, 7, 123456789]:
    for R in [0.3, 1.0]:
        r = drawn_rate(R, seed)
        seen.add(float(r))
        got = apply("maxdropout", "--random-rate", "--rate", rate_arg(R), "--seed", str(seed))
        y, m, dx, q = ref_maxdropout(x, dy, float(r))
        compare_exact(f"--random-rate {R} seed {seed} (drawn rate {r!r})", got, (y, m, dx), x,
                      q, np.float32(1 - float(r)))
mp.check(len(seen) == 8, f"--random-rate: drawn rates {sorted(seen)} are not all different")

# The thread count does not change anything.
x = dist("normal", (32, 16, 8, 8))
dy = grad_like(x)
save_inputs(x, dy)
for op, opts in [("maxdropout", ()), ("maxdropout", ("--stats", "channel")),
                 ("maxdropout", ("--v2",)), ("dropout", ("--rate", "0.3"))]:
    one = apply(op, "--threads", "1", *opts)
    two = apply(op, "--threads", "2", *opts)
    if one is None or two is None:
        mp.check(False, f"{op} {opts}: --threads run failed")
        continue
    for k, what in enumerate(["output", "mask", "gradient"]):
        mp.check_identical(f"{op} {' '.join(opts)}: {what} with 1 and 2 threads", one[k], two[k])

# ---------------------------------------------------------------------------
# 5. Dropout
# ---------------------------------------------------------------------------
x = dist("normal", (64, 16, 16, 16))  # 262144 elements
x.reshape(-1)[:4] = [0.0, -0.0, 1e-45, 3e38]
dy = grad_like(x)
save_inputs(x, dy)

got = apply("dropout", "--rate", "0")
compare_exact("dropout p=0 is the identity", got, (x, np.ones(x.shape, np.uint8), dy), x)
got = apply("dropout", "--rate", "1")
if got is None:
    mp.check(False, "dropout p=1: maxdrop apply failed")
else:
    y, m, dx = got
    mp.check(not np.isnan(y).any() and not np.isnan(dx).any(), "dropout p=1: NaN in the output")
    mp.check_identical("dropout p=1: all zeros", y, np.zeros_like(x))
    mp.check_identical("dropout p=1: zero gradient", dx, np.zeros_like(x))
    mp.check(not m.any(), "dropout p=1: some element kept")
got = apply("dropout", "--rate", "0.5", "--eval")
compare_exact("dropout --eval is the identity", got, (x, np.ones(x.shape, np.uint8), dy), x)

for p in [0.1, 0.3, 0.5, 0.9]:
    got = apply("dropout", "--rate", rate_arg(p), "--seed", "3")
    if got is None:
        mp.check(False, f"dropout p={p}: maxdrop apply failed")
        continue
    y, m, dx = got
    kept = m == 1
    frac = kept.mean()
    sd = np.sqrt(p * (1 - p) / m.size)
    mp.check(abs(frac - (1 - p)) < 5 * sd,
             f"dropout p={p}: kept fraction {frac:.5f}, expected {1 - p} (sd {sd:.5f})")
    scale = np.float32(1 / (1 - p))  # float32(1 / (1 - p)), as torch's dropout scales
    want_y = np.where(kept, x * scale, np.float32(0)).astype(np.float32)
    mp.check_identical(f"dropout p={p}: kept values are x * float32(1/(1-p)), dropped 0", y, want_y)
    want_dx = np.where(kept, dy * scale, np.float32(0)).astype(np.float32)
    mp.check_identical(f"dropout p={p}: gradient = mask * scale * dy", dx, want_dx)
    # the same seed gives the same mask; another seed another one
    again = apply("dropout", "--rate", rate_arg(p), "--seed", "3")
    other = apply("dropout", "--rate", rate_arg(p), "--seed", "4")
    if again is not None and other is not None:
        mp.check(np.array_equal(again[1], m), f"dropout p={p}: seed 3 twice, different masks")
        mp.check(not np.array_equal(other[1], m), f"dropout p={p}: seeds 3 and 4 give one mask")

mp.finish()
