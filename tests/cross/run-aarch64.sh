#!/bin/sh
# Cross-builds the core library and its kernel, parser and golden tests for aarch64
# (-Dcore_only=true, tests/cross/aarch64-linux-gnu.ini) and runs them under qemu-aarch64 twice:
# QEMU_CPU=cortex-a53 (NEON only: the neon kernels) and QEMU_CPU=max (dotprod, i8mm, SVE: all three
# ARM kernel levels, as test-quants walks every ISA the CPU runs). Needs .ci/install-deps-aarch64.
# Usage: [PRIMA_SHARED_DIR=DIR] tests/cross/run-aarch64.sh [BUILD_DIR]   (default build-aarch64)
set -eu
cd "$(dirname "$0")/../.."
build=${1:-build-aarch64}
# the golden fixtures: PRIMA_SHARED_DIR, else ../shared beside the clone (without them those tests skip)
shared=${PRIMA_SHARED_DIR:-$(cd .. && pwd)/shared}
if [ -d "$build" ]; then
  meson setup --reconfigure "$build" -Dshared_dir="$shared" >/dev/null
else
  meson setup "$build" --cross-file tests/cross/aarch64-linux-gnu.ini -Dcore_only=true --buildtype=release \
    -Dshared_dir="$shared"
fi
meson compile -C "$build"
# the ARM parts of scheduler/profiler.c (outside the core-only build: it needs GLPK): types and syntax
aarch64-linux-gnu-gcc -std=gnu11 -D_GNU_SOURCE -fsyntax-only -Wall -Wextra -Werror -Wno-unused-parameter \
  -Wno-missing-field-initializers -Ischeduler -Ielements/core -Ielements/core/model -Ielements/core/text \
  -Ielements/core/net $(aarch64-linux-gnu-pkg-config --cflags glib-2.0 json-glib-1.0) scheduler/profiler.c
status=0
for cpu in cortex-a53 max; do
  echo "== qemu-aarch64 -cpu $cpu"
  # tests/model (kernels, golden, GGUF parser) and tests/text (tokenizer, chat templates)
  QEMU_CPU=$cpu meson test -C "$build" --print-errorlogs --num-processes 2 \
    --timeout-multiplier 4 --logbase "testlog-$cpu" || status=1
done
exit $status
