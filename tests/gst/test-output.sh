#!/bin/bash
# gst-prima: the generated text written to a redirected or appended standard output (issue 11, point 1).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Core's fdsink seeks a regular file to offset 0 when it starts, so the output of `prima run` (and of
# gst-launch-1.0 of pipelines/*.pipeline) overwrote what the shell had written before it. The
# pipelines end in primafdsink, which writes at the descriptor's offset like any Unix tool: each part
# written into the same file must come out whole and in order.
set -u
P=${PRIMA_BIN:?}
L=${GST_LAUNCH:?}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# gst-launch-1.0 sees our plugin and core's elements only, with a private registry
mkdir -p "$T/core"
ln -s "${PRIMA_GST_CORE_PLUGIN:?}" "$T/core/"
export GST_PLUGIN_PATH="$(dirname "$P")/../elements:$T/core"
export GST_PLUGIN_SYSTEM_PATH_1_0=
export GST_REGISTRY="$T/registry.bin"

# $1 = file, then the expected lines in order as extended regular expressions (one line each)
in_order () {
  local file=$1 line=0 got
  shift
  for want in "$@"; do
    got=$(awk -v from="$line" -v re="$want" 'NR > from && $0 ~ re { print NR; exit }' "$file")
    [ -n "$got" ] || { echo "# no line matching '$want' after line $line of:"; sed 's/^/#   /' "$file"; return 1; }
    line=$got
  done
  [ "$(wc -l < "$file")" -eq "$line" ] || { echo "# lines after the last part:"; sed 's/^/#   /' "$file"; return 1; }
}

cd "$SRC" || exit 1

# two runs of prima between the shell's own lines, one redirection for the whole group
{ echo "== run 1"; timeout 60 "$P" run -p Once -n 6 --temp 0; echo; echo "== run 2";
  timeout 60 "$P" run -p Lily -n 6 --temp 0; echo; echo "== end"; } > "$T/two.txt" 2> "$T/err"
if in_order "$T/two.txt" '^== run 1$' '^Once.' '^== run 2$' '^Lily.' '^== end$'; then
  ok "prima run twice into one redirected file: the four parts in order"
else
  bad "prima run twice into one redirected file"; cat "$T/err"
fi

# the same through a pipe
{ echo "== run 1"; timeout 60 "$P" run -p Once -n 6 --temp 0; echo; echo "== end"; } 2> "$T/err" | cat > "$T/pipe.txt"
if in_order "$T/pipe.txt" '^== run 1$' '^Once.' '^== end$'; then ok "prima run through a pipe"
else bad "prima run through a pipe"; cat "$T/err"; fi

# a write that fails (a full disk) ends the run with one line naming the descriptor and the reason
if timeout 60 "$P" run -p Once -n 6 --temp 0 > /dev/full 2> "$T/err"; then bad "prima run > /dev/full exits 0"
elif grep -q "file descriptor 1: No space left on device" "$T/err"; then ok "prima run > /dev/full: $(grep -m1 "file descriptor 1" "$T/err")"
else bad "prima run > /dev/full:"; cat "$T/err"; fi

# gst-launch-1.0 of each description that writes text (bounded to a few tokens, greedy)
for pl in generate chat; do
  desc=$(grep -v '^#' "pipelines/$pl.pipeline" | sed 's/n-predict=-1/n-predict=8/; s/temperature=[0-9.]*/temperature=0/')
  # into a file that already has content, with the shell writing before and after in the same redirection
  echo "previous content" > "$T/$pl.txt"
  { echo "== before"; printf 'Once upon a time\n' | timeout 60 "$L" -q $desc; echo; echo "== after"; } >> "$T/$pl.txt" 2> "$T/err"
  if in_order "$T/$pl.txt" '^previous content$' '^== before$' '.' '^== after$'; then
    ok "gst-launch-1.0 of $pl.pipeline appended to a file with content"
  else
    bad "gst-launch-1.0 of $pl.pipeline appended to a file with content"; cat "$T/err"
  fi
  # a plain '>' redirection of the group: the descriptor's offset is not at 0 when the pipeline starts
  { echo "== before"; printf 'Once upon a time\n' | timeout 60 "$L" -q $desc; echo; echo "== after"; } > "$T/$pl.txt" 2> "$T/err"
  if in_order "$T/$pl.txt" '^== before$' '.' '^== after$'; then
    ok "gst-launch-1.0 of $pl.pipeline after the shell's line in a redirected group"
  else
    bad "gst-launch-1.0 of $pl.pipeline after the shell's line in a redirected group"; cat "$T/err"
  fi
done

echo "1..$n"
exit $fail
