# Shared by the train/eval CLI tests (sourced; not a test itself).
set -euo pipefail
: "${MAXDROP_BIN:?MAXDROP_BIN must name the maxdrop executable}"
: "${MD_SOURCE_DIR:?MD_SOURCE_DIR must name the source folder}"
PY=${MD_PYTHON:-/usr/bin/python3}
CHECK="$PY $MD_SOURCE_DIR/tests/cli/run_files_check.py"
DATA=${MD_TEST_DATA:-$MD_SOURCE_DIR/../shared/data}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$DATA/cifar-10-batches-bin/test_batch.bin" ] ||
  fail "no real CIFAR-10 in $DATA/cifar-10-batches-bin (set MD_TEST_DATA)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_train_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A tiny network and data set: ResNet-18 of width 4, 6 batches of 32 per
# epoch, 64 test images; two threads so that results compare bit for bit.
TINY=(--data "$DATA" --width 4 --limit-train 192 --limit-test 64 --batch-size 32
      --learning-rate 0.05 --milestones 1 --threads 2 --progress lines)
