#!/bin/bash
# gst-prima: a local ring's errors and its plan (issue 11, points 5, 8, 10, 18).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Every case is bounded by `timeout`: a hang is a failure. Checks: a local worker that cannot start
# ends the head at once with the worker's reason (not a wait for good); a taken port is named, with
# the process that holds it, by the head of a local ring, by a worker and by a head of its own port;
# --local-ring out of range (0, -2, above 64, more processes than the model has layers) is one error
# line and starts no worker; the head prints the plan (per rank its layers) with -lw and when it
# schedules itself; the README's ring demo runs as written.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
SRC=${1:?usage: test-ring-errors.sh SOURCE-ROOT}
M=$D/stories260K-f32.gguf
T=$(mktemp -d)
occupant=
trap '[ -n "$occupant" ] && kill $occupant 2>/dev/null; rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# 5: a local worker that fails (here: its pipeline description is broken) ends the head with its reason
mkdir "$T/pipelines"
cp "$SRC/pipelines/ring-head.pipeline" "$T/pipelines/"
echo 'this-is-not-an-element ! fakesink' >"$T/pipelines/worker.pipeline"
BASE=$((BASE + 10))
PRIMA_PIPELINES_DIR=$T/pipelines timeout 60 "$P" run -m "$M" --local-ring 3 -lw 2,2,1 --port $BASE -p Once -n 4 \
    -t 1 >/dev/null 2>"$T/head.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "^prima run: local worker [12] exited with status 1: .*worker.pipeline" \
    "$T/head.err"; then
  ok "failed local worker: head exit $rc: $(grep -m1 '^prima run: local worker' "$T/head.err")"
else
  bad "failed local worker: head exit $rc"; tail -20 "$T/head.err"
fi

# 10: a port of the ring taken by another process (another ring's worker, with another key)
BASE=$((BASE + 10))
# (not under `timeout`: its own pid is the one named; the trap ends it)
PRIMA_CLUSTER_KEY=another-ring-another-key "$P" worker --once --world 2 --rank 1 --port $BASE -m "$M" -t 1 \
    2>"$T/occupant.err" &
occupant=$!
for i in $(seq 300); do
  (exec 3<>/dev/tcp/127.0.0.1/$((BASE + 1))) 2>/dev/null && break
  sleep 0.1
done
timeout 60 "$P" run -m "$M" --local-ring 2 -lw 2,3 --port $BASE -p Once -n 4 -t 1 >/dev/null 2>"$T/head.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "port $((BASE + 1)) .*in use by prima worker (pid $occupant)" "$T/head.err" \
    && ! grep -q "cluster key" "$T/head.err"; then
  ok "local ring, taken port: $(head -1 "$T/head.err")"
else
  bad "local ring, taken port: head exit $rc"; tail -20 "$T/head.err"
fi
PRIMA_CLUSTER_KEY=k timeout 60 "$P" worker --once --world 2 --rank 1 --port $BASE -m "$M" -t 1 2>"$T/w.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "port $((BASE + 1)) .*in use by prima worker (pid $occupant)" "$T/w.err"; then
  ok "worker, taken port: $(tail -1 "$T/w.err")"
else
  bad "worker, taken port: exit $rc"; tail -20 "$T/w.err"
fi
PRIMA_CLUSTER_KEY=k timeout 60 "$P" run --world 2 --port $((BASE + 1)) -m "$M" -lw 2,3 -p Once -n 4 -t 1 >/dev/null \
    2>"$T/head.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "port $((BASE + 1)) .*in use by prima worker (pid $occupant)" "$T/head.err"; then
  ok "head, taken port: $(tail -1 "$T/head.err")"
else
  bad "head, taken port: exit $rc"; tail -20 "$T/head.err"
fi
kill $occupant 2>/dev/null
wait $occupant 2>/dev/null
occupant=

