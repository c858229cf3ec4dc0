"""Whole-network parity with PyTorch: ResNet-18 (widths 16 and 64) and
WRN-16-4, trained for 5 SGD steps (lr 0.1, momentum 0.9, Nesterov, weight
decay 5e-4) by maxdrop (tests/parity/driver_model.c) and by PyTorch from the
SAME initial weights and batches, with MaxDropout (rate 0.3 after each stage /
inside each block), with Dropout and with no regularizer.

The weights come from tools/checkpoint_torch.py `init` (PyTorch's own
initialisation, written as a maxdrop checkpoint); both sides load that file.
The PyTorch models are tools/checkpoint_torch.py's definitions (the reference
code's architectures and state_dict names); the forward functions below call
their modules in the reference's order, with hooks at the ReLUs and where the
reference puts the regularizer.

1. Step by step. The driver writes its whole state (parameters, statistics,
   counters, momentum: a checkpoint, read by state_dict name) before each
   step. PyTorch takes each step from maxdrop's state before it and must give
   maxdrop's logits, loss, every parameter gradient (steps 0 and 4), and its
   state after the step: parameters, momentum buffers, BatchNorm running
   statistics and num_batches_tracked. Step 4 runs on a smaller batch (the
   last batch of an epoch) in the memory planned for the full one.
2. Free-running. PyTorch trains 5 steps on its own from the initial weights;
   its loss trajectory and final parameters must follow maxdrop's.
3. An evaluation forward after training (running statistics; with the
   reference-compatibility switch, MaxDropout active in evaluation too).

Decisions at kinks. Two float32 implementations of the same network differ by
rounding (~1e-6 relative), so an element within rounding of a decision point
can fall on different sides of it: a ReLU input within ~1e-7 of 0, or a
MaxDropout value q within ~1e-7 of the threshold 1 - rate. One such flip
changes a bias gradient by up to ~1e-2 and the difference then grows with
each step, so comparing independently taken decisions would make the test
flaky. The driver therefore writes every decision it took (each ReLU's
pass-mask, through an internal trace hook, and each regularizer's keep-mask);
the PyTorch side computes its own decision from its own activations, counts
the differences, requires them to be few and each within rounding of the
decision point (RELU_ZTOL, Q_TOL), and then uses maxdrop's decision, so that
both sides keep computing the same function and every other comparison stays
tight. Dropout masks come from maxdrop's random stream, which PyTorch's
generator cannot reproduce: PyTorch applies maxdrop's masks (with F.dropout's
1/(1-p) scaling) and checks that the drop fraction is plausible.

Batch sizes, to keep the CI time moderate (the sanitizer build runs this test
too): ResNet-18 width 16: 16 (last step 11); ResNet-18 width 64 and WRN-16-4:
8 (last step 5).
"""
import os
import shutil
import sys

import mdparity as mp
import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import checkpoint_torch as ct  # noqa: E402

torch.manual_seed(0)
# PyTorch's float32 sums differ from maxdrop's (double BatchNorm statistics,
# Winograd convolutions, other GEMM blockings): from the same state the
# measured differences are up to ~1.5e-5 relative (gradients), ~1e-6
# (logits) and ~1e-7 (loss); the tolerances leave a margin of about 5x or
# more.
LOGIT_RTOL = 2e-5      # |diff| <= LOGIT_RTOL * max|logit| + 1e-6, from the same state
LOSS_RTOL = 1e-5       # relative, from the same state
GRAD_REL = 1e-4        # ||g_md - g_pt|| <= GRAD_REL * ||g_pt||  per tensor
GRAD_MAXABS = 1e-4     # max |diff| <= GRAD_MAXABS * max|g_pt| per tensor
STAT_TOL = 1e-4        # running statistics after a step from the same state:
                       # |diff| <= 1e-5 |want| + STAT_TOL * max|tensor| (a batch mean
                       # near 0 carries the absolute error of its channel's spread)
