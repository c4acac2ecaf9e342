#!/bin/bash
# gst-prima: a worker's fatal error after the setup round reaches the head (issue 11, point 11).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Rings started by hand on loopback, every process bounded by `timeout`. One copy of the test model
# has a NaN in blk.2.ffn_down.weight's data (the setup's identity check hashes the header, not the
# data, so head and workers share the file); -lw gives layer 2 to a worker, whose primalayers stops
# with "NaN or infinite values from layer 2 (blk.2) on: ...". Checks: in a ring of 2 the head exits
# non-zero with one line naming rank 1 and that reason (it said only "closed the connection
# (shutting down)"); in a ring of 4 the failing rank 2 is next to neither side of the head, so its
# reason reaches the head through ranks 1 and 3, which name it too.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
T=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
export PRIMA_CLUSTER_KEY=prima-test-ring-failure-key-0123456789
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# The model with a NaN (bytes 00 00 c0 7f) as the 8th value of blk.2.ffn_down.weight.
M=$T/nan.gguf
python3 - "$D/stories260K-f32.gguf" "$M" blk.2.ffn_down.weight <<'PY' || { echo "Bail out! cannot write $M"; exit 1; }
import shutil, struct, sys
src, dst, name = sys.argv[1:4]
d = open(src, 'rb').read()
p = 0
def take(fmt):
    global p
    v = struct.unpack_from('<' + fmt, d, p)[0]
    p += struct.calcsize(fmt)
    return v
def text():
    global p
    n = take('Q')
    p += n
    return d[p - n:p]
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip(t):
    global p
    if t == 8:
        text()
    elif t == 9:
        at, count = take('I'), take('Q')
        for _ in range(count):
            skip(at)
    else:
        p += SIZES[t]
assert d[:4] == b'GGUF'
p = 4
take('I')
n_tensors, n_kv = take('Q'), take('Q')
align = 32
for _ in range(n_kv):
    key, t = text(), take('I')
    if key == b'general.alignment':
        align = struct.unpack_from('<I', d, p)[0]
    skip(t)
tensors = {}
for _ in range(n_tensors):
    key = text()
    n_dims = take('I')
    p += 8 * n_dims
    tensors[key] = (take('I'), take('Q'))
data = (p + align - 1) // align * align
t, off = tensors[name.encode()]
assert t == 0, name + ' is not f32'
shutil.copy(src, dst)
with open(dst, 'r+b') as f:
    f.seek(data + off + 4 * 7)
    f.write(b'\x00\x00\xc0\x7f')
PY

worker () {   # world rank log
  timeout 60 "$P" worker --once --world "$1" --rank "$2" --next 127.0.0.1 --port $BASE -m "$M" -t 1 >/dev/null 2>"$3" &
  pids+=($!)
}

started () {  # log...: wait (at most 30 s) until each worker has opened its setup server
  for f in "$@"; do
    for _ in $(seq 300); do grep -q "waiting for the head" "$f" 2>/dev/null && break; sleep 0.1; done
  done
}

REASON="NaN or infinite values from layer 2 (blk.2) on: the model's weight data is corrupt"

# 1. a ring of 2: rank 1 holds layers 0-3 and fails; the head names rank 1 and its reason
BASE=$((BASE + 10))
worker 2 1 "$T/w1.err"
wpid=${pids[-1]}
started "$T/w1.err"
timeout 60 "$P" run -m "$M" -p "Once upon a time" -n 8 --temp 0 -t 1 --world 2 --port $BASE -lw 1,4 \
    --ring-timeout 20 >/dev/null 2>"$T/h1.err"
rc=$?
wait "$wpid"
wrc=$?
line=$(grep "^prima run: rank 1 failed: " "$T/h1.err")
if [ $rc != 0 ] && [ $rc != 124 ] && [ $wrc != 0 ] && [ $wrc != 124 ] && [[ $line == *"$REASON"* ]] \
    && ! grep -q "shutting down" "$T/h1.err" && grep -q "$REASON" "$T/w1.err"; then
  ok "ring of 2: the head says rank 1 failed, with the worker's reason"
else
  bad "ring of 2 (head exit $rc, worker exit $wrc)"; cat "$T/h1.err" "$T/w1.err"
fi

# 2. a ring of 4: rank 2 holds layers 1-2 and fails; ranks 1 and 3 pass its reason on to the head.
# The first to arrive ends the head, which then stops its links: the other rank may hear the head
# stop before its own copy of the failure (a ring failure then), so one relay is required, not both.
BASE=$((BASE + 10))
pids=()
for r in 1 2 3; do worker 4 $r "$T/w4-$r.err"; done
wpids=("${pids[@]}")
started "$T/w4-1.err" "$T/w4-2.err" "$T/w4-3.err"
timeout 60 "$P" run -m "$M" -p "Once upon a time" -n 8 --temp 0 -t 1 --world 4 --port $BASE -lw 1,1,2,1 \
    --ring-timeout 20 >/dev/null 2>"$T/h4.err"
rc=$?
wrcs=()
for p in "${wpids[@]}"; do wait "$p"; wrcs+=($?); done
line=$(grep "^prima run: rank 2 failed: " "$T/h4.err")
if [ $rc != 0 ] && [ $rc != 124 ] && [[ $line == *"$REASON"* ]] && grep -q "rank 2: layers 1-2" "$T/h4.err" \
    && { grep -q "prima worker 1: rank 2 failed: .*$REASON" "$T/w4-1.err" \
         || grep -q "prima worker 3: rank 2 failed: .*$REASON" "$T/w4-3.err"; } \
    && grep -Eq "prima worker 1: (rank 2 failed: |The ring failed)" "$T/w4-1.err" \
    && grep -Eq "prima worker 3: (rank 2 failed: |The ring failed)" "$T/w4-3.err" \
    && [[ " ${wrcs[*]} " != *" 0 "* ]] && [[ " ${wrcs[*]} " != *" 124 "* ]]; then
  ok "ring of 4: rank 2's reason reaches the head through rank 1 or 3"
else
  bad "ring of 4 (head exit $rc, workers exit ${wrcs[*]})"; cat "$T/h4.err" "$T"/w4-*.err
fi

echo "1..$n"
exit $fail
