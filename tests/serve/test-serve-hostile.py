#!/usr/bin/env python3
# gst-prima: 200 malformed or hostile requests to `prima serve` (issue 14, point 3).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Bad JSON, wrong types, out-of-range values, huge max_tokens, prompts longer than the context,
# 100 MB bodies (announced, and chunked), slow-loris headers and bodies, unknown routes, wrong
# methods, a missing or wrong API key, bad UTF-8, JSON nested too deep, a cancel of an unknown id.
# Each must get a 4xx answer with OpenAI's JSON error body, or (slow clients, 100 MB chunked) a closed
# connection; requests that are not HTTP at all get libsoup's 4xx or a close. Then a normal request
# still works, the server is alive and stops cleanly on SIGTERM. Sent over raw sockets, so that
# nothing is fixed up on the way. Under AddressSanitizer: PRIMA_BIN=build-asan/pipelines/prima
# (docs/serve.md).
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, fail  # noqa: E402

KEY = 'hostile-test-key'
TIMEOUT_S = 1               # -to: headers within 1 s, a body within 6 s
server = Server('--api-key', KEY, '-to', str(TIMEOUT_S), '-np', '2', '-c', '256')
AUTH = 'Authorization: Bearer %s\r\n' % KEY
count = 0
results = {}


def read_response(sock, deadline=30, name=""):
    """(status, headers dict, body bytes), or None when the connection is closed without an answer."""
    sock.settimeout(deadline)
    data = b''
    try:
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, body = data.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(':', 1) for ln in lines[1:] if ':' in ln)}
        if headers.get('transfer-encoding') == 'chunked':
            while not body.endswith(b'0\r\n\r\n'):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            out, rest = b'', body
            while rest:
                size_line, rest = rest.split(b'\r\n', 1)
                size = int(size_line, 16)
                if size == 0:
                    break
                out += rest[:size]
                rest = rest[size + 2:]
            body = out
        else:
            n = int(headers.get('content-length', '0'))
            while len(body) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
        return status, headers, body
    except (ConnectionResetError, BrokenPipeError):
        return None
    except socket.timeout:
        fail("no answer and no close within %d s (results so far %r)" % (deadline, results))


def connect():
    return socket.create_connection(('127.0.0.1', server.port), timeout=30)


def send_raw(raw):
    s = connect()
    try:
        s.sendall(raw)
    except (ConnectionResetError, BrokenPipeError):
        pass
    r = read_response(s)
    s.close()
    return r


def request(method, path, body=b'', auth=True, extra=''):
    if os.environ.get("HOSTILE_DEBUG"):
        print("request", method, path[:40], flush=True)
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    head = '%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s%sContent-Length: %d\r\n' \
           'Connection: close\r\n\r\n' % (method, path, AUTH if auth else '', extra, len(body))
    return send_raw(head.encode('latin-1') + body)


def expect_error(name, r, status=None, param=None, json_body=True):
    """A 4xx (status when given) with OpenAI's error JSON."""
    global count
    count += 1
    if r is None:
        fail('%s: the connection was closed without an answer' % name)
    st, headers, body = r
    if not (400 <= st < 500) or (status is not None and st != status):
        fail('%s: status %d (want %s): %r' % (name, st, status or '4xx', body[:300]))
    if json_body:
        try:
            err = json.loads(body)['error']
        except (ValueError, KeyError, TypeError):
            fail('%s: not an OpenAI error body: %r' % (name, body[:300]))
        if not isinstance(err.get('message'), str) or not err['message'] or '\n' in err['message'] \
                or not isinstance(err.get('type'), str):
            fail('%s: bad error object %r' % (name, err))
        if param is not None and err.get('param') != param:
            fail('%s: param %r, want %r' % (name, err.get('param'), param))
    results[st] = results.get(st, 0) + 1


def expect_closed_or_4xx(name, r, also=()):
    global count
    count += 1
    if r is not None and not (400 <= r[0] < 500) and r[0] not in also:
        fail('%s: status %d, want a 4xx or a closed connection' % (name, r[0]))
    results['closed' if r is None else r[0]] = results.get('closed' if r is None else r[0], 0) + 1


