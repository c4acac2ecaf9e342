#!/usr/bin/env python3
# gst-prima: aggregate throughput of `prima serve` with 1, 4 and 32 concurrent clients, against
# llama-server-style sequential serving (--parallel 1: one request at a time, the rest queued).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
#   tests/serve/bench-serve.py [--model FILE] [--parallel N] [--tokens N] [--requests N] [--threads N]
#
# Each client asks for completions (temperature 0, ignore_eos, --tokens tokens each) one after another
# until --requests requests have been answered in all; aggregate tokens/s is the generated tokens over
# the wall time, time to first token the server's mean (from /metrics: submission to first token, queue
# included). Not part of the test suite (timing).
import argparse
import os
import re
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


def one(port, prompt):
    """One whole (not streamed: the clients share this machine's cores with the server, and parsing
    a stream's events would take from it) completion; its generated tokens."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=600)
    conn.request('POST', '/v1/completions', body=json.dumps({
        'prompt': prompt, 'max_tokens': args.tokens, 'temperature': 0, 'ignore_eos': True}),
        headers={'Content-Type': 'application/json'})
    r = json.loads(conn.getresponse().read())
    conn.close()
    return r['usage']['completion_tokens']


def ttft(server):
    """(sum, count) of the server's time to first token."""
    text = server.request('GET', '/metrics')[2]
    get = lambda name: float(re.search(r'^%s (\S+)$' % name, text, re.M).group(1))  # noqa: E731
    return get('prima_time_to_first_token_seconds_sum'), get('prima_time_to_first_token_seconds_count')


def run(server, clients):
    todo = list(range(args.requests))
    lock = threading.Lock()
    tokens = [0]

    def client():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            n = one(server.port, 'Once upon a time, story number %d:' % i)
            with lock:
                tokens[0] += n

    s0, c0 = ttft(server)
    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    s1, c1 = ttft(server)
    return tokens[0] / wall, (s1 - s0) / max(1, c1 - c0), wall


rows = []
for parallel in [args.parallel, 1]:
    extra = ['-np', str(parallel), '--queue', str(max(64, args.requests))]
    if args.model:
        extra += ['-m', args.model]
    if args.threads:
        extra += ['-t', str(args.threads)]
    server = Server(*extra)
    try:
        run(server, 1)  # warm-up
        for clients in [int(c) for c in args.clients.split(',')]:
            tps, mean_ttft, wall = run(server, clients)
            rows.append((parallel, clients, tps, mean_ttft, wall))
    finally:
        server.stop()

print('model: %s, %d tokens per request, %d requests per row' % (args.model or 'embedded', args.tokens,
                                                                args.requests))
print('| --parallel | clients | aggregate tokens/s | mean time to first token | wall |')
print('| ---: | ---: | ---: | ---: | ---: |')
for parallel, clients, tps, mean_ttft, wall in rows:
    print('| %d | %d | %.0f | %.1f ms | %.2f s |' % (parallel, clients, tps, mean_ttft * 1000, wall))
