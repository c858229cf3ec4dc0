#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds (warnings are errors) and
# runs every CTest test. With --sanitize, builds and runs it again with
# AddressSanitizer + UndefinedBehaviorSanitizer in a separate build folder.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
for a in "$@"; do
  case "$a" in
    --sanitize) sanitize=1 ;;
    -h|--help) echo "usage: scripts/test.sh [--sanitize]"; exit 0 ;;
    *) echo "scripts/test.sh: unknown option '$a'" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh
jobs=$(nproc)

# The tests run OpenBLAS on the kernels the maxdrop command itself selects
# (docs/PERFORMANCE.md, "OpenBLAS kernels"): the numerics users get, and
# much faster than the generic kernels where OpenBLAS does not know the CPU.
blas_kernels() {
  if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    local core
    core=$("$1" version | sed -n 's/^OpenBLAS kernels: //p')
    [ -z "$core" ] || export OPENBLAS_CORETYPE="$core"
  fi
  echo "test.sh: OpenBLAS kernels ${OPENBLAS_CORETYPE:-as detected}"
}

if [ $sanitize -eq 0 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j "$jobs"
  blas_kernels build/maxdrop
  ctest --test-dir build --output-on-failure -j "$jobs"
else
  # -O1 keeps the sanitized run fast enough; ASan's leak checker is on.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMD_SANITIZE=ON \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g"
  cmake --build build-asan -j "$jobs"
  blas_kernels build-asan/maxdrop
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi
