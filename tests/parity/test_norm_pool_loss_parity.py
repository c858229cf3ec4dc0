"""BatchNorm2d (training and evaluation), ReLU, residual add, average pooling
and softmax cross-entropy against PyTorch.

PyTorch computes every reference in float64 from the same float32 inputs
(the exact answer to those inputs, up to ~1e-16); maxdrop computes in float32
with double accumulation. Criterion for a float tensor (tolerance RTOL=1e-5):

    |got_i - want_i| <= RTOL * (|want_i| + rms(want))   for every element i

i.e. 1e-5 relative, with a floor of 1e-5 of the tensor's RMS so that values
that cancel to near zero (BatchNorm's dx) are judged against the size of the
tensor, not against themselves. rms(want) must be > 0, so an all-zero or
constant answer cannot pass by itself, and the criterion is checked at start
to reject a zero answer and a 10 * RTOL relative perturbation. Element-wise
operations whose float32 result is exact (ReLU, the residual sum and their
gradient accumulations) are compared bit for bit with PyTorch in float32.
The mean loss (double) is compared at 1e-10 relative.

The driver runs the forward and the backward of one layer; several cases
start the gradient buffers with nonzero contents (dx0 ...), checking that the
backward accumulates. Determinism: a few cases are rerun with 1, 2 and 3
OpenMP threads and must give identical bytes.
"""
import os
import subprocess
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

import mdparity as mp

RTOL = 1e-5
MD_OK, MD_ERR_SHAPE, MD_ERR_RANGE = 0, -3, -8
DRIVER = os.path.join(mp.DRIVER_DIR, "driver_layers_norm")
rng = np.random.default_rng(20240607)
worst = {}  # operation -> largest normalised error seen


def passes(got, want, rtol=RTOL):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False, float("inf")
    scale = float(np.sqrt(np.mean(want * want)))
    if not np.isfinite(scale) or scale == 0.0:
        return False, float("inf")
    err = np.abs(got - want) / (np.abs(want) + scale)
    e = float(np.max(err)) if err.size else 0.0
    return bool(np.all(err <= rtol)), e


def close(name, got, want, rtol=RTOL, op=None):
    ok, e = passes(got, want, rtol)
    if op:
        worst[op] = max(worst.get(op, 0.0), e)
    mp.check(ok, f"{name}: worst normalised error {e:.3g} exceeds {rtol:g} "
             f"(shapes {np.shape(got)} / {np.shape(want)})")


def identical(name, got, want):
    mp.check_identical(name, np.asarray(got, dtype=np.float32),
                       np.asarray(want, dtype=np.float32))


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def put(d, **arrays):
    for k, v in arrays.items():
        np.save(os.path.join(d, k + ".npy"), f32(v))


def get(d, name):
    return np.load(os.path.join(d, name + ".npy"))


def run(op, d, *args, threads=None):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    p = subprocess.run([DRIVER, op, d, *map(str, args)], capture_output=True, text=True,
                       env=env)
    mp.check(p.returncode == 0, f"driver {op} {args} exited {p.returncode}: {p.stderr}")
    out = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


# ---------------------------------------------------------------------------
# The criterion itself must be able to fail.
want = rng.standard_normal(1000)
mp.check(passes(want * (1 + 1e-6), want)[0], "criterion accepts a 1e-6 relative change")
mp.check(not passes(np.zeros_like(want), want)[0], "criterion rejects an all-zero answer")
mp.check(not passes(want * (1 + 10 * RTOL), want)[0],
         "criterion rejects a 10 * RTOL relative change")
bumped = want.copy()
bumped[np.argmax(np.abs(want))] *= 1 + 3 * RTOL
mp.check(not passes(bumped, want)[0], "criterion rejects one element off by 3 * RTOL")
mp.check(not passes(np.zeros(5), np.zeros(5))[0], "criterion rejects an all-zero reference")


# ---------------------------------------------------------------------------
# BatchNorm2d
def bn_case(name, shape, training, momentum=0.1, eps=1e-5, running=True, accumulate=False,
            loc=0.0, scale=1.0, x=None, threads_check=False):
    n, c, h, w = shape
    if x is None:
        x = loc + scale * rng.standard_normal(shape) * rng.uniform(0.5, 2.0, (1, c, 1, 1)) \
            + rng.standard_normal((1, c, 1, 1)) * scale
    x = f32(x)
    wt = f32(rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c))
    bs = f32(rng.standard_normal(c) * 0.5)
    dy = f32(rng.standard_normal(shape))
    rm = f32(rng.standard_normal(c) * 0.3)
    rv = f32(rng.uniform(0.5, 2.0, c))
    with tempfile.TemporaryDirectory(prefix="md_bn_") as d:
        put(d, x=x, weight=wt, bias=bs, dy=dy)
        if running or not training:
            put(d, running_mean=rm, running_var=rv)
        dx0 = dw0 = db0 = None
        if accumulate:
            dx0 = f32(rng.standard_normal(shape))
            dw0 = f32(rng.standard_normal(c))
            db0 = f32(rng.standard_normal(c))
            put(d, dx0=dx0, dweight0=dw0, dbias0=db0)
        if training:
            out = run("bn_train", d, momentum, eps)
        else:
            out = run("bn_eval", d, eps)

        # Reference: nn.BatchNorm2d in float64.
        bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum,
                                  track_running_stats=running or not training).double()
        with torch.no_grad():
            bn.weight.copy_(t64(wt))
            bn.bias.copy_(t64(bs))
            if running or not training:
                bn.running_mean.copy_(t64(rm))
                bn.running_var.copy_(t64(rv))
        bn.train(training)
        xt = t64(x, grad=True)
        try:
            yt = bn(xt)
        except ValueError:
            # PyTorch refuses one value per channel in training: so must we,
            # leaving the running statistics as they were.
            mp.check(int(out.get("status", 0)) == MD_ERR_SHAPE,
                     f"{name}: PyTorch rejects the shape, maxdrop status {out.get('status')}")
            mp.check(int(out.get("num_batches_tracked", -1)) == 0,
                     f"{name}: counter moved on a rejected call")
            identical(f"{name} running_mean untouched", get(d, "running_mean_out"), rm)
            identical(f"{name} running_var untouched", get(d, "running_var_out"), rv)
            mp.check(not os.path.exists(os.path.join(d, "y.npy")), f"{name}: no output")
            return
        mp.check(int(out.get("status", 1)) == MD_OK, f"{name}: status {out.get('status')}")
        if int(out.get("status", 1)) != MD_OK:
            return
        yt.backward(t64(dy))
        op = "bn_train" if training else "bn_eval"
        close(f"{name} y", get(d, "y"), yt.detach().numpy(), op=op)
        gx, gw, gb = xt.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy()
        if accumulate:
            gx, gw, gb = gx + dx0, gw + dw0, gb + db0
        close(f"{name} dx", get(d, "dx"), gx, op=op)
        close(f"{name} dweight", get(d, "dweight"), gw, op=op)
        close(f"{name} dbias", get(d, "dbias"), gb, op=op)
        if training:
            x64 = x.astype(np.float64)
            mean = x64.mean(axis=(0, 2, 3))
            var = x64.var(axis=(0, 2, 3))
            close(f"{name} save_mean", get(d, "save_mean"), mean, op=op)
            close(f"{name} save_invstd", get(d, "save_invstd"), 1 / np.sqrt(var + eps), op=op)
            if running:
                close(f"{name} running_mean", get(d, "running_mean_out"),
                      bn.running_mean.numpy(), op="bn_running")
                close(f"{name} running_var", get(d, "running_var_out"),
                      bn.running_var.numpy(), op="bn_running")
                mp.check(int(out["num_batches_tracked"]) == int(bn.num_batches_tracked),
                         f"{name}: num_batches_tracked {out['num_batches_tracked']} vs "
                         f"{int(bn.num_batches_tracked)}")
        if threads_check:
            outs = {}
            for t in (1, 2, 3):
                run(op, d, *((momentum, eps) if training else (eps,)), threads=t)
                outs[t] = {k: get(d, k) for k in ("y", "dx", "dweight", "dbias")}
            for t in (2, 3):
                for k in outs[1]:
                    identical(f"{name} {k}: {t} threads == 1 thread", outs[t][k], outs[1][k])


bn_case("bn train (128,64,32,32)", (128, 64, 32, 32), True)
bn_case("bn train (16,128,16,16) threads", (16, 128, 16, 16), True, threads_check=True)
bn_case("bn train (2,3,5,7) accumulate", (2, 3, 5, 7), True, accumulate=True)
bn_case("bn train (1,4,3,3) N=1", (1, 4, 3, 3), True)
bn_case("bn train (1,5,1,2) M=2", (1, 5, 1, 2), True)
bn_case("bn train (2,1,1,1) M=2", (2, 1, 1, 1), True)
bn_case("bn train (4,1,1,1) [1,2,3,4]", (4, 1, 1, 1), True,
        x=np.array([1, 2, 3, 4], dtype=np.float32).reshape(4, 1, 1, 1))
bn_case("bn train (5,3,2,3) momentum 0.3 eps 1e-3", (5, 3, 2, 3), True, momentum=0.3,
        eps=1e-3)
