#!/bin/bash
# gst-prima: multi-process ring tests on loopback (docs/design.md section 3, issue 4).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Every case is bounded by `timeout`. Checks: 2, 3 and 4 processes with even, uneven and lopsided
# -lw splits and k = 1, 2, 3 give exactly the single-device greedy tokens, and `prima eval` over the
# ring the single-device logits of every position (within 1e-5 relative); -cnv over a ring of 3 keeps
# its KV cache over three turns with context shifts; a SIGSTOPped worker is found by the heartbeats
# within 3 s; a worker with the wrong
# cluster key is refused (and the head says so and exits non-zero); garbage sent to a worker's port
# does not disturb the ring; killing a worker mid-generation makes the head exit non-zero within 3 s
# naming the failed rank.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
CMP=${1:?usage: test-ring.sh COMPARE-LOGITS}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

single () {   # model -> $T/single-<model>.ids
  [ -f "$T/single-$1.ids" ] || timeout 60 "$P" run -m "$D/$1.gguf" -p "Once upon a time" -n 24 --temp 0 -t 1 \
      --ids-out "$T/single-$1.ids" >/dev/null 2>"$T/single.err" || { cat "$T/single.err"; return 1; }
}

# model world lw k
for cfg in "stories260K-f32 2 3,2 1" "stories260K-f32 2 1,4 1" "stories260K-f32 2 1,1 3" "stories260K-f32 2 3,1 2" \
           "stories260K-f32 3 1,1,3 1" "stories260K-f32 3 1,1,1 2" "stories260K-f32 4 1,1,1,2 1" \
           "stories260K-f32 4 1,1,1,1 2" "TinyStories-656K-q8_0 2 1,1 1"; do
  set -- $cfg
  single "$1" || { bad "single-device run of $1"; continue; }
  BASE=$((BASE + 10))
  if timeout 60 "$P" run -m "$D/$1.gguf" -p "Once upon a time" -n 24 --temp 0 -t 1 --local-ring "$2" -lw "$3" -k "$4" \
      --port $BASE --ids-out "$T/ring.ids" >/dev/null 2>"$T/ring.err"; then
    if cmp -s "$T/single-$1.ids" "$T/ring.ids"; then ok "$1 ring of $2, -lw $3, -k $4: same tokens"
    else bad "$1 ring of $2, -lw $3, -k $4: tokens differ"; cat "$T/single-$1.ids" "$T/ring.ids"; fi
  else
    bad "$1 ring of $2, -lw $3, -k $4: exit status $?"; tail -20 "$T/ring.err"
  fi
done

# prima eval over the ring: logits of every prompt position within 1e-5 relative of one device
PROMPT="Once upon a time there was a little girl named Lily"
for cfg in "stories260K-f32 2 3,2 1" "stories260K-f32 2 1,1 3" "stories260K-f32 3 1,1,3 1" "stories260K-f32 3 1,1,1 2" \
           "stories260K-f32 4 1,1,1,2 1" "TinyStories-656K-q8_0 2 1,1 1"; do
  set -- $cfg
  timeout 60 "$P" eval -m "$D/$1.gguf" -p "$PROMPT" -t 1 --logits "$T/single-$1.f32" >/dev/null 2>"$T/eval.err" \
      || { bad "single-device eval of $1"; cat "$T/eval.err"; continue; }
  BASE=$((BASE + 10))
  if timeout 60 "$P" eval -m "$D/$1.gguf" -p "$PROMPT" -t 1 --local-ring "$2" -lw "$3" -k "$4" --port $BASE \
      --logits "$T/ring.f32" >/dev/null 2>"$T/eval.err"; then
    if r=$("$CMP" "$T/single-$1.f32" "$T/ring.f32"); then ok "eval $1 ring of $2, -lw $3, -k $4: $r"
    else bad "eval $1 ring of $2, -lw $3, -k $4: $r"; fi
  else
    bad "eval $1 ring of $2, -lw $3, -k $4: exit status $?"; tail -20 "$T/eval.err"
  fi
  rm -f "$T/ring.f32"
done

