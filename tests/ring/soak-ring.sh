#!/bin/bash
# gst-prima: the ring as a service under churn (issue 13, point 5). Not in the test suite: it runs for
# half an hour. docs/ring.md, "Soak: a service under churn", has the last report.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
#   tests/ring/soak-ring.sh [--minutes 30] [--model FILE] [--lw 5,4,4,3] [--tokens 48] [--prima build/pipelines/prima]
#
# Three persistent `prima worker`s (world 4) on loopback serve back-to-back heads: `prima run`
# generations (temperature 0, the same prompt, so each text must equal the first one) and two-turn
# chats (-cnv). Every KILL_EVERY seconds (60 +- 15) a random worker is killed (SIGKILL, or SIGSTOP and
# SIGKILL 5 s later, every third time) and started again with the same rank 2-8 s later. A head that
# loses a device re-plans over the others and goes on ("lost after token"); a head that starts while a
# device is down waits for it (the restarted worker joins its setup round). Every minute a row:
# generations and chat turns completed, failures (a head that exits non-zero or gives another text),
# re-plans, and per worker its resident memory (VmRSS) and open file descriptors. The table goes to
# standard output and $OUT/soak.md; logs stay in $OUT (default: a new /var/tmp/prima-soak.XXXXXX).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
minutes=30
model=/var/tmp/prima-models/llama-1b-q4km.gguf
lw=5,4,4,3
tokens=48
prima=${PRIMA_BIN:-$root/build/pipelines/prima}
kill_every=60
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --lw) lw=$2; shift 2 ;;
    --tokens) tokens=$2; shift 2 ;;
    --prima) prima=$2; shift 2 ;;
    --kill-every) kill_every=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--model FILE] [--lw a,b,c,d] [--tokens N] [--prima PATH] [--kill-every S]" >&2
       exit 2 ;;
  esac
done
if [ ! -f "$model" ]; then
  echo "soak-ring: $model: no such model (make it: $prima mkmodel --vocab-from data/TinyStories-656K-f32.gguf" \
    "--arch llama --preset 1b --type Q4_K_M $model)" >&2
  exit 2
fi
OUT=${OUT:-$(mktemp -d /var/tmp/prima-soak.XXXXXX)}
mkdir -p "$OUT"
BASE=$((20000 + RANDOM % 12000))
WORLD=4
export PRIMA_CLUSTER_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
prompt="Once upon a time"
declare -a wpid
stop=0
trap 'stop=1' INT TERM

start_worker () {   # rank
  "$prima" worker --world $WORLD --rank "$1" --port $BASE -m "$model" -t 1 >> "$OUT/worker-$1.log" 2>&1 &
  wpid[$1]=$!
}
cleanup () {
  for r in 1 2 3; do
    kill -CONT "${wpid[$r]}" 2>/dev/null
    kill "${wpid[$r]}" 2>/dev/null
  done
  [ -n "${churn_pid:-}" ] && kill "$churn_pid" 2>/dev/null
  wait 2>/dev/null
}
trap 'cleanup' EXIT

head_run () {   # name, then prima run's extra arguments; stdin from the caller
  local name=$1; shift
  timeout 600 "$prima" run --world $WORLD --rank 0 --port $BASE --next 127.0.0.1 -lw "$lw" -m "$model" -t 1 \
    --temp 0 -n "$tokens" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
}

for r in 1 2 3; do start_worker $r; done
# the reference texts, on the ring before any churn
head_run ref-gen -p "$prompt" -no-cnv < /dev/null || { echo "soak-ring: the first head failed:"; cat "$OUT/ref-gen.err"; exit 1; }
printf 'Tell me a story.\nAnd then?\n' | head_run ref-chat -cnv -p "You are a storyteller." \
  || { echo "soak-ring: the first chat failed:"; cat "$OUT/ref-chat.err"; exit 1; }

# The churn: its own process; it writes one line per event to churn.log and restarts workers by
# rank through files (a worker is the main script's child, so the main loop starts it again).
churn () {
  local i=0
  while :; do
    sleep $((kill_every - 15 + RANDOM % 31))
    local r=$((1 + RANDOM % 3))
    i=$((i + 1))
    echo "$r" > "$OUT/churn.victim"
    if [ $((i % 3)) -eq 0 ]; then
      echo "$(date +%s) STOP rank $r" >> "$OUT/churn.log"
      touch "$OUT/churn.stop"
    else
      echo "$(date +%s) KILL rank $r" >> "$OUT/churn.log"
      touch "$OUT/churn.kill"
    fi
  done
}
churn &
churn_pid=$!

