"""The training data pipeline against torchvision, bit for bit.

The loader's epoch (driver_augment) is rebuilt here independently:
  - the order: Fisher-Yates over NumPy's Philox stream DATA_ORDER of the seed,
    positioned at the epoch (block e * 2**32), as maxdrop/loader.h documents;
  - each image's crop offsets and flip from the AUGMENT stream, same position;
  - each image through torchvision exactly as the reference code builds it:
    RandomCrop(32, padding=4) = F.pad(fill=0) + F.crop, RandomHorizontalFlip =
    F.hflip, ToTensor, Normalize(mean=[x / 255.0 ...], std=[x / 255.0 ...]).
Evaluation mode: dataset order, ToTensor + Normalize only; also compared with
the plain PyTorch expression x.float().div(255), (x - m) / s.
"""
import os
import shutil

import numpy as np
import torch

import mdparity as mp

try:
    from PIL import Image
    import torchvision
    import torchvision.transforms as T
    import torchvision.transforms.functional as F
except ImportError as e:
    mp.check(False, f"torchvision is needed as the oracle of the augmentation ({e}); "
             "install python3-torchvision (scripts/install-deps.sh)")
    mp.finish()

MEAN = [x / 255.0 for x in [125.3, 123.0, 113.9]]
STD = [x / 255.0 for x in [63.0, 62.1, 66.7]]
STREAM_DATA_ORDER, STREAM_AUGMENT = 1, 2
U64 = 2**64 - 1


def epoch_words(seed, stream, epoch, count):
    """count words of stream `stream` of `seed`, from block epoch * 2**32 on."""
    counter = epoch * 2**32 - 1 if epoch > 0 else 2**256 - 1  # NumPy pre-increments
    g = np.random.Philox(key=seed + (stream << 64), counter=counter)
    return iter(int(w) for w in g.random_raw(count))


def below(words, n):
    if n <= 1:
        return 0
    limit = U64 - (U64 % n + 1) % n
    while True:
        x = next(words)
        if x <= limit:
            return x % n


def expected_order(seed, epoch, n):
    words = epoch_words(seed, STREAM_DATA_ORDER, epoch, 2 * n + 64)
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = below(words, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm)


def expected_choices(seed, epoch, n):
    words = epoch_words(seed, STREAM_AUGMENT, epoch, 3 * n + 64)
    out = []
    for _ in range(n):
        dy = below(words, 9)
        dx = below(words, 9)
        flip = int((next(words) >> 40) / 2**24 < 0.5)
        out.append((dy, dx, flip))
    return np.array(out)


def torchvision_train(img_chw, dy, dx, flip):
    pic = Image.fromarray(np.ascontiguousarray(img_chw.transpose(1, 2, 0)), mode="RGB")
    pic = F.pad(pic, 4, fill=0, padding_mode="constant")
    pic = F.crop(pic, dy, dx, 32, 32)
    if flip:
        pic = F.hflip(pic)
    return F.normalize(F.to_tensor(pic), MEAN, STD).numpy()


def torchvision_eval(img_chw):
    pic = Image.fromarray(np.ascontiguousarray(img_chw.transpose(1, 2, 0)), mode="RGB")
    return F.normalize(F.to_tensor(pic), MEAN, STD).numpy()


def run_driver(images, labels, seed, epoch, batch, train, prefetch):
    d = mp.tmpdir()
    np.save(os.path.join(d, "x.npy"), images)
    np.save(os.path.join(d, "y.npy"), labels)
    mp.driver("driver_augment", os.path.join(d, "x.npy"), os.path.join(d, "y.npy"), seed,
              epoch, batch, train, prefetch, d)
    out = {k: np.load(os.path.join(d, k + ".npy"))
           for k in ("images", "labels", "sources", "choices", "sizes")}
    shutil.rmtree(d)
    return out


