#!/bin/bash
# gst-prima: the decode-efficiency matrix (long; not part of any test suite).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-decode.sh [BUILD_DIR]   (from the source tree; BUILD_DIR default ./build)
#
# Makes once, under $PRIMA_MODEL_DIR (default /var/tmp/prima-models), the
# llama 1B and 8B bench shapes in Q4_K_M, Q6_K, Q8_0 and IQ4_XS (random
# weights, llama-bpe vocabulary), then runs `prima bench -p 0 -n $N_GEN -t T`
# for every model and thread count and prints one table row per run: decode
# tok/s, GB/s of weights read, the two bandwidth probes (an anonymous buffer;
# the model's mapped weights) and the decode efficiency (weights x tok/s /
# the higher probe), as docs/numerics.md reports them.
#
# Environment: SHAPES (default "1b 8b"), TYPES (default "Q4_K_M Q6_K Q8_0
# IQ4_XS"), THREADS (default "1 2"), N_GEN (default 64), REPS (runs per cell,
# default 3; the table gives the median and the range), MAKE_ONLY=1.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
prima=$build/pipelines/prima
model_dir=${PRIMA_MODEL_DIR:-/var/tmp/prima-models}
vocab=${PRIMA_SHARED_DIR:-$src/../shared}/vocab/ggml-vocab-llama-bpe.gguf
shapes=${SHAPES:-"1b 8b"}
types=${TYPES:-"Q4_K_M Q6_K Q8_0 IQ4_XS"}
threads=${THREADS:-"1 2"}
n_gen=${N_GEN:-64}
reps=${REPS:-3}
[ -x "$prima" ] || { echo "build first: $prima" >&2; exit 2; }

model_path() {
  local t
  t=$(echo "$2" | tr 'A-Z' 'a-z' | tr -d '_')
  echo "$model_dir/llama-$1-$t.gguf"
}

mkdir -p "$model_dir"
for s in $shapes; do
  for t in $types; do
    m=$(model_path "$s" "$t")
    [ -f "$m" ] && continue
    echo "== generating $m (once)" >&2
    nice -n 19 "$prima" mkmodel -q --vocab-from "$vocab" --preset "$s" --type "$t" "$m.part.$$" && mv "$m.part.$$" "$m" || exit 1
  done
done
[ "${MAKE_ONLY:-0}" = 1 ] && exit 0

val() { sed -n "$1" "$2" | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'; }
out=$(mktemp -d /tmp/prima-bench-decode.XXXXXX)
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
printf '\n| shape | type | threads | tok/s | weights GB/s | probe GB/s | mapped probe GB/s | efficiency %% |\n'
printf '|-------|------|---------|-------|--------------|------------|-------------------|--------------|\n'
for s in $shapes; do
  for t in $types; do
    m=$(model_path "$s" "$t")
    cat "$m" > /dev/null          # into the page cache
    for th in $threads; do
      : > "$out/tps"; : > "$out/gbs"; : > "$out/bw"; : > "$out/mbw"; : > "$out/eff"
      for r in $(seq "$reps"); do
        "$prima" bench -m "$m" -p 0 -n "$n_gen" -t "$th" > "$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
        val "s/^| tg[0-9]* *| *\([0-9.]*\).*/\1/p" "$out/log" >> "$out/tps"
        val "s/^decode reads \([0-9.]*\) GB.*/\1/p" "$out/log" >> "$out/gbs"
        val "s/^memory read bandwidth.*: \([0-9.]*\) GB.*/\1/p" "$out/log" >> "$out/bw"
        val "s/^mapped weights read bandwidth.*: \([0-9.]*\) GB.*/\1/p" "$out/log" >> "$out/mbw"
        val "s/.* = \([0-9.]*\)% of the measured.*/\1/p" "$out/log" >> "$out/eff"
      done
      printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$t" "$th" "$(median < "$out/tps")" \
        "$(median < "$out/gbs")" "$(median < "$out/bw")" "$(median < "$out/mbw")" "$(median < "$out/eff")"
    done
  done
done
