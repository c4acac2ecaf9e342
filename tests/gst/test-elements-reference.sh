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
# The speech elements are built only where their libraries are (elements/speech/meson.build): a
# build without one compares against the committed reference less that element's row and section.
optional="primaspeechin primaspeechout"
expected=$(mktemp "${TMPDIR:-/tmp}/elements-reference.XXXXXX")
trap 'rm -f "$out" "$expected"' EXIT
cp "$committed" "$expected"
for name in $optional; do
  if ! grep -q "^## $name\$" "$out"; then
    echo "# $name is not in this build (optional): not compared"
    awk -v name="$name" '
      index($0, "(#" name ")") { next }
      /^## / { skip = ($0 == "## " name) }
      !skip' "$expected" > "$expected.tmp" && mv "$expected.tmp" "$expected"
  fi
done
if ! diff -u --label "$committed" "$expected" "$out"; then
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
