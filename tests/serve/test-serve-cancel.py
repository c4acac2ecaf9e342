#!/usr/bin/env python3
# gst-prima: `prima serve` ends a job whose client went away, and one named by POST /v1/cancel.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# The embedded model answers too fast to be caught mid-answer, so this test writes a random-weight
# model (prima mkmodel, 8 layers of width 512: about a thousand tokens a second here) and asks for
# 3000 tokens with ignore_eos. A streaming client that reads its first chunk and closes the
# connection must have its job cancelled (the metrics count it; far fewer than 3000 tokens are
# generated); a request cancelled by id ends its stream with finish_reason "cancelled". A server
# with one slot and no queue answers a second request 503 (server_busy, Retry-After).
import atexit
import json
import os
import shutil
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import PRIMA, Server, fail  # noqa: E402

MAX = 3000
tmp = tempfile.mkdtemp(prefix='prima-serve-cancel-')
atexit.register(shutil.rmtree, tmp, True)
model = os.path.join(tmp, 'model.gguf')
vocab = os.path.join(os.environ.get('PRIMA_DATA_DIR', 'data'), 'TinyStories-656K-f32.gguf')
subprocess.run([PRIMA, 'mkmodel', '--vocab-from', vocab, '--n-embd', '512', '--n-layer', '8', '--n-head', '8',
                '--n-head-kv', '8', '--n-ff', '1536', '--n-ctx', '4096', '--type', 'Q8_0', '-q', model], check=True)
server = Server('-m', model, '-c', '4096', '-np', '2')


def metrics():
    text = server.request('GET', '/metrics')[2]
    out = {}
    for m in re.finditer(r'^(prima_[a-z_]+(?:\{[^}]*\})?) (\S+)$', text, re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def wait_for(cond, what, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        m = metrics()
        if cond(m):
            return m
        time.sleep(0.05)
    fail('%s: not within %d s: %r' % (what, seconds, metrics()))


def open_stream(body):
    """A socket with the request sent and the headers and first event read; (socket, first event)."""
    s = socket.create_connection(('127.0.0.1', server.port), timeout=30)
    data = json.dumps(body).encode()
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
              b'Content-Length: %d\r\n\r\n' % len(data) + data)
    buf = b''
    while b'\n\n' not in buf.split(b'\r\n\r\n', 1)[-1] or b'\r\n\r\n' not in buf:
        chunk = s.recv(4096)
        if not chunk:
            fail('the stream closed before its first event')
        buf += chunk
    body = buf.split(b'\r\n\r\n', 1)[1]
    first = body[body.index(b'data: ') + 6:body.index(b'\n\n')]
    return s, json.loads(first), buf


try:
    body = {'prompt': 'Once upon a time', 'max_tokens': MAX, 'temperature': 0, 'ignore_eos': True, 'stream': True}
    # a client that goes away
    s, first, _ = open_stream(body)
    wait_for(lambda m: m.get('prima_slots_busy', 0) == 1, 'the job runs')
    s.close()
    m = wait_for(lambda m: m.get('prima_requests_total{result="cancelled"}', 0) == 1
                 and m.get('prima_slots_busy', 1) == 0, 'a disconnected client\'s job is cancelled')
    if m['prima_tokens_predicted_total'] >= MAX:
        fail('the disconnected job ran to its end: %d tokens' % m['prima_tokens_predicted_total'])
    print('ok: a client that disconnects cancels its job (after %d of %d tokens)'
          % (m['prima_tokens_predicted_total'], MAX))

    # a client that goes away while waiting for a whole (not streamed) answer
    s = socket.create_connection(('127.0.0.1', server.port), timeout=30)
    data = json.dumps(dict(body, stream=False)).encode()
    s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(data) + data)
    wait_for(lambda m: m.get('prima_slots_busy', 0) == 1, 'the job runs')
    before = metrics()['prima_tokens_predicted_total']
    s.close()
    m = wait_for(lambda m: m.get('prima_requests_total{result="cancelled"}', 0) == 2
                 and m.get('prima_slots_busy', 1) == 0, 'a disconnected client\'s whole answer is cancelled')
    if m['prima_tokens_predicted_total'] - before >= MAX:
        fail('the disconnected job ran to its end')
    print('ok: a client that disconnects before a whole answer cancels its job')

    # a request cancelled by its id
    s, first, buf = open_stream(body)
    rid = first['id']
    st, _, answer = server.request('POST', '/v1/cancel', {'id': rid})
    if st != 200 or answer != {'id': rid, 'cancelled': True}:
        fail('/v1/cancel: %d %r' % (st, answer))
    s.settimeout(30)
    while not buf.endswith(b'0\r\n\r\n'):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    s.close()
    events = [json.loads(line[6:]) for line in buf.decode().split('\n')
              if line.startswith('data: {')]
    finishes = [e['choices'][0]['finish_reason'] for e in events if e['choices'] and e['choices'][0]['finish_reason']]
    if finishes != ['cancelled'] or b'data: [DONE]' not in buf:
        fail('a cancelled stream ends with finish_reason "cancelled" and [DONE]: %r' % finishes)
    st, _, answer = server.request('POST', '/v1/cancel', {'id': rid})
    if st != 404:
        fail('a finished id is not running: %d %r' % (st, answer))
    m = wait_for(lambda m: m.get('prima_requests_total{result="cancelled"}', 0) == 3, 'three cancelled')
    if m['prima_tokens_predicted_total'] >= MAX:
        fail('the cancelled job ran to its end')
    print('ok: POST /v1/cancel ends a running stream with finish_reason "cancelled"')
finally:
    server.stop()

# every slot busy and no room in the queue: 503 with Retry-After, and the next request after works
server = Server('-m', model, '-c', '4096', '-np', '1', '--queue', '0')
try:
    s, first, _ = open_stream(body)
    st, headers, answer = server.request('POST', '/v1/completions', {'prompt': 'x', 'max_tokens': 1})
    if st != 503 or headers.get('Retry-After') != '1' or answer['error']['code'] != 'server_busy':
        fail('a full server: %d %r %r' % (st, headers, answer))
    server.request('POST', '/v1/cancel', {'id': first['id']})
    s.close()
    wait_for(lambda m: m.get('prima_slots_busy', 1) == 0, 'the slot is free again')
    st, _, answer = server.request('POST', '/v1/completions', {'prompt': 'x', 'max_tokens': 1})
    if st != 200:
        fail('after the busy answer: %d %r' % (st, answer))
    print('ok: a full server answers 503 server_busy with Retry-After')

    # SIGTERM while a stream runs: the job is cancelled, the connection closed, the server exits 0
    s, first, _ = open_stream(body)
    t0 = time.monotonic()
    server.stop()
    s.settimeout(10)
    rest = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    if time.monotonic() - t0 > 10:
        fail('stopping with a running stream took %.1f s' % (time.monotonic() - t0))
    print('ok: SIGTERM with a running stream stops the server at once (exit 0)')
finally:
    server.stop()
print('test-serve-cancel: passed')