CHAT, COMP = '/v1/chat/completions', '/v1/completions'
MSG = [{'role': 'user', 'content': 'hi'}]

# --- bad JSON (each to both routes) ---
bad_json = ['', ' ', '{', '}', '{"messages":', '{"messages":[}', 'null', 'true', '42', '"str"', '[1,2]',
            '{"a":1,}', "{'messages':[]}", '{"prompt":"x" "y"}', '\x00\x01\x02', 'NaN', '{"prompt":NaN}',
            '{"prompt":"x"}garbage']
for i, b in enumerate(bad_json):
    expect_error('bad json %d (chat)' % i, request('POST', CHAT, b), 400)
    expect_error('bad json %d (completion)' % i, request('POST', COMP, b), 400)

# --- wrong types and values: each field ---
wrong = [
    ('temperature', 'hot'), ('temperature', -1), ('temperature', 3), ('temperature', [1]), ('temperature', True),
    ('top_p', 2), ('top_p', 'x'), ('top_k', -5), ('top_k', 1.5), ('top_k', {}), ('min_p', -0.1), ('min_p', 1.1),
    ('max_tokens', 0), ('max_tokens', -1), ('max_tokens', 'ten'), ('max_tokens', 1.5),
    ('max_completion_tokens', -7), ('seed', 'abc'), ('seed', 1.25), ('seed', [1]), ('n', 2), ('n', 0), ('n', '1'),
    ('stream', 'yes'), ('stream', 1), ('stream_options', 5), ('stream_options', {'include_usage': 'x'}),
    ('stop', 7), ('stop', ''), ('stop', ['a', 1]), ('stop', ['x'] * 17), ('presence_penalty', 5),
    ('frequency_penalty', -3), ('frequency_penalty', 'x'), ('repeat_penalty', -1), ('repeat_penalty', 100),
    ('ignore_eos', 'no'), ('model', 12), ('model', ['m']),
]
for field, value in wrong:
    body = {'messages': MSG, field: value}
    param = 'stream_options.include_usage' if field == 'stream_options' and isinstance(value, dict) else field
    expect_error('chat %s=%r' % (field, value), request('POST', CHAT, body), 400, param)
for field, value in wrong:
    param = 'stream_options.include_usage' if field == 'stream_options' and isinstance(value, dict) else field
    expect_error('completion %s=%r' % (field, value), request('POST', COMP, {'prompt': 'x', field: value}), 400,
                 param)

