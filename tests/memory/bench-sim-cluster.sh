#!/bin/bash
# gst-prima: a model larger than each device's memory, over a ring of simulated home devices.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-sim-cluster.sh BUILD_DIR MODEL
#
# The issue-16 setup (docs/memory.md, "The memory-starved ring"): SIM_DEVICES
# processes on loopback (`prima run` as rank 0, `prima worker`s), each one
# simulated device by ../shared/tools/device.sh: a cgroup-v1 memory cap
# (RAM + page cache), a CPU quota and a read bandwidth limit on the model's
# disk. The model's page cache is dropped before every run. TPOT = (wall for
# N_GEN tokens - wall for N_SHORT tokens) / (N_GEN - N_SHORT), each wall the
# head's, from its start to its exit (workers start first), so start-up, the
# first pass over the weights and the prompt cancel out.
#
# First an uncapped run (warm page cache) gives the reference tokens; every
# capped run must give them (the N_SHORT runs their prefix). Every process
# runs with PRIMA_TRACE=1: per token and device, where the time went
# (compute, disk wait, activation wait; docs/memory.md); the script prints
# the median over the timed tokens of the N_GEN runs per device.
#
# PRIMA_CPP=path/to/llama-cli: prima.cpp's ring on the same devices, run by
# run alternating with ours (its flags: ../shared/ref-build.md; ports 9000+
# and 10000+rank); its TPOT is measured the same way.
#
# Environment: SIM_LW (2,2,2,2; `auto`: no -lw, the head's self-scheduled
# plan from the devices' profiles, as `prima run` does it), SIM_DEVICES (4),
# SIM_MEM_MB (600), SIM_CPU_PCT (50), SIM_READ_MBPS (200), SIM_CPU_SHARES
# (8192: the devices' weight against the host's other programs), N_GEN (6), N_SHORT
# (2), REPEATS (3), THREADS (1), CTX (512), PRIMA_FLAGS (--prefetch: extra
# flags for our processes, e.g. "--prefetch-mode advise"), CPP_FLAGS
# (--prefetch), BASE_ENV (a second variant of ours, run by run alternating:
# these environment assignments, e.g. PRIMA_PREFETCH_AHEAD=1, the former
# read-ahead), DEVICE_SH (PRIMA_SHARED_DIR or ../shared: tools/device.sh), SIM_PORT (7755), PRIMA_TRACE (1; 2 adds every read and window
# event), KEEP_LOGS (a folder to copy the logs into).
# MODEL should be a copy no other program uses (their mappings keep its pages
# cached; the script warns). Needs root and cgroup v1 (memory, cpu, blkio); skips (exit 0) with a
# message otherwise. Exit 1 when a run fails or its tokens differ.
set -u
build=$1 model=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
prima=$(cd "$build" && pwd)/pipelines/prima
device=${DEVICE_SH:-${PRIMA_SHARED_DIR:-$src/../shared}/tools/device.sh}
lw=${SIM_LW:-2,2,2,2}
ndev=${SIM_DEVICES:-4}
mem=${SIM_MEM_MB:-600}
cpu=${SIM_CPU_PCT:-50}
rd=${SIM_READ_MBPS:-200}
shares=${SIM_CPU_SHARES:-8192}
n_gen=${N_GEN:-6}
n_short=${N_SHORT:-2}
repeats=${REPEATS:-3}
threads=${THREADS:-1}
ctx=${CTX:-512}
pflags=${PRIMA_FLAGS:---prefetch}
cflags=${CPP_FLAGS:---prefetch}
port=${SIM_PORT:-7755}
trace=${PRIMA_TRACE:-1}
cpp=${PRIMA_CPP:-}
prompt="Once upon a time"

[ "$(id -u)" = 0 ] || { echo "sim-cluster: SKIP: needs root"; exit 0; }
for c in memory cpu blkio; do
  [ -d /sys/fs/cgroup/$c ] && [ -w /sys/fs/cgroup/$c ] \
    || { echo "sim-cluster: SKIP: needs cgroup v1 $c at /sys/fs/cgroup/$c"; exit 0; }
