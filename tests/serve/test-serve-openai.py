#!/usr/bin/env python3
# gst-prima: `prima serve` driven by the official OpenAI client (issue 14, point 1).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# The client is the `openai` npm package under node (this machine's registries reach npm, not PyPI),
# installed once into BUILD_DIR/openai-npm; where node, npm or the registry is missing the test is
# skipped (exit 77) with the reason. The server runs the embedded model with an API key; the client
# (tests/serve/openai-client.mjs) makes its requests and prints what came back, checked here:
#   - a completion at temperature 0 equals `prima run -p PROMPT -n N --temp 0`, streamed or not;
#   - a chat answer at temperature 0 equals `prima run -cnv -p MESSAGE -n N --temp 0`: prima run's chat
#     renders the same template the server uses (the model's, else ChatML) for the same one message;
#   - max_tokens ends an answer with finish_reason "length", a stop string with "stop" and the text
#     before it; the same seed twice at temperature 0.8 gives the same answer; usage counts add up.
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import Server, SKIP, fail, prima_chat, prima_run  # noqa: E402

build_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join('build', 'tests', 'serve')
if not shutil.which('node') or not shutil.which('npm'):
    print('SKIP: node and npm are needed for the openai npm package')
    sys.exit(SKIP)
npm_dir = os.path.join(build_dir, 'openai-npm')
if not os.path.isdir(os.path.join(npm_dir, 'node_modules', 'openai')):
    os.makedirs(npm_dir, exist_ok=True)
    with open(os.path.join(npm_dir, 'package.json'), 'w') as f:
        f.write('{"name": "prima-openai-test", "private": true}\n')
    r = subprocess.run(['npm', 'install', '--no-audit', '--no-fund', '--silent', 'openai@4'], cwd=npm_dir,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    if r.returncode != 0:
        print('SKIP: npm install openai failed (is the npm registry reachable?): ' + r.stdout[-500:])
        sys.exit(SKIP)

server = Server('--api-key', 'test-key', '-np', '2')
try:
    r = subprocess.run(['node', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'openai-client.mjs'),
                        os.path.abspath(npm_dir), str(server.port)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=240)
    if r.returncode != 0:
        fail('the client failed: ' + r.stderr[-2000:])
    out = json.loads(r.stdout)
finally:
    err = server.stop()


def check(cond, what):
    if not cond:
        fail(what + '\n' + json.dumps(out, indent=1))
    print('ok: ' + what)


check(out['models'] == ['TinyStories 656K'], 'models lists the model')
completion = prima_run('Once upon a time', 24)
check(out['completion']['text'] == completion, 'a completion equals prima run -p (%r)' % completion)
check(out['completion']['finish'] == 'length', 'max_tokens ends a completion with "length"')
check(out['completion']['id'].startswith('cmpl-'), 'a completion id is cmpl-...')
check(out['completion']['usage']['completion_tokens'] == 24, 'usage counts 24 completion tokens')
check(out['completion_stream'] == {'text': completion, 'finish': 'length'}, 'the streamed completion is the same')

chat = prima_chat('Hi', 16)
check(out['chat']['text'] == chat, 'a chat answer equals prima run -cnv (%r, server %r)' % (chat, out['chat']['text']))
check(out['chat']['role'] == 'assistant' and out['chat']['object'] == 'chat.completion', 'a chat.completion message')
check(out['chat']['finish'] == 'length' and out['chat']['usage']['completion_tokens'] == 16,
      'max_tokens ends a chat answer with "length"')
u = out['chat']['usage']
check(u['total_tokens'] == u['prompt_tokens'] + u['completion_tokens'] and u['prompt_tokens'] > 0, 'usage adds up')
cs = out['chat_stream']
check(cs['text'] == out['chat']['text'] and cs['finish'] == 'length', 'the streamed chat answer is the same')
check(cs['roles'] == ['assistant'] and len(cs['ids']) == 1 and cs['ids'][0].startswith('chatcmpl-'),
      'one role delta, one chatcmpl- id')
check(cs['usage'] == out['chat']['usage'], 'the usage chunk (stream_options.include_usage) has the same counts')

long_text = out['long']
check(' Lily' in long_text, 'the 40-token completion holds the stop string')
check(out['stopped'] == {'text': long_text[:long_text.index(' Lily')], 'finish': 'stop'},
      'a stop string ends the completion before it, finish_reason "stop"')
cl = out['chat_long']
if 'big' in cl:
    check(out['chat_stopped'] == {'text': cl[:cl.index('big')], 'finish': 'stop'}, 'a streamed chat stops before "big"')
s = out['seeded']
check(s[0] == s[1] and len(s[0]) > 0, 'the same seed at temperature 0.8 gives the same answer')
check(s[0] != s[2], 'another seed another answer')
check(out['bad']['status'] == 400 and out['bad']['param'] == 'temperature', 'a bad temperature is a 400 naming it')
print('test-serve-openai: all checks passed')