UPDATE_RTOL = 1e-4     # parameters after a step from the same state, relative to the step
MOM_TOL = 1e-4         # momentum: |diff| <= MOM_TOL * max|buffer|
RELU_ZTOL = 1e-4       # ReLU decisions may differ only where |z| <= RELU_ZTOL * max|z|
Q_TOL = 1e-4           # MaxDropout decisions only where |q - (1 - rate)| <= Q_TOL
MAX_DISAGREE = 1e-4    # ... and in at most this fraction of a layer's elements (or 2)
# Free-running, rounding differences grow from step to step: lr 0.1 on a
# fresh network and a small batch is a chaotic regime, which amplifies them
# several-fold per step. Each case states its tolerances (loss: relative, per
# step; parameters after 5 steps: of their largest change). Measured with the
# convolutions of 2026-12-03: width 16 and WRN-16-4 within 1.4e-5 (loss) and
# 1.4e-4 (parameters); width 64, whose loss jumps from 2.9 to 38 and whose
# evaluation logits reach 4e9 after the 5 steps, 2.5e-3 and 1.7e-3.
FREE_TIGHT = (2e-4, 2e-3)
FREE_CHAOTIC = (2e-2, 5e-2)

STEPS = 5
LR = 0.1


def load_init(path):
    tensors, meta = ct.read_safetensors(path)
    return {k: ct.st_to_torch(k, dt, a) for k, (dt, a) in tensors.items()}, meta


class Hooks:
    """The ReLUs and regularizers of one forward pass. With `out` set, each
    ReLU and regularizer takes maxdrop's decision from the masks the driver
    wrote for step `tag`, after checking that it disagrees with PyTorch's own
    decision only where rounding can decide; without, plain ReLU and identity."""

    def __init__(self, out=None, kind="none", rate=0.0, tag=""):
        self.out, self.kind, self.rate, self.tag = out, kind, rate, tag
        self.n_relu = self.n_reg = 0
        self.relu_flips = self.relu_elements = 0
        self.relu_worst = 0.0  # largest |z| / max|z| of a differing decision
        self.disagree = self.elements = 0
        self.check = True  # assert on the differences (False: only apply maxdrop's masks)

    def _mask(self, what, i, like):
        keep = torch.from_numpy(np.load(os.path.join(self.out, f"{what}_{self.tag}_{i}.npy"))
                                .astype(bool))
        mp.check(tuple(keep.shape) == tuple(like.shape),
                 f"{what} {self.tag}/{i}: mask shape {tuple(keep.shape)} != activation "
                 f"{tuple(like.shape)}")
        return keep

    def relu(self, z):
        if self.out is None or self.tag == "eval":
            return F.relu(z)
        i = self.n_relu
        self.n_relu += 1
        keep = self._mask("relu", i, z)
        with torch.no_grad():
            zd = z.detach()
            bad = (zd > 0) != keep
            nbad = int(bad.sum())
            self.relu_flips += nbad
            self.relu_elements += keep.numel()
            if nbad and self.check:
                lim = RELU_ZTOL * float(zd.abs().max())
                dist = float(zd[bad].abs().max())
                self.relu_worst = max(self.relu_worst, dist / float(zd.abs().max()))
                mp.check(dist <= lim, f"relu {self.tag}/{i}: {nbad} decision(s) differ, one at "
                         f"pre-activation {dist:.3g} (allowed {lim:.3g})")
                mp.check(nbad <= max(2, MAX_DISAGREE * keep.numel()),
                         f"relu {self.tag}/{i}: {nbad} of {keep.numel()} decisions differ")
        # maxdrop's decision; where the two differ the value is within rounding of 0
        return z.masked_fill(~keep, 0.0)

    def reg(self, y):
        if self.kind == "none":
            return y
        i = self.n_reg
        self.n_reg += 1
        if self.out is None:
            return y
        keep = self._mask("mask", i, y)
        if self.kind == "maxdropout":
            with torch.no_grad():
                yd = y.detach()
                q = (yd - yd.min()) / (yd.max() - yd.min())
                thr = torch.tensor(1.0 - self.rate, dtype=torch.float32)
                bad = ~(q > thr) != keep
                nbad = int(bad.sum())
                self.disagree += nbad
                self.elements += keep.numel()
                if nbad and self.check:
                    dist = float((q[bad] - thr).abs().max())
                    mp.check(dist <= Q_TOL,
                             f"mask {self.tag}/{i}: {nbad} disagreement(s), one {dist:.3g} "
                             f"from the threshold (allowed {Q_TOL})")
                    mp.check(nbad <= max(2, MAX_DISAGREE * keep.numel()),
                             f"mask {self.tag}/{i}: {nbad} of {keep.numel()} elements disagree")
            return y.masked_fill(~keep, 0.0)
        # dropout: maxdrop's stream decided; check that the drop fraction is plausible
        if not self.check:
            return y.masked_fill(~keep, 0.0) * (1.0 / (1.0 - self.rate))
        frac = 1.0 - keep.float().mean().item()
        sd = (self.rate * (1 - self.rate) / keep.numel()) ** 0.5
        mp.check(abs(frac - self.rate) <= 6 * sd + 1e-3,
                 f"dropout mask {self.tag}/{i}: drop fraction {frac:.4f}, rate {self.rate}")
        return y.masked_fill(~keep, 0.0) * (1.0 / (1.0 - self.rate))