gens=0 chats=0 failures=0 replans=0 kills=0 mism=0
t0=$(date +%s)
end=$((t0 + minutes * 60))
next_row=$((t0 + 60))
row=0
table="$OUT/soak.md"
{
  echo "| min | generations | chat turns | failures | re-plans | devices lost | worker 1 RSS / fds | worker 2 RSS / fds | worker 3 RSS / fds |"
  echo "|---|---|---|---|---|---|---|---|---|"
} | tee "$table"
sample () {   # rank: "RSS MiB / fds"
  local p=${wpid[$1]}
  local rss fds
  rss=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' /proc/$p/status 2>/dev/null)
  fds=$(ls /proc/$p/fd 2>/dev/null | wc -l)
  echo "${rss:-?} MiB / ${fds}"
}
# The churn's requests, taken between heads and every 0.2 s while one runs: kill (or stop) the
# victim now, kill a stopped one 5 s later, start the victim again 2-8 s after it was lost.
handle_churn () {
  local now v
  now=$(date +%s)
  if [ -f "$OUT/churn.kill" ] || [ -f "$OUT/churn.stop" ]; then
    v=$(cat "$OUT/churn.victim")
    if [ $restart_rank -ne 0 ]; then
      :   # the last victim is not back yet: let this one live
    elif [ -f "$OUT/churn.stop" ]; then
      kill -STOP "${wpid[$v]}" 2>/dev/null
      stopped_pid=${wpid[$v]} stopped_at=$now
      kills=$((kills + 1)) restart_rank=$v restart_at=$((now + 2 + RANDOM % 7))
    else
      kill -KILL "${wpid[$v]}" 2>/dev/null
      kills=$((kills + 1)) restart_rank=$v restart_at=$((now + 2 + RANDOM % 7))
    fi
    rm -f "$OUT/churn.kill" "$OUT/churn.stop"
  fi
  if [ $stopped_pid -ne 0 ] && [ $now -ge $((stopped_at + 5)) ]; then
    kill -KILL $stopped_pid 2>/dev/null
    stopped_pid=0
  fi
  if [ $restart_rank -ne 0 ] && [ $now -ge $restart_at ] && [ $stopped_pid -eq 0 ]; then
    wait "${wpid[$restart_rank]}" 2>/dev/null
    start_worker $restart_rank
    echo "$now START rank $restart_rank" >> "$OUT/churn.log"
    restart_rank=0
  fi
}

restart_at=0 restart_rank=0 stopped_pid=0 stopped_at=0
n=0
while [ $stop -eq 0 ] && [ "$(date +%s)" -lt $end ]; do
  now=$(date +%s)
  handle_churn
  # one head: generation or chat, alternately (in the background, so the churn goes on while it runs)
  n=$((n + 1))
  if [ $((n % 2)) -eq 1 ]; then
    head_run gen-$n -p "$prompt" -no-cnv < /dev/null &
  else
    printf 'Tell me a story.\nAnd then?\n' | head_run chat-$n -cnv -p "You are a storyteller." &
  fi
  hp=$!
  while kill -0 $hp 2>/dev/null; do
    sleep 0.2
    handle_churn
  done
  wait $hp
  rc=$?
  if [ $((n % 2)) -eq 1 ]; then
    name=gen-$n ref=ref-gen
  else
    name=chat-$n ref=ref-chat
  fi
  replans=$((replans + $(grep -c 'lost after token' "$OUT/$name.err")))
  if [ $rc -ne 0 ]; then
    failures=$((failures + 1))
    echo "$(date +%s) $name: exit $rc: $(grep -v '^$' "$OUT/$name.err" | tail -1)" >> "$OUT/failures.log"
  elif ! cmp -s "$OUT/$name.out" "$OUT/$ref.out"; then
    failures=$((failures + 1)) mism=$((mism + 1))
    echo "$(date +%s) $name: the text differs from $ref" >> "$OUT/failures.log"
  else
    if [ $((n % 2)) -eq 1 ]; then gens=$((gens + 1)); else chats=$((chats + 2)); fi
    # keep the logs of heads that re-planned or failed only
    grep -q 'lost after token' "$OUT/$name.err" || rm -f "$OUT/$name.out" "$OUT/$name.err"
  fi
  now=$(date +%s)
  if [ $now -ge $next_row ]; then
    row=$((row + 1))
    next_row=$((next_row + 60))
    echo "| $row | $gens | $chats | $failures | $replans | $kills | $(sample 1) | $(sample 2) | $(sample 3) |" | tee -a "$table"
  fi
done
echo | tee -a "$table"
echo "soak-ring: $minutes min, $gens generations and $chats chat turns completed, $failures failures" \
  "($mism with another text), $replans re-plans, $kills devices lost (model $(basename "$model"), -lw $lw," \
  "$tokens tokens); logs in $OUT" | tee -a "$table"
[ $failures -eq 0 ]
