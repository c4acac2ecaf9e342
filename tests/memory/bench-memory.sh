#!/bin/bash
# gst-prima: the memory benchmark (long; not part of any test suite).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-memory.sh [BUILD_DIR]   (run as root from the source tree; BUILD_DIR default ./build)
#
# 1. Generates once and caches a 14B-shape Q4_K_M model (qwen2 shape,
#    ~8.8 GB) under $PRIMA_MODEL_DIR (default /var/tmp/prima-models).
# 2. Single device: greedy generation uncapped (warm page cache), then under
#    a memory cap of a third of the model (cgroup v1, page cache included,
#    the model's cached pages dropped first) with each residency policy.
#    Reports TPOT, memory pressure, resident weights; checks the tokens equal
#    the uncapped run's and that nothing was OOM-killed.
# 3. The 4-process ring (network namespaces, netem 5 ms, each process capped
#    below its share of the weights), when `prima worker` exists; skipped
#    with a message until then.
#
# Environment: N_GEN (default 4), THREADS (default: all cores), POLICIES
# (default "none:never none:auto advise:never advise:auto force:auto
# advise:always"), READ_MBPS / CPU_PCT (optional device limits, v1),
# PRESET (default 14b), SKIP_RING=1.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
prima=$build/pipelines/prima
mem_run=$build/tests/memory/mem-run
cgrun=$src/tests/memory/cgroup-run.sh
model_dir=${PRIMA_MODEL_DIR:-/var/tmp/prima-models}
preset=${PRESET:-14b}
n_gen=${N_GEN:-4}
threads=${THREADS:-$(nproc)}
policies=${POLICIES:-"none:never none:auto advise:never advise:auto force:auto advise:always"}
vocab=${PRIMA_SHARED_DIR:-$src/../shared}/vocab/ggml-vocab-llama-bpe.gguf
[ -x "$prima" ] && [ -x "$mem_run" ] || { echo "build first: $prima, $mem_run" >&2; exit 2; }

mkdir -p "$model_dir"
model=$model_dir/qwen2-$preset-q4km.gguf
if [ ! -f "$model" ]; then
  echo "== generating $model (once)"
  "$prima" mkmodel --vocab-from "$vocab" --arch qwen2 --preset "$preset" "$model.part" && mv "$model.part" "$model" || exit 1
fi
size=$(stat -c %s "$model")
cap=$((size / 3 / 1048576))
echo "== model $model: $((size / 1048576)) MiB; cap $cap MiB (a third); $n_gen tokens; $threads threads"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
dev_args=()
[ -n "${READ_MBPS:-}" ] && dev_args+=(--read-mbps "$READ_MBPS" --disk-path "$model")
[ -n "${CPU_PCT:-}" ] && dev_args+=(--cpu-pct "$CPU_PCT")

val() { sed -n "s/^$1=//p" "$2" | head -n 1; }
out=$(mktemp -d /tmp/prima-bench-mem.XXXXXX)
trap 'rm -rf "$out"' EXIT

# uncapped: one run to warm the page cache, one to measure
"$mem_run" "$model" --n-gen 2 --threads "$threads" > /dev/null 2>&1
"$mem_run" "$model" --n-gen "$n_gen" --threads "$threads" > "$out/ref" 2> "$out/ref.err" || { cat "$out/ref.err"; exit 1; }
ref=$(val tokens "$out/ref")
printf '\n| run | policy | TPOT ms | memory pressure | resident weights MiB (end/max) | kept/windows | released GiB | tokens | rc |\n'
printf '|-----|--------|---------|-----------------|--------------------------------|--------------|--------------|--------|----|\n'
row() {
  printf '| %s | %s | %s | %.2f%% | %s / %s | %s | %s | %s | %s |\n' "$1" "$(val policy "$2")" "$(val tpot_ms "$2")" \
    "$(awk -v p="$(val memory_pressure "$2")" 'BEGIN { print 100 * p }')" \
    "$(sed -n 's/^resident_weights_mib=\([^ ]*\).*/\1/p' "$2")" "$(sed -n 's/.*max_resident_weights_mib=//p' "$2")" \
    "$(sed -n 's/^windows=\([0-9]*\) kept=\([0-9]*\).*/\2\/\1/p' "$2")" \
    "$(sed -n 's/.*released_mib=\([^ ]*\).*/\1/p' "$2" | awk '{ printf "%.1f", $1 / 1024 }')" "$3" "$4"
}
row "uncapped (warm)" "$out/ref" same 0

fail=0
for p in $policies; do
  f=$out/${p/:/-}
  "$cgrun" --v1 "${dev_args[@]}" --name "prima-bench-$$" "$cap" "$mem_run" "$model" --drop-cache --progress \
    --n-gen "$n_gen" --threads "$threads" --prefetch "${p%%:*}" --release "${p##*:}" > "$f" 2> "$f.err"
  rc=$?
  if [ $rc = 77 ]; then
    grep SKIP "$f.err"
    exit 77
  fi
  got=$(val tokens "$f")
  same=same
  [ "$got" = "$ref" ] || { same="DIFFER ($got)"; fail=1; }
  [ $rc = 0 ] || fail=1
  row "single, cap $cap MiB" "$f" "$same" "$rc"
  grep -h 'cgroup-run:' "$f.err" | sed 's/^/    /' >&2
done
echo
echo "memory pressure: (available at start - lowest available while generating) / device memory, where"
echo "available = cap - charged + page cache (docs/memory.md); rc 3 = OOM kill"

# ---- the 4-process ring ----
if [ "${SKIP_RING:-0}" = 1 ]; then
  exit $fail
fi
if ! "$prima" worker --help > /dev/null 2>&1; then
  echo
  echo "== ring: SKIP: 'prima worker' does not exist yet (the multi-process ring); the single-device part ran"
  exit $fail
fi
"$src/tests/memory/bench-ring.sh" "$build" "$model" "$n_gen" "$ref" || fail=1
exit $fail