def res_block(blk, x, h):
    """The reference BasicBlock (checkpoint_torch.ResBlock) with hooked ReLUs."""
    y = h.relu(blk.bn1(blk.conv1(x)))
    y = blk.bn2(blk.conv2(y))
    return h.relu(y + blk.shortcut(x))


def resnet_forward(model, x, h):
    y = h.relu(model.bn1(model.conv1(x)))
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for blk in layer:
            y = res_block(blk, y, h)
        y = h.reg(y)  # the regularizer after each stage
    y = F.avg_pool2d(y, 4)
    return model.linear(y.flatten(1))


def wrn_block(blk, x, h):
    """The reference pre-activation block (checkpoint_torch.WideBlock)."""
    a = h.relu(blk.bn1(x))
    y = h.relu(blk.bn2(blk.conv1(a)))
    y = blk.conv2(h.reg(y))
    return (x if blk.equal else blk.convShortcut(a)) + y


def wrn_forward(model, x, h):
    y = model.conv1(x)
    for group in (model.block1, model.block2, model.block3):
        for blk in group.layer:
            y = wrn_block(blk, y, h)
    y = h.relu(model.bn1(y))
    y = F.avg_pool2d(y, 8)
    return model.fc(y.flatten(1))


def rel_err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def build(arch, opts, classes):
    if arch == "resnet18":
        return ct.ResNet18(width=opts["width"], num_classes=classes), resnet_forward
    return (ct.WideResNet(depth=opts["depth"], widen_factor=opts["widen"], num_classes=classes),
            wrn_forward)


def load_state(model, opt, path):
    """Loads a state maxdrop wrote: model tensors, and momentum buffers into
    the optimizer when the file holds any that are not all zero-step."""
    tensors, meta = ct.read_safetensors(path)
    sd = {k: ct.st_to_torch(k, dt, a) for k, (dt, a) in tensors.items()
          if not k.startswith(ct.MOMENTUM_PREFIX) and not k.startswith(ct.RNG_PREFIX)}
    model.load_state_dict(sd, strict=True)
    return tensors, meta


def make_sgd(model):
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, nesterov=True,
                           weight_decay=5e-4)


def compare_grads(name, out, t, params):
    worst = worst_max = 0.0
    for pname, prm in params.items():
        gpath = os.path.join(out, f"grad_{t}.{pname}.npy")
        if not os.path.exists(gpath):
            mp.check(False, f"{name}: no gradient written for '{pname}' at step {t}")
            continue
        gmd = np.load(gpath)
        gpt = prm.grad.numpy()
        if gmd.shape != gpt.shape:
            mp.check(False, f"{name}: grad {pname}: shape {gmd.shape} != {gpt.shape}")
            continue
        r = rel_err(gmd, gpt)
        mx = np.abs(gmd - gpt).max() / max(np.abs(gpt).max(), 1e-30)
        worst = max(worst, r)
        worst_max = max(worst_max, mx)
        mp.check(r <= GRAD_REL and mx <= GRAD_MAXABS,
                 f"{name}: step {t} grad {pname}: relative L2 error {r:.3g} (allowed "
                 f"{GRAD_REL}), max error {mx:.3g} of max|g| (allowed {GRAD_MAXABS})")
    written = {f.split(".", 1)[1][:-4] for f in os.listdir(out) if f.startswith(f"grad_{t}.")}
    mp.check(written == set(params),
             f"{name}: gradient names differ: extra {sorted(written - set(params))}, "
             f"missing {sorted(set(params) - written)}")
    print(f"  step {t} gradients: {len(params)} tensors, worst relative L2 error {worst:.2e}, "
          f"worst max error {worst_max:.2e} of max|g|")


