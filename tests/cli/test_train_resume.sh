#!/usr/bin/env bash
# Resuming is exact: a run stopped mid-epoch, at an epoch boundary or during
# an evaluation, then resumed (possibly several times), ends with the same
# metrics and the same checkpoint tensors (parameters, BatchNorm statistics
# and counters, momentum, random streams), bit for bit, as a run never stopped.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN

"$B" train "${TINY[@]}" --epochs 2 --out "$tmp/straight" 2>"$tmp/straight.log" ||
  { cat "$tmp/straight.log"; fail "the straight run failed"; }

# 1 epoch + stop + resume: stopped after step 3 of 6 of epoch 1, then at the
# end of epoch 1 (step 6), then during epoch 2's evaluation.
set +e
"$B" train "${TINY[@]}" --epochs 2 --out "$tmp/r" --stop-at 3 2>"$tmp/r1.log"; rc=$?
set -e
[ $rc -eq 130 ] || { cat "$tmp/r1.log"; fail "a stopped run exits 130, not $rc"; }
grep -q "stopped by SIGINT in epoch 1 after step 3 of 6" "$tmp/r1.log" || fail "stop message: $(cat "$tmp/r1.log")"
grep -q "Resume with: maxdrop train --resume $tmp/r" "$tmp/r1.log" || fail "no resume hint"
[ "$($CHECK meta "$tmp/r/checkpoint.safetensors" trainer.step)" = 3 ] || fail "checkpoint is not at step 3"
[ ! -f "$tmp/r/metrics.csv" ] || fail "metrics.csv written before any epoch completed"

set +e
"$B" train --resume "$tmp/r" --stop-at 6 2>"$tmp/r2.log"; rc=$?
set -e
[ $rc -eq 130 ] || { cat "$tmp/r2.log"; fail "second stop: exit $rc"; }
grep -q "resuming after 0 epochs and 3 steps" "$tmp/r2.log" || fail "resume message: $(cat "$tmp/r2.log")"
grep -q "stopped by SIGINT in epoch 1, before its evaluation" "$tmp/r2.log" || fail "stop message: $(cat "$tmp/r2.log")"

set +e
"$B" train --resume "$tmp/r" --stop-at eval:2 2>"$tmp/r3.log"; rc=$?
set -e
[ $rc -eq 130 ] || { cat "$tmp/r3.log"; fail "third stop: exit $rc"; }
grep -q "stopped by SIGINT in epoch 2, before its evaluation" "$tmp/r3.log" || fail "stop message: $(cat "$tmp/r3.log")"
[ "$(wc -l <"$tmp/r/metrics.csv")" -eq 2 ] || fail "metrics.csv should hold epoch 1 only"

"$B" train --resume "$tmp/r" 2>"$tmp/r4.log" || { cat "$tmp/r4.log"; fail "the final resume failed"; }
$CHECK same-metrics "$tmp/straight/metrics.csv" "$tmp/r/metrics.csv"
$CHECK same-tensors "$tmp/straight/checkpoint.safetensors" "$tmp/r/checkpoint.safetensors"

# Epoch boundary + extension: 1 epoch, then --resume --epochs 2.
"$B" train "${TINY[@]}" --epochs 1 --out "$tmp/e" 2>"$tmp/e1.log" || fail "1-epoch run failed"
"$B" train --resume "$tmp/e" --epochs 2 2>"$tmp/e2.log" || { cat "$tmp/e2.log"; fail "extension failed"; }
$CHECK same-metrics "$tmp/straight/metrics.csv" "$tmp/e/metrics.csv"
$CHECK same-tensors "$tmp/straight/checkpoint.safetensors" "$tmp/e/checkpoint.safetensors"

# A resume with a changed setting is refused; so is a finished run resumed
# with fewer epochs.
set +e
"$B" train --resume "$tmp/e" --learning-rate 0.1 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "only --epochs, --threads and --data" "$tmp/x.log" || fail "changed setting accepted: $(cat "$tmp/x.log")"
cp "$tmp/e/config.json" "$tmp/config.before"
set +e
"$B" train --resume "$tmp/e" --epochs 1 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "already completed 2 epochs" "$tmp/x.log" || fail "fewer epochs accepted: $(cat "$tmp/x.log")"
# A refused resume leaves config.json as it was, so a plain resume still works.
cmp -s "$tmp/config.before" "$tmp/e/config.json" || fail "a refused resume rewrote config.json"
# The recorded data folder is absolute (eval and resume may run elsewhere).
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1]))['data']; assert d.startswith('/'), d" \
  "$tmp/e/config.json" || fail "config.json records a relative data folder"

