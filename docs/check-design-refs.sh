#!/bin/sh
# gst-prima: every "design.md section N" cited in the tree names a section of docs/design.md, and nothing
# cites the DESIGN.md that is not in the repository (issue 12, point 7).
# Usage: check-design-refs.sh SOURCE_ROOT
set -eu
cd "$1"
status=0
files=$(git ls-files 2>/dev/null || find . -path ./build -prune -o -type f -print)
[ -n "$files" ] || files=$(find . -path ./build -prune -o -type f -print)
for f in $files; do
  case "$f" in *.gguf|*.f32|*.bin|*.png|*check-design-refs.sh) continue ;; esac
  [ -f "$f" ] || continue
  if grep -n 'DESIGN\.md' "$f" /dev/null; then
    echo "  ^ cites DESIGN.md, which is not in the repository: cite docs/design.md section N"
    status=1
  fi
  for n in $(grep -o 'design\.md\(#[^)]*)\)\? section \([0-9][0-9]*\)' "$f" | sed 's/.* section //'); do
    if ! grep -q "^## $n\. " docs/design.md; then
      echo "$f: cites design.md section $n, which docs/design.md does not have"
      status=1
    fi
  done
done
[ $status -ne 0 ] || echo "every design.md section cited exists"
exit $status
