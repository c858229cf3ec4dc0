#!/usr/bin/env bash
# maxdrop bench: usage errors, help, and the JSON lines of a small run.
set -euo pipefail
bin="${MAXDROP_BIN:?}"
py="${MD_PYTHON:-/usr/bin/python3}"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" bench --help | grep -q "maxdrop bench maxdropout" || fail "bench --help"
"$bin" bench maxdropout --help | grep -q -- "--threads" || fail "bench maxdropout --help"
# each benchmark's --help describes that benchmark only
! "$bin" bench maxdropout --help | grep -q "bench loader" || fail "bench maxdropout --help shows others"
"$bin" bench loader --help | grep -q "^usage: maxdrop bench loader" || fail "bench loader --help"
"$bin" --help | grep -q "bench" || fail "bench missing from the command list"

expect_usage() {
  set +e
  "$bin" "$@" >/dev/null 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "'$*' exited $rc, want 2"
}
expect_usage bench
expect_usage bench nosuch
expect_usage bench maxdropout --reps
expect_usage bench maxdropout --reps 0
expect_usage bench maxdropout --threads abc
expect_usage bench maxdropout --batch -3
expect_usage bench maxdropout --frobnicate 1
# an unknown option is named as such, even as the last argument
set +e
msg=$("$bin" bench train-step --frobnicate 2>&1 >/dev/null)
set -e
echo "$msg" | grep -q "unknown option '--frobnicate'" || fail "bench train-step --frobnicate: $msg"
expect_usage bench maxdropout --reps=0
expect_usage bench maxdropout --unaligned=1
# libgomp crashes (stack overflow) on a team of 100000 threads: capped as in apply
expect_usage bench maxdropout --threads 100000 --reps 1 --batch 1
expect_usage bench maxdropout --threads 4097 --reps 1 --batch 1

out=$("$bin" bench maxdropout --threads=2 --reps 3 --batch=2)
"$py" - "$out" <<'PY'
import json, sys
lines = sys.argv[1].strip().split("\n")
objs = [json.loads(l) for l in lines]
assert objs[0]["name"] == "memcpy", objs[0]
assert objs[0]["gb_s"] > 0 and objs[0]["bytes"] == 2 * 256 * 2**20, objs[0]
shapes = [o["shape"] for o in objs if o["name"] == "maxdropout_fwd_bwd"]
assert shapes == [[2, 64, 32, 32], [2, 128, 16, 16], [2, 256, 8, 8], [2, 512, 4, 4]], shapes
for o in objs[1:]:
    for k in ("name", "shape", "threads", "median_s", "gb_s", "bytes", "fraction_of_copy_bw"):
        assert k in o, (k, o)
    assert o["threads"] == 2 and o["median_s"] > 0, o
    n = o["shape"][0] * o["shape"][1] * o["shape"][2] * o["shape"][3]
    want = {"maxdropout_fwd_bwd": 20 * n + n / 4, "maxdropout_fwd": 12 * n + n / 8,
            "maxdropout_bwd": 8 * n + n / 8, "memcpy_same_size": 16 * n}[o["name"]]
    assert abs(o["bytes"] - want) < 1, (o, want)
    # 4 significant digits in each printed figure
    assert abs(o["fraction_of_copy_bw"] - o["gb_s"] / objs[0]["gb_s"]) < 0.002 * o["fraction_of_copy_bw"] + 1e-4, o
    if o["name"] != "memcpy_same_size":
        assert o["fraction_of_same_size_copy_bw"] > 0, o
names = [o["name"] for o in objs]
assert names[1:5] == ["memcpy_same_size", "maxdropout_fwd_bwd", "maxdropout_fwd",
                      "maxdropout_bwd"], names
print("ok:", len(objs), "lines")
PY
