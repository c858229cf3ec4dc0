#!/usr/bin/env bash
# maxdrop apply: --help, and one clear line plus a non-zero exit (never a
# crash) for every kind of bad input.
set -u
BIN=${MAXDROP_BIN:?MAXDROP_BIN is not set}
PY=${MD_PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE NEEDLE -- ARGS...: exit status CODE and NEEDLE in stderr, which
# starts with "maxdrop apply:".
expect() {
  local code=$1 needle=$2
  shift 3
  checks=$((checks + 1))
  "$BIN" apply "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  if [ $rc -ne "$code" ]; then
    fail "apply $*: exit $rc, want $code; stderr: $(cat "$T/err.txt")"
  elif ! grep -qF -- "$needle" "$T/err.txt"; then
    fail "apply $*: stderr lacks '$needle': $(cat "$T/err.txt")"
  elif ! head -n1 "$T/err.txt" | grep -q '^maxdrop apply: '; then
    fail "apply $*: first stderr line is not 'maxdrop apply: ...': $(head -n1 "$T/err.txt")"
  fi
}

# Fixtures: good and bad .npy files.
"$PY" - "$T" <<'PYEOF' || { echo "FAIL: cannot write fixtures with $PY"; exit 1; }
import sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(0)
np.save(f"{t}/x4.npy", rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
np.save(f"{t}/x2.npy", rng.standard_normal((3, 2)).astype(np.float32))
np.save(f"{t}/dy23.npy", rng.standard_normal((2, 3)).astype(np.float32))
np.save(f"{t}/x1.npy", rng.standard_normal(7).astype(np.float32))
np.save(f"{t}/x5.npy", np.zeros((1, 1, 1, 1, 2), np.float32))
np.save(f"{t}/empty.npy", np.zeros((0, 3), np.float32))
np.save(f"{t}/u8.npy", np.zeros((2, 3), np.uint8))
np.save(f"{t}/f8.npy", np.zeros((2, 3), np.float64))
np.save(f"{t}/i4.npy", np.zeros((2, 3), np.int32))
np.save(f"{t}/fortran.npy", np.asfortranarray(np.zeros((2, 3), np.float32)))
good = open(f"{t}/x2.npy", "rb").read()
open(f"{t}/trunc.npy", "wb").write(good[:-5])
open(f"{t}/trail.npy", "wb").write(good + b"\0\0\0\0")
open(f"{t}/garbage.npy", "wb").write(b"this is not a numpy file at all")
open(f"{t}/zero.npy", "wb").write(b"")
PYEOF

# --help: usage on stdout, exit 0, for the command and after an op
for args in "--help" "-h" "maxdropout --help" "cutout --in x --help"; do
  checks=$((checks + 1))
  # shellcheck disable=SC2086
  if ! "$BIN" apply $args >"$T/help.txt" 2>&1; then fail "apply $args: non-zero exit"; fi
  for w in "usage: maxdrop apply" maxdropout dropout cutout random-erasing --grad-in \
           --mask-out --rate --stats --n-holes --fill; do
    grep -qF -- "$w" "$T/help.txt" || fail "apply $args: help lacks '$w'"
  done
done
checks=$((checks + 1))
"$BIN" --help | grep -q '^  apply ' || fail "maxdrop --help does not list apply"

X="--in $T/x4.npy --out $T/y.npy"
# usage errors: exit 2
expect 2 "missing operation" --
expect 2 "unknown operation 'maxpool'" -- maxpool $X
expect 2 "the operation comes first" -- --in "$T/x4.npy" maxdropout
expect 2 "unknown option '--bogus'" -- maxdropout $X --bogus
expect 2 "unknown option '--rate-x'" -- maxdropout $X --rate-x=1
expect 2 "unexpected argument 'extra'" -- maxdropout $X extra
expect 2 "option --rate needs a value" -- maxdropout $X --rate
expect 2 "option --rate needs a value" -- maxdropout $X --rate --eval
expect 2 "option --rate needs a value" -- maxdropout $X --rate=
expect 2 "option --eval takes no value" -- maxdropout $X --eval=1
expect 2 "missing --in" -- maxdropout --out "$T/y.npy"
expect 2 "missing --out" -- maxdropout --in "$T/x4.npy"
expect 2 "option --in needs a value" -- maxdropout --out "$T/y.npy" --in
expect 2 "--grad-in and --grad-out go together" -- maxdropout $X --grad-in "$T/x4.npy"
expect 2 "--grad-in and --grad-out go together" -- dropout $X --grad-out "$T/dx.npy"
expect 2 "--rate needs a number, got 'abc'" -- maxdropout $X --rate abc
expect 2 "--rate needs a number, got 'nan'" -- maxdropout $X --rate nan
expect 2 "--rate must be in [0, 1], got 1.5" -- maxdropout $X --rate 1.5
expect 2 "--rate must be in [0, 1], got -0.1" -- maxdropout $X --rate=-0.1
expect 2 "--rate must be in [0, 1], got 2" -- dropout $X --rate 2
expect 2 "--rate must be in [0, 1], got inf" -- dropout $X --rate inf
expect 2 "--norm must be minmax or l2, got 'l1'" -- maxdropout $X --norm l1
expect 2 "--stats must be batch, sample, channel or sample-channel, got 'pixel'" -- \
  maxdropout $X --stats pixel
expect 2 "--seed needs a non-negative integer, got '-3'" -- maxdropout $X --seed=-3
expect 2 "--seed needs a non-negative integer, got '1.5'" -- maxdropout $X --seed 1.5
expect 2 "--threads needs an integer from 1 to 4096, got '0'" -- maxdropout $X --threads 0
expect 2 "option --rate does not apply to cutout" -- cutout $X --rate 0.3
expect 2 "option --v2 does not apply to dropout" -- dropout $X --v2
expect 2 "option --n-holes does not apply to maxdropout" -- maxdropout $X --n-holes 2
expect 2 "option --fill does not apply to cutout" -- cutout $X --fill zero
expect 2 "--n-holes needs a non-negative integer, got '-1'" -- cutout $X --n-holes=-1
expect 2 "--length needs a non-negative integer, got '4.5'" -- cutout $X --length 4.5
expect 2 "--probability must be a number in [0, 1], got '1.01'" -- random-erasing $X \
  --probability 1.01
expect 2 "--scale needs LO,HI with 0 < LO <= HI <= 1, got '0.5'" -- random-erasing $X \
  --scale 0.5
expect 2 "--scale needs LO,HI with 0 < LO <= HI <= 1, got '0.5,0.1'" -- random-erasing $X \
  --scale 0.5,0.1
expect 2 "--scale needs LO,HI with 0 < LO <= HI <= 1, got '0,0.5'" -- random-erasing $X \
  --scale 0,0.5
expect 2 "--ratio needs LO,HI with 0 < LO <= HI, got '1,x'" -- random-erasing $X --ratio 1,x
expect 2 "--ratio needs LO,HI with 0 < LO <= HI, got '2,1'" -- random-erasing $X --ratio 2,1
expect 2 "--attempts needs a positive integer, got '0'" -- random-erasing $X --attempts 0
expect 2 "--attempts is at most 100000, got '2000000000'" -- random-erasing $X --attempts 2000000000
expect 2 "--n-holes is at most 1024, got '5000'" -- cutout $X --n-holes 5000
expect 2 "--fill must be zero, random or value, got 'mean'" -- random-erasing $X --fill mean
expect 2 "--fill value needs --value" -- random-erasing $X --fill value
expect 2 "--value needs --fill value" -- random-erasing $X --value 1,2,3
expect 2 "--value needs 1 to 16 comma-separated numbers, got '1,,3'" -- random-erasing $X \
  --fill value --value 1,,3
expect 2 "--value needs 1 to 16 comma-separated numbers" -- random-erasing $X \
  --fill value --value 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17
# scale / ratio bounds that underflow to 0 as float32: a usage error, not the
# library's bare "invalid argument"
expect 2 "--scale needs LO,HI with 0 < LO <= HI <= 1, got '1e-46,1e-46'" -- random-erasing $X \
  --scale 1e-46,1e-46
expect 2 "--ratio needs LO,HI with 0 < LO <= HI, got '1e-300,1e-300'" -- random-erasing $X \
  --ratio 1e-300,1e-300
# two outputs naming one file, or an output naming an input: refused before
# anything is written (the second write used to replace the first, or the input)
cp "$T/x4.npy" "$T/x4_orig.npy"
ln -s x4.npy "$T/x4_link.npy"
expect 2 "--out and --mask-out name the same file" -- maxdropout $X --mask-out "$T/y.npy"
expect 2 "--out and --grad-out name the same file" -- maxdropout $X --grad-in "$T/x4.npy" \
  --grad-out "$T/./y.npy"
expect 2 "--mask-out and --grad-out name the same file" -- dropout $X --mask-out "$T/m.npy" \
  --grad-in "$T/x4.npy" --grad-out "$T/m.npy"
expect 2 "--mask-out would overwrite the input --in" -- maxdropout $X --mask-out "$T/x4.npy"
expect 2 "--out would overwrite the input --in" -- maxdropout --in "$T/x4.npy" \
  --out "$T/x4_link.npy"
expect 2 "--grad-out would overwrite the input --grad-in" -- cutout $X --grad-in "$T/x2.npy" \
  --grad-out "$T/x2.npy"
checks=$((checks + 1))
cmp -s "$T/x4.npy" "$T/x4_orig.npy" || fail "an input file was overwritten"
checks=$((checks + 1))
[ ! -e "$T/y.npy" ] || fail "a refused call wrote $T/y.npy"

# an unwritable later output fails before the earlier ones are written
printf 'old\n' >"$T/keep.npy"
expect 1 "--mask-out: cannot write $T/no/dir/m.npy: folder $T/no/dir does not exist" -- \
  maxdropout --in "$T/x4.npy" --out "$T/keep.npy" --mask-out "$T/no/dir/m.npy"
expect 1 "--grad-out: cannot write $T: it is a folder" -- dropout --in "$T/x4.npy" \
  --out "$T/keep.npy" --grad-in "$T/x4.npy" --grad-out "$T"
checks=$((checks + 1))
[ "$(cat "$T/keep.npy")" = old ] || fail "a failed call replaced the earlier output keep.npy"

# input errors: exit 1
expect 1 "cannot open $T/absent.npy" -- maxdropout --in "$T/absent.npy" --out "$T/y.npy"
expect 1 "not a regular file" -- maxdropout --in "$T" --out "$T/y.npy"
expect 1 "bad magic" -- maxdropout --in "$T/garbage.npy" --out "$T/y.npy"
expect 1 "too short" -- maxdropout --in "$T/zero.npy" --out "$T/y.npy"
expect 1 "truncated" -- maxdropout --in "$T/trunc.npy" --out "$T/y.npy"
expect 1 "trailing bytes" -- maxdropout --in "$T/trail.npy" --out "$T/y.npy"
expect 1 "holds uint8 or bool values; apply needs float32" -- maxdropout --in "$T/u8.npy" \
  --out "$T/y.npy"
expect 1 "dtype '<f8' is not supported" -- dropout --in "$T/f8.npy" --out "$T/y.npy"
expect 1 "dtype '<i4' is not supported" -- dropout --in "$T/i4.npy" --out "$T/y.npy"
expect 1 "Fortran-order" -- dropout --in "$T/fortran.npy" --out "$T/y.npy"
expect 1 "has 5 dimensions; apply takes at most 4" -- maxdropout --in "$T/x5.npy" \
  --out "$T/y.npy"
expect 1 "is empty (shape (0, 3))" -- maxdropout --in "$T/empty.npy" --out "$T/y.npy"
expect 1 "cutout needs a 3-D (C,H,W) or 4-D (N,C,H,W) input" -- cutout --in "$T/x2.npy" \
  --out "$T/y.npy"
expect 1 "random-erasing needs a 3-D" -- random-erasing --in "$T/x1.npy" --out "$T/y.npy"
expect 1 "maxdropout --v2 needs a 3-D" -- maxdropout --v2 --in "$T/x2.npy" --out "$T/y.npy"
expect 1 "--value has 2 numbers but the input has 3 channels" -- random-erasing $X \
  --fill value --value 1,2
expect 1 "has shape (2, 3) but the input has shape (3, 2)" -- maxdropout \
  --in "$T/x2.npy" --out "$T/y.npy" --grad-in "$T/dy23.npy" --grad-out "$T/dx.npy"
expect 1 "--grad-in: cannot open" -- maxdropout --in "$T/x2.npy" --out "$T/y.npy" \
  --grad-in "$T/absent.npy" --grad-out "$T/dx.npy"
expect 1 "--grad-in: $T/u8.npy holds uint8" -- dropout --in "$T/x2.npy" --out "$T/y.npy" \
  --grad-in "$T/u8.npy" --grad-out "$T/dx.npy"
expect 1 "--grad-in: $T/empty.npy is empty" -- dropout --in "$T/x2.npy" --out "$T/y.npy" \
  --grad-in "$T/empty.npy" --grad-out "$T/dx.npy"

# unwritable outputs: exit 1, message naming the path, nothing left behind
expect 1 "$T/no/such/dir/y.npy" -- maxdropout --in "$T/x4.npy" --out "$T/no/such/dir/y.npy"
expect 1 "--mask-out" -- maxdropout $X --mask-out "$T/no/dir/m.npy"
expect 1 "--grad-out" -- cutout $X --grad-in "$T/x4.npy" --grad-out "$T/no/dir/dx.npy"
mkdir -p "$T/outdir"
expect 1 "--out" -- dropout --in "$T/x4.npy" --out "$T/outdir"
checks=$((checks + 1))
leftovers=$(find "$T" -name '*.tmp*' | wc -l)
[ "$leftovers" -eq 0 ] || fail "temporary files left behind: $(find "$T" -name '*.tmp*')"

# and the good cases of the same files succeed
checks=$((checks + 1))
"$BIN" apply maxdropout $X --rate 0.5 --mask-out "$T/m.npy" --grad-in "$T/x4.npy" \
  --grad-out "$T/dx.npy" >/dev/null 2>&1 || fail "a valid maxdropout call failed"
checks=$((checks + 1))
"$BIN" apply random-erasing $X --fill value --value 1,2,3 --probability 1 >/dev/null 2>&1 ||
  fail "a valid random-erasing call failed"

echo "$((checks - fails)) passed, $fails failed"
[ $fails -eq 0 ]