bn_case("bn train (3,2,4,4) no running stats", (3, 2, 4, 4), True, running=False)
bn_case("bn train (8,6,5,5) mean 100 spread 0.01", (8, 6, 5, 5), True, loc=100.0,
        scale=0.01)
bn_case("bn train (1,3,1,1) M=1 rejected", (1, 3, 1, 1), True)
bn_case("bn eval (128,64,16,16)", (128, 64, 16, 16), False, threads_check=True)
bn_case("bn eval (3,5,4,6) accumulate", (3, 5, 4, 6), False, accumulate=True)
bn_case("bn eval (1,2,1,1) M=1 allowed", (1, 2, 1, 1), False)
bn_case("bn eval (2,3,3,5) eps 1e-3", (2, 3, 3, 5), False, eps=1e-3)


# ---------------------------------------------------------------------------
# ReLU: bit-identical in float32, backward from the input and from the output.
def relu_case(name, shape, accumulate=False, specials=False):
    x = f32(rng.standard_normal(shape))
    if specials:
        flat = x.reshape(-1)
        flat[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-45]
    dy = f32(rng.standard_normal(shape))
    for ref in ("x", "y"):
        with tempfile.TemporaryDirectory(prefix="md_relu_") as d:
            put(d, x=x, dy=dy)
            dx0 = f32(rng.standard_normal(shape)) if accumulate else np.zeros(shape, np.float32)
            if accumulate:
                put(d, dx0=dx0)
            out = run("relu", d, ref)
            mp.check(int(out.get("status", 1)) == MD_OK, f"{name}: status")
            xt = torch.tensor(x, requires_grad=True)
            yt = torch.relu(xt)
            yt.backward(torch.tensor(dy))
            identical(f"{name} y", get(d, "y"), yt.detach().numpy())
            identical(f"{name} dx (ref {ref})", get(d, "dx"),
                      torch.tensor(dx0) + xt.grad)
            identical(f"{name} dx in place (ref {ref})", get(d, "dx_inplace"),
                      xt.grad.numpy())


relu_case("relu (4,8,7,9)", (4, 8, 7, 9))
relu_case("relu (3,5,6,6) accumulate", (3, 5, 6, 6), accumulate=True)
relu_case("relu (2,3,4,5) zeros / NaN / inf", (2, 3, 4, 5), specials=True)


# ---------------------------------------------------------------------------
# Residual add: bit-identical in float32.
def add_case(name, shape):
    a, b, dy = (f32(rng.standard_normal(shape)) for _ in range(3))
    da0, db0 = f32(rng.standard_normal(shape)), f32(rng.standard_normal(shape))
    with tempfile.TemporaryDirectory(prefix="md_add_") as d:
        put(d, a=a, b=b, dy=dy, da0=da0, db0=db0)
        out = run("add", d)
        mp.check(int(out.get("status", 1)) == MD_OK, f"{name}: status")
        at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (at + bt).backward(torch.tensor(dy))
        identical(f"{name} y", get(d, "y"), (torch.tensor(a) + torch.tensor(b)).numpy())
        identical(f"{name} da", get(d, "da"), torch.tensor(da0) + at.grad)
        identical(f"{name} db", get(d, "db"), torch.tensor(db0) + bt.grad)


add_case("add (8,16,8,8)", (8, 16, 8, 8))


# ---------------------------------------------------------------------------
# Average pooling: k x k stride k (k = 0: global).
def pool_case(name, shape, k, accumulate=False, threads_check=False):
    x = f32(rng.standard_normal(shape) + 0.5)
    xt = t64(x, grad=True)
    yt = F.avg_pool2d(xt, k) if k else F.adaptive_avg_pool2d(xt, 1).flatten(1)
    dy = f32(rng.standard_normal(tuple(yt.shape)))
    yt.backward(t64(dy))
    with tempfile.TemporaryDirectory(prefix="md_pool_") as d:
        put(d, x=x, dy=dy)
        gx = xt.grad.numpy()
        if accumulate:
            dx0 = f32(rng.standard_normal(shape))
            put(d, dx0=dx0)
            gx = gx + dx0
        out = run("avgpool", d, k)
        mp.check(int(out.get("status", 1)) == MD_OK, f"{name}: status")
        close(f"{name} y", get(d, "y"), yt.detach().numpy(), op="avgpool")
        close(f"{name} dx", get(d, "dx"), gx, op="avgpool")
        if threads_check:
            runs = []
            for t in (1, 3):
                run("avgpool", d, k, threads=t)
                runs.append((get(d, "y"), get(d, "dx")))
            identical(f"{name} y: 3 threads == 1", runs[1][0], runs[0][0])
            identical(f"{name} dx: 3 threads == 1", runs[1][1], runs[0][1])


