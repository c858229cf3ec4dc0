#!/usr/bin/env bash
# A NaN loss stops the run with a message naming the epoch and step; the
# checkpoint of the last completed epoch stays as it was, and resuming from it
# gives the same results as a run that never diverged.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN

"$B" train "${TINY[@]}" --epochs 2 --out "$tmp/straight" 2>"$tmp/straight.log" ||
  { cat "$tmp/straight.log"; fail "the straight run failed"; }

# 6 steps per epoch: SGD step 8 is epoch 2, step 2.
set +e
"$B" train "${TINY[@]}" --epochs 2 --out "$tmp/nan" --inject-nan-at 8 2>"$tmp/nan.log"; rc=$?
set -e
[ $rc -eq 3 ] || { cat "$tmp/nan.log"; fail "a diverged run exits 3, not $rc"; }
grep -q "training diverged: the training loss is NaN at epoch 2, step 2 of 6" "$tmp/nan.log" ||
  fail "divergence message: $(cat "$tmp/nan.log")"
grep -q "last good checkpoint (after epoch 1) is $tmp/nan/checkpoint.safetensors" "$tmp/nan.log" ||
  fail "no pointer to the last good checkpoint: $(cat "$tmp/nan.log")"
grep -q '"status":[[:space:]]*"diverged"' "$tmp/nan/summary.json" || fail "summary.json: $(cat "$tmp/nan/summary.json")"
grep -q 'epoch 2, step 2 of 6' "$tmp/nan/summary.json" || fail "summary.json lacks the position"
[ "$($CHECK meta "$tmp/nan/checkpoint.safetensors" epoch)" = 1 ] || fail "checkpoint is not epoch 1's"
[ "$($CHECK meta "$tmp/nan/checkpoint.safetensors" trainer.step)" = 0 ] || fail "checkpoint is not at an epoch boundary"
[ "$(wc -l <"$tmp/nan/metrics.csv")" -eq 2 ] || fail "metrics.csv should hold epoch 1 only"

# The last good checkpoint resumes to the straight run's results.
"$B" train --resume "$tmp/nan" 2>"$tmp/resume.log" || { cat "$tmp/resume.log"; fail "resume failed"; }
$CHECK same-metrics "$tmp/straight/metrics.csv" "$tmp/nan/metrics.csv"
$CHECK same-tensors "$tmp/straight/checkpoint.safetensors" "$tmp/nan/checkpoint.safetensors"

# Divergence in the first epoch: no checkpoint at all, and the message says so.
set +e
"$B" train "${TINY[@]}" --epochs 1 --out "$tmp/nan1" --inject-nan-at 1 2>"$tmp/nan1.log"; rc=$?
set -e
[ $rc -eq 3 ] || fail "exit $rc"
grep -q "at epoch 1, step 1 of 6" "$tmp/nan1.log" && grep -q "no checkpoint" "$tmp/nan1.log" ||
  fail "first-step divergence message: $(cat "$tmp/nan1.log")"
[ ! -f "$tmp/nan1/checkpoint.safetensors" ] || fail "a checkpoint was written"

# A learning rate far too large diverges by itself.
set +e
"$B" train "${TINY[@]}" --epochs 3 --learning-rate 1e30 --out "$tmp/big" 2>"$tmp/big.log"; rc=$?
set -e
[ $rc -eq 3 ] || { cat "$tmp/big.log"; fail "lr 1e30: exit $rc, expected 3"; }
grep -Eq "the training loss is (NaN|infinite) at epoch [0-9]+, step [0-9]+ of 6" "$tmp/big.log" ||
  fail "lr 1e30 message: $(cat "$tmp/big.log")"
echo "PASS: divergence stops with epoch and step; the last good checkpoint resumes"
