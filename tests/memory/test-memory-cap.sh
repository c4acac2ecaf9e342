#!/bin/bash
# gst-prima tests: generation under a memory cap of a third of the model.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# test-memory-cap.sh MEM_RUN: a small model from `prima mkmodel` (the 1B
# shape with 4 layers and a 32k vocabulary, ~240 MB) generates greedily
# uncapped with every residency policy, then under a cgroup memory cap of a
# third of its size (v1, and v2 where its memory controller is available)
# with its page cache dropped first, so every page it uses is charged to the
# cap. Every run must give the same tokens and nothing may be OOM-killed.
# Skips (77) the capped part when not root or without a memory cgroup.
set -eu
mem_run=$1
here=$(cd "$(dirname "$0")" && pwd)
prima=${PRIMA_BIN:?PRIMA_BIN is not set}
vocab=${PRIMA_SHARED_DIR:-$here/../../../shared}/vocab/ggml-vocab-llama-spm.gguf
[ -f "$vocab" ] || { echo "SKIP: $vocab not found (../shared beside the clone)"; exit 77; }
tmp=$(mktemp -d /var/tmp/prima-memtest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
model=$tmp/1b-4layers.gguf
"$prima" mkmodel -q --vocab-from "$vocab" --preset 1b --n-layer 4 --seed 7 "$model"
size=$(stat -c %s "$model")
cap=$((size / 3 / 1048576))
echo "model: $((size / 1048576)) MiB; cap: $cap MiB"

n_gen=6
tokens_of() { sed -n 's/^tokens=//p' "$1"; }

"$mem_run" "$model" --n-gen $n_gen --threads 2 > "$tmp/ref.out"
ref=$(tokens_of "$tmp/ref.out")
[ -n "$ref" ] || { echo "FAIL: no tokens from the uncapped run"; cat "$tmp/ref.out"; exit 1; }
echo "uncapped: $ref"

policies="default:default none:never advise:auto force:auto advise:always none:always"
fail=0
for p in $policies; do
  "$mem_run" "$model" --n-gen $n_gen --threads 2 --prefetch "${p%%:*}" --release "${p##*:}" --window-layers 1 \
    > "$tmp/u.out"
  got=$(tokens_of "$tmp/u.out")
  if [ "$got" != "$ref" ]; then
    echo "FAIL: uncapped $p gave $got"
    fail=1
  fi
done
[ $fail = 0 ] || exit 1

ran=0
for ver in --v1 --v2; do
  for p in $policies; do
    set +e
    # MALLOC_PERTURB_ (meson sets it) fills every malloc: the lazily mapped
    # scratch would all be touched and charged to the cap.
    env -u MALLOC_PERTURB_ "$here/cgroup-run.sh" $ver "$cap" "$mem_run" "$model" --drop-cache --n-gen $n_gen --threads 2 \
      --prefetch "${p%%:*}" --release "${p##*:}" > "$tmp/c.out" 2> "$tmp/c.err"
    rc=$?
    set -e
    if [ $rc = 77 ]; then
      grep SKIP "$tmp/c.err"
      break
    fi
    ran=1
    got=$(tokens_of "$tmp/c.out")
    echo "${ver#--} cap $cap MiB, $p: rc $rc, $(grep -h '^tpot_ms=\|^memory_pressure=\|^resident_weights_mib=' "$tmp/c.out" | tr '\n' ' ')"
    grep 'cgroup-run:' "$tmp/c.err"
    if [ $rc != 0 ] || [ "$got" != "$ref" ]; then
      echo "FAIL: ${ver#--} capped $p: rc $rc (3 = OOM kill), tokens $got"
      tail -5 "$tmp/c.err"
      fail=1
    fi
  done
done
[ $fail = 0 ] || exit 1
if [ $ran = 0 ]; then
  echo "SKIP: the capped runs need root and a memory cgroup (the uncapped policies agree)"
  exit 77
fi
echo "PASS"
