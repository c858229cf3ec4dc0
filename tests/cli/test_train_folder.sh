#!/usr/bin/env bash
# 'maxdrop train --dataset folder' on a tiny image folder written here with
# PIL (PNG and JPEG, RGB and grayscale): a run trains, writes the classes into
# config.json, resumes, and 'maxdrop eval' (its --data read back from the run)
# reproduces the last test accuracy with a line per class. Then --resize, and
# a clear error for each way the folder can be wrong: mismatched train/test
# classes, an image that is not 32x32 (its size and --resize named), an
# undecodable file, a missing train/, a folder whose classes differ from the
# checkpoint's. Exit 77 (skipped) when PIL is missing.
set -euo pipefail
: "${MAXDROP_BIN:?MAXDROP_BIN must name the maxdrop executable}"
: "${MD_SOURCE_DIR:?MD_SOURCE_DIR must name the source folder}"
PY=${MD_PYTHON:-/usr/bin/python3}
B=$MAXDROP_BIN
CHECK="$PY $MD_SOURCE_DIR/tests/cli/run_files_check.py"
fail() { echo "FAIL: $*" >&2; exit 1; }
"$PY" -c "import PIL" 2>/dev/null || { echo "SKIP: $PY has no PIL"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_folder_XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# make_set DIR SPLIT N CLASS... : N images per class, a colour per class plus
# noise; in each class the first image is grayscale and the second a JPEG.
make_set() {
  "$PY" - "$@" <<'PYEOF'
import os, random, sys
from PIL import Image
root, split, n, classes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
rng = random.Random(split + str(n) + "".join(classes))
base = {"cat": (220, 40, 40), "dog": (40, 200, 40), "frog": (40, 40, 220), "fox": (200, 200, 40)}
for c in classes:
    d = os.path.join(root, split, c)
    os.makedirs(d, exist_ok=True)
    r, g, b = base.get(c, (128, 128, 128))
    for i in range(n):
        im = Image.new("RGB", (32, 32))
        im.putdata([tuple(max(0, min(255, v + rng.randint(-30, 30))) for v in (r, g, b))
                    for _ in range(32 * 32)])
        if i == 0:
            im.convert("L").save(os.path.join(d, f"img{i:03d}.png"))
        elif i == 1:
            im.save(os.path.join(d, f"img{i:03d}.jpg"), quality=95)
        else:
            im.save(os.path.join(d, f"img{i:03d}.png"))
PYEOF
}
# run_err EXIT PATTERN ARGS... : maxdrop ARGS exits with EXIT and says PATTERN.
run_err() {
  local want=$1 pat=$2; shift 2
  set +e
  "$B" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; local rc=$?
  set -e
  [ $rc -eq "$want" ] || fail "$*: exit $rc, expected $want ($(cat "$tmp/err.txt"))"
  grep -qF -- "$pat" "$tmp/err.txt" || fail "$*: message '$(cat "$tmp/err.txt")' lacks '$pat'"
}
json_field() { "$PY" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$@"; }

D="$tmp/pets"
make_set "$D" train 8 dog cat frog
make_set "$D" test 4 frog cat dog
echo "notes" >"$D/train/cat/README.txt"   # skipped, with a note
SMALL=(--model resnet18 --width 4 --batch-size 8 --threads 2 --progress lines --milestones none
       --learning-rate 0.05)

# Train, then resume for a second epoch.
run="$tmp/run"
"$B" train --dataset folder --data "$D" "${SMALL[@]}" --epochs 1 --out "$run" \
  >"$tmp/out.txt" 2>"$tmp/err.txt" || { cat "$tmp/err.txt"; fail "training failed"; }
cat "$tmp/err.txt"
grep -q "final test error" "$tmp/out.txt" || fail "no final line: $(cat "$tmp/out.txt")"
grep -q "image folder of 3 classes 24 training / 12 test images from $D" "$tmp/err.txt" ||
  fail "the start line does not describe the folder"
grep -qF "skipped 1 file that is not an image in a class folder, such as $D/train/cat/README.txt" \
  "$tmp/err.txt" || fail "no note about the skipped file"
[ "$(json_field "$run/config.json" dataset)" = '"folder"' ] || fail "config dataset"
[ "$(json_field "$run/config.json" num_classes)" = 3 ] || fail "config num_classes"
[ "$(json_field "$run/config.json" class_names)" = '["cat", "dog", "frog"]' ] ||
  fail "config class_names: $(json_field "$run/config.json" class_names)"
[ "$(json_field "$run/config.json" resize)" = false ] || fail "config resize"
[ "$(json_field "$run/config.json" cutout_length_used)" = 16 ] || fail "cutout length"
"$B" train --resume "$run" --epochs 2 --progress off >"$tmp/out.txt" 2>"$tmp/err.txt" ||
  { cat "$tmp/err.txt"; fail "resume failed"; }
res=$($CHECK run-folder "$run" 2) || fail "run folder check failed"
eval "$(echo "$res" | grep '^FIRST_LOSS=')"

# eval: the run's --data by default; the accuracy of the last epoch.
"$B" eval --checkpoint "$run/checkpoint.safetensors" --threads 2 --progress off \
  >"$tmp/eval.txt" || fail "eval failed"
cat "$tmp/eval.txt"
acc=$("$PY" -c "print('%.2f' % (100 * float('$LAST_ACC')))")
grep -q "test accuracy $acc%" "$tmp/eval.txt" || fail "eval accuracy differs from metrics.csv ($acc%)"
grep -q "test set: image folder of 3 classes, 12 images from $D/test" "$tmp/eval.txt" ||
  fail "eval does not name the test folder"
for c in cat dog frog; do
  grep -Eq "^  $c +[0-9.]+%  \([0-9]+/4\)" "$tmp/eval.txt" || fail "no per-class line for $c"
done

# Folders that do not fit the run: another class count, another class name.
make_set "$tmp/two" test 2 cat dog
run_err 1 "$tmp/two/test has 2 classes but the network of $run/checkpoint.safetensors was trained on 3" \
  eval --checkpoint "$run/checkpoint.safetensors" --data "$tmp/two"
make_set "$tmp/other" test 2 cat dog fox
run_err 1 "the classes differ: $tmp/other/test has class 'fox' that the run of $run/checkpoint.safetensors lacks" \
  eval --checkpoint "$run/checkpoint.safetensors" --data "$tmp/other"
make_set "$tmp/other" train 2 cat dog fox
run_err 1 "the classes differ: $tmp/other/train has class 'fox' that the run of $run/config.json lacks" \
  train --resume "$run" --epochs 3 --data "$tmp/other"

# Train and test classes must match.
M="$tmp/mismatch"
make_set "$M" train 2 cat dog frog
make_set "$M" test 2 cat dog fox
run_err 1 "the classes differ: $M/test has class 'fox' that $M/train lacks" \
  train --dataset folder --data "$M" "${SMALL[@]}" --epochs 1 --out "$tmp/x"
rm -rf "$M/test/fox"
run_err 1 "the classes differ: $M/train has class 'frog' that $M/test lacks (3 classes in $M/train, 2 in $M/test)" \
  train --dataset folder --data "$M" "${SMALL[@]}" --epochs 1 --out "$tmp/x"

# Not 32x32: refused, naming the file, its size and --resize; then resized.
R="$tmp/sizes"
make_set "$R" train 3 cat dog
make_set "$R" test 2 cat dog
"$PY" -c "from PIL import Image; Image.new('RGB', (40, 30), (9, 99, 199)).save('$R/train/dog/wide.png')"
run_err 1 "image $R/train/dog/wide.png is 40 x 30 pixels, not 32 x 32" \
  train --dataset folder --data "$R" "${SMALL[@]}" --epochs 1 --out "$tmp/x"
grep -q -- "--resize" "$tmp/err.txt" || fail "the size error does not mention --resize"
[ -e "$tmp/x/config.json" ] && fail "a refused data set still wrote a run"
"$B" train --dataset folder --data "$R" --resize "${SMALL[@]}" --epochs 1 --out "$tmp/rs" \
  >"$tmp/out.txt" 2>"$tmp/err.txt" || { cat "$tmp/err.txt"; fail "training with --resize failed"; }
grep -qF "$R/train: 1 of 7 images was not 32 x 32" "$tmp/err.txt" || fail "no resize note: $(cat "$tmp/err.txt")"
[ "$(json_field "$tmp/rs/config.json" resize)" = true ] || fail "config resize true"
"$B" eval --checkpoint "$tmp/rs/checkpoint.safetensors" --progress off >"$tmp/eval.txt" ||
  fail "eval of the --resize run failed"
grep -q "(resized to 32 x 32)" "$tmp/eval.txt" || fail "eval does not say the run resizes"

# Other broken folders.
printf 'not an image' >"$R/train/cat/broken.png"
run_err 1 "cannot read image $R/train/cat/broken.png" \
  train --dataset folder --data "$R" --resize "${SMALL[@]}" --epochs 1 --out "$tmp/x"
mkdir -p "$tmp/notrain/test/cat"
run_err 1 "$tmp/notrain has no train/ folder" \
  train --dataset folder --data "$tmp/notrain" "${SMALL[@]}" --out "$tmp/x"
run_err 1 "cannot open the data folder $tmp/none" \
  train --dataset folder --data "$tmp/none" "${SMALL[@]}" --out "$tmp/x"
mkdir -p "$tmp/emptyclass/train/cat" "$tmp/emptyclass/test/cat"
run_err 1 "the class folder $tmp/emptyclass/train/cat is empty" \
  train --dataset folder --data "$tmp/emptyclass" "${SMALL[@]}" --out "$tmp/x"
run_err 2 "--dataset folder needs --data DIR" train --dataset folder
run_err 2 "--resize is for --dataset folder" train --resize
"$B" train --dry-run --dataset folder --data "$D" --resize >"$tmp/dry.json" || fail "dry run"
[ "$(json_field "$tmp/dry.json" resize)" = true ] || fail "dry run resize"
[ "$(json_field "$tmp/dry.json" dataset)" = '"folder"' ] || fail "dry run dataset"
echo "PASS: image-folder training, eval, resume, --resize and folder errors"
