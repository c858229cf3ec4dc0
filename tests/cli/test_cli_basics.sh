#!/usr/bin/env bash
# The command-line front end: help, version, every subcommand's --help, and
# usage errors (unknown command, unknown flag: exit 2 with a message).
set -euo pipefail
: "${MAXDROP_BIN:?MAXDROP_BIN must name the maxdrop executable}"
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_cli_XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run EXPECTED_RC ARGS...: runs maxdrop, keeps stdout/stderr in $tmp/out, $tmp/err.
run() {
  local want=$1; shift
  local rc=0
  "$MAXDROP_BIN" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "--- stdout:"; cat "$tmp/out"; echo "--- stderr:"; cat "$tmp/err"
    fail "maxdrop $* exited $rc, expected $want"
  fi
}

run 0 --help
grep -qi '^usage: maxdrop' "$tmp/out" || fail "maxdrop --help does not print a usage line"
[ ! -s "$tmp/err" ] || fail "maxdrop --help wrote to stderr"
cp "$tmp/out" "$tmp/help"
run 0 help
run 0 -h

run 2
grep -qi 'usage' "$tmp/err" || fail "maxdrop without a command does not print usage on stderr"

run 0 version
head -n1 "$tmp/out" | grep -Eq '^maxdrop [0-9]+\.[0-9]+\.[0-9]+$' || fail "maxdrop version printed '$(cat "$tmp/out")'"
version_line=$(cat "$tmp/out")
run 0 --version
[ "$(cat "$tmp/out")" = "$version_line" ] || fail "--version differs from 'version'"

run 2 no-such-command
grep -q "unknown command 'no-such-command'" "$tmp/err" || fail "unknown command message: $(cat "$tmp/err")"
grep -qi 'usage' "$tmp/err" || fail "unknown command does not show usage"

# The commands listed by --help: indented names under "commands:".
mapfile -t commands < <(awk '/^commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}' "$tmp/help")
[ "${#commands[@]}" -ge 2 ] || fail "expected at least version and visualize in --help, got: ${commands[*]:-none}"
printf '%s\n' "${commands[@]}" | grep -qx version || fail "'version' not listed"
printf '%s\n' "${commands[@]}" | grep -qx visualize || fail "'visualize' not listed"

for c in "${commands[@]}"; do
  for h in --help -h; do
    run 0 "$c" "$h"
    grep -qi 'usage: maxdrop' "$tmp/out" || fail "maxdrop $c $h does not print a usage line"
    grep -q "$c" "$tmp/out" || fail "maxdrop $c $h does not name the command"
  done
  run 2 "$c" --no-such-flag
  grep -q -- '--no-such-flag' "$tmp/err" || fail "maxdrop $c --no-such-flag: no message naming the flag"
  [ ! -s "$tmp/out" ] || fail "maxdrop $c --no-such-flag wrote to stdout"
done
# Options may be spelled with '_' as in the reference train.py (--limit_test).
run 1 eval --limit_test 3 --checkpoint "$tmp/no-such.safetensors"
grep -q "no-such.safetensors" "$tmp/err" || fail "eval --limit_test: $(cat "$tmp/err")"
run 1 eval --no_maxdrop_at_eval --checkpoint "$tmp/no-such.safetensors"
run 2 eval --maxdrop-at-eval=1 --checkpoint "$tmp/no-such.safetensors"
grep -q "takes no value" "$tmp/err" || fail "eval --maxdrop-at-eval=1: $(cat "$tmp/err")"
run 2 apply maxdropout --in "$tmp/x.npy" --out "$tmp/y.npy" --mask_out
grep -q -- "--mask-out" "$tmp/err" || fail "apply --mask_out: $(cat "$tmp/err")"
# 'maxdrop help CMD' is 'maxdrop CMD --help'.
run 0 help train
grep -qi '^usage: maxdrop train' "$tmp/out" || fail "maxdrop help train: $(head -n 2 "$tmp/out")"
run 2 help no-such-command
run 0 help help
grep -qi '^usage: maxdrop <command>' "$tmp/out" || fail "maxdrop help help: $(head -n 1 "$tmp/out")"
run 0 help --help
grep -qi '^usage: maxdrop <command>' "$tmp/out" || fail "maxdrop help --help: $(head -n 1 "$tmp/out")"
run 2 help train extra
grep -q "one command at a time, not 'extra'" "$tmp/err" || fail "maxdrop help train extra: $(head -n 1 "$tmp/err")"
# Output that cannot be written is a failure with a message, not a silent success.
if [ -w /dev/full ]; then
  rc=0
  "$MAXDROP_BIN" version >/dev/full 2>"$tmp/err" || rc=$?
  [ "$rc" -eq 1 ] || fail "maxdrop version >/dev/full exited $rc, want 1"
  grep -q "cannot write the output" "$tmp/err" || fail "no message for a failed write: $(cat "$tmp/err")"
fi
echo "PASS: help, version and usage errors of ${#commands[@]} commands: ${commands[*]}"
