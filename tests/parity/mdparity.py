"""Shared helpers of the PyTorch parity tests.

Each test_*.py here is one CTest test run with Debian's /usr/bin/python3 (which
has python3-torch). A missing torch is a FAILURE, never a skip: the parity
tests are the project's oracle. MAXDROP_BIN names the maxdrop executable and
MD_DRIVER_DIR the folder of the parity driver programs (tests/parity/driver_*.c).
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # never skip: fail loudly
    print(f"FAIL: the parity tests need PyTorch and NumPy ({e}); "
          "install python3-torch (scripts/install-deps.sh) and run with /usr/bin/python3")
    sys.exit(1)

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

MAXDROP = os.environ.get("MAXDROP_BIN", "maxdrop")
DRIVER_DIR = os.environ.get("MD_DRIVER_DIR", "")

_failures = []
_checks = 0


def tmpdir():
    return tempfile.mkdtemp(prefix="md_parity_")


def run(args, expect_ok=True):
    """Runs a command, returns CompletedProcess; fails the test on a bad exit."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        check(False, f"command failed ({p.returncode}): {' '.join(map(str, args))}\n"
              f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def maxdrop(*args, expect_ok=True):
    return run([MAXDROP, *args], expect_ok=expect_ok)


def driver(name, *args, expect_ok=True):
    return run([os.path.join(DRIVER_DIR, name), *args], expect_ok=expect_ok)


def check(cond, msg):
    global _checks
    _checks += 1
    if not cond:
        _failures.append(msg)
        print("FAIL:", msg)


def check_identical(name, got, want):
    """Bit-identical float32 arrays (NaNs compare as NaNs)."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        check(False, f"{name}: shape {got.shape} != {want.shape}")
        return
    if got.dtype == np.float32 and want.dtype == np.float32:
        gb = got.view(np.uint32)
        wb = want.view(np.uint32)
        bad = (gb != wb) & ~(np.isnan(got) & np.isnan(want))
    else:
        bad = got != want
    n = int(bad.sum())
    if n:
        i = np.flatnonzero(bad)[0]
        check(False, f"{name}: {n} of {bad.size} elements differ; first at flat index {i}: "
              f"got {got.reshape(-1)[i]!r}, want {want.reshape(-1)[i]!r}")
    else:
        check(True, name)


def check_close(name, got, want, rtol=1e-5, atol=1e-6):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        check(False, f"{name}: shape {got.shape} != {want.shape}")
        return
    err = np.abs(got - want)
    tol = atol + rtol * np.abs(want)
    bad = ~(err <= tol)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        check(False, f"{name}: {int(bad.sum())} of {bad.size} elements out of tolerance "
              f"(rtol {rtol}, atol {atol}); max abs err {err.max():.3g}; first at {i}: "
              f"got {got.reshape(-1)[i]!r}, want {want.reshape(-1)[i]!r}")
    else:
        check(True, name)


def finish():
    """Prints the closing line and exits non-zero on any failure."""
    failed = len(_failures)
    print(f"{_checks - failed} passed, {failed} failed")
    sys.exit(1 if failed or _checks == 0 else 0)
