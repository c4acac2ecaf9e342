#!/bin/bash
# gst-prima: the ring's setup round when it cannot complete (issue 11, points 6 and 11).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Every process is bounded by `timeout`. Checks: a head whose workers never come gives up after
# --ring-timeout with one line naming each missing rank once (prima run and prima eval; in a ring of
# 2 the periodic note says "rank 1", not "rank 1 and rank 1"); in a ring of 4 with rank 3 missing the
# head names rank 3 only (rank 2 is known through the join messages that rank 1 passes on); a bad
# --ring-timeout is refused; a worker started with another --world is refused at the handshake, with
# both numbers on both sides; a worker with another model than the head fails the setup, and the
# head prints the worker's reason with both models' identities.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
T=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
export PRIMA_CLUSTER_KEY=prima-test-ring-setup-key-0123456789
M5=$D/stories260K-f32.gguf
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

worker () {   # world rank model log
  timeout 60 "$P" worker --once --world "$1" --rank "$2" --next 127.0.0.1 --port $BASE -m "$3" -t 1 >/dev/null 2>"$4" &
  pids+=($!)
}

started () {  # log...: wait (at most 30 s) until each worker has opened its setup server
  for f in "$@"; do
    for _ in $(seq 300); do grep -q "waiting for the head" "$f" 2>/dev/null && break; sleep 0.1; done
  done
}

# 1. a ring of 2 without its worker: the note names rank 1 once, the timeout ends it
BASE=$((BASE + 10))
timeout 60 "$P" run -m "$M5" -p "Once" -n 4 -t 1 --world 2 --port $BASE -lw 1,4 --ring-timeout 3 >/dev/null 2>"$T/t1.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "ring setup: rank 1 did not join within 3 s (--ring-timeout)" "$T/t1.err" \
    && grep -q "ring setup: waiting for rank 1$" "$T/t1.err" && ! grep -q "rank 1 and rank 1" "$T/t1.err"; then
  ok "ring of 2 without its worker: gives up after --ring-timeout 3 naming rank 1 once"
else
  bad "ring of 2 without its worker (exit $rc)"; cat "$T/t1.err"
fi

# 2. the same for prima eval
BASE=$((BASE + 10))
timeout 60 "$P" eval -m "$M5" -p "Once" -t 1 --world 2 --port $BASE -lw 1,4 --ring-timeout 2 --logits "$T/l.f32" \
    >/dev/null 2>"$T/t2.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "prima eval: ring setup: rank 1 did not join within 2 s" "$T/t2.err"; then
  ok "prima eval: gives up after --ring-timeout 2 naming rank 1"
else
  bad "prima eval without its worker (exit $rc)"; cat "$T/t2.err"
fi

# 3. a ring of 4 with rank 3 missing: rank 2 is up (the head hears of it from rank 1), rank 3 is named
BASE=$((BASE + 10))
worker 4 1 "$M5" "$T/w1.err"
worker 4 2 "$M5" "$T/w2.err"
started "$T/w1.err" "$T/w2.err"
timeout 60 "$P" run -m "$M5" -p "Once" -n 4 -t 1 --world 4 --port $BASE -lw 1,1,1,2 --ring-timeout 6 >/dev/null \
    2>"$T/t3.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "ring setup: rank 3 did not join within 6 s" "$T/t3.err"; then
  ok "ring of 4 without rank 3: names rank 3 only"
else
  bad "ring of 4 without rank 3 (exit $rc)"; cat "$T/t3.err"
fi
wait 2>/dev/null

# 4. a bad --ring-timeout
if ! timeout 30 "$P" run -m "$M5" -p "Once" -n 4 --world 2 --port $BASE -lw 1,4 --ring-timeout -5 >/dev/null 2>"$T/t4.err" \
    && grep -q "ring-timeout -5" "$T/t4.err"; then
  ok "--ring-timeout -5 is refused"
else
  bad "--ring-timeout -5"; cat "$T/t4.err"
fi

# 5. a worker started with another --world: refused at the handshake, both numbers on both sides
BASE=$((BASE + 10))
worker 3 1 "$M5" "$T/w5.err"
wpid=${pids[-1]}
timeout 60 "$P" run -m "$M5" -p "Once" -n 4 -t 1 --world 2 --port $BASE -lw 1,4 --ring-timeout 20 >/dev/null 2>"$T/t5.err"
rc=$?
wait "$wpid"
wrc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "worker rank 1 was started with --world 3, this head has --world 2" "$T/t5.err" \
    && [ $wrc != 0 ] && [ $wrc != 124 ] \
    && grep -q "the head (rank 0) was started with --world 2, this device has --world 3" "$T/w5.err"; then
  ok "--world 3 worker, --world 2 head: refused at the handshake with both numbers"
else
  bad "world mismatch (head exit $rc, worker exit $wrc)"; cat "$T/t5.err" "$T/w5.err"
fi

# 6. a worker with another model: the head prints the worker's reason with both identities
BASE=$((BASE + 10))
worker 2 1 "$D/TinyStories-656K-q4_0.gguf" "$T/w6.err"
wpid=${pids[-1]}
timeout 60 "$P" run -m "$D/TinyStories-656K-q8_0.gguf" -p "Once" -n 4 -t 1 --world 2 --port $BASE -lw 1,1 \
    --ring-timeout 20 >/dev/null 2>"$T/t6.err"
rc=$?
wait "$wpid"
wrc=$?
line=$(grep "ring setup: rank 1: the model differs from the head's" "$T/t6.err")
if [ $rc != 0 ] && [ $rc != 124 ] && [ $wrc != 0 ] && [ $wrc != 124 ] \
    && [[ $line == *"rank 1 has llama \"TinyStories 656K\" (2 layers, n_embd 128"*"Q4_0"*"TinyStories-656K-q4_0.gguf"* ]] \
    && [[ $line == *"the head has llama \"TinyStories 656K\" (2 layers, n_embd 128"*"header sha256 "* ]]; then
  ok "worker with another model: the head says so with both identities"
else
  bad "model mismatch (head exit $rc, worker exit $wrc)"; cat "$T/t6.err" "$T/w6.err"
fi

# 7. a different shape (5 layers vs 2) is caught the same way
BASE=$((BASE + 10))
worker 2 1 "$D/TinyStories-656K-q8_0.gguf" "$T/w7.err"
timeout 60 "$P" run -m "$M5" -p "Once" -n 4 -t 1 --world 2 --port $BASE -lw 1,4 --ring-timeout 20 >/dev/null 2>"$T/t7.err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "rank 1 has llama \"TinyStories 656K\" (2 layers.*the head has llama.*(5 layers" \
    "$T/t7.err"; then
  ok "worker with a 2-layer model, head with 5 layers: refused with both shapes"
else
  bad "shape mismatch (exit $rc)"; cat "$T/t7.err"
fi
wait 2>/dev/null

echo "1..$n"
exit $fail
