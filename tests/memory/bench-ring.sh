#!/bin/bash
# gst-prima: the 4-process ring under memory caps (called by bench-memory.sh).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-ring.sh BUILD_DIR MODEL N_GEN REF_TOKENS
#
# Four devices on one machine: each process in its own network namespace
# (veth to a bridge, netem 5 ms on every device's egress, so a hop costs
# 5 ms) and its own memory cgroup capped below its share of the weights
# (model / 4 * RING_CAP_SHARE, default 0.8). Rank 0 runs `prima run --world 4
# --rank 0 -lw ...` and prints the tokens; ranks 1-3 run `prima worker`.
# Every policy in POLICIES runs once capped; one uncapped ring is the
# reference. Tokens must equal REF_TOKENS (the single-device run).
#
# The worker's and the head's ring options come from the ring work; they are
# kept in RING_HEAD_ARGS / RING_WORKER_ARGS (placeholders {rank}, {addr},
# {next}, {model}, {port}) so they can follow that CLI without editing this
# script. Needs root, ip(8) and tc(8) with netem.
set -u
build=$1 model=$2 n_gen=$3 ref=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
prima=$build/pipelines/prima
cgrun=$src/tests/memory/cgroup-run.sh
policies=${POLICIES:-"none:never advise:auto force:auto advise:always"}
lw=${RING_LW:-2,2,2,2}
port=${RING_PORT:-7655}
share=${RING_CAP_SHARE:-0.8}
head_args=${RING_HEAD_ARGS:-"run -m {model} --world 4 --rank 0 --next {next} --port {port} -lw $lw -p 'Once upon a time' -n $n_gen --temp 0 --ignore-eos --no-display-prompt --verbose"}
worker_args=${RING_WORKER_ARGS:-"worker -m {model} --world 4 --rank {rank} --master 10.77.0.1 --next {next} --port {port}"}

command -v ip > /dev/null && command -v tc > /dev/null || { echo "ring: SKIP: needs ip and tc"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ring: SKIP: needs root"; exit 0; }
size=$(stat -c %s "$model")
cap=$(awk -v s="$size" -v f="$share" 'BEGIN { printf "%d", s / 4 * f / 1048576 }')

setup() {
  ip link add prima-br type bridge && ip link set prima-br up
  for i in 0 1 2 3; do
    ip netns add prima-r$i
    ip link add prima-v$i type veth peer name eth0 netns prima-r$i
    ip link set prima-v$i master prima-br up
    ip -n prima-r$i addr add 10.77.0.$((i + 1))/24 dev eth0
    ip -n prima-r$i link set eth0 up
    ip -n prima-r$i link set lo up
    tc -n prima-r$i qdisc add dev eth0 root netem delay 5ms
  done
}
teardown() {
  for i in 0 1 2 3; do ip netns del prima-r$i 2> /dev/null; ip link del prima-v$i 2> /dev/null; done
  ip link del prima-br 2> /dev/null
}
trap teardown EXIT
teardown
setup || { echo "ring: SKIP: cannot create namespaces"; exit 0; }

subst() {
  local s=$1 rank=$2
  s=${s//\{rank\}/$rank}
  s=${s//\{addr\}/10.77.0.$((rank + 1))}
  s=${s//\{next\}/10.77.0.$(((rank + 1) % 4 + 1))}
  s=${s//\{model\}/$model}
  s=${s//\{port\}/$port}
  echo "$s"
}

run_ring() {     # run_ring LABEL CAP_MB|0 PREFETCH RELEASE
  local label=$1 c=$2 pf=$3 rel=$4 pids=() out=/tmp/prima-ring-$$.out
  local pol=()
  case $pf in advise) pol+=(--prefetch) ;; force) pol+=(--force) ;; esac
  # the release policy where the commands take it (else their default)
  "$prima" worker --help 2>&1 | grep -q -- --release-policy && pol+=(--release-policy "$rel")
  for r in 3 2 1; do
    if [ "$c" = 0 ]; then
      eval ip netns exec prima-r$r "$prima" $(subst "$worker_args" $r) "${pol[@]}" > /tmp/prima-ring-$$.w$r 2>&1 &
    else
      eval "$cgrun" --v1 --name prima-ring-$r "$c" ip netns exec prima-r$r "$prima" $(subst "$worker_args" $r) \
        "${pol[@]}" > /tmp/prima-ring-$$.w$r 2>&1 &
    fi
    pids+=($!)
  done
  sleep 1
  if [ "$c" = 0 ]; then
    eval ip netns exec prima-r0 "$prima" $(subst "$head_args" 0) "${pol[@]}" --ids-out $out.ids > $out 2> $out.err
  else
    eval "$cgrun" --v1 --name prima-ring-0 "$c" ip netns exec prima-r0 "$prima" $(subst "$head_args" 0) \
      "${pol[@]}" --ids-out $out.ids > $out 2> $out.err
  fi
  local rc=$?
  wait "${pids[@]}" 2> /dev/null
  printf '| %s | %s+%s | rc %s | %s |\n' "$label" "$pf" "$rel" "$rc" \
    "$(grep -h 'decode\|memory pressure\|TPOT' $out.err | tr '\n' ' ')"
  grep -h 'cgroup-run:' $out.err /tmp/prima-ring-$$.w* 2> /dev/null | sed 's/^/    /'
  rm -f /tmp/prima-ring-$$.*
  return $rc
}

echo
echo "== ring: 4 processes, -lw $lw, netem 5 ms per hop, caps $cap MiB each (model share $((size / 4 / 1048576)) MiB)"
fail=0
run_ring "ring uncapped" 0 advise auto || fail=1
for p in $policies; do
  run_ring "ring, caps $cap MiB" "$cap" "${p%%:*}" "${p##*:}" || fail=1
done
exit $fail
