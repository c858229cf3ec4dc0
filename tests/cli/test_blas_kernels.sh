#!/usr/bin/env bash
# The maxdrop command runs OpenBLAS on kernels that use the CPU's widest
# vector unit, even where OpenBLAS does not recognise the CPU (it would fall
# back to its generic SSE3 "Prescott" kernels, several times slower);
# OPENBLAS_CORETYPE set by the user and MAXDROP_BLAS_AUTO=0 are obeyed.
set -euo pipefail
: "${MAXDROP_BIN:?MAXDROP_BIN must name the maxdrop executable}"
fail() { echo "FAIL: $*" >&2; exit 1; }

flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { for f in "$@"; do [[ " $flags " == *" $f "* ]] || return 1; done; }

core=$(env -u OPENBLAS_CORETYPE -u MAXDROP_BLAS_AUTO "$MAXDROP_BIN" version | sed -n 's/^OpenBLAS kernels: //p')
[ -n "$core" ] || fail "'maxdrop version' names no OpenBLAS kernel set"
if has avx512f avx512cd avx512bw avx512dq avx512vl; then
  case "$core" in SkylakeX|Cooperlake|SapphireRapids) ;;
    *) fail "CPU has AVX-512 but OpenBLAS runs '$core' kernels" ;; esac
elif has avx2 fma; then
  case "$core" in Haswell|Zen|Excavator) ;;
    *) fail "CPU has AVX2 + FMA but OpenBLAS runs '$core' kernels" ;; esac
fi

own=$(env -u OPENBLAS_CORETYPE MAXDROP_BLAS_AUTO=0 "$MAXDROP_BIN" version | sed -n 's/^OpenBLAS kernels: //p')
[ -n "$own" ] || fail "MAXDROP_BLAS_AUTO=0: no kernel name"
if has avx2 fma; then
  forced=$(OPENBLAS_CORETYPE=Haswell "$MAXDROP_BIN" version | sed -n 's/^OpenBLAS kernels: //p')
  [ "$forced" = Haswell ] || fail "OPENBLAS_CORETYPE=Haswell gave '$forced' kernels"
fi
# The re-executed program gets every argument unchanged.
out=$(env -u OPENBLAS_CORETYPE "$MAXDROP_BIN" bench no-such-kernel --reps=1 2>&1 || true)
echo "$out" | grep -q "no-such-kernel" || fail "arguments lost on re-execution: $out"
echo "PASS: OpenBLAS kernels '$core' (OpenBLAS's own choice: '$own')"