pool_case("avgpool 4x4 (128,512,4,4)", (128, 512, 4, 4), 4, threads_check=True)
pool_case("avgpool 8x8 (128,640,8,8)", (128, 640, 8, 8), 8)
pool_case("avgpool 4x4 (2,3,8,12) accumulate", (2, 3, 8, 12), 4, accumulate=True)
pool_case("avgpool 4x4 (3,5,9,10) floor mode", (3, 5, 9, 10), 4)
pool_case("avgpool 3x3 (2,2,7,6)", (2, 2, 7, 6), 3)
pool_case("global avgpool (128,512,4,4)", (128, 512, 4, 4), 0)
pool_case("global avgpool (2,3,5,7) accumulate", (2, 3, 5, 7), 0, accumulate=True)


# ---------------------------------------------------------------------------
# Softmax cross-entropy, mean over the batch.
def xent_case(name, logits, labels, accumulate=False, expect=MD_OK):
    logits = f32(logits)
    labels = np.asarray(labels)
    with tempfile.TemporaryDirectory(prefix="md_xent_") as d:
        put(d, logits=logits, labels=labels.astype(np.float32))
        dl0 = None
        if accumulate:
            dl0 = f32(rng.standard_normal(logits.shape) * 0.01)
            put(d, dlogits0=dl0)
        out = run("xent", d)
        st = int(out.get("status", 1))
        mp.check(st == expect, f"{name}: status {st}, want {expect}")
        if expect != MD_OK:
            mp.check(not os.path.exists(os.path.join(d, "dlogits.npy")),
                     f"{name}: nothing written on error")
            k = logits.shape[1]
            mp.check(bool(np.any((labels < 0) | (labels >= k))),
                     f"{name}: the case holds an out-of-range label")
            return
        zt = t64(logits, grad=True)
        lt = torch.tensor(labels, dtype=torch.int64)
        loss = F.cross_entropy(zt, lt)
        loss.backward()
        got_loss = float(out["loss"])
        want_loss = float(loss)
        rel = abs(got_loss - want_loss) / max(abs(want_loss), 1e-300)
        worst["xent_loss"] = max(worst.get("xent_loss", 0.0), rel)
        mp.check(rel <= 1e-10, f"{name}: loss {got_loss!r} vs {want_loss!r} (rel {rel:.3g})")
        g = zt.grad.numpy() + (dl0 if accumulate else 0)
        close(f"{name} dlogits", get(d, "dlogits"), g, op="xent_grad")
        pred = torch.argmax(torch.tensor(logits), dim=1).numpy()
        identical(f"{name} argmax", get(d, "pred"), pred.astype(np.float32))
        mp.check(int(out["correct"]) == int((pred == labels).sum()),
                 f"{name}: correct {out['correct']} vs {int((pred == labels).sum())}")
        return got_loss, get(d, "dlogits")


res = xent_case("xent (1e8, 1e8) label 1", [[1e8, 1e8]], [1])
if res:
    mp.check(abs(res[0] - np.log(2)) <= 1e-12, f"(1e8, 1e8): loss {res[0]!r} != ln 2")
    identical("(1e8, 1e8): gradient (0.5, -0.5)", res[1], [[0.5, -0.5]])
xent_case("xent (128,10)", rng.standard_normal((128, 10)) * 3, rng.integers(0, 10, 128))
xent_case("xent (128,100)", rng.standard_normal((128, 100)) * 3, rng.integers(0, 100, 128))
xent_case("xent (1,10)", rng.standard_normal((1, 10)), [7])
xent_case("xent (1,100)", rng.standard_normal((1, 100)) * 5, [0])
xent_case("xent (128,100) accumulate", rng.standard_normal((128, 100)),
          rng.integers(0, 100, 128), accumulate=True)
xent_case("xent (128,10) huge logits", rng.standard_normal((128, 10)) * 1e4,
          rng.integers(0, 10, 128))
xent_case("xent (64,100) logits near 1e30", 1e30 + rng.standard_normal((64, 100)) * 1e24,
          rng.integers(0, 100, 64))
xent_case("xent (3,4) ties", [[1, 3, 3, 0], [2, 2, 2, 2], [-5, -1, -1, -9]], [2, 0, 1])
xent_case("xent label -1", rng.standard_normal((4, 10)), [1, 2, 3, -1], expect=MD_ERR_RANGE)
xent_case("xent label == classes", rng.standard_normal((4, 10)), [0, 1, 2, 10],
          expect=MD_ERR_RANGE)
xent_case("xent label == classes (100)", rng.standard_normal((2, 100)), [100, 0],
          expect=MD_ERR_RANGE)

for op, e in sorted(worst.items()):
    print(f"worst normalised error {op}: {e:.3g}")
mp.finish()
