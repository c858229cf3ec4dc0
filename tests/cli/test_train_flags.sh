#!/usr/bin/env bash
# 'maxdrop train' and 'maxdrop eval' flags: help, presets and their
# overrides (checked through --dry-run's configuration), and a clear error
# with exit status 2 (usage) or 1 (environment) for each bad value.
source "$MD_SOURCE_DIR/tests/cli/train_common.sh"
B=$MAXDROP_BIN

# Help lists every flag.
"$B" train --help >"$tmp/help.txt" || fail "train --help failed"
for f in --preset --dataset --resize --model --batch-size --epochs --learning-rate --data-augmentation \
         --cutout --n-holes --length --seed --drop --reg --maxdrop-random-rate --maxdrop-norm \
         --maxdrop-stats --maxdrop-v2 --maxdrop-at-eval --random-erasing --milestones --gamma \
         --scheduler-compat --threads --out --resume --limit-train --limit-test --width --depth \
         --widen --data --momentum --weight-decay --no-nesterov --progress --dry-run; do
  grep -q -- "$f" "$tmp/help.txt" || fail "train --help does not mention $f"
done
"$B" eval --help | grep -q -- "--checkpoint" || fail "eval --help"
"$B" --help | grep -q "^  train " || fail "maxdrop --help lacks train"
"$B" --help | grep -q "^  eval " || fail "maxdrop --help lacks eval"

# Presets and overrides.
json() { "$B" train --dry-run "$@"; }
field() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d[sys.argv[1]]))' "$1"; }
expect() { # value field args...
  local want=$1 key=$2; shift 2
  local got; got=$(json "$@" | field "$key") || fail "dry run failed: $*"
  [ "$got" = "$want" ] || fail "$* : $key = $got, expected $want"
}
expect 64 width --preset paper
expect 200 epochs --preset paper
expect 128 batch_size --preset paper
expect 0.1 learning_rate --preset paper
expect "[60, 120, 160]" milestones --preset paper
expect 0.2 gamma --preset paper
expect 0.0005 weight_decay --preset paper
expect true nesterov --preset paper
expect true data_augmentation --preset paper
expect '"maxdropout"' reg --preset paper
expect false scheduler_compat --preset paper
expect true scheduler_compat --preset paper --scheduler-compat
expect true maxdrop_at_eval --preset paper --maxdrop-at-eval
expect 12 width --preset quick
expect 10 epochs --preset quick
expect 0.05 learning_rate --preset quick
expect "[5, 8]" milestones --preset quick
expect 0 limit_test --preset quick
expect 10000 limit_train --preset quick
expect 3 epochs --epochs 3 --preset quick            # explicit flags win, before or after
expect 3 epochs --preset quick --epochs 3
expect 32 width --preset quick --width=32
expect 64 batch_size --batch_size 64                   # the reference's spelling
expect 0.5 learning_rate --lr 0.5
expect false data_augmentation --no-data-augmentation
expect "[]" milestones --milestones none
expect '"wideresnet"' model --model wrn --depth 16 --widen 2
expect '"none"' reg --reg none
expect '"l2"' maxdrop_norm --maxdrop-norm l2
expect '"sample-channel"' maxdrop_stats --maxdrop-stats sample-channel
expect '"18446744073709551615"' seed --seed 18446744073709551615
expect 8 cutout_length_used --dataset cifar100 --cutout
expect 16 cutout_length_used --cutout
expect 16 cutout_length_used --dataset folder --data x --cutout
expect true resize --dataset folder --data x --resize
expect false resize --dataset folder --data x

# Bad values: exit 2 and a message naming the flag.
bad() { # pattern args...
  local pat=$1; shift
  set +e
  "$B" train "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; local rc=$?
  set -e
  [ $rc -eq 2 ] || fail "train $*: exit $rc, expected 2 ($(cat "$tmp/err.txt"))"
  grep -q -- "$pat" "$tmp/err.txt" || fail "train $*: message '$(cat "$tmp/err.txt")' lacks '$pat'"
}
bad "--batch-size needs a whole number in 1..65536, not '0'" --batch-size 0
bad "--batch-size needs a whole number" --batch-size abc
bad "--epochs needs a whole number" --epochs -1
bad "--epochs needs a value" --epochs
bad "--drop needs a number in \[0, 1\], not '1.5'" --drop 1.5
bad "--reg must be none|maxdropout|dropout, not 'foo'" --reg foo
bad "--model must be resnet18|wideresnet" --model vgg
bad "--dataset must be cifar10|cifar100|folder, not 'mnist'" --dataset mnist
bad "--maxdrop-norm must be minmax|l2" --maxdrop-norm max
bad "--maxdrop-stats must be" --maxdrop-stats pixel
bad "--milestones needs ascending epochs" --milestones 5,3
bad "--milestones needs ascending epochs" --milestones 5,x
bad "--depth must be 6n+4" --model wideresnet --depth 27
bad "--preset must be paper or quick" --preset fast
bad "unknown option '--frobnicate'" --frobnicate
bad "unexpected argument 'extra'" extra
bad "--cutout takes no value" --cutout=3
bad "--seed needs a whole number >= 0" --seed -1
bad "--learning-rate needs a finite number >= 0" --learning-rate nan
bad "--limit-train needs a whole number" --limit-train -5
bad "MaxDropout options need --reg maxdropout" --reg none --maxdrop-v2
bad "--progress must be" --progress loud
bad "--inject-nan-at needs a step number" --inject-nan-at 0
bad "only --epochs, --threads and --data may be given (not '--width')" --resume "$tmp" --width 8
bad "(not '--learning-rate')" --resume "$tmp" --lr 0.1

# Environment errors: exit 1 and a message naming the place.
env_bad() { # pattern args...
  local pat=$1; shift
  set +e
  "$B" "$@" >"$tmp/out.txt" 2>"$tmp/err.txt"; local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "$*: exit $rc, expected 1 ($(cat "$tmp/err.txt"))"
  grep -q -- "$pat" "$tmp/err.txt" || fail "$*: message '$(cat "$tmp/err.txt")' lacks '$pat'"
}
env_bad "/nonexistent/data" train --data /nonexistent/data --out "$tmp/x"
env_bad "maxdrop data fetch cifar100" train --data "$DATA" --dataset cifar100 --out "$tmp/x"
env_bad "cannot resume: cannot open $tmp/nothing/config.json" train --resume "$tmp/nothing"
mkdir -p "$tmp/taken" && echo '{}' >"$tmp/taken/config.json"
env_bad "already holds a run; continue it with 'maxdrop train --resume $tmp/taken'" \
  train "${TINY[@]}" --out "$tmp/taken"
env_bad "cannot read the checkpoint" eval --checkpoint "$tmp/none.safetensors"
cp "$tmp/taken/config.json" "$tmp/notst.safetensors"
env_bad "cannot read the checkpoint" eval --checkpoint "$tmp/notst.safetensors"
set +e
"$B" eval >/dev/null 2>"$tmp/err.txt"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "which checkpoint" "$tmp/err.txt" || fail "eval without --checkpoint: $rc"
echo "PASS: train/eval flags, presets and errors"