done
[ -x "$device" ] || [ -f "$device" ] || { echo "sim-cluster: SKIP: no $device"; exit 0; }
[ -x "$prima" ] || { echo "sim-cluster: no $prima"; exit 1; }
[ -f "$model" ] || { echo "sim-cluster: no model $model"; exit 1; }
[ "$n_gen" -gt "$n_short" ] || { echo "sim-cluster: N_GEN must be above N_SHORT"; exit 1; }

T=$(mktemp -d /tmp/prima-sim-cluster.XXXXXX)
PIDS=()
CGS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2> /dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null; done
  for cg in "${CGS[@]}"; do
    for c in memory cpu blkio; do rmdir "/sys/fs/cgroup/$c/$cg" 2> /dev/null; done
  done
  [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp -r "$T"/. "$KEEP_LOGS"/
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Drop the model's page cache. Pages another process maps stay (a second
# benchmark or llama-cli on the same file): then the devices read them from
# memory, not from their throttled disks, and the runs measure nothing of
# the disk. Say so (use a private copy of the model).
drop_cache() {
  local res
  sync
  dd if="$model" iflag=nocache count=0 status=none
  command -v fincore > /dev/null || return 0
  res=$(fincore -b -n -o RES "$model" 2> /dev/null | tr -d ' ')
  [ -n "$res" ] && [ "$res" -gt $((size / 20)) ] \
    && echo "sim-cluster: WARNING: $((res / 1048576)) MiB of the model stay cached after the drop (another process maps it): use a private copy"
  return 0
}
now() { date +%s.%N; }

# disk_mib CGROUP: MiB its processes read from disk (blkio)
disk_mib() { awk '$2 == "Read" { s += $3 } END { printf "%.0f", s / 1048576 }' "/sys/fs/cgroup/blkio/$1/blkio.throttle.io_service_bytes" 2> /dev/null; }

# devcmd NAME: the prefix that runs a command as one simulated device (cgroup NAME, removed at exit)
# The device's cpu cgroup is made first with SIM_CPU_SHARES (default 8192, the
# root's 1024 x 8): each device still gets at most its quota, but on a busy
# host the other programs no longer starve it below (measured: a device's
# compute ran at 6% of a core under a load of 30, never throttled by its quota).
devcmd() {
  mkdir -p "/sys/fs/cgroup/cpu/$1" && echo "$shares" > "/sys/fs/cgroup/cpu/$1/cpu.shares"
  DEV=(env DEVICE_DISK_PATH="$model" bash "$device" "$1" "$mem" "$cpu" "$rd")
  CGS+=("$1")
}

# ours TAG N CAPPED [ENV...]: one ring run; wall seconds in $T/TAG.wall, logs $T/TAG.{head,w1..}, ids $T/TAG.ids
ours() {
  local tag=$1 n=$2 capped=$3 pids=() r rc t0 t1 p key lwopt=() xenv=("${@:4}")
  key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  [ "$lw" = auto ] || lwopt=(-lw "$lw")
  for r in $(seq $((ndev - 1)) -1 1); do
    local cmd=(env PRIMA_CLUSTER_KEY="$key" PRIMA_TRACE="$trace" "${xenv[@]}" "$prima" worker -m "$model" --world "$ndev"
      --rank "$r" --master 127.0.0.1 --next 127.0.0.1 --port "$port" -t "$threads" --once --verbose $pflags)
    if [ "$capped" = 1 ]; then
      devcmd "psim$$-$tag-$r"
      "${DEV[@]}" "${cmd[@]}" > "$T/$tag.w$r" 2>&1 &
    else
      "${cmd[@]}" > "$T/$tag.w$r" 2>&1 &
    fi
    pids+=($!)
    PIDS+=($!)
  done
  local cmd=(env PRIMA_CLUSTER_KEY="$key" PRIMA_TRACE="$trace" "${xenv[@]}" "$prima" run -m "$model" --world "$ndev" --rank 0
    --next 127.0.0.1 --port "$port" "${lwopt[@]}" -p "$prompt" -n "$n" -c "$ctx" -t "$threads" --temp 0
    --ignore-eos --no-display-prompt --ids-out "$T/$tag.ids" --verbose $pflags)
  t0=$(now)
  if [ "$capped" = 1 ]; then
    devcmd "psim$$-$tag-0"
    timeout 1800 "${DEV[@]}" "${cmd[@]}" > "$T/$tag.out" 2> "$T/$tag.head"
  else
    timeout 1800 "${cmd[@]}" > "$T/$tag.out" 2> "$T/$tag.head"
  fi
  rc=$?
  t1=$(now)
  [ $rc = 0 ] || for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do wait "$p" || rc=$((rc ? rc : 10)); done
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' > "$T/$tag.wall"
  return $rc
}

# cpp TAG N: prima.cpp's ring on the same devices (always capped)
cpp() {
  local tag=$1 n=$2 pids=() r rc t0 t1 p
  for r in $(seq $((ndev - 1)) -1 1); do
    devcmd "psim$$-$tag-$r"
    "${DEV[@]}" "$cpp" -m "$model" --world "$ndev" --rank "$r" --master 127.0.0.1 --next 127.0.0.1 \
      -t "$threads" -c "$ctx" $cflags < /dev/null > "$T/$tag.w$r" 2>&1 &
    pids+=($!)
    PIDS+=($!)
  done
  t0=$(now)
  devcmd "psim$$-$tag-0"
  timeout 1800 "${DEV[@]}" "$cpp" -m "$model" --world "$ndev" --rank 0 --master 127.0.0.1 \
    --next 127.0.0.1 -lw "${lw/auto/2,2,2,2}" -p "$prompt" -n "$n" -c "$ctx" -t "$threads" --temp 0 --ignore-eos \
    $cflags < /dev/null > "$T/$tag.out" 2> "$T/$tag.head"
  rc=$?
  t1=$(now)
  # its workers do not always exit with the head
  sleep 1
  for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }' > "$T/$tag.wall"
  return $rc
}

