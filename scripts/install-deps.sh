#!/usr/bin/env bash
# Installs every Debian package maxdrop needs to build, test, benchmark and
# plot. Idempotent: packages already present are left alone and apt is not
# touched at all when nothing is missing. Run as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config       # compiler, build system
  libopenblas-dev                        # CBLAS sgemm
  libcmocka-dev                          # unit-test framework
  libstb-dev                             # PNG/JPEG read and write
  libcjson-dev                           # JSON (checkpoint headers, reports)
  nettle-dev                             # SHA-256 / MD5 of downloaded datasets
  curl                                   # maxdrop data fetch: the official archives
  gnuplot-nox                            # plots of the paper's figures
  python3-torch python3-numpy            # the PyTorch oracle for the tests
  python3-pil                            # PNG/JPEG decoding and encoding in the CLI tests
  python3-torchvision                    # the oracle of the data augmentation
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run this script as root" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