# -cnv over a ring of 3: three turns keep the KV cache (each turn evaluates only its new prompt and its
# fed-back tokens) through context shifts in a small context, with the single device's text. A real
# ring: every process has layers (the 2-layer models cannot go round 3 processes)
M=$D/stories260K-f32.gguf
CHAT='Hello\nTell me about a cat\nAnd the dog?\n'
printf "$CHAT" | timeout 60 "$P" run -cnv --verbose -m "$M" -n 40 --temp 0 -c 128 -t 1 >"$T/chat1.out" 2>"$T/chat1.err"
BASE=$((BASE + 10))
if printf "$CHAT" | timeout 60 "$P" run -cnv --verbose -m "$M" -n 40 --temp 0 -c 128 -t 1 --local-ring 3 -lw 2,2,1 \
    --port $BASE >"$T/chat.out" 2>"$T/chat.err"; then
  turns=$(grep -c "turn [0-9]*:" "$T/chat.err")
  # turn N: P prompt tokens, G generated, E evaluated (A in all), C positions in the cache, end: R, S context shifts
  kept=$(sed -n 's/.*turn [0-9]*: \([0-9]*\) prompt tokens, \([0-9]*\) generated, \([0-9]*\) evaluated.*/\1 \2 \3/p' \
      "$T/chat.err" | awk '{ if ($3 != $1 + $2 - 1 || $1 == 0) bad = 1 } END { print bad ? "no" : "yes" }')
  shifts=$(sed -n 's/.*, \([0-9]*\) context shifts*$/\1/p' "$T/chat.err" | awk '{ s += $1 } END { print s + 0 }')
  if [ "$turns" = 3 ] && [ "$kept" = yes ] && [ "$shifts" -ge 1 ] && cmp -s "$T/chat1.out" "$T/chat.out"; then
    ok "-cnv over a ring of 3: 3 turns, no re-evaluation, $shifts context shifts, single-device text"
  else
    bad "-cnv over a ring of 3: $turns turns, cache kept: $kept, $shifts shifts"; grep "turn\|rror" "$T/chat.err"
  fi
else
  bad "-cnv over a ring of 3: exit status $?"; tail -20 "$T/chat.err"
fi

KEY=0123456789abcdef-ring-test-key
M=$D/stories260K-f32.gguf

# a worker with the wrong cluster key is refused
BASE=$((BASE + 10))
PRIMA_CLUSTER_KEY=not-the-right-key-at-all timeout 20 "$P" worker --once --world 2 --rank 1 --port $BASE -m "$M" -t 1 \
    2>"$T/w1.err" &
w1=$!
PRIMA_CLUSTER_KEY=$KEY timeout 20 "$P" run --world 2 --next 127.0.0.1 --port $BASE -m "$M" -p "Once" -n 4 --temp 0 \
    -t 1 -lw 3,2 >/dev/null 2>"$T/head.err"
rc=$?
wait $w1
# Whichever side checks first refuses the other: the refusal is logged by the
# head or by the worker, and the head names the cluster key as it exits.
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "cluster key" "$T/head.err" \
    && cat "$T/head.err" "$T/w1.err" | grep -q "refused peer\|failed to prove the cluster key"; then
  ok "wrong cluster key refused ($(cat "$T/head.err" "$T/w1.err" | grep -m1 "refused peer\|failed to prove" | sed 's/.*rank [0-9]*: //'))"
else
  bad "wrong cluster key: head exit $rc"; cat "$T/head.err" "$T/w1.err"
fi

# garbage to a worker's port while the ring runs: the ring is unaffected
single stories260K-f32
BASE=$((BASE + 10))
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" worker --once --world 3 --rank 1 --port $BASE -m "$M" -t 1 2>"$T/w1.err" & w1=$!
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" worker --once --world 3 --rank 2 --port $BASE -m "$M" -t 1 2>"$T/w2.err" & w2=$!
sleep 0.3
for i in 1 2 3; do
  (exec 3<>/dev/tcp/127.0.0.1/$((BASE + 1)) && printf 'GET /prima/ring HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: prima-ring.v1\r\n\r\n\x82\x85garbagegarbage' >&3; sleep 0.2) 2>/dev/null
  head -c 4096 /dev/urandom >/dev/tcp/127.0.0.1/$((BASE + 2)) 2>/dev/null
