#!/usr/bin/env bash
# maxdrop bench loader: usage errors, a missing data folder, and the JSON of a
# small run on real CIFAR-10, whose evaluation batches (normalisation only)
# must match torchvision's ToTensor + Normalize (tools/bench_loader_torch.py)
# through the checksum both print: the sum of each batch's first value.
set -euo pipefail
bin="${MAXDROP_BIN:?}"
src="${MD_SOURCE_DIR:?}"
py="${MD_PYTHON:-/usr/bin/python3}"
data="$src/../shared/data"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$data/cifar-10-batches-bin/data_batch_1.bin" ] || { echo "no CIFAR-10 at $data"; exit 77; }

"$bin" bench --help | grep -q "maxdrop bench loader" || fail "bench --help lacks loader"
expect_usage() {
  set +e
  "$bin" "$@" >/dev/null 2>"$tmp/err"
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "'$*' exited $rc, want 2"
  [ -s "$tmp/err" ] || fail "'$*' printed no message"
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_bl_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
expect_usage bench loader --batch 0
expect_usage bench loader --batch=5000
expect_usage bench loader --epochs
expect_usage bench loader --limit -1
expect_usage bench loader --cutout=1
expect_usage bench loader --frobnicate

set +e
"$bin" bench loader --data "$tmp/nowhere" >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ $rc -eq 1 ] || fail "missing data folder exited $rc, want 1"
grep -q "nowhere" "$tmp/err" || fail "missing data folder: message does not name it: $(cat "$tmp/err")"

# A limit above the training set's size times all of it and says so.
out=$("$bin" bench loader --data "$data" --limit 60000 --batch 500 --epochs 1 2>"$tmp/err")
grep -q "60000 is more than the 50000 training images" "$tmp/err" || fail "no note on --limit 60000: $(cat "$tmp/err")"
[ "$(grep -c '"images":50000,' <<<"$out")" -eq 2 ] || fail "--limit 60000 did not time 50000 images: $out"

out=$("$bin" bench loader --data "$data" --limit 300 --batch=64 --epochs 1 --cutout --random-erasing)
ref=$("$py" "$src/tools/bench_loader_torch.py" --data "$data" --limit 300 --batch 64 --epochs 1)
"$py" - "$out" "$ref" <<'PY'
import json, sys
md = [json.loads(l) for l in sys.argv[1].strip().split("\n")]
pt = [json.loads(l) for l in sys.argv[2].strip().split("\n")]
assert [o["mode"] for o in md] == ["train", "eval"], md
for o in md:
    assert o["images"] == 300 and o["batch"] == 64 and o["images_per_s"] > 0, o
    assert abs(o["ms_per_batch"] * 5 / 1e3 - o["epoch_median_s"]) < 1e-3 + 1e-3 * o["epoch_median_s"], o
assert md[0]["cutout"] == 1 and md[0]["random_erasing"] == 1 and md[1]["cutout"] == 0, md
ev = {o["impl"]: o for o in md + pt if o["mode"] == "eval"}
# Two epochs (warm-up + timed) of 5 batches each: 10 first values summed.
assert abs(ev["maxdrop"]["checksum"] - ev["pytorch"]["checksum"]) < 1e-3, ev
print("PASS: bench loader", md[0]["images_per_s"], "/", md[1]["images_per_s"], "images/s;",
      "torchvision", pt[0]["images_per_s"], "/", pt[1]["images_per_s"])
PY
