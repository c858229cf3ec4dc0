#!/usr/bin/env bash
# The installed library: `cmake --install` into a temporary prefix puts the
# headers, both libraries, the CLI and maxdrop.pc there; examples/example.c
# builds with `pkg-config --cflags --libs maxdrop` against the shared library
# and with `pkg-config --static` against the static one, and both programs
# print what MaxDropout's definition gives (67 of 96 elements kept).
set -euo pipefail
: "${MD_BUILD_DIR:?MD_BUILD_DIR must name the build folder}"
: "${MD_SOURCE_DIR:?MD_SOURCE_DIR must name the source folder}"

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_install_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

cmake --install "$MD_BUILD_DIR" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }

# Everything is in place.
pc=$(find "$prefix" -name maxdrop.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "maxdrop.pc was not installed"
libdir=$(dirname "$(dirname "$pc")")
[ -x "$prefix/bin/maxdrop" ] || fail "the maxdrop CLI was not installed"
[ -f "$libdir/libmaxdrop.a" ] || fail "libmaxdrop.a was not installed in $libdir"
ls "$libdir"/libmaxdrop.so* >/dev/null 2>&1 || fail "libmaxdrop.so was not installed in $libdir"
for h in "$MD_SOURCE_DIR"/include/maxdrop/*.h; do
  [ -f "$prefix/include/maxdrop/$(basename "$h")" ] || fail "header $(basename "$h") not installed"
done
"$prefix/bin/maxdrop" version | grep -q '^maxdrop [0-9]' || fail "installed CLI does not run"

export PKG_CONFIG_PATH="$(dirname "$pc")"
pkg-config --exists maxdrop || fail "pkg-config does not find maxdrop in $PKG_CONFIG_PATH"
want_version=$("$prefix/bin/maxdrop" version | awk 'NR == 1 {print $2}')
[ "$(pkg-config --modversion maxdrop)" = "$want_version" ] ||
  fail "maxdrop.pc version $(pkg-config --modversion maxdrop) != $want_version"
# The .pc file is relocatable: its paths lead into this prefix.
case "$(pkg-config --cflags maxdrop)" in
  *"$prefix"*) ;;
  *) fail "pkg-config --cflags does not point into $prefix: $(pkg-config --cflags maxdrop)" ;;
esac

# A sanitized build's library needs the sanitizer runtime in the program too.
extra=()
if grep -q '^MD_SANITIZE:BOOL=ON' "$MD_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  extra=(-fsanitize=address,undefined)
fi
cc=${CC:-cc}
want="MaxDropout rate 0.3 kept 67 of 96 elements"

# Shared library.
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "${extra[@]}" "$MD_SOURCE_DIR/examples/example.c" \
  $(pkg-config --cflags --libs maxdrop) -o "$tmp/example_shared" ||
  fail "examples/example.c does not build against the shared library"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/example_shared") || fail "example (shared) failed"
echo "shared: $out"
[ "$out" = "maxdrop $want_version: $want" ] || fail "example (shared) printed '$out'"
readelf -d "$tmp/example_shared" | grep -q 'NEEDED.*libmaxdrop\.so' ||
  fail "example_shared is not linked to libmaxdrop.so"

# Static library: the same flags with --static, libmaxdrop.a chosen over the .so.
libs=$(pkg-config --static --libs maxdrop)
libs=${libs//-lmaxdrop/-l:libmaxdrop.a}
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror "${extra[@]}" "$MD_SOURCE_DIR/examples/example.c" \
  $(pkg-config --cflags maxdrop) $libs -o "$tmp/example_static" ||
  fail "examples/example.c does not link statically with: $libs"
if readelf -d "$tmp/example_static" | grep -q 'NEEDED.*libmaxdrop'; then
  fail "example_static still needs libmaxdrop.so"
fi
out=$(env -u LD_LIBRARY_PATH "$tmp/example_static") || fail "example (static) failed"
echo "static: $out"
[ "$out" = "maxdrop $want_version: $want" ] || fail "example (static) printed '$out'"
echo "PASS: install, pkg-config, shared and static example"
