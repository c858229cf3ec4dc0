#!/usr/bin/python3
"""maxdrop checkpoints <-> PyTorch state_dicts.

Usage (run with Debian's /usr/bin/python3, which has python3-torch):

  checkpoint_torch.py to-torch CKPT.safetensors OUT.pt [model options] [--momentum-out M.pt]
      Writes the model tensors of a maxdrop checkpoint as a PyTorch state_dict
      (an OrderedDict saved with torch.save), after checking that it loads with
      load_state_dict(strict=True) into this script's model. --momentum-out
      also saves the SGD momentum buffers as {parameter name: tensor}.
  checkpoint_torch.py from-torch IN.pt CKPT.safetensors [model options]
                      [--momentum-in M.pt] [--meta KEY=VALUE ...]
      Writes a state_dict (or a dict holding one under 'state_dict' or
      'model') as a maxdrop checkpoint; checks it against the model first when
      the architecture is known (options, or inferred from the tensor names).
  checkpoint_torch.py init --model resnet18|wrn [model options] [--seed S] OUT.safetensors
      Writes a freshly initialised PyTorch model (PyTorch's initialisation for
      ResNet-18, the WRN code's for Wide-ResNet) as a maxdrop checkpoint.
  checkpoint_torch.py ls CKPT.safetensors
      Lists the tensors and metadata.

Model options: --model resnet18|wrn, --width W (ResNet-18 stem width, 64 in
the paper; stages W, 2W, 4W, 8W), --depth D and --widen K (WRN-D-K, 28 and 10
in the paper), --classes C. Missing options come from the checkpoint's
"model" metadata (a JSON object: {"arch": "resnet18", "width": 64,
"num_classes": 10} or {"arch": "wrn", "depth": 28, "widen_factor": 10,
"num_classes": 10}), else from the tensor shapes.

The safetensors format is parsed and written here with json and struct only
(no safetensors package): 8-byte little-endian header length, JSON header
{name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, raw
little-endian data. Like maxdrop's C writer, the header is padded with spaces
to an 8-byte boundary and 8-byte dtypes come first in the data section.

In a maxdrop checkpoint, tensors named "optimizer.momentum_buffer.<param>"
hold SGD momentum buffers and "rng.<stream>" random-stream states (U64); the
rest are the model's state_dict entries.

Checksums: files written here carry maxdrop's SHA-256 checksums of the header
and of every tensor (metadata "maxdrop.sha256"); reading checks them when
present and refuses a "format": "maxdrop" file without them.
"""
import argparse
import collections
import hashlib
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MOMENTUM_PREFIX = "optimizer.momentum_buffer."
RNG_PREFIX = "rng."
MAX_HEADER = 100_000_000

# safetensors dtype -> (numpy dtype, item size)
DTYPES = {
    "F64": ("<f8", 8), "F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": (None, 2),
    "I64": ("<i8", 8), "I32": ("<i4", 4), "I16": ("<i2", 2), "I8": ("i1", 1),
    "U64": ("<u8", 8), "U32": ("<u4", 4), "U16": ("<u2", 2), "U8": ("u1", 1),
    "BOOL": ("?", 1), "F8_E4M3": (None, 1), "F8_E5M2": (None, 1),
}
TORCH_TO_ST = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}


class CheckpointError(Exception):
    pass


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

DIGEST_KEY = "maxdrop.sha256"  # maxdrop's checksums (include/maxdrop/safetensors.h)


def _sha16(b):
    return hashlib.sha256(b).hexdigest()[:16]


def header_digest(meta, entries):
    """The header checksum maxdrop writes under "__metadata__" (see
    header_digest in src/io/safetensors.c): meta without DIGEST_KEY; entries
    name -> (dtype, shape, [begin, end])."""
    h = hashlib.sha256()
    for k in sorted(meta, key=lambda x: x.encode("utf-8")):
        if k != DIGEST_KEY:
            h.update(b"m" + k.encode("utf-8") + b"\0" + meta[k].encode("utf-8") + b"\0")
    for name in sorted(entries, key=lambda x: x.encode("utf-8")):
        dt, shape, off = entries[name]
        h.update(b"t" + name.encode("utf-8") + b"\0" + dt.encode() + b"\0" +
                 "".join(f"{d}," for d in shape).encode() + b"\0" +
                 f"{off[0]},{off[1]}".encode() + b"\0")
    return h.hexdigest()[:16]


