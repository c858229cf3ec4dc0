#!/usr/bin/env bash
# The main job: installs dependencies, builds maxdrop, and runs the demo.
# Today the demo reproduces the paper's Figure 1 (Dropout vs MaxDropout on a
# real CIFAR-10 test image) into out/figure1.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
mkdir -p out
./build/maxdrop visualize --out out/figure1.png "$@"
