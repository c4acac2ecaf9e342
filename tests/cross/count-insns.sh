#!/bin/sh
# Instructions per block of the Q4_K, Q6_K and Q8_0 dot products (issue 17, done-when 2), counted
# under qemu-aarch64 with a TCG plugin (qemu-insn-count.c): each kernel runs N and 2N times over a
# row of 4096 elements; (count(2N) - count(N)) / (N * blocks) is its instructions per block, set-up
# excluded. QEMU_CPU=max, so the dotprod and i8mm kernels run; the table is in docs/numerics.md.
# Usage: tests/cross/count-insns.sh [BUILD_DIR]   (a built tests/cross/run-aarch64.sh tree)
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build-aarch64}
plugin=$(mktemp -d)/libinsncount.so
cc -O2 -shared -fPIC -o "$plugin" tests/cross/qemu-insn-count.c
meson compile -C "$build" insn-kernel >/dev/null
n=50
count () {
  QEMU_CPU=max qemu-aarch64 -plugin "$plugin" -d plugin \
    "$build/tests/cross/insn-kernel" "$1" "$2" "$3" 2>&1 >/dev/null | sed -n 's/^insns //p'
}
printf '%-6s %-8s %s\n' type isa insns/block
for type in Q4_K Q6_K Q8_0; do
  case $type in Q8_0) blocks=128 ;; *) blocks=16 ;; esac
  for isa in scalar neon dotprod i8mm; do
    a=$(count $type $isa $n) b=$(count $type $isa $((2 * n)))
    printf '%-6s %-8s %s\n' $type $isa $(( (b - a) / (n * blocks) ))
  done
done
rm -f "$plugin"