def read_safetensors(path):
    """Returns (OrderedDict name -> numpy array, metadata dict); validates the
    file the way maxdrop's C reader does."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError(f"{path}: truncated: {len(blob)} bytes, fewer than the 8-byte "
                              "header length")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8 or hlen > MAX_HEADER:
        raise CheckpointError(f"{path}: header length {hlen} (bytes 0-7) goes past the end of "
                              f"the {len(blob)}-byte file: truncated or not a safetensors file")
    text = blob[8:8 + hlen]
    if not text.startswith(b"{"):
        raise CheckpointError(f"{path}: the header (file byte 8) does not start with '{{'")
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: the header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header is JSON but not an object")
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{path}: '__metadata__' must map strings to strings")
    tensors = collections.OrderedDict()
    spans = []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise CheckpointError(f"{path}: tensor '{name}': entry must have exactly dtype, "
                                  "shape and data_offsets")
        dt = e["dtype"]
        if dt not in DTYPES:
            raise CheckpointError(f"{path}: tensor '{name}': unknown dtype '{dt}'")
        shape, off = e["shape"], e["data_offsets"]
        if (not isinstance(shape, list) or
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                        for d in shape)):
            raise CheckpointError(f"{path}: tensor '{name}': bad shape {shape!r}")
        if (not isinstance(off, list) or len(off) != 2 or
                not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0
                        for o in off) or off[1] < off[0]):
            raise CheckpointError(f"{path}: tensor '{name}': bad data_offsets {off!r}")
        nbytes = math.prod(shape) * DTYPES[dt][1]
        if off[1] - off[0] != nbytes:
            raise CheckpointError(f"{path}: tensor '{name}': data_offsets {off} hold "
                                  f"{off[1] - off[0]} bytes but {dt} {shape} needs {nbytes}")
        if off[1] > len(data):
            raise CheckpointError(f"{path}: tensor '{name}': data_offsets {off} go past the end "
                                  f"of the {len(data)}-byte data section")
        spans.append((off[0], off[1], name))
        npdt = DTYPES[dt][0]
        raw = bytes(data[off[0]:off[1]])
        if npdt is None:  # no NumPy type: keep the raw bits
            npdt = {2: "<u2", 1: "u1"}[DTYPES[dt][1]]
        tensors[name] = (dt, np.frombuffer(raw, dtype=np.dtype(npdt)).reshape(shape))
    expect = 0
    prev = None
    for b, e, name in sorted(spans):
        if b < expect:
            raise CheckpointError(f"{path}: tensors '{prev}' and '{name}' overlap at "
                                  f"data-section byte {b}")
        if b > expect:
            raise CheckpointError(f"{path}: data-section bytes [{expect}, {b}) belong to no "
                                  "tensor")
        expect, prev = e, name
    if expect != len(data):
        raise CheckpointError(f"{path}: {len(data) - expect} bytes after the last tensor")
    if DIGEST_KEY in meta:
        try:
            sums = json.loads(meta[DIGEST_KEY])
        except ValueError:
            sums = None
        if not isinstance(sums, dict) or set(sums) != set(header) | {"__metadata__"}:
            raise CheckpointError(f"{path}: metadata '{DIGEST_KEY}' does not list the header "
                                  "and every tensor")
        entries = {n: (e["dtype"], e["shape"], e["data_offsets"]) for n, e in header.items()}
        if sums["__metadata__"] != header_digest(meta, entries):
            raise CheckpointError(f"{path}: the header does not match the checksum written "
                                  "with it: the file is damaged")
        for name, e in header.items():
            b, end = e["data_offsets"]
            if sums[name] != _sha16(bytes(data[b:end])):
                raise CheckpointError(f"{path}: tensor '{name}' (file bytes {8 + hlen + b} to "
                                      f"{8 + hlen + end - 1}) does not match the checksum "
                                      "written with it: the file is damaged")
        del meta[DIGEST_KEY]
    elif meta.get("format") == "maxdrop":
        raise CheckpointError(f"{path} says it is a maxdrop checkpoint but carries no "
                              f"checksums (metadata '{DIGEST_KEY}')")
    return tensors, meta


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"key '{k}' appears twice")
        d[k] = v
    return d


def write_safetensors(path, tensors, meta):
    """tensors: list of (name, dtype string, numpy array); meta: dict str -> str.
    Written atomically (temporary file in the same folder, fsync, rename)."""
    meta = {str(k): str(v) for k, v in (meta or {}).items()}
    if DIGEST_KEY in meta:
        raise CheckpointError(f"{path}: metadata key '{DIGEST_KEY}' is reserved")
    header = {"__metadata__": meta}
    layout, off = {}, 0
    for size in (8, 4, 2, 1):
        for name, dt, arr in tensors:
            if DTYPES[dt][1] == size:
                layout[name] = off
                off += arr.nbytes
    for name, dt, arr in tensors:
        if name == "__metadata__" or name in header:
            raise CheckpointError(f"{path}: bad or repeated tensor name '{name}'")
        header[name] = {"dtype": dt, "shape": list(arr.shape),
                        "data_offsets": [layout[name], layout[name] + arr.nbytes]}
    sums = {name: _sha16(np.ascontiguousarray(arr).tobytes()) for name, dt, arr in tensors}
    sums["__metadata__"] = header_digest(
        meta, {n: (e["dtype"], e["shape"], e["data_offsets"])
               for n, e in header.items() if n != "__metadata__"})
    meta[DIGEST_KEY] = json.dumps(sums, separators=(",", ":"), ensure_ascii=False)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for size in (8, 4, 2, 1):
                for name, dt, arr in tensors:
                    if DTYPES[dt][1] == size:
                        f.write(np.ascontiguousarray(arr).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def torch_to_st(name, t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return name, "BF16", t.view(torch.int16).numpy().view("<u2")
    if t.dtype not in TORCH_TO_ST:
        raise CheckpointError(f"tensor '{name}': dtype {t.dtype} has no safetensors equivalent")
    return name, TORCH_TO_ST[t.dtype], t.numpy()


def st_to_torch(name, dt, arr):
    if dt in ("U64", "U32", "U16", "F8_E4M3", "F8_E5M2"):
        raise CheckpointError(f"tensor '{name}': {dt} has no PyTorch 1.13 equivalent")
    if dt == "BF16":
        return torch.from_numpy(arr.view("<i2").copy()).view(torch.bfloat16)
    return torch.from_numpy(arr.copy())


# ---------------------------------------------------------------------------
# Models: the reference code's CIFAR ResNet-18 and Wide-ResNet, with its
# parameter names. MaxDropout as in the reference: min-max normalisation over
# the whole tensor, drop where q > 1 - rate (float32), training mode only.
# ---------------------------------------------------------------------------

class MaxDropout(nn.Module):
    def __init__(self, rate=0.3):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        q = (x - x.min()) / (x.max() - x.min())
        return x.masked_fill(q > (1.0 - self.rate), 0.0)


class ResBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN + shortcut, then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 (stem conv3x3 without max-pool, 4 stages of 2 blocks,
    4x4 average pool, linear). maxdrop_rate > 0 puts MaxDropout after each
    stage."""

    def __init__(self, width=64, num_classes=10, maxdrop_rate=0.0):
        super().__init__()
        w = [width, 2 * width, 4 * width, 8 * width]
        self.conv1 = nn.Conv2d(3, w[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        cin = w[0]
        for i, (cout, stride) in enumerate(zip(w, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}",
                    nn.Sequential(ResBlock(cin, cout, stride), ResBlock(cout, cout, 1)))
            cin = cout
        self.linear = nn.Linear(w[3], num_classes)
        self.maxdrop = MaxDropout(maxdrop_rate)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            y = self.maxdrop(layer(y))
        y = F.avg_pool2d(y, 4)
        return self.linear(y.flatten(1))


class WideBlock(nn.Module):
    """Pre-activation block: BN-ReLU-conv3x3(stride)-BN-ReLU-[drop]-conv3x3;
    the 1x1 shortcut conv, when channels change, sees the pre-activated input."""

    def __init__(self, cin, cout, stride, drop="none", rate=0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.equal = cin == cout
        self.convShortcut = None if self.equal else nn.Conv2d(cin, cout, 1, stride=stride,
                                                              padding=0, bias=False)
        self.drop, self.rate = drop, rate

    def forward(self, x):
        a = self.relu1(self.bn1(x))
        y = self.relu2(self.bn2(self.conv1(a)))
        if self.drop == "dropout" and self.rate > 0:
            y = F.dropout(y, p=self.rate, training=self.training)
        elif self.drop == "maxdropout" and self.rate > 0:
            y = MaxDropout(self.rate).train(self.training)(y)
        y = self.conv2(y)
        return (x if self.equal else self.convShortcut(a)) + y


class WideGroup(nn.Module):
    def __init__(self, n, cin, cout, stride, drop, rate):
        super().__init__()
        self.layer = nn.Sequential(*[WideBlock(cin if i == 0 else cout, cout,
                                               stride if i == 0 else 1, drop, rate)
                                     for i in range(n)])

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-k: conv3x3 3->16, three groups of (depth-4)/6 blocks of widths
    16k, 32k, 64k, final BN-ReLU, 8x8 average pool, fc; the WRN code's init."""

    def __init__(self, depth=28, widen_factor=10, num_classes=10, drop="none", rate=0.0):
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise CheckpointError(f"WRN depth {depth} is not 6n+4 with n >= 1")
        n = (depth - 4) // 6
        ch = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, ch[0], 3, stride=1, padding=1, bias=False)
        self.block1 = WideGroup(n, ch[0], ch[1], 1, drop, rate)
        self.block2 = WideGroup(n, ch[1], ch[2], 2, drop, rate)
        self.block3 = WideGroup(n, ch[2], ch[3], 2, drop, rate)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(ch[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / fan))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def forward(self, x):
        y = self.block3(self.block2(self.block1(self.conv1(x))))
        y = self.relu(self.bn1(y))
        y = F.avg_pool2d(y, 8)
        return self.fc(y.flatten(1))


def build_model(cfg):
    if cfg["arch"] == "resnet18":
        return ResNet18(width=cfg["width"], num_classes=cfg["num_classes"])
    if cfg["arch"] == "wrn":
        return WideResNet(depth=cfg["depth"], widen_factor=cfg["widen_factor"],
                          num_classes=cfg["num_classes"])
    raise CheckpointError(f"unknown model '{cfg['arch']}' (resnet18 or wrn)")


def infer_config(shapes):
    """Architecture from tensor names and shapes ({name: shape}), or None."""
    if "layer1.0.conv1.weight" in shapes and "linear.weight" in shapes:
        return {"arch": "resnet18", "width": int(shapes["conv1.weight"][0]),
                "num_classes": int(shapes["linear.weight"][0])}
    if "block1.layer.0.conv1.weight" in shapes and "fc.weight" in shapes:
        n = sum(1 for k in shapes if k.startswith("block1.layer.") and k.endswith(".conv1.weight"))
        return {"arch": "wrn", "depth": 6 * n + 4,
                "widen_factor": int(shapes["block1.layer.0.conv1.weight"][0]) // 16,
                "num_classes": int(shapes["fc.weight"][0])}
    return None


def resolve_config(args, meta, shapes):
    """Options first, then the "model" metadata, then what the shapes say;
    None when the architecture stays unknown."""
    from_meta = None
    if meta and "model" in meta:
        try:
            from_meta = json.loads(meta["model"])
        except ValueError:
            from_meta = None
    cfg = {}
    for src in (from_meta, infer_config(shapes)):
        if not isinstance(src, dict) or src.get("arch") not in ("resnet18", "wrn"):
            continue
        if args.model and src["arch"] != args.model:
            continue
        if cfg and cfg["arch"] != src["arch"]:
            continue
        for k, v in src.items():
            cfg.setdefault(k, v)
    if args.model:
        cfg["arch"] = args.model
    for opt, key in (("width", "width"), ("depth", "depth"), ("widen", "widen_factor"),
                     ("classes", "num_classes")):
        if getattr(args, opt) is not None:
            cfg[key] = getattr(args, opt)
    if "arch" not in cfg:
        return None
    if cfg["arch"] == "resnet18":
        keys = {"width": 64, "num_classes": 10}
    else:
        keys = {"depth": 28, "widen_factor": 10, "num_classes": 10}
    out = {"arch": cfg["arch"]}
    for k, v in keys.items():
        out[k] = int(cfg.get(k, v))
    return out


def check_against_model(cfg, state_dict):
    model = build_model(cfg)
    want = model.state_dict()

    def first(names):
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    missing = [k for k in want if k not in state_dict]
    unexpected = [k for k in state_dict if k not in want]
    resized = [f"{k} {list(state_dict[k].shape)} (model {list(v.shape)})"
               for k, v in want.items() if k in state_dict and state_dict[k].shape != v.shape]
    problems = [f"{what}: {first(names)}" for what, names in
                (("missing", missing), ("unexpected", unexpected), ("other shape", resized))
                if names]
    if problems:
        raise CheckpointError(f"the tensors do not fit {json.dumps(cfg)}: "
                              + "; ".join(problems))
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"the tensors do not fit {json.dumps(cfg)}: {e}") from None
    # order the dict as the model's own state_dict
    return collections.OrderedDict((k, state_dict[k]) for k in model.state_dict())


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------

def cmd_to_torch(args):
    tensors, meta = read_safetensors(args.ckpt)
    sd = collections.OrderedDict()
    momentum = collections.OrderedDict()
    for name, (dt, arr) in tensors.items():
        if name.startswith(RNG_PREFIX):
            continue
        if name.startswith(MOMENTUM_PREFIX):
            momentum[name[len(MOMENTUM_PREFIX):]] = st_to_torch(name, dt, arr)
        else:
            sd[name] = st_to_torch(name, dt, arr)
    cfg = resolve_config(args, meta, {k: tuple(v.shape) for k, v in sd.items()})
    if cfg is None:
        raise CheckpointError(f"{args.ckpt}: unknown architecture; pass --model")
    sd = check_against_model(cfg, sd)
    torch.save(sd, args.out)
    if args.momentum_out:
        torch.save(momentum, args.momentum_out)
    print(f"{args.out}: {len(sd)} tensors of {json.dumps(cfg)}"
          + (f"; {args.momentum_out}: {len(momentum)} momentum buffers"
             if args.momentum_out else ""))


def load_state_dict_file(path):
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state_dict (a dict of tensors)")
    return obj


def cmd_from_torch(args):
    sd = load_state_dict_file(args.inp)
    meta = {"format": "maxdrop", "source": "PyTorch state_dict"}
    cfg = resolve_config(args, None, {k: tuple(v.shape) for k, v in sd.items()})
    if cfg is not None:
        sd = check_against_model(cfg, sd)
        meta["model"] = json.dumps(cfg)
    entries = [torch_to_st(k, v) for k, v in sd.items()]
    if args.momentum_in:
        mom = load_state_dict_file(args.momentum_in)
        for k, v in mom.items():
            if k not in sd or tuple(v.shape) != tuple(sd[k].shape):
                raise CheckpointError(f"{args.momentum_in}: momentum buffer '{k}' matches no "
                                      "parameter of the same shape")
            entries.append(torch_to_st(MOMENTUM_PREFIX + k, v))
    for kv in args.meta or []:
        if "=" not in kv:
            raise CheckpointError(f"--meta {kv}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        meta[k] = v
    write_safetensors(args.ckpt, entries, meta)
    print(f"{args.ckpt}: {len(entries)} tensors" + (f" of {json.dumps(cfg)}" if cfg else ""))


def cmd_init(args):
    cfg = resolve_config(args, None, {})
    torch.manual_seed(args.seed)
    model = build_model(cfg)
    entries = [torch_to_st(k, v) for k, v in model.state_dict().items()]
    meta = {"format": "maxdrop", "model": json.dumps(cfg), "source": "PyTorch init",
            "seed": str(args.seed)}
    write_safetensors(args.out, entries, meta)
    print(f"{args.out}: {len(entries)} tensors of {json.dumps(cfg)}")


def cmd_ls(args):
    tensors, meta = read_safetensors(args.ckpt)
    for name, (dt, arr) in tensors.items():
        print(f"{name} {dt} {list(arr.shape)}")
    for k, v in meta.items():
        print(f"meta {k}={v}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def model_opts(q):
        q.add_argument("--model", choices=("resnet18", "wrn"))
        q.add_argument("--width", type=int, help="ResNet-18 stem width (64)")
        q.add_argument("--depth", type=int, help="WRN depth (28)")
        q.add_argument("--widen", type=int, help="WRN widening factor (10)")
        q.add_argument("--classes", type=int, help="number of classes (10)")

    q = sub.add_parser("to-torch", help="maxdrop checkpoint -> PyTorch state_dict")
    q.add_argument("ckpt")
    q.add_argument("out")
    q.add_argument("--momentum-out")
    model_opts(q)
    q.set_defaults(run=cmd_to_torch)
    q = sub.add_parser("from-torch", help="PyTorch state_dict -> maxdrop checkpoint")
    q.add_argument("inp")
    q.add_argument("ckpt")
    q.add_argument("--momentum-in")
    q.add_argument("--meta", action="append", metavar="KEY=VALUE")
    model_opts(q)
    q.set_defaults(run=cmd_from_torch)
    q = sub.add_parser("init", help="PyTorch-initialised model -> maxdrop checkpoint")
    q.add_argument("out")
    q.add_argument("--seed", type=int, default=0)
    model_opts(q)
    q.set_defaults(run=cmd_init)
    q = sub.add_parser("ls", help="list a checkpoint's tensors and metadata")
    q.add_argument("ckpt")
    q.set_defaults(run=cmd_ls)
    args = p.parse_args(argv)
    if args.cmd == "init" and not args.model:
        p.error("init needs --model")
    try:
        args.run(args)
    except (CheckpointError, OSError) as e:
        print(f"checkpoint_torch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
