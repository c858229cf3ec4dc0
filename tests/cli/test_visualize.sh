#!/usr/bin/env bash
# maxdrop visualize: the PNG it writes is decoded by an independent decoder
# (Pillow) and every panel is checked against the definitions of Dropout and
# MaxDropout computed with NumPy (tests/cli/figure1_check.py); sources: the
# CIFAR-10 test set, the built-in synthetic image, a PNG and a JPEG made here.
# Then the errors: missing or corrupt images, bad flags.
set -euo pipefail
: "${MAXDROP_BIN:?MAXDROP_BIN must name the maxdrop executable}"
: "${MD_SOURCE_DIR:?MD_SOURCE_DIR must name the source folder}"
PY=${MD_PYTHON:-/usr/bin/python3}
CHECK="$MD_SOURCE_DIR/tests/cli/figure1_check.py"
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_viz_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"   # no ./data or ../shared/data here
unset MAXDROP_DATA

run() {
  local want=$1; shift
  local rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "--- stdout:"; cat "$tmp/out"; echo "--- stderr:"; cat "$tmp/err"
    fail "$* exited $rc, expected $want"
  fi
}
has() { grep -q -- "$2" "$tmp/$1" || fail "$1 lacks '$2': $(cat "$tmp/$1")"; }

# --- the CIFAR-10 test set, found through $MAXDROP_DATA ---------------------
data=${MD_TEST_DATA:-$MD_SOURCE_DIR/../shared/data}
if [ -f "$data/cifar-10-batches-bin/test_batch.bin" ]; then
  data=$(cd "$data" && pwd)
  MAXDROP_DATA="$data" run 0 "$MAXDROP_BIN" visualize --out fig.png
  has out "wrote fig.png (800 x 568 pixels)"
  has out "CIFAR-10 test image 13 "
  has out "horse"
  "$PY" "$CHECK" fig.png --cifar "$data/cifar-10-batches-bin/test_batch.bin" --index 13 \
    --scale 8 --rate 0.5 || fail "default figure does not check out"
  # --data, --index, --rate, --scale, --seed; the same seed gives the same file.
  run 0 "$MAXDROP_BIN" visualize --data "$data" --index 3 --rate 0.3 --scale 4 --seed 5 --out a.png
  has out "test image 3 "
  "$PY" "$CHECK" a.png --cifar "$data/cifar-10-batches-bin/test_batch.bin" --index 3 \
    --scale 4 --rate 0.3 || fail "--index 3 --rate 0.3 figure does not check out"
  run 0 "$MAXDROP_BIN" visualize --data="$data" --index=3 --rate=0.3 --scale=4 --seed=5 --out=b.png
  cmp -s a.png b.png || fail "the same seed gave different figures"
  run 0 "$MAXDROP_BIN" visualize --data "$data" --index 3 --rate 0.3 --scale 4 --seed 6 --out c.png
  ! cmp -s a.png c.png || fail "another seed gave the same figure"
  # The dataset folder itself is accepted too.
  run 0 "$MAXDROP_BIN" visualize --data "$data/cifar-10-batches-bin" --index 9999 --out d.png
  run 1 "$MAXDROP_BIN" visualize --data "$data" --index 10000 --out e.png
  has err "index 10000 is out of range"
  [ ! -e e.png ] || fail "a failed run left e.png"
else
  echo "note: no CIFAR-10 under $data: the real-data checks were not run"
fi

# --- no data anywhere: the built-in synthetic image -------------------------
run 0 "$MAXDROP_BIN" visualize --out synth.png
has err "no CIFAR data found"
has err "synthetic"
has out "built-in synthetic image (64 x 64)"
"$PY" "$CHECK" synth.png --size 64x64 --scale 4 --rate 0.5 || fail "synthetic figure does not check out"

