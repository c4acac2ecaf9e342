#!/usr/bin/env python3
# gst-prima: 32 concurrent streaming clients of `prima serve` (issue 14, point 2).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# 32 threads, each with its own prompt, stream a completion at temperature 0 at the same time from a
# server with 16 slots (16 decode in one batched pass, the rest queue); every answer must equal
# `prima run` on its prompt alone, and a few chat turns among them their answer when asked alone. The server stays up and stops cleanly.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, fail, prima_run, streamed_text  # noqa: E402

N_CLIENTS, N_TOKENS = 32, 128
subjects = ['a cat', 'a dog', 'the sun', 'a boat', 'a tree', 'the moon', 'a bird', 'a car', 'a girl', 'a boy',
            'the sea', 'a ball', 'a cake', 'a frog', 'a king', 'a duck']
prompts = ['Once upon a time there was %s' % s for s in subjects] + ['One day %s' % s for s in subjects]
assert len(prompts) == N_CLIENTS

server = Server('-np', '16')
results = [None] * N_CLIENTS
chats = {}


def client(i):
    try:
        if i % 8 == 7:
            body = {'messages': [{'role': 'user', 'content': prompts[i]}], 'max_tokens': N_TOKENS, 'temperature': 0,
                    'stream': True}
            chats[i] = streamed_text(server.stream('/v1/chat/completions', body), chat=True)
        else:
            body = {'prompt': prompts[i], 'max_tokens': N_TOKENS, 'temperature': 0, 'stream': True}
            results[i] = streamed_text(server.stream('/v1/completions', body), chat=False)
    except BaseException as e:  # noqa: B902 - reported below, not lost in the thread
        results[i] = ('error', repr(e))


try:
    threads = [threading.Thread(target=client, args=(i,)) for i in range(N_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
        if t.is_alive():
            fail('a client did not finish within 240 s')
    errors = [r for r in results if r and r[0] == 'error']
    if errors:
        fail('clients failed: %s' % errors[:3])
    for i in range(N_CLIENTS):
        if i in chats:
            solo = server.request('POST', '/v1/chat/completions', {
                'messages': [{'role': 'user', 'content': prompts[i]}], 'max_tokens': N_TOKENS, 'temperature': 0})[2]
            want = (solo['choices'][0]['message']['content'], solo['choices'][0]['finish_reason'])
            if chats[i] != want:
                fail('chat %d: concurrent %r, alone %r' % (i, chats[i], want))
            continue
        want = prima_run(prompts[i], N_TOKENS)
        text, finish = results[i]
        if text != want or finish not in ('length', 'stop'):
            fail('client %d (%r): %r (%s), prima run %r' % (i, prompts[i], text, finish, want))
    if not server.alive():
        fail('the server died')
finally:
    server.stop()
print('test-serve-concurrent: %d concurrent streams equal their solo runs' % N_CLIENTS)
