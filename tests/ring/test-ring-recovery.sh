#!/bin/bash
# gst-prima: a ring that loses a device mid-generation and goes on (issue 13, "Done when" 1).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# A head and 3 persistent `prima worker`s on loopback (world 4, -lw 1,1,1,2, the 5-layer test model),
# a temperature-0 generation of 64 tokens. The reference is the same run without a loss. Then, for
# each worker rank in turn and for SIGKILL (a dead device) and SIGSTOP (a stalled one, found by the
# heartbeats): fresh workers, the victim started with PRIMA_WORKER_TEST_SIGNAL=SIG@P, so it raises
# the signal on itself when its layers are handed position P (a random position after the prompt's
# first generated token; the seed is printed). Checks: the head's text equals the reference, its
# standard error has the one "lost after token" line, it exits 0. Then two losses in a ring of 3 (the
# second while the head replays its tokens: the head ends alone, same text, two lines); a recovery that
# cannot complete (the other worker a --once one, gone with the old ring: one error naming the loss and
# the reason, exit 1);
# a chat (-cnv): the loss in the first answer, the second turn on the new ring, the text equal to the
# chat without a loss.
# Every process is bounded by `timeout`, every wait for a device by --ring-timeout 20 (a recovery
# takes ~1 s here); leftovers are killed (SIGKILL, which a stopped one takes).
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
M=$D/stories260K-f32.gguf
T=$(mktemp -d)
pids=()
cleanup () {   # the workers (children of their `timeout`s), then the timeouts
  for p in "${pids[@]}"; do pkill -KILL -P "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pids=()
}
trap 'cleanup; rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
export PRIMA_CLUSTER_KEY=prima-test-ring-recovery-key-0123456789
SEED=${PRIMA_TEST_SEED:-$RANDOM}
RANDOM=$SEED
echo "# seed $SEED (PRIMA_TEST_SEED=$SEED reproduces the positions)"
PROMPT="Once upon a time"
N_PROMPT=$("$P" tokenize -m "$M" -p "$PROMPT" | wc -w)
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# workers VICTIM SIGNAL: ranks 1..3 as persistent workers on $BASE; the victim (0: none) raises
# SIGNAL when handed position $POS
workers () {
  for r in 1 2 3; do
    if [ "$r" = "$1" ]; then
      PRIMA_WORKER_TEST_SIGNAL=$2@$POS timeout -s KILL 120 "$P" worker --world 4 --rank $r --port $BASE -m "$M" -t 1 \
          2>"$T/w$r.err" &
    else
      timeout -s KILL 120 "$P" worker --world 4 --rank $r --port $BASE -m "$M" -t 1 2>"$T/w$r.err" &
    fi
    pids+=($!)
  done
}

head_run () {   # out err [extra flags...]
  local out=$1 err=$2
  shift 2
  timeout 90 "$P" run --world 4 --port $BASE -m "$M" -n 64 --temp 0 -t 1 -lw 1,1,1,2 --verbose --ring-timeout 20 "$@" \
      >"$out" 2>"$err"
}

# the loss's line, and (--verbose) the seconds from the loss to the ring back
loss_line () { echo "$(grep "lost after token" "$T/head.err") ($(grep -o "back [0-9.]* s" "$T/head.err" | sed 's/back/ring back after/'))"; }

show () { echo "# head:"; sed 's/^/#   /' "$T/head.err" | tail -15; for r in 1 2 3; do echo "# worker $r:"; sed 's/^/#   /' "$T/w$r.err" | tail -8; done; }

# the reference: no loss
POS=0
workers 0 KILL
head_run "$T/ref.out" "$T/head.err" -p "$PROMPT"
rc=$?
cleanup
if [ $rc -eq 0 ] && [ -s "$T/ref.out" ]; then ok "reference run: $(wc -c <"$T/ref.out") bytes of text"
else bad "reference run: exit $rc"; show; echo "1..$n"; exit 1; fi

for sig in KILL STOP; do
  for victim in 1 2 3; do
    BASE=$((BASE + 10))
    # a position after the first generated token's (the prompt is 0 .. N_PROMPT-1; 64 tokens
    # evaluate N_PROMPT .. N_PROMPT+62)
    POS=$((N_PROMPT + 1 + RANDOM % 62))
    workers $victim $sig
    start=$(date +%s.%N)
    head_run "$T/out" "$T/head.err" -p "$PROMPT"
    rc=$?
    took=$(echo "$(date +%s.%N) - $start" | bc)
    cleanup
    lines=$(grep -c "lost after token" "$T/head.err")
    what="rank $victim SIG$sig at position $POS"
    if [ $rc -eq 0 ] && [ "$lines" = 1 ] && cmp -s "$T/ref.out" "$T/out"; then
      ok "$what: the reference text, run ${took}s: $(loss_line)"
    else
      bad "$what: exit $rc, $lines loss lines, text $(cmp -s "$T/ref.out" "$T/out" && echo same || echo differs)"
      show
      diff <(tr ' ' '\n' <"$T/ref.out") <(tr ' ' '\n' <"$T/out") | head -10 | sed 's/^/# /'
    fi
  done
