#!/bin/bash
# gst-prima: the ring as a service (issue 13, part 1; docs/ring.md, "A ring as a service").
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Every process is bounded by `timeout`. Checks: two persistent workers (world 3, -lw 2,2,1 on
# stories260K, --temp 0 -n 32) serve head 1 and then head 2, each giving exactly the text of a ring of
# fresh `--once` workers; each worker says it waits for the next head after each, and its second head
# does not map the model again (--verbose); a third head, started while a -cnv head (reading a FIFO
# kept open) holds the ring, reaches rank 1 with `--next 127.0.0.1:PORT` and is refused after its
# 5 s grace with the exact line naming the head served, and a head on the same port is refused naming
# the head that holds it; the -cnv head then finishes its turn with the
# same text as the same chat on a free ring; a head killed mid-chat is noticed by the workers and a
# new head gets the text of fresh workers; a worker restarted with the same rank rejoins the next head;
# the workers stay up throughout.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
T=$(mktemp -d)
pids=()
cleanup () {
  exec 3>&- 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
export PRIMA_CLUSTER_KEY=prima-test-ring-service-key-0123456789
M=$D/stories260K-f32.gguf
GEN=(-m "$M" -lw 2,2,1 -p "Once upon a time" -n 32 --temp 0 -t 1)
CHAT=(-cnv -m "$M" -lw 2,2,1 -n 16 --temp 0 -c 128 -t 1)
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

worker () {   # base rank log [flags]: in the background, its pid in $wpid
  local base=$1 rank=$2 log=$3
  shift 3
  timeout 120 "$P" worker --world 3 --rank "$rank" --port "$base" -m "$M" -t 1 "$@" >/dev/null 2>"$log" &
  wpid=$!
  pids+=($wpid)
}

waitfor () {  # count pattern file: wait (at most 30 s) until pattern is in file count times
  for _ in $(seq 300); do
    [ "$(grep -c -- "$2" "$3" 2>/dev/null)" -ge "$1" ] && return 0
    sleep 0.1
  done
  return 1
}

# 1. the reference: a ring of fresh --once workers (they exit 0 after the head's stop)
worker $BASE 1 "$T/o1.err" --once; o1=$wpid
worker $BASE 2 "$T/o2.err" --once; o2=$wpid
if timeout 60 "$P" run --world 3 --port $BASE "${GEN[@]}" >"$T/ref.txt" 2>"$T/ref.err" && wait $o1 && wait $o2 \
    && [ -s "$T/ref.txt" ]; then
  ok "a ring of --once workers: $(wc -c <"$T/ref.txt") bytes, both workers exited 0"
else
  bad "a ring of --once workers"; tail -5 "$T/ref.err" "$T/o1.err" "$T/o2.err"
fi

# 2. two persistent workers, two heads one after the other
BASE=$((BASE + 10))
worker $BASE 1 "$T/w1.err" --verbose; w1=$wpid
worker $BASE 2 "$T/w2.err" --verbose; w2=$wpid
for h in 1 2; do
  if timeout 60 "$P" run --world 3 --port $BASE "${GEN[@]}" >"$T/head$h.txt" 2>"$T/head$h.err" \
      && cmp -s "$T/ref.txt" "$T/head$h.txt"; then
    ok "head $h on persistent workers: the text of fresh workers"
  else
    bad "head $h on persistent workers (exit status or text)"; tail -5 "$T/head$h.err"; cat "$T/head$h.txt"
  fi
  for r in 1 2; do
    if waitfor $h "prima worker $r: the head left (stopped); waiting for the next head" "$T/w$r.err"; then
      ok "worker $r after head $h: waiting for the next head"
    else
      bad "worker $r after head $h did not say it waits"; tail -5 "$T/w$r.err"
    fi
  done
done
for r in 1 2; do
  if grep -q "prima worker $r: head 2: the model was mapped 1 time by this process" "$T/w$r.err"; then
    ok "worker $r: the second head did not map the model again"
  else
    bad "worker $r: the model mapped again"; grep "mapped" "$T/w$r.err"
  fi
done

# 3. one head at a time: a -cnv head holds the ring (its FIFO kept open); a third head reaching rank 1
# directly (--next HOST:PORT, its own --port) is refused after its grace; the -cnv head is unaffected
mkfifo "$T/chat.in"
timeout 90 "$P" run --world 3 --port $BASE "${CHAT[@]}" <"$T/chat.in" >"$T/chat.out" 2>"$T/chat.err" &
chat=$!
pids+=($chat)
exec 3>"$T/chat.in"
# the head itself (timeout's child; it starts once the FIFO has a writer): it holds the port
for _ in $(seq 50); do
  chat_pid=$(cat /proc/$chat/task/$chat/children 2>/dev/null)
  [ -n "$chat_pid" ] && break
  sleep 0.1
done
chat_pid=${chat_pid% }
# the data ring is up once both workers have their third head's upstream
if waitfor 3 "prima worker 2: rank 1 at .* connected" "$T/w2.err" && waitfor 3 "rank 0 at .* connected" "$T/w1.err"; then
  start=$(date +%s.%N)
  timeout 60 "$P" run --world 3 --port $((BASE + 5)) --next 127.0.0.1:$((BASE + 1)) "${GEN[@]}" \
      >"$T/third.txt" 2>"$T/third.err"
  rc=$?
  took=$(echo "$(date +%s.%N) - $start" | bc)
  want="rank 1 at 127\.0\.0\.1:$((BASE + 1)) is serving another head \(127\.0\.0\.1:[0-9]+\): one head at a time per ring"
  if [ $rc != 0 ] && grep -Eq "^prima run: (ring setup: )?$want\$" "$T/third.err"; then
    ok "a third head is refused (exit $rc after ${took%???????} s): $(grep -E -m1 "$want" "$T/third.err")"
  else
    bad "a third head: exit $rc, not the refusal"; cat "$T/third.err"
  fi
  # a head on the same machine and port: the port check names the head that holds it
  timeout 30 "$P" run --world 3 --port $BASE "${GEN[@]}" >/dev/null 2>"$T/same.err"
  rc=$?
  want="cannot listen on port $BASE \(--port $BASE \+ rank 0\): in use by prima run \(pid $chat_pid\), another head on this machine: one head at a time per ring"
  if [ $rc != 0 ] && grep -Eq "^prima run: $want" "$T/same.err"; then
    ok "a head on the same port is refused: $(head -n 1 "$T/same.err")"
  else
    bad "a head on the same port: exit $rc"; cat "$T/same.err"
  fi
else
  bad "the -cnv head did not connect"; tail -5 "$T/chat.err"
fi
printf 'Once upon a time\n' >&3
exec 3>&-
if wait $chat && [ -s "$T/chat.out" ]; then
  ok "the -cnv head finished its turn (exit 0)"
else
  bad "the -cnv head after the refused head"; tail -5 "$T/chat.err"
fi
# the same chat on the same (now free) ring: the same text
printf 'Once upon a time\n' | timeout 60 "$P" run --world 3 --port $BASE "${CHAT[@]}" >"$T/chat2.out" 2>"$T/chat2.err"
if [ $? = 0 ] && cmp -s "$T/chat.out" "$T/chat2.out"; then
  ok "the -cnv head was unaffected: its text equals the same chat's on a free ring"
else
  bad "the -cnv head's text differs from the same chat's"; diff "$T/chat.out" "$T/chat2.out" | head
fi
# 4. a head killed mid-chat and started again: the workers notice and serve the new one
mkfifo "$T/kill.in"
timeout 90 "$P" run --world 3 --port $BASE "${CHAT[@]}" <"$T/kill.in" >/dev/null 2>"$T/kill.err" &
killed=$!
pids+=($killed)
exec 4>"$T/kill.in"
for _ in $(seq 50); do
  kpid=$(cat /proc/$killed/task/$killed/children 2>/dev/null)
  [ -n "$kpid" ] && break
  sleep 0.1
done
if waitfor 5 "prima worker 2: rank 1 at .* connected" "$T/w2.err" && kill -KILL ${kpid% }; then
  exec 4>&-
  if timeout 60 "$P" run --world 3 --port $BASE "${GEN[@]}" >"$T/again.txt" 2>"$T/again.err" \
      && cmp -s "$T/ref.txt" "$T/again.txt" \
      && grep -q "prima worker 1: the head left (the ring failed: .*disconnected); waiting for the next head" "$T/w1.err"; then
    ok "a head killed mid-chat: the workers say so, and a new head gets the text of fresh workers"
  else
    bad "a new head after a killed one"; tail -5 "$T/again.err"; grep "head left" "$T/w1.err"
  fi
else
  exec 4>&-
  bad "the head to kill did not connect"; tail -5 "$T/kill.err"
fi

# 5. a worker restarted with the same rank rejoins: the next head gets the same text
kill $w2
wait $w2 2>/dev/null
worker $BASE 2 "$T/w2b.err"; w2=$wpid
if timeout 60 "$P" run --world 3 --port $BASE "${GEN[@]}" >"$T/rejoin.txt" 2>"$T/rejoin.err" \
    && cmp -s "$T/ref.txt" "$T/rejoin.txt"; then
  ok "worker 2 restarted: the next head gets the text of fresh workers"
else
  bad "a head after worker 2 was restarted"; tail -5 "$T/rejoin.err"
fi
cat "$T/w2b.err" >>"$T/w2.err"

for r in 1 2; do
  w=$([ $r = 1 ] && echo $w1 || echo $w2)
  if kill -0 "$w" 2>/dev/null && [ "$(grep -c "waiting for the next head" "$T/w$r.err")" -ge 6 ]; then
    ok "worker $r served 6 heads and is still up"
  else
    bad "worker $r: not up after 6 heads"; tail -5 "$T/w$r.err"
  fi
done
exit $fail