# 8: --local-ring out of range: one line naming the option, no worker started. The range is checked
# before the model is (a missing model here), so no case can fork a worker.
for N in 0 -2 65 1000; do
  BASE=$((BASE + 10))
  timeout 20 "$P" run -m "$T/no-such-model.gguf" --local-ring $N --port $BASE -p Once -n 4 -t 1 >/dev/null \
      2>"$T/head.err"
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(wc -l <"$T/head.err")" = 1 ] && grep -q -- "--local-ring $N" "$T/head.err"
  then
    ok "--local-ring $N: $(cat "$T/head.err")"
  else
    bad "--local-ring $N: exit $rc"; cat "$T/head.err"
  fi
done
timeout 20 "$P" eval -m "$T/no-such-model.gguf" --local-ring 0 -p Once >/dev/null 2>"$T/eval.err"
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- "--local-ring 0" "$T/eval.err"; then
  ok "eval --local-ring 0: $(cat "$T/eval.err")"
else
  bad "eval --local-ring 0: exit $rc"; cat "$T/eval.err"
fi
# more processes than layers: the embedded model has 2, stories260K 5
for cfg in "- 3 2" "$M 6 5"; do
  set -- $cfg
  BASE=$((BASE + 10))
  if [ "$1" = - ]; then m=(); else m=(-m "$1"); fi
  timeout 20 "$P" run "${m[@]}" --local-ring $2 --port $BASE -p Once -n 4 -t 1 >/dev/null 2>"$T/head.err"
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q -- "--local-ring $2: .* has $3 layers" "$T/head.err" \
      && ! grep -q "prima worker" "$T/head.err"; then
    ok "--local-ring $2 on $3 layers: $(cat "$T/head.err")"
  else
    bad "--local-ring $2 on $3 layers: exit $rc"; cat "$T/head.err"
  fi
done

# 18: the plan, per rank its layers (inclusive), with -lw and when the ring schedules itself
BASE=$((BASE + 10))
timeout 60 "$P" run -m "$M" --local-ring 3 -lw 2,2,1 --port $BASE -p Once -n 4 -t 1 >/dev/null 2>"$T/head.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^prima run: the plan: 5 layers over 3 devices, 1 round per token" "$T/head.err" \
    && grep -q "^prima run:   rank 0: layers 3-4 and the output head" "$T/head.err" \
    && grep -q "^prima run:   rank 1: layers 0-1$" "$T/head.err" && grep -q "^prima run:   rank 2: layer 2$" "$T/head.err"
then
  ok "plan with -lw 2,2,1: $(grep -c '^prima run:   rank' "$T/head.err") ranks printed"
else
  bad "plan with -lw 2,2,1: exit $rc"; tail -20 "$T/head.err"
fi
BASE=$((BASE + 10))
timeout 120 "$P" run -m "$M" --local-ring 2 --port $BASE -p Once -n 4 -t 1 >/dev/null 2>"$T/head.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "^prima run: the plan: 5 layers over [12] device.*, predicted [0-9.]* ms per token" \
    "$T/head.err" && grep -q "^prima run:   rank 0: layers .* and the output head" "$T/head.err"; then
  ok "self-scheduled plan: $(grep '^prima run: the plan' "$T/head.err")"
else
  bad "self-scheduled plan: exit $rc"; tail -20 "$T/head.err"
fi

# 18: the README's ring demo, as written (on a port of our own), is a ring of 3 with the plan
demo=$(grep -o '`prima run [^`]*--local-ring 3[^`]*`' "$SRC/README.md" | head -1 | tr -d '`')
BASE=$((BASE + 10))
if [ -z "$demo" ]; then
  bad "README ring demo: no \`prima run ... --local-ring 3 ...\` line"
elif (cd "$SRC" && PATH=$(dirname "$P"):$PATH timeout 60 bash -c "$demo --port $BASE -t 1" >"$T/demo.out" \
    2>"$T/demo.err") && grep -q "^prima run: the plan: .* over 3 devices" "$T/demo.err" \
    && [ "$(grep -c '^prima run:   rank [0-9]*: layer' "$T/demo.err")" = 3 ] && [ -s "$T/demo.out" ]; then
  ok "README ring demo: $demo: $(grep '^prima run: the plan' "$T/demo.err")"
else
  bad "README ring demo: $demo"; tail -20 "$T/demo.err"
fi

echo "1..$n"
exit $fail
