#!/bin/sh
# gst-prima: docs/elements-reference.md is what the built plugin says (issue 12, point 7).
# Usage: test-elements-reference.sh DUMPER PLUGIN.so COMMITTED.md
set -eu
dumper=$1 plugin=$2 committed=$3
out=$(mktemp "${TMPDIR:-/tmp}/elements-reference.XXXXXX")
trap 'rm -f "$out"' EXIT
"$dumper" "$plugin" > "$out"
if ! diff -u "$committed" "$out"; then
  echo
  echo "docs/elements-reference.md differs from the built plugin (above: - committed, + built)."
  echo "Refresh it with:  meson compile -C build elements-reference   (then commit docs/elements-reference.md)"
  exit 1
fi
echo "docs/elements-reference.md matches the built plugin"