def compare_state(name, what, tensors, model, opt, params, before):
    """maxdrop's state (tensors of a checkpoint) against PyTorch's model and
    optimizer after a step both took from the same state `before`; returns the
    largest parameter difference. A parameter may differ by UPDATE_RTOL of
    the largest change the step made to its tensor (the gradients agree to
    ~1e-5, not bit for bit) plus rounding."""
    state = model.state_dict()
    names = {k for k in tensors if not k.startswith(ct.RNG_PREFIX)}
    want = set(state) | {ct.MOMENTUM_PREFIX + k for k in params}
    mp.check(names == want, f"{name}: checkpoint names differ: extra {sorted(names - want)}, "
             f"missing {sorted(want - names)}")
    worst = 0.0
    for k, v in state.items():
        if k not in tensors:
            continue
        got = tensors[k][1]
        if k.endswith("num_batches_tracked"):
            mp.check(int(got) == int(v), f"{name}: {k} {what}: maxdrop {int(got)}, PyTorch "
                     f"{int(v)}")
            continue
        w = v.numpy()
        if "running" in k:
            mp.check_close(f"{name}: {k} {what}", got, w, rtol=1e-5,
                           atol=STAT_TOL * float(np.abs(w).max()) + 1e-9)
        else:
            step = float(np.abs(w - before[k][1]).max())
            mp.check_close(f"{name}: {k} {what}", got, w, rtol=2e-7,
                           atol=UPDATE_RTOL * step + 1e-9)
        worst = max(worst, float(np.abs(got - w).max()))
    for k, prm in params.items():
        st = opt.state.get(prm, {})
        got = tensors.get(ct.MOMENTUM_PREFIX + k)
        if "momentum_buffer" in st and got is not None:
            mom = st["momentum_buffer"].numpy()
            mp.check_close(f"{name}: momentum {k} {what}", got[1], mom, rtol=0,
                           atol=MOM_TOL * float(np.abs(mom).max()) + 1e-7)
    return worst


