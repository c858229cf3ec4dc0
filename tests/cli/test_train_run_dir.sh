#!/usr/bin/env bash
# The run folder: eval and --resume, started from another directory, read the
# data folder the run recorded (also when the run found it by the search
# order); a recorded folder that is gone falls back to the search with a note;
# one run folder is written by one 'maxdrop train' at a time; a run that
# cannot start leaves no folder or config.json behind.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN
DATA_ABS=$(cd "$DATA" && pwd -P)
NO_DATA=(--width 4 --limit-train 64 --limit-test 64 --batch-size 32 --threads 2 --progress lines)
mkdir -p "$tmp/a" "$tmp/b"

# Data found through $MAXDROP_DATA (a link, so that it can vanish later).
ln -s "$DATA_ABS" "$tmp/link"
(cd "$tmp/a" && MAXDROP_DATA="$tmp/link" "$B" train "${NO_DATA[@]}" --epochs 1 --out "$tmp/r" \
  2>"$tmp/r1.log") || { cat "$tmp/r1.log"; fail "the run on \$MAXDROP_DATA failed"; }
"$PY" - "$tmp/r/config.json" "$tmp/link" <<'PY' || fail "config.json: data / data_root"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["data"] == "" and c["data_root"] == sys.argv[2], (c["data"], c["data_root"])
PY

# Elsewhere, without $MAXDROP_DATA: resume and eval find the recorded folder.
(cd "$tmp/b" && unset MAXDROP_DATA && "$B" train --resume "$tmp/r" --epochs 2 2>"$tmp/r2.log") ||
  { cat "$tmp/r2.log"; fail "resume from another directory failed"; }
grep -q "from $tmp/link" "$tmp/r2.log" || fail "resume did not read the recorded folder: $(cat "$tmp/r2.log")"
(cd "$tmp/b" && unset MAXDROP_DATA &&
  "$B" eval --checkpoint "$tmp/r/checkpoint.safetensors" --progress off >"$tmp/ev.out" 2>"$tmp/ev.err") ||
  { cat "$tmp/ev.err"; fail "eval from another directory failed"; }
grep -q "images from $tmp/link" "$tmp/ev.out" || fail "eval did not read the recorded folder: $(cat "$tmp/ev.out")"

# A run given --data keeps it for eval too.
(cd "$tmp/a" && "$B" train "${NO_DATA[@]}" --data "$DATA" --epochs 1 --out "$tmp/d" 2>/dev/null) ||
  fail "the run with --data failed"
(cd / && "$B" eval --checkpoint "$tmp/d/checkpoint.safetensors" --progress off >"$tmp/ev.out" 2>&1) ||
  fail "eval from / of a run given --data: $(cat "$tmp/ev.out")"
grep -qF -e "images from $DATA" -e "images from $DATA_ABS" "$tmp/ev.out" || fail "eval of a run given --data: $(cat "$tmp/ev.out")"

# The recorded folder is gone: a note, then the search order ($MAXDROP_DATA).
rm "$tmp/link"
ln -s "$DATA_ABS" "$tmp/link2"
(cd "$tmp/b" && MAXDROP_DATA="$tmp/link2" "$B" eval --checkpoint "$tmp/r/checkpoint.safetensors" \
  --progress off >"$tmp/ev.out" 2>"$tmp/ev.err") || { cat "$tmp/ev.err"; fail "eval after the folder moved"; }
grep -q "$tmp/link, where this run's data was, no longer holds CIFAR-10; searching" "$tmp/ev.err" ||
  fail "no note on the lost folder: $(cat "$tmp/ev.err")"
grep -q "images from $tmp/link2" "$tmp/ev.out" || fail "eval did not search: $(cat "$tmp/ev.out")"
# The same when the folder is there but the data has left it.
mkdir "$tmp/link"
(cd "$tmp/b" && MAXDROP_DATA="$tmp/link2" "$B" train --resume "$tmp/r" --epochs 3 2>"$tmp/r3.log") ||
  { cat "$tmp/r3.log"; fail "resume after the data left the recorded folder"; }
grep -q "$tmp/link, where this run's data was, no longer holds CIFAR-10; searching" "$tmp/r3.log" ||
  fail "no note on the emptied folder: $(cat "$tmp/r3.log")"

# One process per run folder: a folder locked by another process (flock(1)
# holds the same kind of lock as 'maxdrop train') is refused, untouched.
cp -r "$tmp/d" "$tmp/d.before"
set +e
flock "$tmp/d" "$B" train --resume "$tmp/d" --epochs 3 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "$tmp/d is in use by another 'maxdrop train'" "$tmp/x.log" ||
  fail "a locked run folder was resumed: exit $rc: $(cat "$tmp/x.log")"
diff -r "$tmp/d" "$tmp/d.before" >/dev/null || fail "a refused resume changed the run folder"
mkdir "$tmp/n"
set +e
flock "$tmp/n" "$B" train "${TINY[@]}" --epochs 1 --out "$tmp/n" 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "in use by another" "$tmp/x.log" || fail "a locked new folder was used: exit $rc: $(cat "$tmp/x.log")"
[ -z "$(ls -A "$tmp/n")" ] || fail "a refused run wrote into the folder: $(ls -A "$tmp/n")"
[ -d "$tmp/n" ] || fail "a refused run removed a folder it did not create"
# A new run does not replace files of a run (or of the user) in its folder.
mkdir "$tmp/u"
echo precious >"$tmp/u/metrics.csv"
set +e
"$B" train "${TINY[@]}" --epochs 1 --out "$tmp/u" 2>"$tmp/x.log"; rc=$?
set -e
[ $rc -eq 1 ] && grep -q "already holds a metrics.csv that a new run would replace" "$tmp/x.log" ||
  fail "a folder with a metrics.csv was used: exit $rc: $(cat "$tmp/x.log")"
[ "$(cat "$tmp/u/metrics.csv")" = precious ] && [ ! -e "$tmp/u/config.json" ] ||
  fail "a refused run changed the folder"
# Once the other process is gone, the folder is free again.
"$B" train --resume "$tmp/d" --epochs 2 2>"$tmp/x.log" || fail "resume after the lock was released: $(cat "$tmp/x.log")"

# A run that cannot build its model (far too large a batch) leaves nothing,
# so the same command can be given again with other settings.
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-}:allocator_may_return_null=1 \
  "$B" train "${TINY[@]}" --width 1024 --batch-size 65536 --epochs 1 --out "$tmp/big/run" 2>"$tmp/x.log"
rc=$?
set -e
[ $rc -eq 1 ] && grep -q "cannot build the model" "$tmp/x.log" || fail "a model too large: exit $rc: $(cat "$tmp/x.log")"
[ ! -e "$tmp/big" ] || fail "a run that did not start left $(find "$tmp/big")"
"$B" train "${TINY[@]}" --epochs 1 --out "$tmp/big/run" 2>"$tmp/x.log" ||
  fail "the same --out after a failed start: $(cat "$tmp/x.log")"
echo "PASS: run folders: recorded data folder, one writer, nothing left by a failed start"