# --- messages and prompts of the wrong shape ---
shapes = [
    (CHAT, {}, 'messages'), (CHAT, {'messages': []}, 'messages'), (CHAT, {'messages': 'hi'}, 'messages'),
    (CHAT, {'messages': [1]}, 'messages[0]'), (CHAT, {'messages': [{'role': 'user'}]}, 'messages[0].content'),
    (CHAT, {'messages': [{'content': 'x'}]}, 'messages[0].role'),
    (CHAT, {'messages': [{'role': 'root', 'content': 'x'}]}, 'messages[0].role'),
    (CHAT, {'messages': [{'role': 'user', 'content': 5}]}, 'messages[0].content'),
    (CHAT, {'messages': [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': 'x'}}]}]},
     'messages[0].content'),
    (CHAT, {'messages': [{'role': 'user', 'content': [{'type': 'text'}]}]}, 'messages[0].content'),
    (COMP, {}, 'prompt'), (COMP, {'prompt': 5}, 'prompt'), (COMP, {'prompt': [1, 2, 3]}, 'prompt'),
    (COMP, {'prompt': ['a', 'b']}, 'prompt'), (COMP, {'prompt': None}, 'prompt'), (COMP, {'prompt': {}}, 'prompt'),
]
for path, body, param in shapes:
    expect_error('%s %r' % (path, body), request('POST', path, body), 400, param)

# --- huge max_tokens ---
for v in [10 ** 9, 2 ** 31, 2 ** 63, 1e300, 100000]:
    expect_error('max_tokens %r' % v, request('POST', COMP, {'prompt': 'x', 'max_tokens': v}), 400, 'max_tokens')

# --- prompts longer than the context (-c 256) ---
long_text = 'Once upon a time there was a little dog. ' * 200
expect_error('long prompt', request('POST', COMP, {'prompt': long_text, 'max_tokens': 4}), 400, 'prompt')
expect_error('long chat', request('POST', CHAT, {'messages': [{'role': 'user', 'content': long_text}]}), 400,
             'messages')
expect_error('long stream', request('POST', COMP, {'prompt': long_text, 'stream': True}), 400, 'prompt')

# --- bad UTF-8, NUL, nesting ---
for i, raw in enumerate([b'{"prompt":"\xc3\x28"}', b'{"prompt":"\xff\xfe"}', b'{"prompt":"a\x00b"}',
                         b'{"messages":[{"role":"user","content":"\xed\xa0\x80"}]}', b'{"prompt":"\xc0\xaf"}']):
    expect_error('bad utf-8 %d' % i, request('POST', COMP if b'prompt' in raw else CHAT, raw), 400)
for depth in [65, 1000, 100000]:
    expect_error('nested %d' % depth, request('POST', COMP, '{"prompt":"x","a":' + '[' * depth + ']' * depth + '}'),
                 400)

# --- unknown routes, wrong methods ---
for path in ['/', '/v1', '/v2/chat/completions', '/v1/chat/completions/x', '/v1/engines', '/../etc/passwd',
             '/v1/models/x', '/health/x', '/' + 'a' * 2000]:
    expect_error('route %s' % path[:40], request('GET', path), 404)
for method, path in [('GET', CHAT), ('GET', COMP), ('PUT', CHAT), ('DELETE', '/health'), ('POST', '/v1/models'),
                     ('POST', '/metrics'), ('GET', '/v1/cancel'), ('PATCH', COMP)]:
    expect_error('%s %s' % (method, path), request(method, path, {'prompt': 'x'}), 405)

# --- API key ---
for name, extra in [('no key', ''), ('wrong key', 'Authorization: Bearer nope\r\n'),
                    ('basic auth', 'Authorization: Basic aG9zdGlsZQ==\r\n'),
                    ('key prefix', 'Authorization: Bearer %s\r\n' % KEY[:-1]),
                    ('key longer', 'Authorization: Bearer %sx\r\n' % KEY),
                    ('empty bearer', 'Authorization: Bearer \r\n')]:
    for path in [CHAT, COMP]:
        expect_error('%s %s' % (name, path), request('POST', path, {'prompt': 'x', 'messages': MSG}, auth=False,
                                                     extra=extra), 401)
expect_error('no key models', request('GET', '/v1/models', auth=False), 401)
expect_error('no key metrics', request('GET', '/metrics', auth=False), 401)
r = request('GET', '/health', auth=False)
if r is None or r[0] != 200:
    fail('/health must stay open without a key: %r' % (r,))

# --- cancel ---
expect_error('cancel unknown', request('POST', '/v1/cancel', {'id': 'chatcmpl-nope'}), 404)
expect_error('cancel no id', request('POST', '/v1/cancel', {}), 400)
expect_error('cancel bad', request('POST', '/v1/cancel', '{'), 400)
expect_error('cancel id type', request('POST', '/v1/cancel', {'id': 5}), 400)

# --- 100 MB bodies: refused at once when the client waits for "100 Continue"; else read (libsoup cannot skip
# a body) but never kept, and refused at its end ---
BIG = 100 * 1000 * 1000
for path in [CHAT, COMP, '/v1/cancel']:
    s = connect()
    s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\nExpect: 100-continue\r\n\r\n'
               % (path, AUTH, BIG)).encode())
    expect_error('100 MB announced, 100-continue, %s' % path, read_response(s, deadline=5), 413)
    s.close()