# --- --image: a PNG, a grayscale PNG and a JPEG made here --------------------
"$PY" - <<'PYEOF'
import numpy as np
from PIL import Image
y, x = np.mgrid[0:40, 0:48]
rgb = np.stack([x * 5, y * 6, 255 - x * 3], axis=-1).astype(np.uint8)
rgb[10:20, 30:40] = 250  # a bright square
Image.fromarray(rgb, "RGB").save("src.png")
Image.fromarray(rgb, "RGB").save("src.jpg", quality=90)
Image.fromarray(rgb[:, :, 1], "L").save("gray.png")
PYEOF
run 0 "$MAXDROP_BIN" visualize --image src.png --scale 3 --out p.png
has out "src.png (48 x 40, colour)"
"$PY" "$CHECK" p.png --image src.png --scale 3 --rate 0.5 || fail "PNG source figure does not check out"
# The figure never replaces its own source image.
cp src.png keep.png
run 2 "$MAXDROP_BIN" visualize --image src.png --out ./src.png
has err "is the source image"
cmp -s src.png keep.png || fail "visualize overwrote its source image"
run 0 "$MAXDROP_BIN" visualize --image src.jpg --out j.png
has out "src.jpg (48 x 40, colour)"
# JPEG decoders may differ in the last bit: only the source-independent checks.
"$PY" "$CHECK" j.png --size 48x40 --scale 5 --rate 0.5 || fail "JPEG source figure does not check out"
run 0 "$MAXDROP_BIN" visualize --image gray.png --rate 0.7 --out g.png
has out "gray.png (48 x 40, grayscale)"
"$PY" "$CHECK" g.png --image gray.png --scale 5 --rate 0.7 || fail "grayscale figure does not check out"

# --- errors -----------------------------------------------------------------
run 1 "$MAXDROP_BIN" visualize --image missing.png --out x.png
has err "missing.png"
has err "No such file"
printf 'not an image\n' >corrupt.png
run 1 "$MAXDROP_BIN" visualize --image corrupt.png --out x.png
has err "corrupt.png"
head -c 100 src.png >cut.png
run 1 "$MAXDROP_BIN" visualize --image cut.png --out x.png
has err "cut.png"
[ ! -e x.png ] || fail "a failed run left x.png"

cp p.png keep.png
run 1 "$MAXDROP_BIN" visualize --image corrupt.png --out keep.png
cmp -s p.png keep.png || fail "a failed run changed an existing output file"

for r in 1.5 -0.1 abc nan "" 0.5x; do
  run 2 "$MAXDROP_BIN" visualize --rate "$r" --out x.png
  has err "--rate"
done
run 2 "$MAXDROP_BIN" visualize --rate
has err "--rate needs a value"
run 2 "$MAXDROP_BIN" visualize --scale 0
has err "--scale"
run 2 "$MAXDROP_BIN" visualize --index -1
has err "--index"
run 2 "$MAXDROP_BIN" visualize --seed -3
has err "--seed"
run 2 "$MAXDROP_BIN" visualize --image src.png --index 2
has err "cannot be combined"
run 2 "$MAXDROP_BIN" visualize extra-argument
has err "unexpected argument"
run 1 "$MAXDROP_BIN" visualize --data "$tmp/nowhere"
has err "nowhere"
run 1 "$MAXDROP_BIN" visualize --image src.png --out "$tmp/no/such/dir/x.png"
has err "no/such/dir"
[ ! -e x.png ] || fail "a failed run left x.png"
# an explicit --index without any CIFAR data is an error, not the synthetic image
run 1 "$MAXDROP_BIN" visualize --index 3 --out idx.png
has err "--index needs the CIFAR test set"
[ ! -e idx.png ] || fail "--index without data wrote idx.png"
# an output that cannot be written fails before any work, naming the option
mkdir -p outdir.png
run 1 "$MAXDROP_BIN" visualize --image src.png --out outdir.png
has err "--out: cannot write outdir.png: it is a folder"
# the output is a PNG: another file name is refused before any work
run 2 "$MAXDROP_BIN" visualize --image src.png --out f.jpg
has err "--out names a PNG file (FILE.png), not 'f.jpg'"
[ ! -e f.jpg ] || fail "--out f.jpg wrote a file"
run 2 "$MAXDROP_BIN" visualize --image src.png --out "$tmp/.png"
has err "--out names a PNG file"
run 0 "$MAXDROP_BIN" visualize --image src.png --out F.PNG
echo "PASS: visualize figures and errors"