# A run stopped inside epoch 2 cannot be resumed with --epochs 1; the message
# says where it stopped and what to give, and config.json stays as it was.
set +e
"$B" train "${TINY[@]}" --epochs 2 --out "$tmp/m" --stop-at 9 2>/dev/null
cp "$tmp/m/config.json" "$tmp/config.before"
"$B" train --resume "$tmp/m" --epochs 1 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "stopped inside epoch 2 (after 3 of its 6 steps)" "$tmp/x.log" &&
  grep -q -- "--epochs 2" "$tmp/x.log" || fail "resume inside the last epoch: $(cat "$tmp/x.log")"
cmp -s "$tmp/config.before" "$tmp/m/config.json" || fail "a refused resume rewrote config.json"
# eval names the position of a checkpoint saved inside an epoch.
"$B" eval --checkpoint "$tmp/m/checkpoint.safetensors" --data "$DATA" --limit-test 64 \
  >"$tmp/ev.out" 2>/dev/null || fail "eval of a mid-epoch checkpoint failed"
grep -q "(epoch 2 of 2, stopped after 3 training steps of it)" "$tmp/ev.out" ||
  fail "eval's position of a mid-epoch checkpoint: $(head -n 1 "$tmp/ev.out")"
# A checkpoint damaged after it was written (one bit of tensor data) is
# refused by eval and by --resume, naming the tensor.
cp "$tmp/e/checkpoint.safetensors" "$tmp/good.safetensors"
"$PY" - "$tmp/e/checkpoint.safetensors" <<'PYEOF'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
begin = json.loads(b[8:8 + n])["conv1.weight"]["data_offsets"][0]
b[8 + n + begin + 13] ^= 0x04
open(p, "wb").write(bytes(b))
PYEOF
set +e
"$B" eval --checkpoint "$tmp/e/checkpoint.safetensors" --data "$DATA" --limit-test 64 >/dev/null 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "tensor 'conv1.weight' (file bytes .*) does not match the checksum" "$tmp/x.log" ||
  fail "eval of a damaged checkpoint: exit $rc: $(cat "$tmp/x.log")"
set +e
"$B" train --resume "$tmp/e" --epochs 3 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "the file is damaged" "$tmp/x.log" ||
  fail "resume from a damaged checkpoint: exit $rc: $(cat "$tmp/x.log")"
# Header damage (a value of the training history) and a checksum entry
# renamed: both refused.
cp "$tmp/good.safetensors" "$tmp/e/checkpoint.safetensors"
"$PY" - "$tmp/e/checkpoint.safetensors" "$tmp/renamed.safetensors" <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = bytes(b[8:8 + n])
i = h.index(b"maxdrop.sha256")
r = bytearray(b)
r[8 + i + 13] = ord("7")
open(sys.argv[2], "wb").write(bytes(r))
i = h.index(b"test_acc")
j = i + h[i:].index(b"0.")
b[8 + j] = ord("9")  # a history accuracy 0.x -> 9.x
open(sys.argv[1], "wb").write(bytes(b))
PYEOF
set +e
"$B" train --resume "$tmp/e" --epochs 3 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "the header (file bytes 8 to .*) does not match the checksum" "$tmp/x.log" ||
  fail "resume from a checkpoint with a damaged header: exit $rc: $(cat "$tmp/x.log")"
set +e
"$B" eval --checkpoint "$tmp/renamed.safetensors" --data "$DATA" --limit-test 64 >/dev/null 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "carries no checksums" "$tmp/x.log" ||
  fail "eval of a checkpoint without its checksum entry: exit $rc: $(cat "$tmp/x.log")"

# A run whose checkpoint is lost (metrics.csv shows finished epochs) is not
# silently restarted.
rm "$tmp/e/checkpoint.safetensors"
cp "$tmp/e/metrics.csv" "$tmp/metrics.before"
set +e
"$B" train --resume "$tmp/e" --epochs 3 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "checkpoint was lost" "$tmp/x.log" || fail "lost checkpoint: exit $rc: $(cat "$tmp/x.log")"
cmp -s "$tmp/metrics.before" "$tmp/e/metrics.csv" || fail "a refused resume changed metrics.csv"
echo "PASS: resumed runs are bit-identical to the straight run"