def announced_big(path, auth=AUTH):
    s = connect()
    s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n' % (path, auth, BIG)).encode())
    block = b'a' * (1 << 20)
    try:
        for _ in range(BIG // len(block)):
            s.sendall(block)
        s.sendall(b'a' * (BIG % len(block)))
    except (ConnectionResetError, BrokenPipeError):
        pass
    r = read_response(s)
    s.close()
    return r


t0 = time.monotonic()
expect_error('100 MB announced chat', announced_big(CHAT), 413)
expect_error('100 MB announced, no key', announced_big(COMP, auth=''), 401)
if time.monotonic() - t0 > 30:
    fail('two 100 MB bodies took %.0f s' % (time.monotonic() - t0))


def chunked_big(path):
    s = connect()
    s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\n%sTransfer-Encoding: chunked\r\n\r\n' % (path, AUTH)).encode())
    chunk = b'%x\r\n' % (1 << 20) + b'a' * (1 << 20) + b'\r\n'
    try:
        for _ in range(BIG >> 20):
            s.sendall(chunk)
        s.sendall(b'0\r\n\r\n')
    except (ConnectionResetError, BrokenPipeError):
        pass
    r = read_response(s)
    s.close()
    return r


expect_closed_or_4xx('100 MB chunked chat', chunked_big(CHAT))
expect_closed_or_4xx('100 MB chunked completion', chunked_big(COMP))

# --- not HTTP, oversized headers ---
for raw in [b'GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n', b'HELLO\r\n\r\n', b'GET\r\n\r\n', b'GET / HTTP/9.9\r\n\r\n', b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
            b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
            b'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n',
            b'GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 200000 + b'\r\n\r\n']:
    # libsoup answers these itself, before any handler: an HTTP version other than 1.x gets its
    # 505 (HTTP Version Not Supported), the one 5xx, and the right answer to it
    expect_closed_or_4xx('not http %r' % raw[:30], send_raw(raw), also=(505,) if b'9.9' in raw else ())

# --- slow clients: headers, and a body, that never complete (in parallel) ---
slow_results = []


def slow(kind):
    s = connect()
    t0 = time.monotonic()
    try:
        if kind == 'headers':
            s.sendall(b'POST /v1/completions HTTP/1.1\r\nHost: x\r\n')
            for _ in range(20):
                time.sleep(0.4)
                s.sendall(b'X-Slow: 1\r\n')
        elif kind == 'idle':
            pass
        else:
            s.sendall(('POST /v1/completions HTTP/1.1\r\nHost: x\r\n%sContent-Length: 100\r\n\r\n{"pro' % AUTH).encode())
            for _ in range(40):
                time.sleep(0.4)
                s.sendall(b' ')
    except (ConnectionResetError, BrokenPipeError):
        pass
    r = read_response(s, deadline=30)
    slow_results.append((kind, r, time.monotonic() - t0))
    s.close()


threads = [threading.Thread(target=slow, args=(k,)) for k in ['headers'] * 6 + ['idle'] * 6 + ['body'] * 4]
for t in threads:
    t.start()
# the server answers others meanwhile
r = request('GET', '/health')
if r is None or r[0] != 200:
    fail('/health while slow clients hang on: %r' % (r,))
for t in threads:
    t.join(60)
for kind, r, took in slow_results:
    if r is not None and kind != 'headers':
        fail('slow %s: answered %r instead of closed' % (kind, r[:2]))
    expect_closed_or_4xx('slow %s' % kind, r)
    limit = TIMEOUT_S * (6 if kind == 'body' else 1) + 3
    if took > limit:
        fail('slow %s: closed after %.1f s, more than %d s' % (kind, took, limit))

with open('/proc/%d/status' % server.proc.pid) as f:
    hwm_kb = int(re.search(r'VmHWM:\s+(\d+)', f.read()).group(1))
if hwm_kb > 90 * 1024 and not os.environ.get('ASAN_OPTIONS'):
    fail('the server grew to %d MiB: a 100 MB body was kept' % (hwm_kb // 1024))
if count < 200:
    fail('only %d hostile requests' % count)
if not server.alive():
    fail('the server died')

# --- still serving ---
r = request('POST', COMP, {'prompt': 'Once upon a time', 'max_tokens': 8, 'temperature': 0})
if r is None or r[0] != 200 or json.loads(r[2])['choices'][0]['finish_reason'] != 'length':
    fail('a normal request after the hostile ones: %r' % (r,))
r = request('GET', '/metrics')
if r is None or r[0] != 200 or b'prima_tokens_predicted_total' not in r[2]:
    fail('metrics after the hostile ones: %r' % (r,))
server.stop()
print('test-serve-hostile: %d hostile requests answered: %s' % (count, ', '.join(
    '%s: %d' % (k, v) for k, v in sorted(results.items(), key=str))))