done

# two losses, the second in the replay: both workers of a ring of 3 raise SIGKILL at the same
# position, so rank 2 dies when the replay brings it there; the head ends alone, with the same text
BASE=$((BASE + 10))
POS=$((N_PROMPT + 1 + RANDOM % 62))
for r in 1 2; do
  PRIMA_WORKER_TEST_SIGNAL=KILL@$POS timeout -s KILL 120 "$P" worker --world 3 --rank $r --port $BASE -m "$M" -t 1 \
      2>"$T/w$r.err" &
  pids+=($!)
done
timeout 90 "$P" run --world 3 --port $BASE -m "$M" -n 64 --temp 0 -t 1 -lw 1,1,3 -p "$PROMPT" --ring-timeout 20 \
    >"$T/out" 2>"$T/head.err"
rc=$?
cleanup
lines=$(grep -c "lost after token" "$T/head.err")
if [ $rc -eq 0 ] && [ "$lines" = 2 ] && cmp -s "$T/ref.out" "$T/out" && grep -q "re-planned over 1 device;" "$T/head.err"; then
  ok "ring of 3, both workers SIGKILL at position $POS: the reference text, $(grep "lost after token" "$T/head.err" | tr '\n' ' ')"
else
  bad "ring of 3, both workers SIGKILL at position $POS: exit $rc, $lines loss lines"; show
fi

# a recovery that cannot complete: rank 1 dies, rank 2 is a --once worker, which leaves with the
# ring it served; the round waits --ring-timeout for it, then one error names the loss and the reason
BASE=$((BASE + 10))
POS=$((N_PROMPT + 1 + RANDOM % 62))
PRIMA_WORKER_TEST_SIGNAL=KILL@$POS timeout -s KILL 120 "$P" worker --world 3 --rank 1 --port $BASE -m "$M" -t 1 \
    2>"$T/w1.err" &
pids+=($!)
timeout -s KILL 120 "$P" worker --once --world 3 --rank 2 --port $BASE -m "$M" -t 1 2>"$T/w2.err" &
pids+=($!)
timeout 90 "$P" run --world 3 --port $BASE -m "$M" -n 64 --temp 0 -t 1 -lw 1,1,3 -p "$PROMPT" --ring-timeout 2 \
    >"$T/out" 2>"$T/head.err"
rc=$?
cleanup
line=$(grep "could not be rebuilt" "$T/head.err")
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(echo "$line" | grep -c "lost after token [0-9]*; the ring could not be rebuilt: .")" = 1 ]; then
  ok "no device comes back: exit $rc: $line"
else
  bad "no device comes back: exit $rc: ${line:-no error line}"; show
fi

# a chat: the loss in the first answer; the second turn runs on the new ring
chat () {   # out err
  printf 'Tell me a story\nAnd then?\n' | timeout 90 "$P" run --world 4 --port $BASE -m "$M" -n 24 -c 256 --temp 0 -t 1 \
      -lw 1,1,1,2 -cnv --verbose --ring-timeout 20 >"$1" 2>"$2"
}
BASE=$((BASE + 10))
POS=0
workers 0 KILL
chat "$T/chat-ref.out" "$T/head.err"
rc=$?
cleanup
if [ $rc -ne 0 ] || [ ! -s "$T/chat-ref.out" ]; then
  bad "chat reference: exit $rc"; show
else
  BASE=$((BASE + 10))
  # the first answer's positions follow the first turn's prompt (with the chat template); 24
  # tokens evaluate 23 positions
  first=$(sed -n 's/.*turn 1: \([0-9]*\) prompt tokens.*/\1/p' "$T/head.err")
  POS=$((${first:-0} + 1 + RANDOM % 22))
  workers 2 KILL
  chat "$T/chat.out" "$T/head.err"
  rc=$?
  cleanup
  lines=$(grep -c "lost after token" "$T/head.err")
  if [ $rc -eq 0 ] && [ "$lines" = 1 ] && cmp -s "$T/chat-ref.out" "$T/chat.out"; then
    ok "chat, rank 2 SIGKILL at position $POS: both turns as without the loss: $(loss_line)"
  else
    bad "chat, rank 2 SIGKILL at position $POS: exit $rc, $lines loss lines"
    show
    diff "$T/chat-ref.out" "$T/chat.out" | head -10 | sed 's/^/# /'
  fi
fi

echo "1..$n"
exit $fail
