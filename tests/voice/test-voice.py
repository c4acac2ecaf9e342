#!/usr/bin/env python3
# gst-prima: the spoken chat end to end (issue 15): `prima run --voice-in Q.wav --voice-out A.wav` on the
# embedded model, checked against pocketsphinx's own transcript (primaspeechin alone), against
# `prima run -cnv` on that transcript, and against primaspeechout alone on the answer text; the first
# answer audio before the turn's last token; the same answer over a local ring of 2; barge-in.
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Exit 77 (skipped) naming the Debian package when espeak-ng, a speech element or an audio element is
# missing. PRIMA_VOICE_MODEL names another model for the latency line (e.g. the 1B bench model).
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave

PRIMA = os.environ['PRIMA_BIN']
GST_LAUNCH = os.environ.get('GST_LAUNCH', 'gst-launch-1.0')
GST_INSPECT = os.environ.get('GST_INSPECT', 'gst-inspect-1.0')
failures = 0


def check(ok, what, detail=''):
    global failures
    print(('ok - ' if ok else 'FAIL - ') + what + (f': {detail}' if detail and not ok else ''))
    if not ok:
        failures += 1


def skip(why):
    print(f'SKIP: {why}')
    sys.exit(77)


def run(args, stdin=None, timeout=120):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def transcript(path):
    """primaspeechin alone on a WAV file: pocketsphinx's transcript, one line per utterance."""
    rc, out, err = run([GST_LAUNCH, '-q', 'filesrc', f'location={path}', '!', 'wavparse', '!', 'audioconvert', '!',
                        'audioresample', '!', 'primaspeechin', '!', 'fdsink', 'fd=1'])
    if rc != 0:
        raise SystemExit(f'FAIL - primaspeechin on {path}: {err}')
    return [line for line in out.split('\n') if line]


