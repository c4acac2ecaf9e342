#!/bin/bash
# gst-prima tests: a memory cap that cannot hold even the working set is refused up front, with the
# numbers, instead of the kernel's silent OOM kill (issue 11, point 15).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# A model from `prima mkmodel` with 2 layers of ~30 MiB runs under a 16 MiB cgroup cap
# (tests/memory/cgroup-run.sh, no ../shared needed): `prima run` and `prima eval` must exit 1 with
# one line naming the limit, and nothing may be OOM-killed. The embedded model, which fits, still
# runs under the same cap. Skips (77) when not root or without a memory cgroup.
set -u
here=$(cd "$(dirname "$0")" && pwd)
P=${PRIMA_BIN:?PRIMA_BIN is not set}
DATA=${PRIMA_DATA_DIR:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

"$P" mkmodel -q --vocab-from "$DATA/TinyStories-656K-f32.gguf" --type F32 --n-embd 512 --n-ff 4096 --n-layer 2 \
  "$T/big.gguf" || { echo "mkmodel failed"; exit 1; }

for c in "run -p Once -n 3 --temp 0" "eval -p Once"; do
  timeout 120 "$here/cgroup-run.sh" 16 "$P" $c -m "$T/big.gguf" </dev/null >/dev/null 2>"$T/err"
  rc=$?
  [ $rc = 77 ] && { cat "$T/err"; exit 77; }
  if [ $rc = 1 ] && grep -q "memory limit (16 MiB, cgroup) is below the [0-9]* MiB this model needs at least" "$T/err" \
     && [ "$(grep -c "^prima" "$T/err")" = 1 ]; then
    ok "prima $c under 16 MiB refused: $(grep "^prima" "$T/err")"
  else
    bad "prima $c under 16 MiB: exit $rc (3: OOM-killed)"; cat "$T/err"
  fi
done

timeout 120 "$here/cgroup-run.sh" 16 "$P" run -p "Once upon a time" -n 3 --temp 0 </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc = 0 ]; then
  ok "the embedded model runs under 16 MiB"
else
  bad "the embedded model under 16 MiB: exit $rc"; cat "$T/err"
fi
echo "1..$n"
exit $fail