def run_case(name, arch, opts, batch, last_n, reg, rate, free=FREE_TIGHT, classes=10,
             eval_masks=False):
    print(f"--- {name}")
    d = mp.tmpdir()
    try:
        run_case_in(d, name, arch, opts, batch, last_n, reg, rate, free, classes, eval_masks)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_case_in(d, name, arch, opts, batch, last_n, reg, rate, free, classes, eval_masks):
    init = os.path.join(d, "init.safetensors")
    model_opts = ["--model", arch, "--classes", str(classes)]
    drv_opts = ["--arch", arch, "--classes", str(classes)]
    if arch == "resnet18":
        model_opts += ["--width", str(opts["width"])]
        drv_opts += ["--width", str(opts["width"])]
    else:
        model_opts += ["--depth", str(opts["depth"]), "--widen", str(opts["widen"])]
        drv_opts += ["--depth", str(opts["depth"]), "--widen", str(opts["widen"])]
    p = mp.run([sys.executable, os.path.join(ROOT, "tools", "checkpoint_torch.py"), "init",
                init, "--seed", "7"] + model_opts)
    if p.returncode != 0:
        return
    rng = np.random.default_rng(11)
    X = rng.standard_normal((STEPS, batch, 3, 32, 32), dtype=np.float32)
    Y = rng.integers(0, classes, (STEPS, batch)).astype(np.float32)
    np.save(os.path.join(d, "x.npy"), X)
    np.save(os.path.join(d, "y.npy"), Y)
    out = os.path.join(d, "out")
    os.makedirs(out)
    args = [out, init, os.path.join(d, "x.npy"), os.path.join(d, "y.npy"), *drv_opts,
            "--reg", reg, "--rate", str(rate), "--lr", str(LR), "--last-n", str(last_n),
            "--grad-steps", f"0,{STEPS - 1}"]
    if eval_masks:
        args += ["--maxdrop-in-eval"]
    p = mp.driver("driver_model", *args)
    if p.returncode != 0:
        return
    losses = [line.split() for line in open(os.path.join(out, "loss.txt"))]
    mp.check(len(losses) == STEPS, f"{name}: {len(losses)} losses written, want {STEPS}")
    if len(losses) != STEPS:
        return
    md_loss = [float(v[1]) for v in losses]

    # 1. Step by step: PyTorch takes each step from the state maxdrop had
    #    before it (parameters, statistics, counters, momentum), with maxdrop's
    #    ReLU and regularizer decisions, and must reach maxdrop's next state.
    model, fwd = build(arch, opts, classes)
    init_sd, _ = load_init(init)
    model.train()
    params = dict(model.named_parameters())
    flips = [0, 0, 0, 0]  # relu differences, relu elements, mask differences, mask elements
    relu_worst = 0.0
    worst_state = 0.0
    for t in range(STEPS):
        tensors, _ = load_state(model, None, os.path.join(out, f"state_{t}.safetensors"))
        if t == 0:
            for k, v in init_sd.items():  # the driver started from the init checkpoint
                mp.check_identical(f"{name}: {k} loaded", tensors[k][1], v.numpy())
        opt = make_sgd(model)
        if t > 0:
            for k, prm in params.items():
                opt.state[prm]["momentum_buffer"] = torch.from_numpy(
                    tensors[ct.MOMENTUM_PREFIX + k][1].copy())
        n = last_n if t == STEPS - 1 else batch
        x = torch.from_numpy(X[t, :n])
        y = torch.from_numpy(Y[t, :n].astype(np.int64))
        h = Hooks(out, reg, rate, str(t))
        opt.zero_grad()
        logits = fwd(model, x, h)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        flips = [flips[0] + h.relu_flips, flips[1] + h.relu_elements,
                 flips[2] + h.disagree, flips[3] + h.elements]
        relu_worst = max(relu_worst, h.relu_worst)
        mp.check(h.n_relu == len([f for f in os.listdir(out) if f.startswith(f"relu_{t}_")]),
                 f"{name}: step {t}: PyTorch ran {h.n_relu} ReLUs, maxdrop reported a "
                 "different number")
        lmd = np.load(os.path.join(out, f"logits_{t}.npy"))
        lpt = logits.detach().numpy()
        scale = float(np.abs(lpt).max())
        mp.check_close(f"{name}: logits step {t}", lmd, lpt, rtol=0,
                       atol=LOGIT_RTOL * scale + 1e-6)
        mp.check(abs(md_loss[t] - loss.item()) <= LOSS_RTOL * abs(loss.item()),
                 f"{name}: loss step {t}: maxdrop {md_loss[t]!r}, PyTorch {loss.item()!r}")
        print(f"  step {t} (batch {n}): loss maxdrop {md_loss[t]:.7f} PyTorch "
              f"{loss.item():.7f}; logits max diff {np.abs(lmd - lpt).max():.2e} "
              f"(max |logit| {scale:.3g})")
        if t in (0, STEPS - 1):
            compare_grads(name, out, t, params)
        opt.step()
        nxt, _ = ct.read_safetensors(os.path.join(out, f"state_{t + 1}.safetensors"))
        worst_state = max(worst_state, compare_state(name, f"after step {t}", nxt, model, opt,
                                                     params, tensors))
    print(f"  states after each step: worst parameter/statistic difference {worst_state:.2e}")
    print(f"  ReLU: {flips[0]} decision(s) differ from PyTorch's in {flips[1]} elements, "
          f"the farthest at |z| = {relu_worst:.2e} max|z| (allowed {RELU_ZTOL})")
    if reg == "maxdropout":
        print(f"  MaxDropout: {flips[2]} mask element(s) differ from PyTorch's in {flips[3]}")

    # 2. Free-running: PyTorch trains 5 steps on its own from the initial
    #    weights (with maxdrop's masks, whose differences step 1 bounded); its
    #    losses must follow maxdrop's trajectory.
    model, fwd = build(arch, opts, classes)
    model.load_state_dict(init_sd, strict=True)
    model.train()
    params = dict(model.named_parameters())
    opt = make_sgd(model)
    pt_loss = []
    for t in range(STEPS):
        n = last_n if t == STEPS - 1 else batch
        h = Hooks(out, reg, rate, str(t))
        h.check = False
        opt.zero_grad()
        loss = F.cross_entropy(fwd(model, torch.from_numpy(X[t, :n]), h),
                               torch.from_numpy(Y[t, :n].astype(np.int64)))
        loss.backward()
        opt.step()
        pt_loss.append(loss.item())
    rel = max(abs(a - b) / abs(b) for a, b in zip(md_loss, pt_loss))
    mp.check(rel <= free[0], f"{name}: loss trajectory: maxdrop {md_loss}, PyTorch {pt_loss} "
             f"(largest relative difference {rel:.3g}, allowed {free[0]})")
    print(f"  free-running loss trajectory: PyTorch {[round(v, 6) for v in pt_loss]}, "
          f"largest relative difference {rel:.2e}")
    fin, _ = ct.read_safetensors(os.path.join(out, f"state_{STEPS}.safetensors"))
    drift = moved = 0.0
    for k, v in params.items():
        drift = max(drift, float(np.abs(fin[k][1] - v.detach().numpy()).max()))
        moved = max(moved, float(np.abs(fin[k][1] - init_sd[k].numpy()).max()))
    mp.check(drift <= free[1] * moved,
             f"{name}: after {STEPS} free-running steps the parameters differ by up to "
             f"{drift:.3g}, {drift / moved:.3g} of the largest change (allowed {free[1]})")
    print(f"  free-running parameters after {STEPS} steps: largest difference {drift:.2e} "
          f"({drift / moved:.2e} of the largest change)")

    # 3. Evaluation forward after training (running statistics; MaxDropout
    #    only with the reference-compatibility switch, then with its masks).
    model, fwd = build(arch, opts, classes)
    load_state(model, None, os.path.join(out, f"state_{STEPS}.safetensors"))
    model.eval()
    with torch.no_grad():
        h = Hooks(out, reg, rate, "eval") if eval_masks else Hooks(kind=reg)
        le = fwd(model, torch.from_numpy(X[0]), h).numpy()
    emd = np.load(os.path.join(out, "eval_logits.npy"))
    mp.check_close(f"{name}: eval logits", emd, le, rtol=0,
                   atol=LOGIT_RTOL * float(np.abs(le).max()) + 1e-6)
    if eval_masks:
        mp.check(h.n_reg == 4, f"{name}: {h.n_reg} MaxDropout masks in evaluation, want 4")
    print(f"  eval logits max diff {np.abs(emd - le).max():.2e} (max |logit| {np.abs(le).max():.3g})")


