"""maxdrop's random streams are NumPy's Philox4x64-10 streams, word for word:
stream S of seed K is numpy.random.Philox(key=K + S * 2**64) started at counter 0."""
import numpy as np

import mdparity as mp

for seed, stream, count in [(0, 0, 8), (42, 7, 1001), (2**64 - 1, 256 + 3, 37),
                            (123456789, 1, 4096)]:
    out = mp.driver("driver_rng", seed, stream, count).stdout.split()
    got = np.array([int(w, 16) for w in out], dtype=np.uint64)
    # NumPy increments the counter before each block: start at 2**256 - 1 so
    # that its first block is counter 0, as in maxdrop.
    g = np.random.Philox(key=seed + (stream << 64), counter=(1 << 256) - 1)
    want = g.random_raw(count).astype(np.uint64)
    mp.check_identical(f"stream seed={seed} stream={stream} ({count} words)", got, want)

mp.finish()
