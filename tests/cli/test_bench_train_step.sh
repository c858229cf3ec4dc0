#!/usr/bin/env bash
# maxdrop bench train-step: usage errors, help, and the JSON object of a small
# run (ResNet-18 width 4 and WRN-10-1 with MaxDropout, batch 4, one step).
set -euo pipefail
bin="${MAXDROP_BIN:?}"
py="${MD_PYTHON:-/usr/bin/python3}"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" bench --help | grep -q "maxdrop bench train-step" || fail "bench --help"
"$bin" bench train-step --help | grep -q -- "--widen" || fail "bench train-step --help"

expect_usage() {
  set +e
  "$bin" "$@" >/dev/null 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "'$*' exited $rc, want 2"
}
expect_usage bench train-step --model vgg
expect_usage bench train-step --width 0
expect_usage bench train-step --batch
expect_usage bench train-step --steps abc
expect_usage bench train-step --model wrn --depth 12
expect_usage bench train-step --reg maxdropout --rate 2
expect_usage bench train-step --reg spatial
expect_usage bench train-step --frobnicate 1

check() {
  "$py" - "$1" "$2" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
model = sys.argv[2]
for k in ("train_step_median_s", "train_forward_median_s", "train_backward_median_s",
          "eval_forward_median_s", "train_images_per_s", "eval_images_per_s", "peak_rss_mb",
          "baseline_rss_mb", "params", "batch", "threads", "steps"):
    assert k in o, (k, o)
assert o["name"] == "train_step" and o["impl"] == "maxdrop" and o["model"] == model, o
assert o["batch"] == 4 and o["steps"] == 1 and o["threads"] == 2, o
assert o["train_step_median_s"] > 0 and o["eval_forward_median_s"] > 0, o
# the median is printed with 4 decimals and images/s (from the unrounded
# median) with 2: allow for both roundings
step = o["train_step_median_s"]
assert abs(o["train_images_per_s"] - 4 / step) <= 0.005 + 4 * 0.00005 / (step * (step - 0.00005)) + 1e-9, o
assert o["train_forward_median_s"] + o["train_backward_median_s"] <= o["train_step_median_s"] * 1.001 + 0.00015, o
assert o["peak_rss_mb"] >= o["baseline_rss_mb"] > 0, o
print("ok:", model, o["train_step_median_s"], "s per step")
PY
}
out=$("$bin" bench train-step --model resnet18 --width 4 --batch 4 --steps 1 --threads 2)
check "$out" resnet18
"$py" -c "import json,sys; o=json.loads(sys.argv[1]); assert o['width']==4 and o['params']==44622, o" "$out" ||
  fail "ResNet-18 width 4: width or parameter count (PyTorch's: 44622)"
expect_usage bench train-step --width=0
expect_usage bench train-step --model=vgg
# --flag=value as well as --flag value
out=$("$bin" bench train-step --model=wrn --depth=10 --widen 1 --reg=maxdropout --batch=4 \
  --steps=1 --threads 2)
check "$out" wrn
"$py" -c "import json,sys; o=json.loads(sys.argv[1]); assert o['depth']==10 and o['reg']=='maxdropout', o" "$out" ||
  fail "WRN-10-1: depth or regularizer"