fail=0
size=$(stat -c %s "$model")
echo "== sim-cluster: $ndev devices on loopback ($mem MB incl. page cache, $cpu% of a core, $rd MB/s read each;"
echo "   device.sh), -lw $lw, $pflags, -t $threads, -c $ctx, TPOT = (wall $n_gen tokens - wall $n_short) / $((n_gen - n_short))"
echo "== model $model: $((size / 1048576)) MiB; machine: $(nproc) cores, kernel $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"

ours ref "$n_gen" 0 || { echo "sim-cluster: the uncapped run failed"; tail -n 5 "$T/ref.head" "$T"/ref.w*; exit 1; }
ref=$T/ref.ids
echo "== reference (uncapped, warm): tokens $(cat "$ref")"
grep -h "^plan\|predicted" "$T/ref.head" | head -n 3 | sed 's/^/   /'

# check_ids TAG N: the run's tokens are the reference's first N
check_ids() {
  if [ "$(tr -s ' \n' '\n\n' < "$ref" | head -n "$2")" != "$(tr -s ' \n' '\n\n' < "$T/$1.ids" 2> /dev/null)" ]; then
    echo "sim-cluster: $1: tokens DIFFER: $(cat "$T/$1.ids" 2> /dev/null)"
    fail=1
  fi
}

