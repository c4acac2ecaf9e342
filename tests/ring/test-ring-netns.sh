#!/bin/bash
# gst-prima: a ring of 3 processes, each in its own network namespace (issue 4, point 2).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# test-ring-netns.sh [DELAY-RELAY]
#
# Three namespaces joined in a ring of veth pairs (ns0 -> ns1 -> ns2 -> ns0, addresses in
# 10.231.0.0/16 that exist only inside these namespaces), 5 ms +- 1 ms on the sending end of every
# hop: `tc netem delay 5ms 1ms` where the kernel has sch_netem, else DELAY-RELAY (tests/ring/
# delay-relay.c) in each namespace: it listens on that namespace's end of the hop, on the next
# device's port, and relays to the next device, holding every chunk 5 ms +- 1 ms each way; the
# device's --next is the relay. The ring uses no other connection between ranks (with -lw the setup
# round rides the same hops; a worker's --master only stands in for a missing --next). The head runs
# in ns0, worker 1 in ns1, worker 2 in ns2. Checks that the greedy tokens equal a single-device run,
# and reports the decode time per token against the same ring on loopback (inside ns0): the
# overhead per token should be about 3 hops x 5 ms. Needs root and `ip netns`; skips (77) otherwise.
# Everything it creates (processes, namespaces, veths) is removed by the EXIT trap, also on failure.
#
# As a benchmark (tests/model/bench-spec.sh's ring with latency): NETNS_HEAD_ARGS adds flags to the
# head's runs (e.g. a draft model: -md FILE --draft 4), NETNS_N_GEN sets the tokens (default 32); the
# delay's sanity bound is then not checked (speculative decoding verifies several tokens per round trip).
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
RELAY=${1:-}
M=$D/stories260K-f32.gguf
DELAY_MS=5
JITTER_MS=1
N_GEN=${NETNS_N_GEN:-32}
read -r -a HEAD_ARGS <<<"${NETNS_HEAD_ARGS:-}"

skip () { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth pairs, tc netem or the delay relay)"
command -v ip >/dev/null || skip "no ip(8) (iproute2)"
command -v tc >/dev/null || skip "no tc(8) (iproute2)"

NS=(prima$$-0 prima$$-1 prima$$-2)
T=$(mktemp -d)
PIDS=()
cleanup () {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  # deleting a namespace deletes the veth ends inside it (and so their peers)
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  for i in 0 1 2; do ip link del "pr${i}o$$" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "${NS[0]}" 2>"$T/err" || skip "ip netns does not work here: $(cat "$T/err")"
ip netns add "${NS[1]}" && ip netns add "${NS[2]}" || skip "ip netns add failed"

fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
nsx () { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# hop i: pr<i>o (in ns i, 10.231.i.1) -> pr<i>i (in ns i+1, 10.231.i.2). Every namespace forwards
# the rest of 10.231.0.0/16 to its next device, so any address is reachable around the ring.
for i in 0 1 2; do
  nsx "${NS[$i]}" ip link set lo up || skip "cannot bring up lo in a namespace"
  nsx "${NS[$i]}" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
      net.ipv4.conf.default.rp_filter=0 >/dev/null 2>&1
done
for i in 0 1 2; do
  j=$(((i + 1) % 3))
  ip link add "pr${i}o$$" type veth peer name "pr${i}i$$" 2>"$T/err" || skip "cannot make veth pairs: $(cat "$T/err")"
  ip link set "pr${i}o$$" netns "${NS[$i]}" && ip link set "pr${i}i$$" netns "${NS[$j]}" || skip "cannot move veths"
  nsx "${NS[$i]}" ip addr add "10.231.$i.1/24" dev "pr${i}o$$"
  nsx "${NS[$j]}" ip addr add "10.231.$i.2/24" dev "pr${i}i$$"
  nsx "${NS[$i]}" ip link set "pr${i}o$$" up
  nsx "${NS[$j]}" ip link set "pr${i}i$$" up
done
# the delay: netem when this kernel has sch_netem; else the userspace relay (below, once the ports
# are known); else (no relay given) the ring runs without delay and the delay check is skipped
mode=netem
for i in 0 1 2; do
  nsx "${NS[$i]}" ip route add 10.231.0.0/16 via "10.231.$i.2" dev "pr${i}o$$" || bad "route in ${NS[$i]}"
  if [ $mode = netem ] && ! nsx "${NS[$i]}" tc qdisc add dev "pr${i}o$$" root netem delay ${DELAY_MS}ms ${JITTER_MS}ms 2>"$T/err"; then
    echo "# tc netem: $(head -n 1 "$T/err")"
    for k in 0 1 2; do nsx "${NS[$k]}" tc qdisc del dev "pr${k}o$$" root 2>/dev/null; done
    if [ -n "$RELAY" ] && [ -x "$RELAY" ]; then
      mode=relay
      echo "# netem unavailable (kernel $(uname -r) lacks sch_netem): userspace delay relay in each namespace"
    else
      mode=none
      echo "# netem unavailable (kernel $(uname -r) lacks sch_netem) and no delay relay given: no delay; the delay check is skipped"
    fi
  fi
done
case $mode in
  netem) DELAY_DESC="netem ${DELAY_MS} ms +- ${JITTER_MS} ms per hop" ;;
  relay) DELAY_DESC="delay relay ${DELAY_MS} ms +- ${JITTER_MS} ms per hop" ;;
  *) DELAY_DESC="no delay: netem unavailable" ;;
