#!/usr/bin/env python3
# gst-prima: every example command of the documentation runs as written (issue 11, point 19).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Reads the examples when it runs (so an edited README is checked as it is now):
#   - pipelines/*.pipeline: each run of comment lines indented by three spaces ("#   ...") is one
#     example, its lines run in order by one shell (a worker started with `&`, then the head, ...);
#   - README.md and docs/*.md: each ```sh block is one example, run the same way;
#   - elements/**/*.c and scheduler/gst*.c: each gtk-doc example block ("|[ ... ]|") of an element's documentation.
# Each runs with bash -e -o pipefail from a folder that looks like the source tree (links to its
# files, `build` linking to this build), with the build's plugin on GST_PLUGIN_PATH and its prima on
# PATH, under a timeout. Examples with rings use the fixed ports of the descriptions and of prima
# (9000 and up): every example runs in its own network namespace (unshare -n) so that other tests'
# rings on this machine do not meet them; where no namespace can be made, the examples that open
# ports are skipped with a message. The examples that cannot run here are listed in SKIP with the
# reason.
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get('PRIMA_BUILD_ROOT') or os.path.join(SRC, 'build')
TIMEOUT = int(os.environ.get('PRIMA_EXAMPLE_TIMEOUT', '120'))

# (file, text in the example, reason): examples that are not run here
SKIP = [
    ('README.md', '.ci/install-deps', 'installs system packages and builds a fresh tree'),
    ('README.md', 'meson test', 'runs the test suite that runs this test'),
    ('pipelines/voice-assistant.pipeline', 'voice-assistant.pipeline', 'needs a microphone and a speaker (the example of '
     'pipelines/voice-file.pipeline runs the same chain from file to file)'),
    ('README.md', 'meson install', 'installs into the system (tests/install/test-install.sh installs with --destdir)'),
    ('docs/memory.md', 'bench-ring.sh', 'needs the 14B model in /var/tmp/prima-models, outside the repository'),
    ('docs/ring.md', '10.0.0.', 'needs three hosts (10.0.0.1-3)'),
    ('docs/elements.md', 'NETNS_HEAD_ARGS', 'a benchmark as root over network namespaces (the test it runs, '
     'tests/ring/test-ring-netns.sh, is in the golden suite)'),
    ('elements/net/gstprimawssrc.c', 'primawssrc port=9001 rank=1', 'the worker half of a ring, waits for a head '
     '(the example of pipelines/worker.pipeline runs a whole ring)'),
    ('elements/net/gstprimawssink.c', 'primawssrc port=9001 rank=1', 'the worker half of a ring, waits for a head '
     '(the example of pipelines/worker.pipeline runs a whole ring)'),
]

# the optional speech elements (elements/speech/meson.build) and the Debian package each is built with
SPEECH_PACKAGES = {'primaspeechin': 'libpocketsphinx-dev', 'primaspeechout': 'libespeak-ng-dev'}

# an example that opens ports (rings, prima serve): run only in a private network namespace
RING = re.compile(r'--local-ring|--world|worker\.pipeline|ring-head\.pipeline|ring-eval\.pipeline|prima worker|prima serve')


# element -> the plugin file that has it, for the speech examples
AUDIO_PLUGINS = {'audioconvert': 'libgstaudioconvert.so', 'audioresample': 'libgstaudioresample.so',
                 'wavparse': 'libgstwavparse.so', 'wavenc': 'libgstwavenc.so'}
AUDIO_PACKAGES = {'audioconvert': 'gstreamer1.0-plugins-base', 'audioresample': 'gstreamer1.0-plugins-base',
                  'wavparse': 'gstreamer1.0-plugins-good', 'wavenc': 'gstreamer1.0-plugins-good'}


