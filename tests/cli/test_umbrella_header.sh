#!/usr/bin/env bash
# include/maxdrop/maxdrop.h includes every public header, and compiles on its
# own as C11 (and as C++ when a C++ compiler is there) with strict warnings.
set -euo pipefail
: "${MD_SOURCE_DIR:?MD_SOURCE_DIR must name the source folder}"
fail() { echo "FAIL: $*" >&2; exit 1; }

inc="$MD_SOURCE_DIR/include"
umbrella="$inc/maxdrop/maxdrop.h"
[ -f "$umbrella" ] || fail "no $umbrella"
for h in "$inc"/maxdrop/*.h; do
  name=$(basename "$h")
  [ "$name" = maxdrop.h ] && continue
  grep -q "^#include \"maxdrop/$name\"" "$umbrella" || fail "maxdrop.h does not include $name"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/md_umbrella_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '#include <maxdrop/maxdrop.h>\n#include <maxdrop/maxdrop.h>\nint main(void) { return md_version() ? 0 : 1; }\n' >"$tmp/u.c"
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -Wvla -Werror -fsyntax-only -I"$inc" "$tmp/u.c" || fail "maxdrop.h does not compile as C11"
if command -v c++ >/dev/null 2>&1; then
  cp "$tmp/u.c" "$tmp/u.cpp"
  c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I"$inc" "$tmp/u.cpp" ||
    fail "maxdrop.h does not compile as C++"
fi
echo "PASS: maxdrop.h includes all $(ls "$inc"/maxdrop/*.h | wc -l) headers and compiles"
