#!/bin/bash
# gst-prima: Halda's prediction against the measured token time on issue 16's memory-starved ring.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-sim-auto.sh BUILD_DIR MODEL [LW]   (root, cgroup v1; not part of any suite)
#
# Four processes on loopback (`prima run` as rank 0, three `prima worker`s), each one simulated device
# under ../shared/tools/device.sh (PRIMA_SHARED_DIR or ../shared; default 600 MB RAM + page cache, 50% of one core, 200 MB/s reads from
# the model's disk; SIM_DEVICE="MEM_MB CPU_PCT READ_MBPS"), 1 thread, -c 512, greedy, the memory
# defaults (force + auto). Without LW the ring schedules itself (the head profiles every device and
# solves with Halda) and the head's predicted token time is printed beside the measured one; with LW
# (e.g. 2,2,2,2) that plan runs. The page cache is dropped before each run. TPOT = (wall for 6 tokens -
# wall for 2) / 4, as in the issue; REPEATS runs of each (default 1). Run it alone: a process without a
# cap that maps the same model (a bench, an uncapped ring) keeps its pages cached for every cgroup, and the
# devices then read nothing from the disk.
#
#   tests/scheduler/bench-sim-auto.sh build /var/tmp/prima-models/llama-8b-q4km.gguf
set -u
build=$1 model=$2 lw=${3:-}
prima=$build/pipelines/prima
src=$(cd "$(dirname "$0")/../.." && pwd)
device=${DEVICE_SH:-${PRIMA_SHARED_DIR:-$src/../shared}/tools/device.sh}
read -r mem cpu rd <<<"${SIM_DEVICE:-600 50 200}"
repeats=${REPEATS:-1}
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -x "$device" ] || [ -f "$device" ] || { echo "SKIP: no $device"; exit 77; }
T=$(mktemp -d)
# device.sh leaves its cgroups: remove ours (empty once the processes are gone)
cleanup () {
  for c in memory cpu blkio; do
    for d in /sys/fs/cgroup/$c/halda-sim-$$-*; do [ -d "$d" ] && rmdir "$d" 2> /dev/null; done
  done
  rm -rf "$T"
}
trap cleanup EXIT
export PRIMA_CLUSTER_KEY=bench-sim-auto-key-0123456789
export DEVICE_DISK_PATH=$model

# run N: wall seconds of a ring that generates N tokens; the head's log in $T/head-N.log
ring () {
  local n=$1 base=$((20000 + RANDOM % 12000)) pids=() t0 t1 lwarg=()
  [ -n "$lw" ] && lwarg=(-lw "$lw")
  sync; echo 3 > /proc/sys/vm/drop_caches
  for r in 1 2 3; do
    bash "$device" "halda-sim-$$-$r" "$mem" "$cpu" "$rd" \
        "$prima" worker --once --world 4 --rank "$r" --port $base -m "$model" -t 1 2> "$T/w$r-$n.log" &
    pids+=($!)
  done
  t0=$(date +%s.%N)
  bash "$device" "halda-sim-$$-0" "$mem" "$cpu" "$rd" \
      "$prima" run --world 4 --port $base -m "$model" -t 1 -c 512 "${lwarg[@]}" -p "Once upon a time" -n "$n" \
      --temp 0 > /dev/null 2> "$T/head-$n.log"
  local rc=$?
  t1=$(date +%s.%N)
  for p in "${pids[@]}"; do wait "$p"; done
  [ $rc -eq 0 ] || { echo "head failed ($rc):" >&2; tail -5 "$T/head-$n.log" >&2; return 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "# $(basename "$model"), 4 devices of $mem MB / $cpu% CPU / $rd MB/s, -lw ${lw:-auto}"
for i in $(seq "$repeats"); do
  w2=$(ring 2) || exit 1
  w6=$(ring 6) || exit 1
  tpot=$(awk -v a="$w2" -v b="$w6" 'BEGIN { printf "%.2f", (b - a) / 4 }')
  pred=$(sed -n 's/^prima run: predicted token latency \([0-9.]*\) ms.*/\1/p' "$T/head-6.log")
  # layers per token of each rank: the column after "rank N (host) CASE w n p q"
  plan=$(awk '/^rank [0-9]+ \(/ { printf "%s%s", sep, $9; sep = "," }' "$T/head-6.log")
  sed -n '/^k = /,/^prima run: predicted/p' "$T/head-6.log" | sed 's/^/#   /'
  if [ -n "$pred" ]; then
    echo "run $i: plan ${plan:-?} predicted $(awk -v p="$pred" 'BEGIN { printf "%.2f", p / 1000 }') s, measured TPOT $tpot s" \
        "(wall 2 tokens $w2 s, 6 tokens $w6 s; error $(awk -v p="$pred" -v m="$tpot" 'BEGIN { printf "%+.0f%%", (m * 1000 - p) / p * 100 }'))"
  else
    echo "run $i: -lw $lw measured TPOT $tpot s (wall 2 tokens $w2 s, 6 tokens $w6 s)"
  fi
done
