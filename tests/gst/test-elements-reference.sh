#!/bin/sh
# gst-prima: docs/elements-reference.md is what the built plugin says, and docs/elements.md has a row for
# every element of the plugin (issue 12, point 7).
# Usage: test-elements-reference.sh DUMPER PLUGIN.so COMMITTED.md ELEMENTS.md
set -eu
dumper=$1 plugin=$2 committed=$3 overview=$4
out=$(mktemp "${TMPDIR:-/tmp}/elements-reference.XXXXXX")
trap 'rm -f "$out"' EXIT
"$dumper" "$plugin" > "$out"
status=0
# The speech elements (issue 15) are built only where their engines are found: a plugin built without
# one is compared with the reference less that element's row and section.
want=$(mktemp "${TMPDIR:-/tmp}/elements-reference.XXXXXX")
trap 'rm -f "$out" "$want"' EXIT
cp "$committed" "$want"
for name in primaspeechout; do
  if ! grep -q "^## $name\$" "$out"; then
    echo "# $name is not in this build (gst-prima was built without its speech engine): not compared"
    awk -v n="$name" '
      $0 == "## " n { skip = 1; next }
      skip && /^## / { skip = 0 }
      !skip && index($0, "| [`" n "`](#" n ") |") != 1 { print }' "$want" > "$want.tmp"
    mv "$want.tmp" "$want"
  fi
done
if ! diff -u "$want" "$out"; then
  echo
  echo "docs/elements-reference.md differs from the built plugin (above: - committed, + built)."
  echo "Refresh it with:  meson compile -C build elements-reference   (then commit docs/elements-reference.md)"
  status=1
fi
# the elements, from the generated reference's "## NAME" headings
for name in $(sed -n 's/^## \(prima[a-z0-9]*\)$/\1/p' "$out"); do
  if ! grep -q "^| \`$name\` |" "$overview"; then
    echo "docs/elements.md has no row \"| \`$name\` | ...\" in its table of elements: add one."
    status=1
  fi
done
[ $status -ne 0 ] || echo "docs/elements-reference.md matches the built plugin; docs/elements.md lists every element"
exit $status