progs=(ours)
[ -n "${BASE_ENV:-}" ] && progs+=(base)
[ -n "$cpp" ] && progs+=(cpp)
printf '\n| program | run | wall %s tok s | wall %s tok s | TPOT s |\n|---|---|---|---|---|\n' "$n_short" "$n_gen"
for i in $(seq "$repeats"); do
  for pg in "${progs[@]}"; do
    for n in "$n_short" "$n_gen"; do
      tag=$pg$i-$n
      drop_cache
      if [ "$pg" = ours ] || [ "$pg" = base ]; then
        xe=()
        [ "$pg" = base ] && read -r -a xe <<< "$BASE_ENV"
        ours "$tag" "$n" 1 "${xe[@]}" || { echo "sim-cluster: $tag failed"; tail -n 4 "$T/$tag.head"; fail=1; }
        check_ids "$tag" "$n"
      else
        cpp "$tag" "$n" || { echo "sim-cluster: $tag failed"; tail -n 4 "$T/$tag.head"; fail=1; }
      fi
    done
    a=$(cat "$T/$pg$i-$n_short.wall") b=$(cat "$T/$pg$i-$n_gen.wall")
    for r in $(seq 0 $((ndev - 1))); do
      x=$(disk_mib "psim$$-$pg$i-$n_short-$r") y=$(disk_mib "psim$$-$pg$i-$n_gen-$r")
      [ -n "$x" ] && [ -n "$y" ] && awk -v x="$x" -v y="$y" -v d=$((n_gen - n_short)) 'BEGIN { printf "%.0f\n", (y - x) / d }' >> "$T/$pg.disk$r"
    done
    t=$(awk -v a="$a" -v b="$b" -v d=$((n_gen - n_short)) 'BEGIN { printf "%.2f", (b - a) / d }')
    echo "$t" >> "$T/$pg.tpot"
    printf '| %s | %s | %s | %s | %s |\n' "$pg" "$i" "$a" "$b" "$t"
  done
done

echo
for pg in "${progs[@]}"; do
  sort -g "$T/$pg.tpot" | awk -v p="$pg" '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s: TPOT median %.2f s/token, min %.2f, max %.2f (%d runs)\n", p, m, v[1], v[NR], NR }'
done

# where the time goes: the trace lines of our N_GEN runs, tokens after the first
# (trace: token T: compute C ms, disk wait D ms, activation wait A ms, read R MiB in S ms)
echo
echo "Per device and token (median over the N_GEN runs' decode tokens; ms; PRIMA_TRACE, docs/memory.md): compute"
echo "(of it the thread's cpu time; the rest: page faults, the CPU quota, other programs), disk wait (for the"
echo "window's read ahead), activation wait; read ahead: MiB the helper advised/read and its busy time; disk:"
echo "what the device's cgroup read from the disk (blkio), (N_GEN run - N_SHORT run) / (N_GEN - N_SHORT)."
printf '| program | device | compute | of it cpu | disk wait | activation wait | token | read ahead MiB | read busy | disk MiB/token |\n|---|---|---|---|---|---|---|---|---|---|\n'
for pg in "${progs[@]}"; do
[ "$pg" = cpp ] && continue
for r in $(seq 0 $((ndev - 1))); do
  for i in $(seq "$repeats"); do
    f=$T/$pg$i-$n_gen.w$r
    [ "$r" = 0 ] && f=$T/$pg$i-$n_gen.head
    sed -n 's/^trace: token \([0-9]*\): compute \([0-9.]*\) ms, disk wait \([0-9.]*\) ms, activation wait \([0-9.]*\) ms, token \([0-9.]*\) ms, read \([0-9.]*\) MiB in \([0-9.]*\) ms, major faults [-0-9]*, cpu \([0-9.]*\) ms.*/\1 \2 \3 \4 \5 \6 \7 \8/p' "$f" 2> /dev/null
  done | awk -v r="$r" -v pg="$pg" -v disk="$(cat "$T/$pg.disk$r" 2> /dev/null | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')" \
    '$1 >= 1 { n++; for (k = 2; k <= 8; k++) col[k] = col[k] " " $k }
    function med(s,   a, m, i, j, t) { m = split(s, a, " "); for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m ? (m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2) : "-" }
    END { if (n) printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", pg, r, med(col[2]),
      med(col[8]), med(col[3]), med(col[4]), med(col[5]), med(col[6]), med(col[7]), disk;
      else printf "| %s | %d | - | - | - | - | - | - | - | %s |\n", pg, r, disk }'
done
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $fail