def speech_missing(env, text):
    """Why a speech example cannot run here (speech support is optional), or None."""
    # a spoken chat (prima run --voice-in, voice-file.pipeline) has both speech elements and the WAV ones
    voice = re.search(r'--voice|voice-file\.pipeline', text)
    if not re.search(r'primaspeech|espeak-ng', text) and not voice:
        return None
    if 'espeak-ng' in text and shutil.which('espeak-ng') is None:
        return 'needs espeak-ng (Debian package espeak-ng)'
    if voice:
        text += ' primaspeechin primaspeechout audioconvert audioresample wavparse wavenc'
    for element in sorted(set(re.findall(r'\bprimaspeech[a-z]*\b', text))):
        if subprocess.run(['gst-inspect-1.0', element], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            return (f'this build has no {element}: install {SPEECH_PACKAGES.get(element, "its speech library")}'
                    ' and rebuild')
    core = env.get('GST_PLUGIN_SYSTEM_PATH_1_0')
    for element, lib in AUDIO_PLUGINS.items():
        if re.search(r'\b' + element + r'\b', text) and core and not os.path.exists(os.path.join(core, lib)):
            return f'needs {element} (Debian package {AUDIO_PACKAGES[element]})'
    return None


def pipeline_examples(path):
    """Runs of '#   ' comment lines: one example each."""
    examples, cur, start = [], [], 0
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            m = re.match(r'#   (.*)$', line.rstrip('\n'))
            if m:
                if not cur:
                    start = no
                cur.append(m.group(1).strip())
                continue
            if cur:
                examples.append((start, '\n'.join(cur)))
                cur = []
    if cur:
        examples.append((start, '\n'.join(cur)))
    return examples


def markdown_examples(path):
    """```sh blocks: one example each."""
    examples, cur, start = [], None, 0
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            s = line.rstrip('\n')
            if cur is None and re.match(r'\s*```(sh|bash|shell)\s*$', s):
                cur, start = [], no + 1
            elif cur is not None and re.match(r'\s*```\s*$', s):
                examples.append((start, '\n'.join(cur)))
                cur = None
            elif cur is not None:
                cur.append(s)
    return examples


def gtkdoc_examples(path):
    """|[ ... ]| blocks of the gtk-doc comments: one example each."""
    examples, cur, start = [], None, 0
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            s = re.sub(r'^\s*\* ?', '', line.rstrip('\n'))
            if cur is None and s.strip() == '|[':
                cur, start = [], no + 1
            elif cur is not None and s.strip().startswith(']|'):
                examples.append((start, '\n'.join(cur)))
                cur = None
            elif cur is not None:
                cur.append(s)
    return examples


def collect():
    out = []
    for p in sorted(glob.glob(os.path.join(SRC, 'pipelines', '*.pipeline'))):
        out += [(os.path.relpath(p, SRC), no, text) for no, text in pipeline_examples(p)]
    for p in [os.path.join(SRC, 'README.md')] + sorted(glob.glob(os.path.join(SRC, 'docs', '*.md'))):
        out += [(os.path.relpath(p, SRC), no, text) for no, text in markdown_examples(p)]
    for p in sorted(glob.glob(os.path.join(SRC, 'elements', '**', '*.c'), recursive=True)
                    + glob.glob(os.path.join(SRC, 'scheduler', 'gst*.c'))):
        out += [(os.path.relpath(p, SRC), no, text) for no, text in gtkdoc_examples(p)]
    return out


def netns_prefix():
    """The command that runs a shell in a new network namespace with loopback up, or None."""
    unshare = shutil.which('unshare')
    ip = shutil.which('ip') or ('/usr/sbin/ip' if os.path.exists('/usr/sbin/ip') else
                                '/sbin/ip' if os.path.exists('/sbin/ip') else None)
    if not unshare or not ip:
        return None
    for flags in (['-n'], ['-r', '-n']):
        cmd = [unshare] + flags + ['sh', '-c', f'{ip} link set lo up && exec "$@"', 'netns']
        try:
            r = subprocess.run(cmd + ['true'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return cmd
    return None


def make_root(tmp):
    """A folder that looks like the source tree, with build/ being this build."""
    root = os.path.join(tmp, 'src')
    os.mkdir(root)
    for name in os.listdir(SRC):
        if name not in ('build', '.git'):
            os.symlink(os.path.join(SRC, name), os.path.join(root, name))
    os.symlink(BUILD, os.path.join(root, 'build'))
    bindir = os.path.join(tmp, 'bin')
    os.mkdir(bindir)
    os.symlink(os.path.join(BUILD, 'pipelines', 'prima'), os.path.join(bindir, 'prima'))
    # the D-Bus daemon of docs/dbus.md's examples
    os.symlink(os.path.join(BUILD, 'pipelines', 'primad', 'primad'), os.path.join(bindir, 'primad'))
    return root, bindir


def run(root, env, prefix, text):
    script = 'set -e -o pipefail\n' + text + '\n'
    cmd = (prefix or []) + ['bash', '-c', script]
    p = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = 'timeout after %d s' % TIMEOUT
    # a background process of the example that outlived it
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return rc, out.decode('utf-8', 'replace')


def main():
    examples = collect()
    tmp = tempfile.mkdtemp(prefix='prima-examples-')
    try:
        root, bindir = make_root(tmp)
        env = dict(os.environ)
        for var in ('PRIMA_DATA_DIR', 'PRIMA_PIPELINES_DIR', 'PRIMA_BIN', 'PRIMA_CLUSTER_KEY', 'PRIMA_CLUSTER_KEY_FILE'):
            env.pop(var, None)
        env['PATH'] = bindir + os.pathsep + env.get('PATH', '/usr/bin:/bin')
        env['GST_PLUGIN_PATH'] = os.path.join(BUILD, 'elements')
        env['GST_REGISTRY'] = os.path.join(tmp, 'registry.bin')
        core = os.environ.get('PRIMA_GST_CORE_PLUGIN')
        if core:
            # our plugin and core's (and app's) elements only, as the gst tests load them
            os.mkdir(os.path.join(tmp, 'core'))
            os.symlink(core, os.path.join(tmp, 'core', os.path.basename(core)))
            # appsrc and appsink: the serving engine's ring pipeline (serve-ring.pipeline) feeds and reads them
            app = os.path.join(os.path.dirname(core), 'libgstapp.so')
            if os.path.exists(app):
                os.symlink(app, os.path.join(tmp, 'core', 'libgstapp.so'))
            # the speech examples read and write WAV files: audioconvert, audioresample (plugins-base),
            # wavparse and wavenc (plugins-good) where installed (speech_missing() skips them otherwise)
            for lib in AUDIO_PLUGINS.values():
                path = os.path.join(os.path.dirname(core), lib)
                if os.path.exists(path):
                    os.symlink(path, os.path.join(tmp, 'core', lib))
            env['GST_PLUGIN_SYSTEM_PATH_1_0'] = os.path.join(tmp, 'core')
        prefix = netns_prefix()
        if prefix is None:
            print('# no network namespace (unshare -n): the examples with rings are skipped')

        fail, n, used = 0, 0, set()
        for path, no, text in examples:
            n += 1
            first = text.splitlines()[0] if text else ''
            name = f'{path}:{no}: {first[:90]}'
            skip = [(i, reason) for i, (f, needle, reason) in enumerate(SKIP) if f == path and needle in text]
            if skip:
                used.add(skip[0][0])
                print(f'ok {n} - {name} # SKIP {skip[0][1]}')
                continue
            if prefix is None and RING.search(text):
                print(f'ok {n} - {name} # SKIP opens the ring ports, and no network namespace can be made')
                continue
            why = speech_missing(env, text)
            if why:
                print(f'ok {n} - {name} # SKIP {why}')
                continue
            rc, out = run(root, env, prefix if RING.search(text) else None, text)
            if rc == 0:
                print(f'ok {n} - {name}')
            else:
                fail = 1
                print(f'not ok {n} - {name}: exit status {rc}')
                for line in text.splitlines():
                    print(f'#   $ {line}')
                for line in out.splitlines()[-20:]:
                    print(f'#   {line}')
        for i, (f, needle, reason) in enumerate(SKIP):
            if i not in used:
                print(f'# the skip entry for "{needle}" in {f} matches no example now')
        print(f'1..{n}')
        return fail
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