esac
# the next device's address, seen from namespace i (the data ring's devices); with the relay each
# device connects to the relay on its own end of the hop instead
NEXT=(10.231.0.2 10.231.1.2 10.231.2.2)
CONNECT=("${NEXT[@]}")
[ $mode = relay ] && CONNECT=(10.231.0.1 10.231.1.1 10.231.2.1)
for i in 0 1 2; do
  nsx "${NS[$i]}" ping -c 1 -W 2 "${NEXT[$i]}" >/dev/null 2>&1 || { command -v ping >/dev/null && bad "ping ${NEXT[$i]} from ${NS[$i]}"; }
done

ARGS=(-m "$M" -p "Once upon a time" -n $N_GEN --temp 0 -t 1)
per_token () {   # head stderr -> ms per decoded token
  sed -n 's/.*decode \([0-9]*\) tokens in \([0-9.]*\) ms.*/\1 \2/p' "$1" | awk '$1 > 0 { printf "%.3f", $2 / $1 }'
}

timeout 30 "$P" run "${ARGS[@]}" --ids-out "$T/single.ids" >/dev/null 2>"$T/single.err" \
    || { bad "single-device run"; cat "$T/single.err"; echo "1..$n"; exit 1; }

# the same ring on loopback, inside ns0 (its own lo: no clash with ports outside)
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
if timeout 30 ip netns exec "${NS[0]}" "$P" run "${ARGS[@]}" "${HEAD_ARGS[@]}" --local-ring 3 -lw 1,2,2 --port $BASE \
    --ids-out "$T/lo.ids" >/dev/null 2>"$T/lo.err" && cmp -s "$T/single.ids" "$T/lo.ids"; then
  lo=$(per_token "$T/lo.err")
  ok "loopback ring of 3, -lw 1,2,2: same tokens, ${lo} ms/token"
else
  lo=
  bad "loopback ring of 3"; tail -20 "$T/lo.err"
fi

# the ring across the namespaces, ports BASE + rank on each device's own address
BASE=$((BASE + 10))
RPIDS=()
if [ $mode = relay ]; then
  # in namespace i, on its end of hop i, the next device's port: each hop crosses one relay
  for i in 0 1 2; do
    j=$(((i + 1) % 3))
    ip netns exec "${NS[$i]}" "$RELAY" --listen "${CONNECT[$i]}:$((BASE + j))" --to "${NEXT[$i]}:$((BASE + j))" \
        --delay-ms $DELAY_MS --jitter-ms $JITTER_MS --seed $((i + 1)) 2>"$T/relay$i.err" &
    PIDS+=($!)
    RPIDS+=($!)
  done
  for i in 0 1 2; do
    for t in $(seq 50); do grep -q listening "$T/relay$i.err" && break; sleep 0.05; done
    grep -q listening "$T/relay$i.err" || { bad "delay relay in ${NS[$i]}"; cat "$T/relay$i.err"; }
  done