# The reference's transforms: RandomCrop(32, padding=4) pads with the constant 0
# and draws its top-left corner uniform over 0..8 in each axis.
rc = T.RandomCrop(32, padding=4)
mp.check(rc.padding == 4 and rc.fill == 0 and rc.padding_mode == "constant",
         f"torchvision RandomCrop settings: padding {rc.padding}, fill {rc.fill}, "
         f"mode {rc.padding_mode}")
torch.manual_seed(0)
padded = torch.zeros(3, 40, 40)
tops, lefts = set(), set()
for _ in range(2000):
    i, j, h, w = T.RandomCrop.get_params(padded, (32, 32))
    tops.add(i)
    lefts.add(j)
mp.check(tops == set(range(9)) and lefts == set(range(9)),
         f"torchvision crop offsets cover 0..8: tops {sorted(tops)}, lefts {sorted(lefts)}")
mp.check(T.RandomHorizontalFlip().p == 0.5, "RandomHorizontalFlip p = 0.5")

# Data: random pixels with every value 0..255 in every channel, plus real
# CIFAR-10 test images when the copy is there.
rng = np.random.default_rng(7)
synth = rng.integers(0, 256, size=(300, 3, 32, 32), dtype=np.uint8)
synth[0].reshape(3, -1)[:, :256] = np.arange(256, dtype=np.uint8)
sets = [("synthetic", synth, rng.integers(0, 100, size=300, dtype=np.uint8))]
cifar = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data",
                     "cifar-10-batches-bin", "test_batch.bin")
if os.path.exists(cifar):
    rec = np.fromfile(cifar, dtype=np.uint8, count=257 * 3073).reshape(257, 3073)
    sets.append(("CIFAR-10 test images", rec[:, 1:].reshape(257, 3, 32, 32).copy(),
                 rec[:, 0].copy()))
else:
    print(f"note: no CIFAR-10 copy at {cifar}; synthetic images only")

for name, images, labels in sets:
    n = len(images)
    for seed, epoch, batch in [(2024, 3, 128), (0, 0, 100)]:
        out = run_driver(images, labels, seed, epoch, batch, 1, 1)
        tag = f"{name}, seed {seed}, epoch {epoch}, batch {batch}"
        nb = -(-n // batch)
        want_sizes = [batch] * (nb - 1) + [n - (nb - 1) * batch]
        mp.check_identical(f"{tag}: batch sizes", out["sizes"].astype(np.int64),
                           np.array(want_sizes))
        order = expected_order(seed, epoch, n)
        mp.check_identical(f"{tag}: order = Fisher-Yates on the Philox stream",
                           out["sources"].astype(np.int64), order)
        choices = expected_choices(seed, epoch, n)
        mp.check_identical(f"{tag}: crop offsets and flips from the Philox stream",
                           out["choices"].astype(np.int64), choices)
        mp.check_identical(f"{tag}: labels follow their images",
                           out["labels"].astype(np.int64), labels[order].astype(np.int64))
        want = np.stack([torchvision_train(images[order[k]], *choices[k]) for k in range(n)])
        mp.check_identical(f"{tag}: images = torchvision pad/crop/flip/ToTensor/Normalize",
                           out["images"], want.astype(np.float32))
        sync = run_driver(images, labels, seed, epoch, batch, 1, 0)
        mp.check_identical(f"{tag}: synchronous loading = prefetch", sync["images"],
                           out["images"])

    ev = run_driver(images, labels, 5, 2, 128, 0, 1)
    mp.check_identical(f"{name}, eval: dataset order", ev["sources"].astype(np.int64),
                       np.arange(n))
    want = np.stack([torchvision_eval(im) for im in images]).astype(np.float32)
    mp.check_identical(f"{name}, eval: images = torchvision ToTensor + Normalize",
                       ev["images"], want)
    x = torch.tensor(images).float().div(255)
    m = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    mp.check_identical(f"{name}, eval: images = PyTorch (x.float().div(255) - m) / s",
                       ev["images"], ((x - m) / s).numpy())

mp.finish()
