#!/usr/bin/env python3
# gst-prima: aggregate throughput of `prima serve` with 1, 4 and 32 concurrent clients, against
# llama-server-style sequential serving (--parallel 1: one request at a time, the rest queued).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
#   tests/serve/bench-serve.py [--model FILE] [--parallel N] [--tokens N] [--requests N] [--threads N]
#
# Each client streams completions (temperature 0, ignore_eos, --tokens tokens each) one after another
# until --requests requests have been answered in all; aggregate tokens/s is the generated tokens over
# the wall time, time to first token the mean over requests. Not part of the test suite (timing).
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('--model', default=None)
ap.add_argument('--parallel', type=int, default=32)
ap.add_argument('--tokens', type=int, default=128)
ap.add_argument('--requests', type=int, default=64)
ap.add_argument('--threads', type=int, default=0)
ap.add_argument('--clients', default='1,4,32')
args = ap.parse_args()


def one(port, prompt, ttfts):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=600)
    t0 = time.monotonic()
    conn.request('POST', '/v1/completions', body=json.dumps({
        'prompt': prompt, 'max_tokens': args.tokens, 'temperature': 0, 'ignore_eos': True, 'stream': True,
        'stream_options': {'include_usage': True}}), headers={'Content-Type': 'application/json'})
    r = conn.getresponse()
    first, n = None, 0
    for raw in iter(r.readline, b''):
        line = raw.decode().strip()
        if not line.startswith('data: ') or line == 'data: [DONE]':
            continue
        ev = json.loads(line[6:])
        if ev.get('usage'):
            n = ev['usage']['completion_tokens']
        elif first is None and ev['choices'] and ev['choices'][0].get('text'):
            first = time.monotonic() - t0
    conn.close()
    ttfts.append(first or 0.0)
    return n


def run(port, clients):
    todo = list(range(args.requests))
    lock = threading.Lock()
    tokens, ttfts = [0], []

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            n = one(port, 'Once upon a time, story number %d:' % i, ttfts)
            with lock:
                tokens[0] += n

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return tokens[0] / wall, sum(ttfts) / len(ttfts), wall


rows = []
for parallel in [args.parallel, 1]:
    extra = ['-np', str(parallel), '--queue', str(max(64, args.requests))]
    if args.model:
        extra += ['-m', args.model]
    if args.threads:
        extra += ['-t', str(args.threads)]
    server = Server(*extra)
    try:
        run(server.port, 1)  # warm-up
        for clients in [int(c) for c in args.clients.split(',')]:
            tps, ttft, wall = run(server.port, clients)
            rows.append((parallel, clients, tps, ttft, wall))
    finally:
        server.stop()

print('model: %s, %d tokens per request, %d requests per row' % (args.model or 'embedded', args.tokens,
                                                                args.requests))
print('| --parallel | clients | aggregate tokens/s | mean time to first token | wall |')
print('| ---: | ---: | ---: | ---: | ---: |')
for parallel, clients, tps, ttft, wall in rows:
    print('| %d | %d | %.0f | %.1f ms | %.2f s |' % (parallel, clients, tps, ttft * 1000, wall))
