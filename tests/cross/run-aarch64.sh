#!/bin/sh
# Cross-builds the core library and its kernel, parser and golden tests for aarch64
# (-Dcore_only=true, tests/cross/aarch64-linux-gnu.ini) and runs them under qemu-aarch64 twice:
# QEMU_CPU=cortex-a53 (NEON only: the neon kernels) and QEMU_CPU=max (dotprod, i8mm, SVE: all three
# ARM kernel levels, as test-quants walks every ISA the CPU runs). Needs .ci/install-deps-aarch64.
# Usage: tests/cross/run-aarch64.sh [BUILD_DIR]   (default build-aarch64)
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build-aarch64}
shared=${PRIMA_SHARED_DIR:-$(cd .. && pwd)/shared}
[ -d "$shared" ] || shared=/work/shared
[ -d "$build" ] || meson setup "$build" --cross-file tests/cross/aarch64-linux-gnu.ini -Dcore_only=true \
  --buildtype=release
meson compile -C "$build"
status=0
for cpu in cortex-a53 max; do
  echo "== qemu-aarch64 -cpu $cpu"
  # tests/model (kernels, golden, GGUF parser) and tests/text (tokenizer, chat templates)
  QEMU_CPU=$cpu PRIMA_SHARED_DIR=$shared PRIMA_CORE_THREADS=1 meson test -C "$build" --print-errorlogs --num-processes 2 \
    --timeout-multiplier 4 --logbase "testlog-$cpu" || status=1
done
exit $status
