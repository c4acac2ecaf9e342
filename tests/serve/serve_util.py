# gst-prima tests: starting `prima serve` and asking it things (tests/serve/test-serve-*.py).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

PRIMA = os.environ.get('PRIMA_BIN') or os.path.join(os.path.dirname(__file__), '..', '..', 'build', 'pipelines', 'prima')
SKIP = 77


def fail(msg):
    print('FAIL: ' + msg, flush=True)
    sys.exit(1)


class Server:
    """`prima serve --port 0 ARGS` until stop(); the port is read from its first line."""

    def __init__(self, *args, env=None, timeout=60):
        self.proc = subprocess.Popen([PRIMA, 'serve', '--port', '0', *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.search(r'listening on http://[^ ]*:(\d+) ', line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ''
            self.proc.kill()
            fail('prima serve did not start: %r %s' % (line, err))
        self.port = int(m.group(1))
        self.line = line.strip()

    def alive(self):
        return self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers, parsed JSON or text) of one request on a new connection."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        h = {'Content-Type': 'application/json'}
        h.update(headers or {})
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read().decode('utf-8')
        conn.close()
        try:
            return r.status, dict(r.getheaders()), json.loads(text)
        except ValueError:
            return r.status, dict(r.getheaders()), text

    def stream(self, path, body, headers=None, timeout=120):
        """The data: events of a streamed answer, parsed ([DONE] as the string)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)
        h = {'Content-Type': 'application/json'}
        h.update(headers or {})
        conn.request('POST', path, body=json.dumps(body).encode(), headers=h)
        r = conn.getresponse()
        if r.status != 200:
            fail('%s: status %d: %s' % (path, r.status, r.read()))
        events = []
        for raw in r.read().decode('utf-8').split('\n\n'):
            if not raw.strip():
                continue
            if not raw.startswith('data: '):
                fail('not an SSE data line: %r' % raw)
            payload = raw[6:]
            events.append(payload if payload == '[DONE]' else json.loads(payload))
        conn.close()
        return events

    def stop(self):
        """SIGTERM; the server must exit 0 within 30 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                fail('prima serve did not stop within 30 s of SIGTERM')
        err = self.proc.stderr.read()
        if self.proc.returncode != 0:
            fail('prima serve exited %d: %s' % (self.proc.returncode, err))
        return err


def streamed_text(events, chat=True):
    """The answer text and finish_reason of a list of events."""
    text, finish = '', None
    for e in events:
        if e == '[DONE]' or not e.get('choices'):
            continue
        c = e['choices'][0]
        if chat:
            text += c['delta'].get('content') or ''
        else:
            text += c.get('text') or ''
        if c.get('finish_reason'):
            finish = c['finish_reason']
    return text, finish


def prima_run(prompt, n, extra=()):
    """`prima run -p PROMPT -n N --temp 0` on the embedded model: the generated text."""
    r = subprocess.run([PRIMA, 'run', '-p', prompt, '-n', str(n), '--temp', '0', '--no-display-prompt', *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        fail('prima run failed: ' + r.stderr)
    # prima run ends its output with a newline of its own
    if not r.stdout.endswith('\n'):
        fail('prima run output does not end with its newline: %r' % r.stdout)
    return r.stdout[:-1]


def prima_chat(message, n):
    """The answer of `prima run -cnv -p MESSAGE -n N --temp 0` (stdin at its end closes the chat after the
    first answer); its "\\n> " prompt for the next turn is not part of the answer."""
    r = subprocess.run([PRIMA, 'run', '-cnv', '-p', message, '-n', str(n), '--temp', '0'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        fail('prima run -cnv failed: ' + r.stderr)
    out = r.stdout
    if out.endswith('\n> '):
        out = out[:-3]
    return out