CASES = [
    # with the reference-compatibility switch: MaxDropout active in evaluation
    # too (the other MaxDropout cases check the default, identity in evaluation)
    ("resnet18-w16 maxdropout, also in eval", "resnet18", {"width": 16}, 16, 11, "maxdropout",
     0.3, FREE_TIGHT, 10, True),
    ("resnet18-w64 maxdropout", "resnet18", {"width": 64}, 8, 5, "maxdropout", 0.3,
     FREE_CHAOTIC),
    ("wrn-16-4 maxdropout", "wrn", {"depth": 16, "widen": 4}, 8, 5, "maxdropout", 0.3),
    ("resnet18-w16 none", "resnet18", {"width": 16}, 16, 11, "none", 0.0),
    ("resnet18-w16 dropout", "resnet18", {"width": 16}, 16, 11, "dropout", 0.3),
    ("wrn-16-4 none", "wrn", {"depth": 16, "widen": 4}, 8, 5, "none", 0.0),
    ("wrn-16-4 dropout", "wrn", {"depth": 16, "widen": 4}, 8, 5, "dropout", 0.3),
]

only = os.environ.get("MD_MODEL_PARITY_ONLY")
for case in CASES:
    if only and only not in case[0]:
        continue
    run_case(*case)
mp.finish()
