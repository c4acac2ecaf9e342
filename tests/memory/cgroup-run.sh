#!/bin/bash
# gst-prima tests: run a command under a memory cap, as one simulated device.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# cgroup-run.sh [--v1|--v2] [--cpu-pct N] [--read-mbps N --disk-path PATH] [--name NAME] MEM_MB CMD...
#
# Makes a memory cgroup below this process's own (v1: memory.limit_in_bytes,
# page cache included, and memsw at the same value so nothing swaps; v2:
# memory.max and memory.swap.max 0), runs CMD in it, removes it. Like
# ../shared/tools/device.sh, optionally with a CPU quota and a read bandwidth
# limit on the disk holding --disk-path (v1 only). After CMD, prints on
# stderr: "cgroup-run: v1 cap 100 MiB, max usage 99.8 MiB, oom kills 0, rc 0".
# Exit status: CMD's; 77 (the automake/meson "skipped" code) with a clear
# message when not root or no usable memory cgroup; 3 when the kernel
# OOM-killed anything in the cgroup (even if CMD survived).
set -u
want=any cpu= rd= disk=. name=prima-mem-$$
while [ $# -gt 0 ]; do
  case $1 in
    --v1) want=v1 ;;
    --v2) want=v2 ;;
    --cpu-pct) cpu=$2; shift ;;
    --read-mbps) rd=$2; shift ;;
    --disk-path) disk=$2; shift ;;
    --name) name=$2; shift ;;
    *) break ;;
  esac
  shift
done
[ $# -ge 2 ] || { echo "usage: cgroup-run.sh [--v1|--v2] [--cpu-pct N] [--read-mbps N --disk-path P] MEM_MB CMD..." >&2; exit 2; }
mem=$1; shift
skip() { echo "cgroup-run: SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root to create cgroups"

# Mount points from mountinfo: field 5 is the mount point; after " - " come
# the type and the super options.
v1_root=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)memory(,|$)/) print $5; break } }' /proc/self/mountinfo | head -n 1)
v2_root=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") print $5; break } }' /proc/self/mountinfo | head -n 1)
v1_rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup | head -n 1)
v2_rel=$(awk -F: '$1 == "0" && $2 == "" { print $3 }' /proc/self/cgroup | head -n 1)

cg= ver=
if [ "$want" != v2 ] && [ -n "$v1_root" ] && [ -n "$v1_rel" ]; then
  cg=$v1_root${v1_rel%/}/$name ver=v1
  mkdir -p "$cg" 2>/dev/null && [ -f "$cg/memory.limit_in_bytes" ] || { rmdir "$cg" 2>/dev/null; cg=; }
fi
if [ -z "$cg" ] && [ "$want" != v1 ] && [ -n "$v2_root" ] && [ -n "$v2_rel" ]; then
  parent=$v2_root${v2_rel%/}
  # the memory controller must be enabled for the parent's children
  if grep -qw memory "$parent/cgroup.controllers" 2>/dev/null; then
    grep -qw memory "$parent/cgroup.subtree_control" || echo +memory > "$parent/cgroup.subtree_control" 2>/dev/null
    cg=$parent/$name ver=v2
    mkdir -p "$cg" 2>/dev/null && [ -f "$cg/memory.max" ] || { rmdir "$cg" 2>/dev/null; cg=; }
  fi
fi
[ -n "$cg" ] || skip "no usable memory cgroup (wanted $want; v1 memory at '${v1_root:-none}', cgroup2 at '${v2_root:-none}' without the memory controller for this process)"

bytes=$((mem * 1048576))
if [ $ver = v1 ]; then
  echo $bytes > "$cg/memory.limit_in_bytes"
  [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo $bytes > "$cg/memory.memsw.limit_in_bytes" 2>/dev/null
  echo 0 > "$cg/memory.swappiness" 2>/dev/null
else
  echo $bytes > "$cg/memory.max"
  [ -f "$cg/memory.swap.max" ] && echo 0 > "$cg/memory.swap.max"
fi

extra=()
cleanup() {
  for d in "$cg" "${extra[@]}"; do
    [ -d "$d" ] || continue
    # anything left (a stray child) goes back to our own cgroup first
    if [ -s "$d/cgroup.procs" ]; then
      while read -r p; do echo "$p" > "$(dirname "$d")/cgroup.procs" 2>/dev/null; done < "$d/cgroup.procs"
    fi
    rmdir "$d" 2>/dev/null
  done
}
trap cleanup EXIT

if [ $ver = v1 ] && { [ -n "$cpu" ] || [ -n "$rd" ]; }; then
  cpu_root=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)cpu(,|$)/) print $5; break } }' /proc/self/mountinfo | head -n 1)
  blk_root=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup" && $(i+3) ~ /(^|,)blkio(,|$)/) print $5; break } }' /proc/self/mountinfo | head -n 1)
  if [ -n "$cpu" ] && [ -n "$cpu_root" ]; then
    d=$cpu_root$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3 }' /proc/self/cgroup | head -n 1 | sed 's,/$,,')/$name
    mkdir -p "$d" && extra+=("$d")
    echo 100000 > "$d/cpu.cfs_period_us"
    echo $((cpu * 1000)) > "$d/cpu.cfs_quota_us"
  fi
  if [ -n "$rd" ] && [ -n "$blk_root" ]; then
    dev=$(lsblk -no MAJ:MIN "$(findmnt -no SOURCE -T "$disk")" 2>/dev/null | head -n 1 | tr -d " ")
    if [ -n "$dev" ]; then
      d=$blk_root$(awk -F: '$2 ~ /(^|,)blkio(,|$)/ { print $3 }' /proc/self/cgroup | head -n 1 | sed 's,/$,,')/$name
      mkdir -p "$d" && extra+=("$d")
      echo "$dev $((rd * 1048576))" > "$d/blkio.throttle.read_bps_device"
    else
      echo "cgroup-run: no block device for $disk: no read limit" >&2
    fi
  fi
fi

# The child joins the cgroups, then becomes CMD.
sh -c 'for d in "$@"; do [ "$d" = -- ] && break; echo $$ > "$d/cgroup.procs"; done
       while [ "$1" != -- ]; do shift; done; shift; exec "$@"' sh "$cg" "${extra[@]}" -- "$@" &
pid=$!
wait $pid
rc=$?

if [ $ver = v1 ]; then
  oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control" 2>/dev/null)
  peak=$(cat "$cg/memory.max_usage_in_bytes" 2>/dev/null)
else
  oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events" 2>/dev/null)
  peak=$(cat "$cg/memory.peak" 2>/dev/null)
fi
printf 'cgroup-run: %s cap %d MiB, max usage %s MiB, oom kills %s, rc %d\n' $ver "$mem" \
  "$( [ -n "${peak:-}" ] && awk -v p="$peak" 'BEGIN { printf "%.1f", p / 1048576 }' || echo '?')" "${oom:-?}" $rc >&2
[ "${oom:-0}" = 0 ] || exit 3
exit $rc