fi
KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
WPIDS=()
for r in 1 2; do
  PRIMA_CLUSTER_KEY=$KEY timeout 40 ip netns exec "${NS[$r]}" "$P" worker --once --world 3 --rank $r --port $BASE \
      --master 10.231.2.2 --next "${CONNECT[$r]}" -m "$M" -t 1 2>"$T/w$r.err" &
  PIDS+=($!)
  WPIDS+=($!)
done
# --verbose: the head's ring links log their connections (checked below)
PRIMA_CLUSTER_KEY=$KEY timeout 40 ip netns exec "${NS[0]}" "$P" run "${ARGS[@]}" "${HEAD_ARGS[@]}" --world 3 --next "${CONNECT[0]}" \
    --port $BASE -lw 1,2,2 --verbose --ids-out "$T/ns.ids" >/dev/null 2>"$T/head.err"
rc=$?
rcw=()
for p in "${WPIDS[@]}"; do wait "$p"; rcw+=($?); done
# the relays' own account of what they held back
for p in "${RPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p"; done
PIDS=()
grep -h "connected" "$T/head.err" "$T/w1.err" "$T/w2.err" | grep -v Message | sed 's/^/# /'
[ $mode = relay ] && grep -h "chunks held" "$T"/relay?.err | sed 's/^/# /'
if [ $rc -eq 0 ] && [ "${rcw[*]}" = "0 0" ] && cmp -s "$T/single.ids" "$T/ns.ids" \
    && grep -q "${CONNECT[0]//./\\.}:$((BASE + 1))" "$T/head.err" && grep -q "${CONNECT[2]//./\\.}:$BASE" "$T/w2.err"; then
  ns=$(per_token "$T/head.err")
  ok "ring of 3 namespaces ($DELAY_DESC), -lw 1,2,2: same tokens, ${ns} ms/token"
  grep -h "prima run: draft" "$T/head.err" | sed 's/^/# /'
  if [ ${#HEAD_ARGS[@]} -gt 0 ]; then
    echo "# head flags ${HEAD_ARGS[*]}: decode ${ns} ms/token over the namespaces (loopback ${lo} ms/token)"
  elif [ $mode = none ] && [ -n "$lo" ] && [ -n "$ns" ]; then
    awk -v lo="$lo" -v ns="$ns" 'BEGIN {
      printf "# decode per token: loopback %.3f ms, namespaces (veth, no delay) %.3f ms: overhead %.3f ms per token (%.3f ms per hop)\n", lo, ns, ns - lo, (ns - lo) / 3 }'
    n=$((n + 1)); echo "ok $n - # SKIP per-token overhead vs the delay: no netem and no delay relay"
  elif [ -n "$lo" ] && [ -n "$ns" ]; then
    # one token is 3 hops (-lw 1,2,2 on 5 layers: k = 1)
    awk -v lo="$lo" -v ns="$ns" -v d=$DELAY_MS -v m=$mode 'BEGIN {
      o = ns - lo
      printf "# decode per token: loopback %.3f ms (%.1f tok/s), namespaces+%s %.3f ms (%.1f tok/s): overhead %.3f ms per token\n", lo, 1000 / lo, m, ns, 1000 / ns, o
      printf "# expected from the delay: 3 hops x %d ms = %d ms; overhead beyond it %.3f ms per token (%.3f ms per hop)\n", d, 3 * d, o - 3 * d, (o - 3 * d) / 3 }'
    # a sanity bound, not a benchmark: each hop adds its delay, and not much more
    if awk -v lo="$lo" -v ns="$ns" -v d=$DELAY_MS 'BEGIN { o = ns - lo; exit !(o > 3 * (d - 1) && o < 3 * d + 15) }'; then
      ok "per-token overhead within [3 x $((DELAY_MS - 1)) ms, 3 x $DELAY_MS + 15 ms]"
    else
      bad "per-token overhead out of range"
    fi
  fi
else
  bad "ring of 3 namespaces: head exit $rc, workers ${rcw[*]}"
  cat "$T/single.ids" "$T/ns.ids" 2>/dev/null; tail -20 "$T/head.err"; tail -10 "$T/w1.err" "$T/w2.err"
  [ $mode = relay ] && tail -5 "$T"/relay?.err
fi

echo "1..$n"
exit $fail
