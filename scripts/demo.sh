#!/usr/bin/env bash
# The main job: installs the dependencies, builds maxdrop, and runs a real
# comparison on CIFAR-10: the quick protocol (docs/TRAINING.md) trained twice,
# without a regularizer and with MaxDropout, then prints their test errors and
# where the logs are. Also draws the paper's Figure 1 (out/figure1.png).
#
# Usage: bash scripts/demo.sh [extra 'maxdrop train' flags, e.g. --seed 1]
# The data is found as 'maxdrop train' finds it ($MAXDROP_DATA, ./data,
# ../shared/data) or fetched into ./data ('maxdrop data fetch cifar10').
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target maxdrop
md=./build/maxdrop

# The data: the search order of 'maxdrop train', else a download into ./data.
data=""
for d in "${MAXDROP_DATA:-}" ./data ../shared/data; do
  if [ -n "$d" ] && [ -f "$d/cifar-10-batches-bin/test_batch.bin" ]; then
    data=$d
    break
  fi
done
if [ -z "$data" ]; then
  echo "demo: no CIFAR-10 found in \$MAXDROP_DATA, ./data or ../shared/data; fetching it into ./data"
  $md data fetch cifar10 --dir ./data
  data=./data
fi
echo "demo: CIFAR-10 from $data"

mkdir -p out
$md visualize --data "$data" --out out/figure1.png >/dev/null
echo "demo: Figure 1 (Dropout vs MaxDropout on a CIFAR-10 image) in out/figure1.png"

# The two runs side by side, each on half of the cores: one process per core
# scales better than one process on two cores, and the results do not depend
# on the thread count. Passive OpenMP waiting keeps a busy machine from
# stalling the threads at barriers.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
threads=$(( $(nproc) / 2 ))
[ "$threads" -ge 1 ] || threads=1
runs="runs/demo-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$runs"
echo
echo "demo: training the quick protocol twice, side by side ($threads thread(s) each):"
echo "      --reg none (baseline) and --reg maxdropout; about 5 minutes on 2 idle cores"
pids=()
for reg in none maxdropout; do
  $md train --preset quick --reg "$reg" --data "$data" --out "$runs/$reg" \
    --threads "$threads" --progress lines "$@" >"$runs/$reg.log" 2>&1 &
  pids+=($!)
done
running() { kill -0 "${pids[0]}" 2>/dev/null || kill -0 "${pids[1]}" 2>/dev/null; }
while running; do
  sleep 15
  for reg in none maxdropout; do
    last=$(grep -E '^epoch ' "$runs/$reg.log" | tail -n 1 || true)
    printf '  %-10s %s\n' "$reg" "${last:-starting}"
  done
done
status=0
for i in 0 1; do
  wait "${pids[$i]}" || status=$?
done
if [ "$status" -ne 0 ]; then
  for reg in none maxdropout; do tail -n 4 "$runs/$reg.log"; done
  echo "demo: a training run did not finish (exit status $status); logs in $runs"
  exit "$status"
fi

echo
/usr/bin/env python3 - "$runs" <<'EOF'
import json, sys
runs = sys.argv[1]
print("CIFAR-10, quick protocol (ResNet-18 width 12, 10000 training images, "
      "10 epochs, the 10000 test images)")
print(f"{'regularizer':<14}{'test error':>12}{'best error':>12}{'minutes':>10}")
for reg, label in (("none", "none"), ("maxdropout", "MaxDropout")):
    s = json.load(open(f"{runs}/{reg}/summary.json"))
    print(f"{label:<14}{s['final_test_error_pct']:>11.2f}%{100 * (1 - s['best_test_acc']):>11.2f}%"
          f"{s['seconds'] / 60:>10.1f}")
print(f"\nlogs: {runs}/none and {runs}/maxdropout (config.json, metrics.csv with one row")
print("per epoch, summary.json, checkpoint.safetensors); 'maxdrop eval --checkpoint")
print(f"{runs}/maxdropout/checkpoint.safetensors' prints the per-class accuracy.")
print("One seed of each: see docs/RESULTS.md for the seed-to-seed spread.")
EOF
echo "demo: total $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
