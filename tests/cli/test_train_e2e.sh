#!/usr/bin/env bash
# End to end on real CIFAR-10: a small ResNet-18 trained on the first 512
# training images learns (the training loss falls), every run file exists and
# parses, and 'maxdrop eval' on the checkpoint reproduces the last epoch's
# test accuracy and prints the per-class accuracy with the class names.
# Then CIFAR-100 support, on files generated here.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN
run="$tmp/run"
"$B" train --data "$DATA" --width 8 --limit-train 512 --limit-test 300 --batch-size 64 \
  --epochs 4 --learning-rate 0.05 --milestones none --threads 2 --progress lines \
  --out "$run" >"$tmp/out.txt" 2>"$tmp/err.txt" || { cat "$tmp/err.txt"; fail "training failed"; }
cat "$tmp/err.txt"
grep -q "final test error" "$tmp/out.txt" || fail "no final line: $(cat "$tmp/out.txt")"
grep -q "epoch 4: lr 0.05  train loss" "$tmp/err.txt" || fail "no per-epoch line"
for f in config.json metrics.csv summary.json checkpoint.safetensors; do
  [ -s "$run/$f" ] || fail "$f missing"
done
ls "$run" | grep -q tmp && fail "temporary files left: $(ls "$run")"
res=$($CHECK run-folder "$run" 4) || fail "run folder check failed"
echo "$res"
eval "$(echo "$res" | grep '^FIRST_LOSS=')"
$PY -c "import sys; f, l = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if l < f - 0.1 else 1)" \
  "$FIRST_LOSS" "$LAST_LOSS" || fail "the training loss did not fall: $FIRST_LOSS -> $LAST_LOSS"

"$B" eval --checkpoint "$run/checkpoint.safetensors" --data "$DATA" --limit-test 300 --threads 2 \
  --progress off >"$tmp/eval.txt" || fail "eval failed"
cat "$tmp/eval.txt"
acc=$($PY -c "print('%.2f' % (100 * float('$LAST_ACC')))")
grep -q "test accuracy $acc%" "$tmp/eval.txt" || fail "eval accuracy differs from metrics.csv ($acc%)"
for c in airplane automobile bird cat deer dog frog horse ship truck; do
  grep -Eq "^  $c +[0-9.]+%  \([0-9]+/[0-9]+\)" "$tmp/eval.txt" || fail "no per-class line for $c"
done
total=$(grep -Eo '\([0-9]+/[0-9]+\)' "$tmp/eval.txt" | tr -d '()' | awk -F/ '{s += $2} END {print s}')
[ "$total" = 300 ] || fail "per-class totals add up to $total, not 300"

# CIFAR-100, generated: 256 training and 100 test records, random pixels.
c100="$tmp/c100"
mkdir -p "$c100/cifar-100-binary"
$PY - "$c100/cifar-100-binary" <<'PYEOF'
import os, sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
for name, n in (("train.bin", 256), ("test.bin", 100)):
    rec = np.zeros((n, 3074), np.uint8)
    fine = np.arange(n) % 100
    rec[:, 0] = fine // 5
    rec[:, 1] = fine
    rec[:, 2:] = rng.integers(0, 256, (n, 3072))
    rec.tofile(os.path.join(d, name))
open(os.path.join(d, "fine_label_names.txt"), "w").write("".join(f"fine{i}\n" for i in range(100)))
open(os.path.join(d, "coarse_label_names.txt"), "w").write("".join(f"coarse{i}\n" for i in range(20)))
PYEOF
"$B" train --data "$c100" --dataset cifar100 --width 4 --batch-size 64 --epochs 1 --cutout \
  --threads 2 --progress off --out "$tmp/run100" 2>"$tmp/err100.txt" ||
  { cat "$tmp/err100.txt"; fail "CIFAR-100 training failed"; }
$CHECK run-folder "$tmp/run100" 1 >/dev/null || fail "CIFAR-100 run folder"
grep -q '"cutout_length_used":[[:space:]]*8' "$tmp/run100/config.json" || fail "CIFAR-100 Cutout length is not 8"
"$B" eval --checkpoint "$tmp/run100/checkpoint.safetensors" --data "$c100" --progress off \
  >"$tmp/eval100.txt" || fail "CIFAR-100 eval failed"
[ "$(grep -c '^  fine[0-9]' "$tmp/eval100.txt")" = 100 ] || fail "CIFAR-100 eval lacks 100 class lines"
grep -q "CIFAR-100, 100 images" "$tmp/eval100.txt" || fail "CIFAR-100 eval header"
echo "PASS: end-to-end training, run files and eval"
