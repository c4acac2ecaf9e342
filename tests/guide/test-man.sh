#!/bin/sh
# gst-prima: the manual pages (issue 18, point 2).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# test-man.sh PRIMA BUILD_ROOT
#
# The build wrote prima.1, prima-CMD.1 for every command that `prima --help` lists, and primad.1;
# each renders with man -l (and groff -ww) without a warning, and names every option that
# `prima CMD --help` prints (the page and --help come from the same tables). Skips (77) without man.
set -u
P=$1
B=$2
command -v man >/dev/null || { echo "SKIP: no man (Debian package man-db)"; exit 77; }
fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
export LC_ALL=C.UTF-8 LANGUAGE= MANWIDTH=80
cmds=$("$P" --help | sed -n 's/^  \([a-z]*\)  .*/\1/p')
[ -n "$cmds" ] || bad "prima --help lists no commands"
check_page () {
  page=$1
  if [ ! -s "$page" ]; then
    bad "$page: missing or empty"
    return 1
  fi
  warn=$(man -l --warnings "$page" 2>&1 >/dev/null)
  [ -z "$warn" ] || { bad "$page: man -l --warnings: $warn"; return 1; }
  if command -v groff >/dev/null; then
    warn=$(groff -ww -man -Tutf8 -z "$page" 2>&1)
    [ -z "$warn" ] || { bad "$page: groff -ww: $warn"; return 1; }
  fi
  return 0
}
check_page "$B/pipelines/prima.1" && {
  missing=
  for c in $cmds; do man -l "$B/pipelines/prima.1" 2>/dev/null | grep -q "prima-$c(1)" || missing="$missing $c"; done
  [ -z "$missing" ] && ok "prima.1 renders without warnings and names every command's page" \
    || bad "prima.1 does not name prima-CMD(1) for:$missing"
}
for c in $cmds; do
  page=$B/pipelines/prima-$c.1
  check_page "$page" || continue
  text=$(man -l "$page" 2>/dev/null | sed 's/‐/-/g')
  missing=
  for o in $("$P" "$c" --help | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' ' '); do
    printf '%s\n' "$text" | grep -q -- "$o" || missing="$missing $o"
  done
  [ -z "$missing" ] && ok "prima-$c.1 renders without warnings and has every option of 'prima $c --help'" \
    || bad "prima-$c.1 lacks options of 'prima $c --help':$missing"
done
page=$B/pipelines/primad/primad.1
check_page "$page" && {
  text=$(man -l "$page" 2>/dev/null | sed 's/‐/-/g')
  missing=
  for o in --system --session --replace --verbose; do printf '%s\n' "$text" | grep -q -- "$o" || missing="$missing $o"; done
  [ -z "$missing" ] && ok "primad.1 renders without warnings and has every option" || bad "primad.1 lacks:$missing"
}
echo "1..$n"
exit $fail
