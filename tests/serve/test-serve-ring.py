#!/usr/bin/env python3
# gst-prima: `prima serve --local-ring 3` serves the same answers as one device (issue 14, point 5).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# The 5-layer test model dealt 2,2,1 over three processes on loopback (the ring's data ports from a
# random base, --ring-port); completions at temperature 0, streamed and not, equal `prima run` on
# one device, a chat answer equals one device's server, and /metrics has a row per device.
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, fail, prima_run, streamed_text  # noqa: E402

model = os.path.join(os.environ.get('PRIMA_TEST_DATA', 'tests/data'), 'stories260K-f32.gguf')
prompts = ['Once upon a time', 'The little dog', 'One day, a girl named Sue']
chat = {'messages': [{'role': 'user', 'content': 'Tell me about a cat'}], 'max_tokens': 24, 'temperature': 0}

one = Server('-m', model)
try:
    want_chat = one.request('POST', '/v1/chat/completions', chat)[2]['choices'][0]['message']['content']
finally:
    one.stop()

base = 20000 + random.randrange(12000)
ring = Server('-m', model, '--local-ring', '3', '-lw', '2,2,1', '--ring-port', str(base))
try:
    for p in prompts:
        want = prima_run(p, 24, ['-m', model])
        st, _, got = ring.request('POST', '/v1/completions', {'prompt': p, 'max_tokens': 24, 'temperature': 0})
        if st != 200 or got['choices'][0]['text'] != want:
            fail('ring completion of %r: %r, one device %r' % (p, got, want))
        text, finish = streamed_text(ring.stream('/v1/completions', {'prompt': p, 'max_tokens': 24, 'temperature': 0,
                                                                      'stream': True}), chat=False)
        if text != want or finish != 'length':
            fail('ring stream of %r: %r (%s), one device %r' % (p, text, finish, want))
    got = ring.request('POST', '/v1/chat/completions', chat)[2]['choices'][0]['message']['content']
    if got != want_chat:
        fail('ring chat: %r, one device %r' % (got, want_chat))
    metrics = ring.request('GET', '/metrics')[2]
    ranks = set(re.findall(r'^prima_device_compute_seconds_total\{rank="(\d+)"', metrics, re.M))
    if ranks != {'0', '1', '2'}:
        fail('metrics: devices %r, want ranks 0, 1, 2:\n%s' % (ranks, metrics))
    laps = re.search(r'^prima_ring_laps_total (\d+)', metrics, re.M)
    if not laps or int(laps.group(1)) == 0:
        fail('metrics: no ring laps:\n%s' % metrics)
finally:
    ring.stop()
print('test-serve-ring: a ring of 3 serves the answers of one device')