def duration(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def voice_run(args, timeout=120):
    """prima run --verbose with a spoken chat: (stdout, stderr, heard lines, the verbose turn lines)."""
    rc, out, err = run([PRIMA, 'run', '--verbose'] + args, timeout=timeout)
    if rc != 0:
        raise SystemExit(f'FAIL - prima run {" ".join(args)}: exit {rc}: {err}')
    heard = re.findall(r'^prima run: heard: (.*)$', err, re.M)
    return out, err, heard


if shutil.which('espeak-ng') is None:
    skip('needs espeak-ng (Debian package espeak-ng)')
for element, package in [('primaspeechin', 'libpocketsphinx-dev and pocketsphinx-en-us'),
                         ('primaspeechout', 'libespeak-ng-dev'), ('wavparse', 'gstreamer1.0-plugins-good'),
                         ('wavenc', 'gstreamer1.0-plugins-good'), ('audioresample', 'gstreamer1.0-plugins-base')]:
    if subprocess.run([GST_INSPECT, element], capture_output=True).returncode != 0:
        skip(f'this build or system has no {element} (Debian package {package})')

tmp = tempfile.mkdtemp(prefix='prima-voice-')
os.chdir(tmp)
subprocess.run(['espeak-ng', '-w', 'q.wav', 'what is the color of the sky'], check=True)

# (a) the heard transcript is pocketsphinx's own, the answer is -cnv's on it, the answer audio is what
# primaspeechout makes of that text and can be recognized
ref = transcript('q.wav')
check(len(ref) == 1, 'primaspeechin alone hears one utterance in q.wav', repr(ref))
out, err, heard = voice_run(['--voice-in', 'q.wav', '--voice-out', 'a.wav', '--temp', '0', '-n', '24'])
print(f'# heard {heard!r}; answer {out!r}')
check(heard == ref, 'prima run --voice-in hears what primaspeechin alone hears', f'{heard!r} != {ref!r}')
rc, cnv, _ = run([PRIMA, 'run', '-cnv', '--temp', '0', '-n', '24'], stdin=ref[0] + '\n')
check(rc == 0 and cnv.startswith('\n> ') and cnv.endswith('\n> '), 'prima run -cnv on the transcript', repr(cnv))
answer = cnv[3:-3]
check(out == answer + '\n', 'the spoken chat answers as prima run -cnv on the transcript', f'{out!r} != {answer!r}')
check(answer.strip() != '', 'the answer is not empty')
rc, _, err2 = run([GST_LAUNCH, '-q', 'fdsrc', 'fd=0', '!', 'primaspeechout', '!', 'wavenc', '!', 'filesink',
                   'location=ref.wav'], stdin=answer)
check(rc == 0, 'primaspeechout alone speaks the answer', err2)
d, dref = duration('a.wav'), duration('ref.wav')
print(f'# answer audio {d:.3f} s, primaspeechout alone on its text {dref:.3f} s')
check(d > 0.5 and abs(d - dref) <= max(0.3, 0.1 * dref), 'a.wav is as long as the answer spoken at once',
      f'{d:.3f} s vs {dref:.3f} s')
words = transcript('a.wav')
print(f'# a.wav heard as {words!r}')
check(any(w.strip() for w in words), 'primaspeechin recognizes words in a.wav')

# (b) the first answer audio leaves before the turn's last token (the order of prima's bus messages),
# and the time from the question's recognition to it
m = re.search(r'turn 1: first answer audio ([-0-9.]+) ms after the question was heard, (before|after) its last token',
              err)
check(m is not None and m.group(2) == 'before', 'the first answer audio is posted before the turn\'s last token',
      m.group(0) if m else err)
if m:
    print(f'# embedded model: first answer sample {m.group(1)} ms after the end of the question was recognized')
model = os.environ.get('PRIMA_VOICE_MODEL')
if model and os.path.exists(model):
    _, err1b, _ = voice_run(['-m', model, '--voice-in', 'q.wav', '--voice-out', 'a1b.wav', '--temp', '0', '-n', '24'],
                            timeout=600)
    m1b = re.search(r'turn 1: first answer audio ([-0-9.]+) ms .*, (before|after) its last token', err1b)
    print(f'# {model}: first answer sample {m1b.group(1) if m1b else "?"} ms after the end of the question '
          f'({m1b.group(2) if m1b else "?"} the last token)')

# (c) the same chain at the head of a local ring of 2 gives the same answer
out_ring, _, heard_ring = voice_run(['--voice-in', 'q.wav', '--voice-out', 'ar.wav', '--temp', '0', '-n', '24',
                                     '--local-ring', '2'])
check(heard_ring == ref and out_ring == out, 'the spoken chat over --local-ring 2 answers the same',
      f'{out_ring!r} != {out!r}')
check(abs(duration('ar.wav') - d) < 0.01, 'and speaks the same answer audio')

# (d) barge-in: a second question 0.8 s after the first one ends, while the first answer is still being
# generated (up to 3000 tokens, --ignore-eos: seconds of generation and synthesis; the file is heard
# much faster than real time, so the second question begins within tens of ms): the first turn ends
# "interrupted", the second is answered. Timing, not guaranteed: the margin is the first answer's
# 3000 tokens (about 0.6 s here) against the recognizer's time through 0.8 s of audio.
subprocess.run(['espeak-ng', '-w', 'q2.wav', 'tell me a story'], check=True)
with wave.open('q.wav') as a, wave.open('q2.wav') as b:
    params = a.getparams()
    frames = a.readframes(a.getnframes()) + b'\0\0' * int(params.framerate * 0.8) + b.readframes(b.getnframes())
with wave.open('two.wav', 'wb') as w:
    w.setparams(params)
    w.writeframes(frames)
ref2 = transcript('two.wav')
check(len(ref2) == 2, 'primaspeechin alone hears two utterances in two.wav', repr(ref2))
out2, err2, heard2 = voice_run(['--voice-in', 'two.wav', '--voice-out', 'a2.wav', '--temp', '0', '-n', '3000',
                                '--ignore-eos'])
ends = re.findall(r'^prima run: turn (\d+): \d+ prompt tokens, (\d+) generated, end: (\S+)$', err2, re.M)
print(f'# barge-in: heard {heard2!r}, turns {ends!r}')
check(heard2 == ref2, 'both questions are heard as primaspeechin alone hears them', f'{heard2!r}')
check(len(ends) == 2 and ends[0][2] == 'interrupted' and int(ends[0][1]) < 3000,
      'the second question interrupts the first answer', repr(ends))
check(len(ends) == 2 and ends[1][2] == 'n-predict' and int(ends[1][1]) == 3000, 'the second question is answered',
      repr(ends))

if failures == 0:
    shutil.rmtree(tmp)
sys.exit(1 if failures else 0)
