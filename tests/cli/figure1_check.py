"""Checks a Figure 1 PNG written by `maxdrop visualize`.

Decodes it with Pillow (not the library's own decoder), finds the six panels
from the documented layout (8-pixel white gutters, titles on top, panels of
W*scale x H*scale), and checks:
  - gutters are white, every upscaled pixel is a uniform scale x scale block;
  - the Dropout panels show, per element, the original value or 0, and drop
    about `rate` of the elements;
  - the MaxDropout panels zero exactly the elements whose min-max normalised
    value exceeds float32(1 - rate) (statistics over the whole tensor: the
    luminance map in row 1, all three colour planes together in row 2), as
    REFERENCE.md section 1 defines, computed here with NumPy;
  - with a known source (--cifar FILE --index I, or --image FILE), the
    original panels show that image (row 1: BT.601 luminance, +-1).
Usage: figure1_check.py FIG.png (--cifar F --index I | --image F | --size WxH)
                        --scale K --rate R
"""
import argparse
import sys

import numpy as np
from PIL import Image

G = 8


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("png")
    ap.add_argument("--cifar")
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--image")
    ap.add_argument("--size")
    ap.add_argument("--scale", type=int, required=True)
    ap.add_argument("--rate", type=float, required=True)
    a = ap.parse_args()

    src = None
    if a.cifar:
        rec = np.fromfile(a.cifar, dtype=np.uint8).reshape(-1, 3073)[a.index]
        src = rec[1:].reshape(3, 32, 32).transpose(1, 2, 0)
    elif a.image:
        im = Image.open(a.image)
        src = np.asarray(im.convert("L" if im.mode == "L" else "RGB"))
    if src is not None:
        H, W = src.shape[:2]
    else:
        W, H = map(int, a.size.split("x"))

    with open(a.png, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail(f"{a.png} has no PNG signature")
    img = Image.open(a.png)
    if img.mode != "RGB":
        fail(f"{a.png} is {img.mode}, not RGB")
    fig = np.asarray(img).astype(np.int32)
    oh, ow = fig.shape[:2]
    s = a.scale
    pw, ph = W * s, H * s
    if ow != G + 3 * (pw + G):
        fail(f"width {ow}, want {G + 3 * (pw + G)} for {W}x{H} at scale {s}")
    top = oh - 2 * (ph + G)
    if not (G <= top <= G + 64):
        fail(f"height {oh} leaves a title band of {top - G} rows")

    white = np.ones(fig.shape[:2], bool)
    panels = {}
    for r in range(2):
        for c in range(3):
            y0, x0 = top + r * (ph + G), G + c * (pw + G)
            block = fig[y0:y0 + ph, x0:x0 + pw]
            white[y0:y0 + ph, x0:x0 + pw] = False
            small = block[::s, ::s]
            if not np.array_equal(np.repeat(np.repeat(small, s, 0), s, 1), block):
                fail(f"panel ({r},{c}) is not made of uniform {s}x{s} blocks")
            panels[r, c] = small
    white[G:top] = False  # the title band
    if not (fig[white] == 255).all():
        fail("a gutter pixel is not white")
    if not (fig[G:top] == 0).any():
        fail("no title text above the panels")

    t = np.float32(1.0) - np.float32(a.rate)
    for r in range(2):
        orig, drop, maxd = panels[r, 0], panels[r, 1], panels[r, 2]
        if r == 0:
            for p in (orig, drop, maxd):
                if not ((p[..., 0] == p[..., 1]) & (p[..., 1] == p[..., 2])).all():
                    fail("row 1 is not grayscale")
            orig, drop, maxd = orig[..., :1], drop[..., :1], maxd[..., :1]
        # Dropout: the original value or 0, about `rate` of the elements.
        if not ((drop == orig) | (drop == 0)).all():
            fail(f"row {r + 1}: a Dropout element is neither original nor 0")
        nz = orig != 0
        frac = ((drop == 0) & nz).sum() / max(nz.sum(), 1)
        n = nz.sum()
        if n >= 500 and abs(frac - a.rate) > 4 * np.sqrt(a.rate * (1 - a.rate) / n) + 0.01:
            fail(f"row {r + 1}: Dropout zeroed {frac:.3f} of the elements at rate {a.rate}")
        # Activations: the source when known, else the original panel.
        if src is not None:
            x = src.astype(np.float32) / np.float32(255)
            if x.ndim == 2:
                x = np.repeat(x[..., None], 3, -1)
            if r == 0:
                lum = (np.float32(0.299) * x[..., 0] + np.float32(0.587) * x[..., 1] +
                       np.float32(0.114) * x[..., 2])[..., None]
                if np.abs(np.rint(lum * 255) - orig).max() > 1:
                    fail("row 1 original is not the image's luminance")
                x = lum
            else:
                if not np.array_equal(np.rint(x * 255), orig):
                    fail("row 2 original is not the image")
        else:
            x = orig.astype(np.float32) / np.float32(255)
        lo, hi = x.min(), x.max()
        if hi > lo:
            q = (x - lo) / (hi - lo)
            sure = np.abs(q - t) > (1e-5 if src is not None else 3.0 / 255)
            want = np.where(q > t, 0, orig)
            bad = sure & (maxd != want)
            if bad.any():
                fail(f"row {r + 1}: {bad.sum()} MaxDropout elements differ from the definition")
        elif not np.array_equal(maxd, orig):
            fail(f"row {r + 1}: a constant image lost elements under MaxDropout")
    print(f"ok: {a.png} {ow}x{oh}, panels {pw}x{ph}")


main()