done
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" run --world 3 --port $BASE -m "$M" -p "Once upon a time" -n 24 --temp 0 -t 1 \
    -lw 1,1,3 --ids-out "$T/ring.ids" >/dev/null 2>"$T/head.err"
rc=$?
wait $w1; rc1=$?
wait $w2; rc2=$?
if [ $rc -eq 0 ] && [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && cmp -s "$T/single-stories260K-f32.ids" "$T/ring.ids"; then
  ok "garbage to the workers' ports: ring unaffected, every process exits 0"
else
  bad "garbage: exit $rc $rc1 $rc2"; cat "$T/head.err" "$T/w1.err" "$T/w2.err" | tail -30
fi

# killing a worker mid-generation (--no-recover: test-ring-recovery.sh has the recovery): the head exits
# non-zero within 3 s and names the rank
# (a random-weight model big enough that 2048 tokens take seconds)
BASE=$((BASE + 10))
"$P" mkmodel --vocab-from "$M" --n-embd 1024 --n-layer 4 --n-head 8 --n-head-kv 8 --n-ff 2816 --n-ctx 2048 \
    --type Q8_0 -q "$T/slow.gguf" || bad "mkmodel"
M=$T/slow.gguf
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" worker --once --world 3 --rank 1 --port $BASE -m "$M" -t 1 2>"$T/w1.err" & w1=$!
PRIMA_CLUSTER_KEY=$KEY "$P" worker --once --world 3 --rank 2 --port $BASE -m "$M" -t 1 2>"$T/w2.err" & w2=$!
( sleep 1.5; kill -9 $w2; date +%s.%N >"$T/killed" ) &
killer=$!
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" run --world 3 --port $BASE -m "$M" -p "Once upon a time" -n 100000 \
    --ignore-eos --temp 0 -t 1 -c 2048 -lw 1,1,2 --no-recover >/dev/null 2>"$T/head.err"
rc=$?
end=$(date +%s.%N)
wait $killer
wait $w1 2>/dev/null
wait $w2 2>/dev/null
took=$(echo "$end - $(cat "$T/killed" 2>/dev/null || echo 0)" | bc)
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank 2" "$T/head.err" && [ "$(echo "$took < 3" | bc)" = 1 ]; then
  ok "killed worker: head exit $rc after ${took}s: $(grep -m1 'ring failed' "$T/head.err")"
else
  bad "killed worker: head exit $rc after ${took}s"; cat "$T/head.err" | tail -20
fi

# a stalled worker (SIGSTOP, not killed): the heartbeats find it; the head exits non-zero within 3 s
BASE=$((BASE + 10))
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" worker --once --world 3 --rank 1 --port $BASE -m "$M" -t 1 2>"$T/w1.err" & w1=$!
PRIMA_CLUSTER_KEY=$KEY "$P" worker --once --world 3 --rank 2 --port $BASE -m "$M" -t 1 2>"$T/w2.err" & w2=$!
trap 'kill -CONT $w2 2>/dev/null; kill $w2 2>/dev/null; rm -rf "$T"' EXIT
( sleep 1.5; kill -STOP $w2; date +%s.%N >"$T/stopped" ) &
stopper=$!
PRIMA_CLUSTER_KEY=$KEY timeout 30 "$P" run --world 3 --port $BASE -m "$M" -p "Once upon a time" -n 100000 \
    --ignore-eos --temp 0 -t 1 -c 2048 -lw 1,1,2 --no-recover >/dev/null 2>"$T/head.err"
rc=$?
end=$(date +%s.%N)
wait $stopper
kill -CONT $w2 2>/dev/null
kill $w2 2>/dev/null
wait $w1 2>/dev/null
wait $w2 2>/dev/null
took=$(echo "$end - $(cat "$T/stopped" 2>/dev/null || echo 0)" | bc)
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "rank 2" "$T/head.err" && [ "$(echo "$took < 3" | bc)" = 1 ]; then
  ok "stalled worker: head exit $rc after ${took}s: $(grep -m1 'ring failed' "$T/head.err")"
else
  bad "stalled worker: head exit $rc after ${took}s"; cat "$T/head.err" | tail -20
fi

echo "1..$n"
exit $fail
