#!/bin/bash
# gst-prima: the 4-process ring under memory caps (called by bench-memory.sh).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-ring.sh BUILD_DIR MODEL N_GEN [REF_TOKENS]
#
# Four devices on one machine: each process in its own network namespace
# (veth to a bridge) with 5 ms +- 1 ms per hop: `tc netem` on every device's
# egress where the kernel has sch_netem, else tests/ring/delay-relay in each
# namespace (it listens on the device's own address, on the next device's
# port, and holds every chunk 5 ms +- 1 ms each way; the device's --next is
# the relay). Rank 0 runs `prima run --world 4 -lw ...`, ranks 1-3 `prima
# worker`, all with --verbose (memory accounting at the end).
#
# 1. The uncapped ring, warm page cache: one run to warm it (it also gives
#    each device's share of the weights, from its --verbose report), then
#    REPEATS timed runs. Its tokens are the reference; a single-device
#    `prima run` with the same prompt must give them too (SKIP_SINGLE=1
#    skips it). REF_TOKENS (bench-memory.sh's mem-run, another prompt) is
#    not comparable and only accepted for the caller's sake.
# 2. Each policy in POLICIES (prefetch:release), REPEATS times, every device
#    in its own cgroup-v1 memory cap (page cache included, no swap) of
#    RING_CAP_SHARE (default 0.6) times its own share, or RING_CAP_MB for
#    all; the model's page cache is dropped before each run, so every page
#    a device touches is charged to its own cap.
# Reports TPOT (the head's decode time per token), each device's memory
# pressure (docs/memory.md: (available at start - lowest available) /
# device memory, where the device is the cgroup cap), its peak usage and OOM
# kills, and whether the tokens equal the uncapped ring's.
#
# Environment: POLICIES, REPEATS (2), RING_LW (2,2,2,2), RING_PORT (7655),
# RING_CAP_SHARE, RING_CAP_MB, THREADS (all cores), DELAY_MS (5), JITTER_MS
# (1), RELAY (default BUILD_DIR/tests/ring/delay-relay), SKIP_SINGLE.
# Needs root, ip(8) and cgroup-v1 memory; skips (exit 0) with a message
# otherwise. Everything it creates is removed on exit.
set -u
build=$1 model=$2 n_gen=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
prima=$build/pipelines/prima
relay=${RELAY:-$build/tests/ring/delay-relay}
cgrun=$src/tests/memory/cgroup-run.sh
policies=${POLICIES:-"none:never none:auto advise:auto force:auto advise:always"}
repeats=${REPEATS:-2}
lw=${RING_LW:-2,2,2,2}
port=${RING_PORT:-7655}
share=${RING_CAP_SHARE:-0.6}
threads=${THREADS:-$(nproc)}
delay=${DELAY_MS:-5}
jitter=${JITTER_MS:-1}
prompt="Once upon a time"

command -v ip > /dev/null || { echo "ring: SKIP: needs ip(8)"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "ring: SKIP: needs root"; exit 0; }

# names unique to this run: other tests may use namespaces and bridges too
NS=(pring$$-0 pring$$-1 pring$$-2 pring$$-3)
BR=pbr$$
ADDR=(10.77.0.1 10.77.0.2 10.77.0.3 10.77.0.4)
T=$(mktemp -d /tmp/prima-bench-ring.XXXXXX)
RELAYS=()
teardown() {
  for p in "${RELAYS[@]}"; do kill -TERM "$p" 2> /dev/null; done
  for p in "${RELAYS[@]}"; do wait "$p" 2> /dev/null; done
  for ns in "${NS[@]}"; do ip netns del "$ns" 2> /dev/null; done
  for i in 0 1 2 3; do ip link del "pv$$-$i" 2> /dev/null; done
  ip link del "$BR" 2> /dev/null
  rm -rf "$T"
}
trap teardown EXIT
trap 'exit 1' INT TERM

setup() {
  ip link add "$BR" type bridge && ip link set "$BR" up || return 1
  for i in 0 1 2 3; do
    ip netns add "${NS[$i]}" || return 1
    ip link add "pv$$-$i" type veth peer name eth0 netns "${NS[$i]}" || return 1
    ip link set "pv$$-$i" master "$BR" up
    ip -n "${NS[$i]}" addr add "${ADDR[$i]}/24" dev eth0
    ip -n "${NS[$i]}" link set eth0 up
    ip -n "${NS[$i]}" link set lo up
  done
}
setup || { echo "ring: SKIP: cannot create namespaces, a bridge and veth pairs"; exit 0; }

# the delay: netem where the kernel has it, else the relay
mode=netem
for i in 0 1 2 3; do
  if ! tc -n "${NS[$i]}" qdisc add dev eth0 root netem delay ${delay}ms ${jitter}ms 2> "$T/err"; then
    for k in 0 1 2 3; do tc -n "${NS[$k]}" qdisc del dev eth0 root 2> /dev/null; done
    mode=relay
    break
  fi
