"""maxdrop checkpoints <-> PyTorch, through tools/checkpoint_torch.py and the C API.

ResNet-18 width 16: a PyTorch state_dict with every tensor randomised (BN
running statistics, num_batches_tracked, special float values included) goes
PyTorch -> safetensors (tool) -> C reader into one contiguous parameter
buffer -> C writer (driver_checkpoint copy) -> PyTorch (tool), where it loads
with load_state_dict(strict=True) into the tool's model; then back to
safetensors. Every tensor must be bit-identical at every stage, checked by
this test's own reading of the files (json + struct) and by PyTorch. Also:
momentum buffers, PyTorch-initialised ResNet-18 and WRN-16-2 models (`init`),
the parameter counts of the paper's networks, and rejected conversions.
"""
import collections
import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch

import mdparity as mp

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "..", "tools", "checkpoint_torch.py")
spec = importlib.util.spec_from_file_location("checkpoint_torch", TOOL)
ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)

tmp = mp.tmpdir()
P = lambda name: os.path.join(tmp, name)  # noqa: E731


def tool(*args, expect_ok=True):
    return mp.run([sys.executable, TOOL, *args], expect_ok=expect_ok)


NP = {"F32": "<f4", "I64": "<i8", "U64": "<u8"}


def parse(path):
    """This test's own safetensors reader: (header dict, {name: ndarray}, header length)."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = collections.OrderedDict()
    for k, e in header.items():
        if k == "__metadata__":
            continue
        b, f = e["data_offsets"]
        out[k] = np.frombuffer(data[b:f], dtype=NP[e["dtype"]]).reshape(e["shape"])
    return header, out, n


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def compare_dicts(name, got, want):
    """Bit-identical tensors (NumPy arrays or torch tensors), same keys, same order."""
    got_keys, want_keys = list(got), list(want)
    mp.check(got_keys == want_keys, f"{name}: same tensor names in the same order "
             f"({len(got_keys)} vs {len(want_keys)})")
    bad = [k for k in want_keys if k in got and not same_bits(
        got[k].numpy() if torch.is_tensor(got[k]) else got[k],
        want[k].numpy() if torch.is_tensor(want[k]) else want[k])]
    mp.check(not bad, f"{name}: {len(bad)} tensors differ" + (f", first '{bad[0]}'" if bad else ""))


# ---------------------------------------------------------------------------
# The networks' parameter names and sizes (REFERENCE.md section 2)
# ---------------------------------------------------------------------------
r18 = ct.ResNet18(width=64, num_classes=10)
mp.check(sum(p.numel() for p in r18.parameters()) == 11173962,
         "CIFAR ResNet-18 has 11,173,962 parameters")
wrn = ct.WideResNet(depth=28, widen_factor=10, num_classes=10)
mp.check(sum(p.numel() for p in wrn.parameters()) == 36479194,
         "WRN-28-10 has 36,479,194 parameters")
keys = r18.state_dict()
for k, shape in [("conv1.weight", (64, 3, 3, 3)), ("bn1.running_var", (64,)),
                 ("layer1.0.conv1.weight", (64, 64, 3, 3)),
                 ("layer2.0.shortcut.0.weight", (128, 64, 1, 1)),
                 ("layer2.0.shortcut.1.num_batches_tracked", ()),
                 ("layer4.1.bn2.bias", (512,)), ("linear.weight", (10, 512)),
                 ("linear.bias", (10,))]:
    mp.check(k in keys and tuple(keys[k].shape) == shape, f"ResNet-18 has {k} {shape}")
mp.check("layer1.0.shortcut.0.weight" not in keys and "layer2.1.shortcut.0.weight" not in keys,
         "ResNet-18: identity shortcuts have no parameters")
keys = wrn.state_dict()
for k, shape in [("conv1.weight", (16, 3, 3, 3)),
                 ("block1.layer.0.bn1.weight", (16,)),
                 ("block1.layer.0.conv1.weight", (160, 16, 3, 3)),
                 ("block1.layer.0.convShortcut.weight", (160, 16, 1, 1)),
                 ("block2.layer.0.convShortcut.weight", (320, 160, 1, 1)),
                 ("block3.layer.3.conv2.weight", (640, 640, 3, 3)),
                 ("bn1.running_mean", (640,)), ("fc.weight", (10, 640))]:
    mp.check(k in keys and tuple(keys[k].shape) == shape, f"WRN-28-10 has {k} {shape}")
mp.check("block1.layer.1.convShortcut.weight" not in keys and "block3.layer.4.bn1.weight" not in keys,
         "WRN-28-10: 4 blocks per group, shortcut conv only where channels change")

# ---------------------------------------------------------------------------
# ResNet-18 width 16, randomised state, momentum buffers: the full round trip
# ---------------------------------------------------------------------------
torch.manual_seed(3)
model = ct.ResNet18(width=16, num_classes=10)
sd0 = collections.OrderedDict()
for k, v in model.state_dict().items():
    if v.dtype == torch.int64:
        sd0[k] = torch.randint(0, 2**40, ()) if k != "bn1.num_batches_tracked" else \
            torch.tensor(2**62 + 12345)
    elif k.endswith("running_var"):
        sd0[k] = torch.rand(v.shape) + 0.5
    else:
        sd0[k] = torch.randn(v.shape)
sd0["linear.bias"][:5] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-45, -float("inf")])
mom0 = collections.OrderedDict((k, torch.randn(p.shape)) for k, p in model.named_parameters())
torch.save(sd0, P("sd0.pt"))
torch.save(mom0, P("mom0.pt"))

# PyTorch -> safetensors, written by the tool
tool("from-torch", P("sd0.pt"), P("a.safetensors"), "--momentum-in", P("mom0.pt"),
     "--meta", "epoch=7", "--meta", "lr=0.020000000000000004")
ha, ta, na = parse(P("a.safetensors"))
want_all = collections.OrderedDict((k, v.numpy()) for k, v in sd0.items())
want_all.update((ct.MOMENTUM_PREFIX + k, v.numpy()) for k, v in mom0.items())
compare_dicts("tool from-torch", ta, want_all)
mp.check(ha["bn1.num_batches_tracked"]["dtype"] == "I64" and
         ha["bn1.num_batches_tracked"]["shape"] == [],
         "num_batches_tracked is an I64 scalar, as PyTorch")
mp.check(json.loads(ha["__metadata__"]["model"]) ==
         {"arch": "resnet18", "width": 16, "num_classes": 10}, "model configuration in metadata")

# safetensors -> C API (one contiguous F32 buffer) -> safetensors, written by C
mp.driver("driver_checkpoint", "copy", P("a.safetensors"), P("b.safetensors"))
hb, tb, nb = parse(P("b.safetensors"))
compare_dicts("C copy", tb, want_all)
mp.check((8 + nb) % 8 == 0, "C writer: data section starts on an 8-byte boundary")
mp.check(hb["__metadata__"].get("epoch") == "7" and
         hb["__metadata__"].get("lr") == "0.020000000000000004" and
         hb["__metadata__"].get("copied_by") == "driver_checkpoint" and
         hb["__metadata__"].get("model") == ha["__metadata__"]["model"],
         "C writer keeps the metadata")
offsets = sorted(e["data_offsets"] for k, e in hb.items() if k != "__metadata__")
mp.check(all(a[1] == b[0] for a, b in zip(offsets, offsets[1:])) and offsets[0][0] == 0 and
         offsets[-1][1] == os.path.getsize(P("b.safetensors")) - 8 - nb,
         "C writer: tensors tile the data section")
int_ends = [e["data_offsets"][1] for k, e in hb.items() if k != "__metadata__" and e["dtype"] == "I64"]
f32_begins = [e["data_offsets"][0] for k, e in hb.items() if k != "__metadata__" and e["dtype"] == "F32"]
mp.check(max(int_ends) <= min(f32_begins), "C writer: 8-byte dtypes first (aligned)")

# safetensors (C-written) -> PyTorch: strict load into the tool's model
tool("to-torch", P("b.safetensors"), P("b.pt"), "--model", "resnet18", "--width", "16",
     "--momentum-out", P("b_mom.pt"))
sd_b = torch.load(P("b.pt"))
mom_b = torch.load(P("b_mom.pt"))
fresh = ct.ResNet18(width=16, num_classes=10)
try:
    fresh.load_state_dict(sd_b, strict=True)
    mp.check(True, "C-written checkpoint loads with strict=True")
except RuntimeError as e:
    mp.check(False, f"strict load failed: {e}")
compare_dicts("to-torch state_dict", sd_b, sd0)
compare_dicts("to-torch loaded model", fresh.state_dict(), sd0)
compare_dicts("to-torch momentum", mom_b, mom0)

# and back: PyTorch -> safetensors -> C reader
tool("from-torch", P("b.pt"), P("c.safetensors"), "--momentum-in", P("b_mom.pt"))
hc, tc, nc = parse(P("c.safetensors"))
compare_dicts("back to safetensors", tc, tb)
ls = mp.driver("driver_checkpoint", "ls", P("c.safetensors")).stdout.splitlines()
mp.check(ls[0] == "conv1.weight F32 16,3,3,3" and "bn1.num_batches_tracked I64 " in ls,
         "C reader lists the tool's file")
mp.driver("driver_checkpoint", "copy", P("c.safetensors"), P("d.safetensors"))
compare_dicts("second C copy", parse(P("d.safetensors"))[1], tb)

# ---------------------------------------------------------------------------
# PyTorch-initialised models through C and back: ResNet-18 and WRN-16-2
# ---------------------------------------------------------------------------
for args, build in [(["--model", "resnet18", "--width", "16"],
                     lambda: ct.ResNet18(width=16, num_classes=10)),
                    (["--model", "wrn", "--depth", "16", "--widen", "2", "--classes", "100"],
                     lambda: ct.WideResNet(depth=16, widen_factor=2, num_classes=100))]:
    name = " ".join(args)
    tool("init", *args, "--seed", "11", P("init.safetensors"))
    mp.driver("driver_checkpoint", "copy", P("init.safetensors"), P("init_c.safetensors"))
    tool("to-torch", P("init_c.safetensors"), P("init.pt"))  # config from the metadata
    torch.manual_seed(11)
    ref = build()
    got = torch.load(P("init.pt"))
    try:
        build().load_state_dict(got, strict=True)
        mp.check(True, f"init {name}: strict load")
    except RuntimeError as e:
        mp.check(False, f"init {name}: strict load failed: {e}")
    compare_dicts(f"init {name}", got, ref.state_dict())

# ---------------------------------------------------------------------------
# Conversions that must be refused
# ---------------------------------------------------------------------------
p = tool("to-torch", P("b.safetensors"), P("x.pt"), "--model", "resnet18", "--width", "32",
         expect_ok=False)
mp.check(p.returncode != 0 and "conv1.weight [16, 3, 3, 3] (model [32, 3, 3, 3])" in p.stderr,
         f"wrong width refused with the tensor named: {p.stderr.strip()[:200]}")
p = tool("to-torch", P("b.safetensors"), P("x.pt"), "--model", "wrn", expect_ok=False)
mp.check(p.returncode != 0 and "missing" in p.stderr, "wrong architecture refused")
blob = open(P("b.safetensors"), "rb").read()
open(P("cut.safetensors"), "wb").write(blob[:-10])
p = mp.driver("driver_checkpoint", "copy", P("cut.safetensors"), P("x.safetensors"),
              expect_ok=False)
last = max((e["data_offsets"][1], k) for k, e in hb.items() if k != "__metadata__")[1]
mp.check(p.returncode == 1 and f"'{last}'" in p.stderr and "go past the end" in p.stderr,
         f"C reader names the cut tensor: {p.stderr.strip()}")
p = tool("to-torch", P("cut.safetensors"), P("x.pt"), expect_ok=False)
mp.check(p.returncode == 1 and "go past the end" in p.stderr, "tool refuses the cut file")
mp.check(not os.path.exists(P("x.pt")) and not os.path.exists(P("x.safetensors")),
         "nothing written on failure")

mp.finish()
