#!/bin/bash
# gst-prima: an auto-scheduled ring end to end (issue 6, point 3).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# A head and 2-3 workers on loopback, each in its own cgroup-v1 memory cap with its own CPU quota
# (tests/memory/cgroup-run.sh), started without -lw: every device profiles itself, the head solves with
# Halda, the plan goes round, devices left without layers exit 0. Checks: the greedy tokens equal one
# device's, every process exits 0; prints the plan's predicted and the measured time per output token.
# Skips (77) without root or cgroup v1.
#
# Bigger models (not in the default suite):
#   AUTO_RING_MODEL=/var/tmp/prima-models/llama-1b-q4km.gguf \
#   AUTO_RING_DEVICES="900:100:0 420:100:300 300:60:300" AUTO_RING_TOKENS=32 tests/scheduler/test-auto-ring.sh
# Each device is MEM_MB:CPU_PCT:READ_MBPS (0: no read limit), the head first.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
HERE=$(cd "$(dirname "$0")" && pwd)
CG=$HERE/../memory/cgroup-run.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
export PRIMA_CLUSTER_KEY=auto-ring-test-key-0123456789
fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# cgroup v1 with memory, cpu and blkio, and root
"$CG" --v1 --cpu-pct 100 64 true 2>"$T/probe.err"
rc=$?
if [ $rc -eq 77 ]; then echo "SKIP: $(tail -1 "$T/probe.err")"; exit 77; fi
[ $rc -eq 0 ] || { echo "SKIP: cgroup-run.sh failed: $(tail -1 "$T/probe.err")"; exit 77; }

# model tokens "dev dev ..." (MEM_MB:CPU_PCT:READ_MBPS, head first)
ring_case () {
  local model=$1 tokens=$2; shift 2
  local devs=("$@") world=$# name single
  name=$(basename "$model" .gguf)
  single=$T/single-$name-$tokens.ids
  BASE=$((BASE + 10))
  [ -f "$single" ] || timeout 300 "$P" run -m "$model" -p "Once upon a time" -n "$tokens" --temp 0 \
      --ids-out "$single" >/dev/null 2>"$T/single.err" || { bad "$name: single device"; cat "$T/single.err"; return; }
  local pids=()
  for r in $(seq 1 $((world - 1))); do
    IFS=: read -r mem cpu rd <<<"${devs[$r]}"
    local lim=()
    [ "$rd" != 0 ] && lim=(--read-mbps "$rd" --disk-path "$model")
    timeout 300 "$CG" --v1 --name "prima-auto-$$-$r" --cpu-pct "$cpu" "${lim[@]}" "$mem" \
        "$P" worker --once --world "$world" --rank "$r" --port $BASE -m "$model" 2>"$T/w$r.err" &
    pids+=($!)
  done
  IFS=: read -r mem cpu rd <<<"${devs[0]}"
  local lim=()
  [ "$rd" != 0 ] && lim=(--read-mbps "$rd" --disk-path "$model")
  timeout 300 "$CG" --v1 --name "prima-auto-$$-0" --cpu-pct "$cpu" "${lim[@]}" "$mem" \
      "$P" run --world "$world" --port $BASE -m "$model" -p "Once upon a time" -n "$tokens" --temp 0 \
      --ids-out "$T/ring.ids" >/dev/null 2>"$T/head.err"
  local rc=$? wrc=0
  for p in "${pids[@]}"; do wait "$p" || wrc=$?; done
  local what="$name, ${#devs[@]} devices (${devs[*]})"
  if [ $rc -ne 0 ] || [ $wrc -ne 0 ]; then
    bad "$what: head exit $rc, a worker $wrc"; tail -n 30 "$T/head.err"; tail -n 5 "$T"/w*.err; return
  fi
  if cmp -s "$single" "$T/ring.ids"; then ok "$what: same tokens as one device"
  else bad "$what: tokens differ"; cat "$single" "$T/ring.ids"; fi
  grep -q "predicted token latency" "$T/head.err" || bad "$what: no predicted latency"
  sed -n '/^k = /,/^prima run: predicted/p' "$T/head.err" | sed 's/^/#   /'
  grep -h "leaves the ring" "$T"/w*.err | sed 's/^/#   /'
  local pred meas
  pred=$(sed -n 's/^prima run: predicted token latency \([0-9.]*\) ms.*/\1/p' "$T/head.err")
  meas=$(sed -n 's/^prima run: decode \([0-9]*\) tokens in \([0-9.]*\) ms.*/\2 \1/p' "$T/head.err" \
      | awk '{ if ($2 > 0) printf "%.3f", $1 / $2 }')
  echo "# $what: TPOT predicted ${pred:-?} ms, measured ${meas:-?} ms" \
      "($(awk -v p="${pred:-0}" -v m="${meas:-0}" 'BEGIN { if (p > 0) printf "%+.0f%%", (m - p) / p * 100; else print "-" }'))"
  rm -f "$T"/w*.err
}

if [ -n "${AUTO_RING_MODEL:-}" ]; then
  read -r -a devs <<<"${AUTO_RING_DEVICES:-900:100:0 420:100:300 300:60:300}"
  ring_case "$AUTO_RING_MODEL" "${AUTO_RING_TOKENS:-32}" "${devs[@]}"
else
  # different memory caps and CPU quotas; the small models make the solver drop devices (a hop costs
  # more than their layers), so these also check the ring rebuilt around the dropped ones
  ring_case "$D/stories260K-f32.gguf" 24 200:100:0 150:60:0 120:40:0
  ring_case "$D/stories260K-f32.gguf" 24 120:15:0 200:100:0 150:100:0 100:50:0
  ring_case "$D/TinyStories-656K-q8_0.gguf" 24 150:20:0 200:100:0 130:70:0
fi
exit $fail