done
CONNECT=()
if [ $mode = relay ]; then
  [ -x "$relay" ] || { echo "ring: SKIP: no netem ($(head -n 1 "$T/err")) and no $relay"; exit 0; }
  echo "ring: netem unavailable (kernel $(uname -r) lacks sch_netem): userspace delay relay in each namespace"
  for i in 0 1 2 3; do
    j=$(((i + 1) % 4))
    ip netns exec "${NS[$i]}" "$relay" --listen "${ADDR[$i]}:$((port + j))" --to "${ADDR[$j]}:$((port + j))" \
      --delay-ms "$delay" --jitter-ms "$jitter" --seed $((i + 1)) 2> "$T/relay$i.err" &
    RELAYS+=($!)
    CONNECT+=("${ADDR[$i]}")
  done
  for i in 0 1 2 3; do
    for t in $(seq 50); do grep -q listening "$T/relay$i.err" && break; sleep 0.1; done
    grep -q listening "$T/relay$i.err" || { cat "$T/relay$i.err"; exit 1; }
  done
  delay_desc="delay relay $delay ms +- $jitter ms per hop"
else
  for i in 0 1 2 3; do CONNECT+=("${ADDR[$(((i + 1) % 4))]}"); done
  delay_desc="netem $delay ms +- $jitter ms per hop"
fi

size=$(stat -c %s "$model")
echo
echo "== ring: 4 processes, -lw $lw, $delay_desc, $n_gen tokens, $threads threads each, $repeats runs per row"
echo "== model $model: $((size / 1048576)) MiB; machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"

drop_cache() { dd if="$model" iflag=nocache count=0 status=none; }

# run_ring TAG CAPS(4 numbers, MiB, 0 = none) PREFETCH RELEASE: rc; files $T/TAG.{head,w1..3,ids}
run_ring() {
  local tag=$1 pf=$3 rel=$4 pids=() r rc p
  local caps=($2)
  local pol=(--prefetch-mode "$pf" --release-policy "$rel" --verbose -t "$threads")
  local key
  key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # nsenter --net, not `ip netns exec`: that one remounts /sys, which hides the cgroup mounts, so
  # the device would take the machine for its memory (no budget, no release, pressure vs 24 GiB)
  for r in 3 2 1; do
    local cmd=(nsenter --net="/run/netns/${NS[$r]}" env PRIMA_CLUSTER_KEY="$key" "$prima" worker -m "$model" --world 4
      --rank "$r" --master "${ADDR[0]}" --next "${CONNECT[$r]}" --port "$port" "${pol[@]}")
    if [ "${caps[$r]}" = 0 ]; then
      timeout 900 "${cmd[@]}" > "$T/$tag.w$r" 2>&1 &
    else
      timeout 900 "$cgrun" --v1 --name "prima-ring$$-$r" "${caps[$r]}" "${cmd[@]}" > "$T/$tag.w$r" 2>&1 &
    fi
    pids+=($!)
  done
  local cmd=(nsenter --net="/run/netns/${NS[0]}" env PRIMA_CLUSTER_KEY="$key" "$prima" run -m "$model" --world 4 --rank 0
    --next "${CONNECT[0]}" --port "$port" -lw "$lw" -p "$prompt" -n "$n_gen" --temp 0 --ignore-eos
    --no-display-prompt --ids-out "$T/$tag.ids" "${pol[@]}")
  if [ "${caps[0]}" = 0 ]; then
    timeout 900 "${cmd[@]}" > "$T/$tag.out" 2> "$T/$tag.head"
  else
    timeout 900 "$cgrun" --v1 --name "prima-ring$$-0" "${caps[0]}" "${cmd[@]}" > "$T/$tag.out" 2> "$T/$tag.head"
  fi
  rc=$?
  # a failed head may leave workers waiting for it
  [ $rc = 0 ] || for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do wait "$p" || rc=$((rc ? rc : 10)); done
  return $rc
}

# figures from a run's files
tpot() { sed -n 's/.*decode \([0-9]*\) tokens in \([0-9.]*\) ms.*/\1 \2/p' "$1" | awk '$1 > 0 { printf "%.0f", $2 / $1 }'; }
dev_file() { [ "$2" = 0 ] && echo "$T/$1.head" || echo "$T/$1.w$2"; }
pressure() { sed -n 's/^memory: memory pressure \([0-9.]*\)%.*/\1/p' "$(dev_file "$1" "$2")" | tail -n 1; }
share_mib() { sed -n 's/^memory: layers .*: weights \([0-9.]*\) MiB in .*/\1/p' "$(dev_file "$1" "$2")" | head -n 1; }
resident() { sed -n 's/^memory: resident weights \([0-9.]*\) MiB.*/\1/p' "$(dev_file "$1" "$2")" | head -n 1; }
peak() {
  local v
  v=$(sed -n 's/^cgroup-run: .*max usage \([0-9.?]*\) MiB, oom kills \([0-9?]*\).*/\1 (oom \2)/p' "$(dev_file "$1" "$2")" | tail -n 1)
  echo "${v:--}"
}
failed() {
  echo "ring: $1 failed"
  for r in 0 1 2 3; do echo "-- device $r"; tail -n 6 "$(dev_file "$2" $r)"; done
}

