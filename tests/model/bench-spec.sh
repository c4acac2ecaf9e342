#!/bin/bash
# gst-prima: speculative decoding's benchmark (issue 16, goal 5; not part of any test suite).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# bench-spec.sh [-b BUILD_DIR] [-r RUNS] -m TARGET.gguf -- DRAFT-FLAGS [-- RUN-FLAGS]
#
# Greedy `prima run` of the target without and with the draft flags (-md FILE, --draft-layers K,
# --draft N, --draft-p-min P, ...), alternating A and B run by run (RUNS pairs, default 5); each run
# must print the same token ids as the first plain run. Reports per side the median decode tok/s
# (prima run's own "decode N tokens in T ms": first to last sampled token), its min-max spread, the
# draft's acceptance (draft tokens the target kept / draft tokens verified) and the median speed-up.
# RUN-FLAGS go to both sides (default: -p "Once upon a time" -n 128 -t 1 -c 512); --local-ring 3 there
# benchmarks a ring, where one pass round the ring verifies all of a pass's drafts.
#
# The figures of docs/elements.md ("Speculative decoding"):
#   one device, a real pair (TinyStories-656K F32 target, Q4_0 / Q8_0 draft):
#     tests/model/bench-spec.sh -m ../shared/golden/TinyStories-656K-f32.gguf -- -md tests/data/TinyStories-656K-q4_0.gguf
#   the 1B shape over a 3-process local ring, self-draft (its first 4 layers and output head):
#     tests/model/bench-spec.sh -r 3 -m /var/tmp/prima-models/llama-1b-q4km.gguf -- --draft-layers 4 --draft-p-min 0.75 \
#       -- -p "Once upon a time" -n 32 -t 1 -c 256 --local-ring 3
#   the same ring, the target as its own draft (every draft kept: the ceiling of one pass per N+1 tokens):
#     tests/model/bench-spec.sh -r 3 -m /var/tmp/prima-models/llama-1b-q4km.gguf -- -md /var/tmp/prima-models/llama-1b-q4km.gguf --draft 4 \
#       -- -p "Once upon a time" -n 32 -t 1 -c 256 --local-ring 3
#   a ring with 5 ms per hop (root; network namespaces and tests/ring's delay relay), the head's flags
#   from NETNS_HEAD_ARGS, alternate with and without:
#     sudo env NETNS_HEAD_ARGS="-md tests/data/stories260K-f32.gguf --draft 8 --draft-p-min 0" NETNS_N_GEN=64 \
#       PRIMA_BIN=build/pipelines/prima PRIMA_TEST_DATA=tests/data tests/ring/test-ring-netns.sh build/tests/ring/delay-relay
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build
runs=5
target=
while getopts "b:r:m:" o; do
  case $o in
    b) build=$OPTARG ;;
    r) runs=$OPTARG ;;
    m) target=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
# getopts ends at the first "--" and consumes it
[ -n "$target" ] && [ $# -gt 0 ] || { sed -n 5p "$0" | sed 's/^# //' >&2; exit 2; }
draft=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do draft+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
common=("$@")
[ ${#common[@]} -gt 0 ] || common=(-p "Once upon a time" -n 128 -t 1 -c 512)
prima=$build/pipelines/prima
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
port=$((20000 + RANDOM % 12000))

# one SIDE: a run; appends its tok/s (and acceptance) to $T/SIDE
one () {
  local side=$1
  shift
  port=$((port + 10))
  if ! "$prima" run -m "$target" --temp 0 "${common[@]}" "$@" --port $port --ids-out "$T/ids" >/dev/null 2>"$T/err"; then
    echo "bench-spec: the $side run failed:" >&2
    cat "$T/err" >&2
    exit 1
  fi
  if [ -f "$T/want" ]; then
    cmp -s "$T/ids" "$T/want" || { echo "bench-spec: the $side run's tokens differ from the plain run's" >&2; exit 1; }
  else
    cp "$T/ids" "$T/want"
  fi
  # tok/s [drafts kept tok/s-without-the-draft's-time]
  awk '/prima run: decode/ { for (i = 1; i <= NF; i++) if ($i == "tokens") n = $(i-1); \
         for (i = 1; i <= NF; i++) if ($i == "ms") ms = $(i-1) } \
       /prima run: draft/ { d = $4; a = $6; for (i = 1; i <= NF; i++) if ($i == "ms") dms = $(i-1); draft = 1 } \
       END { printf "%.4f", n * 1000 / ms; if (draft) printf " %s %s %.4f", d, a, n * 1000 / (ms - dms); \
         printf "\n" }' "$T/err" >>"$T/$side"
}

for i in $(seq "$runs"); do
  one plain
  one draft "${draft[@]}"
done

median () { sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; \
  printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'; }
echo "target $(basename "$target"), draft ${draft[*]}, flags ${common[*]}, $runs alternating pairs, $(nproc) CPUs"
echo "plain: decode tok/s median $(cut -d' ' -f1 "$T/plain" | median)"
echo "draft: decode tok/s median $(cut -d' ' -f1 "$T/draft" | median)," \
  "acceptance $(awk '{ d += $2; a += $3 } END { printf "%.1f%% (%d of %d drafts)", d ? 100 * a / d : 0, a, d }' "$T/draft")"
echo "draft, its model's time taken out (a free draft: the verification's own speed): tok/s median" \
  "$(cut -d' ' -f4 "$T/draft" | median)"
echo "speed-up (median draft / median plain): $(awk -v a="$(cut -d' ' -f1 "$T/plain" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
  -v b="$(cut -d' ' -f1 "$T/draft" | sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
  'BEGIN { printf "%.2fx", b / a }')"
echo "tokens identical in every run: yes"
