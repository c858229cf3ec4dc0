"""maxdrop's .npy files against NumPy's own: arrays NumPy writes (format 1.0,
2.0 and 3.0, several shapes, special float values) are read by maxdrop, and
what maxdrop writes is loaded by numpy.load identically. `maxdrop apply` in
evaluation mode copies its input to its output, so a file makes the round
trip NumPy -> maxdrop -> NumPy; --mask-out gives a uint8 file of the same
shape (all ones in evaluation mode)."""
import os

import numpy as np

import mdparity as mp

d = mp.tmpdir()
rng = np.random.default_rng(20240601)

special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4028235e38,
                    -3.4028235e38, 1.17549435e-38], dtype=np.float32)
nan_payload = np.array([0x7FC00001, 0xFFC12345, 0x7F800001], dtype=np.uint32).view(np.float32)

shapes = [(), (1,), (7,), (3, 5), (1, 1), (4, 3, 2), (2, 3, 4, 5), (1, 64, 1, 1), (5, 1, 3, 1)]
cases = []
for shape in shapes:
    cases.append((f"normal{shape}", rng.standard_normal(shape).astype(np.float32)))
cases.append(("special values", special))
cases.append(("NaN payloads", nan_payload))
cases.append(("special values 2-D", np.tile(special, (3, 1))))

writers = {
    "np.save": lambda path, a: np.save(path, a),
    "format 1.0": lambda path, a: _write(path, a, (1, 0)),
    "format 2.0": lambda path, a: _write(path, a, (2, 0)),
    "format 3.0": lambda path, a: _write(path, a, (3, 0)),
}


def _write(path, a, version):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version)


def header_of(path):
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(f)
        data_start = f.tell()
    return version, shape, fortran, dtype, data_start


for name, a in cases:
    for wname, write in writers.items():
        src = os.path.join(d, "in.npy")
        out = os.path.join(d, "out.npy")
        mask = os.path.join(d, "mask.npy")
        for p in (out, mask):
            if os.path.exists(p):
                os.remove(p)
        write(src, a)
        op = "dropout" if wname.endswith("2.0") else "maxdropout"
        r = mp.maxdrop("apply", op, "--eval", "--in", src, "--out", out, "--mask-out", mask)
        if r.returncode != 0:
            continue
        b = np.load(out)
        m = np.load(mask)
        mp.check(b.dtype == np.float32 and b.shape == a.shape,
                 f"{name} via {wname}: numpy.load gives {b.dtype}{b.shape}, want float32{a.shape}")
        if b.shape == a.shape:
            # bit for bit, NaN payloads included
            mp.check(np.array_equal(b.view(np.uint32), a.view(np.uint32)),
                     f"{name} via {wname}: values differ after the round trip")
        mp.check(m.dtype == np.uint8 and m.shape == a.shape and bool(np.all(m == 1)),
                 f"{name} via {wname}: mask is {m.dtype}{m.shape} with values {np.unique(m)}")
        # maxdrop writes format 1.0, C order, data aligned on 64 bytes
        version, shape, fortran, dtype, start = header_of(out)
        mp.check(version == (1, 0) and shape == a.shape and not fortran and
                 dtype == np.dtype("<f4") and start % 64 == 0,
                 f"{name}: header of maxdrop's file: version {version}, shape {shape}, "
                 f"fortran {fortran}, dtype {dtype}, data at {start}")
        version, shape, fortran, dtype, start = header_of(mask)
        mp.check(dtype == np.dtype("u1") and shape == a.shape and start % 64 == 0,
                 f"{name}: header of maxdrop's mask: dtype {dtype}, shape {shape}, data at {start}")
        mp.check(os.path.getsize(out) == header_of(out)[4] + 4 * a.size,
                 f"{name}: maxdrop's file has trailing or missing bytes")

# numpy's memory map reads maxdrop's files too (header and alignment as NumPy expects)
a = rng.standard_normal((3, 4, 5)).astype(np.float32)
np.save(os.path.join(d, "mm.npy"), a)
mp.maxdrop("apply", "maxdropout", "--eval", "--in", os.path.join(d, "mm.npy"),
           "--out", os.path.join(d, "mm_out.npy"))
mm = np.load(os.path.join(d, "mm_out.npy"), mmap_mode="r")
mp.check_identical("memory-mapped load of maxdrop's output", np.array(mm), a)

# A NumPy file that maxdrop must refuse: a float64 array, and a big-endian one
for bad, needle in [(np.zeros((2, 2), np.float64), "'<f8'"),
                    (np.zeros((2, 2), ">f4"), "big-endian"),
                    (np.asfortranarray(np.zeros((2, 3), np.float32)), "Fortran")]:
    p = os.path.join(d, "bad.npy")
    np.save(p, bad)
    r = mp.maxdrop("apply", "maxdropout", "--eval", "--in", p, "--out",
                   os.path.join(d, "never.npy"), expect_ok=False)
    mp.check(r.returncode == 1 and needle in r.stderr,
             f"NumPy {bad.dtype} fortran={np.isfortran(bad)}: exit {r.returncode}, "
             f"stderr {r.stderr!r}")
    mp.check(not os.path.exists(os.path.join(d, "never.npy")), "an output was written anyway")

mp.finish()