fail=0
# uncapped: warm the page cache and learn the shares, then the timed runs
run_ring warm "0 0 0 0" force auto || { failed "uncapped ring" warm; exit 1; }
ref=$T/warm.ids
# the single device, same prompt and flags, warm page cache: the tokens the ring must give
if [ "${SKIP_SINGLE:-0}" != 1 ]; then
  "$prima" run -m "$model" -p "$prompt" -n "$n_gen" --temp 0 --ignore-eos --no-display-prompt -t "$threads" \
    --ids-out "$T/single.ids" > /dev/null 2> "$T/single.err" || { cat "$T/single.err"; exit 1; }
  echo "== single device (uncapped, warm): TPOT $(tpot "$T/single.err") ms, tokens $(tr '\n' ' ' < "$T/single.ids")"
fi
if [ -f "$T/single.ids" ] && ! cmp -s "$T/single.ids" "$ref"; then
  echo "ring: the uncapped ring's tokens DIFFER from the single device's"
  fail=1
fi
caps=() shares=()
for r in 0 1 2 3; do
  s=$(share_mib warm $r)
  [ -n "$s" ] || { failed "share of device $r (no --verbose report)" warm; exit 1; }
  shares+=("$s")
  if [ -n "${RING_CAP_MB:-}" ]; then
    caps+=("$RING_CAP_MB")
  else
    caps+=("$(awk -v s="$s" -v f="$share" 'BEGIN { printf "%d", s * f }')")
  fi
done
echo "== shares of the weights (MiB, devices 0-3): ${shares[*]}; caps (MiB): ${caps[*]}"
for r in 0 1 2 3; do
  awk -v c="${caps[$r]}" -v s="${shares[$r]}" 'BEGIN { exit !(c < s) }' \
    || echo "ring: warning: device $r's cap ${caps[$r]} MiB is not below its share ${shares[$r]} MiB"
done

printf '\n| ring | policy | run | TPOT ms | memory pressure %% (dev 0 / 1 / 2 / 3) | peak MiB (dev 0 / 1 / 2 / 3) | resident weights MiB (end) | tokens | rc |\n'
printf '|------|--------|-----|---------|------------------------------------------|------------------------------|----------------------------|--------|----|\n'
row() {   # row LABEL POLICY N TAG RC
  local t=$4 pr=() pk=() rs=() same=same r
  for r in 0 1 2 3; do
    pr+=("$(pressure "$t" $r)")
    pk+=("$(peak "$t" $r)")
    rs+=("$(resident "$t" $r)")
  done
  cmp -s "$ref" "$T/$t.ids" || { same="DIFFER ($(tr '\n' ' ' < "$T/$t.ids" 2> /dev/null))"; fail=1; }
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$(tpot "$T/$t.head")" \
    "$(IFS=/; echo "${pr[*]}" | sed 's,/, / ,g')" "$(IFS=/; echo "${pk[*]}" | sed 's,/, / ,g')" \
    "$(IFS=/; echo "${rs[*]}" | sed 's,/, / ,g')" "$same" "$5"
}
for n in $(seq "$repeats"); do
  run_ring "free$n" "0 0 0 0" force auto
  rc=$?
  row "uncapped (warm)" force+auto "$n" "free$n" $rc
  [ $rc = 0 ] || { fail=1; failed "uncapped ring" "free$n"; }
done
for p in $policies; do
  for n in $(seq "$repeats"); do
    tag=${p/:/-}$n
    drop_cache
    run_ring "$tag" "${caps[*]}" "${p%%:*}" "${p##*:}"
    rc=$?
    row "caps ${caps[*]} MiB" "${p%%:*}+${p##*:}" "$n" "$tag" $rc
    [ $rc = 0 ] || { fail=1; failed "capped ring, $p" "$tag"; }
  done
done
echo
echo "TPOT: the head's decode time / tokens. Memory pressure per device: (available at start - lowest available"
echo "while generating) / device memory (prima --verbose; the device is the cgroup cap when capped, else the"
echo "machine). Peak: the cgroup's max usage (page cache included). Load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ $mode = relay ]; then
  for i in 0 1 2 3; do kill -TERM "${RELAYS[$i]}" 2> /dev/null; wait "${RELAYS[$i]}" 2> /dev/null; done
  RELAYS=()
  grep -h "chunks held" "$T"/relay?.err | sed 's/^/relay: /'
fi
exit $fail
