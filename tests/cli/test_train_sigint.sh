#!/usr/bin/env bash
# SIGINT and SIGTERM from outside: the run finishes its step, saves a
# checkpoint, says how to resume and exits 130 / 143; resuming completes the
# run with the same results as a run never interrupted.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN
EP=4

"$B" train "${TINY[@]}" --epochs $EP --out "$tmp/straight" 2>"$tmp/straight.log" ||
  { cat "$tmp/straight.log"; fail "the straight run failed"; }

# Waits until the log of a run in the background shows a training step, then
# sends the signal. A script's background job starts with SIGINT ignored,
# which maxdrop respects; env --default-signal gives it back its default, as
# a job started from a terminal has it.
interrupt() { # signal folder log
  local sig=$1 dir=$2 log=$3
  env --default-signal=INT "$B" train "${TINY[@]}" --epochs $EP --out "$dir" 2>"$log" &
  local pid=$!
  for _ in $(seq 1 600); do
    grep -q "train step" "$log" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  kill -"$sig" $pid 2>/dev/null || true
  set +e
  wait $pid
  rc=$?
  set -e
}

for sig in INT TERM; do
  dir="$tmp/run_$sig"
  interrupt $sig "$dir" "$tmp/$sig.log"
  want=130; [ $sig = TERM ] && want=143
  if [ $rc -eq 0 ]; then
    cat "$tmp/$sig.log"; fail "SIG$sig arrived too late: the run had already finished"
  fi
  [ $rc -eq $want ] || { cat "$tmp/$sig.log"; fail "SIG$sig: exit $rc, expected $want"; }
  grep -q "stopped by SIG$sig" "$tmp/$sig.log" || fail "SIG$sig: no stop message: $(cat "$tmp/$sig.log")"
  grep -q "Resume with: maxdrop train --resume $dir" "$tmp/$sig.log" || fail "SIG$sig: no resume hint"
  [ -f "$dir/checkpoint.safetensors" ] || fail "SIG$sig: no checkpoint"
  [ "$($CHECK meta "$dir/checkpoint.safetensors" format)" = maxdrop ] || fail "SIG$sig: bad checkpoint"
  grep -q '"status":[[:space:]]*"stopped"' "$dir/summary.json" || fail "SIG$sig: summary.json: $(cat "$dir/summary.json")"
  ls "$dir" | grep -q tmp && fail "SIG$sig: a temporary file was left: $(ls "$dir")"
  "$B" train --resume "$dir" 2>"$tmp/$sig.resume.log" || { cat "$tmp/$sig.resume.log"; fail "SIG$sig: resume failed"; }
  $CHECK same-metrics "$tmp/straight/metrics.csv" "$dir/metrics.csv"
  $CHECK same-tensors "$tmp/straight/checkpoint.safetensors" "$dir/checkpoint.safetensors"
done
# A run started with SIGINT ignored (here: a background job of this script)
# keeps ignoring it: it finishes normally.
"$B" train "${TINY[@]}" --epochs $EP --out "$tmp/ignored" 2>"$tmp/ign.log" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "train step" "$tmp/ign.log" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
kill -INT $pid 2>/dev/null || true
set +e
wait $pid
rc=$?
set -e
[ $rc -eq 0 ] && ! grep -q "stopped by" "$tmp/ign.log" ||
  { cat "$tmp/ign.log"; fail "an ignored SIGINT stopped the run (exit $rc)"; }
echo "PASS: SIGINT/SIGTERM save, explain and resume exactly"
