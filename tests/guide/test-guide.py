#!/usr/bin/env python3
# gst-prima: the user's guide, followed literally (issue 18, point 4).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# test-guide.py [SOURCE_ROOT [BUILD_ROOT]]
#
# Reads docs/guide.md when it runs and takes the home-cluster walk-through from it: the fenced blocks
# whose info string is `sh {step=NAME device=DEVICE [background] [expect="REGEX"]}`. It builds the home
# network the guide describes: three devices, each in its own network namespace with the guide's LAN
# address (head 192.168.1.10, worker1 .11, worker2 .12) on one bridge (in a fourth namespace), and runs
# each block in document order with bash -e -o pipefail in its device's namespace, from a home folder of
# its own ($HOME, shared by the three devices as a copied key would be), with this build's prima and
# primad on PATH. A `background` block is a server (a worker, prima serve): it runs on while the
# later blocks run and must still be running when the walk-through ends. Every other block must exit 0
# within 120 s, and its output (stdout and stderr) must match its `expect`. Every step of STEPS must be
# in the guide: a step left out or renamed fails the test, as does a command that fails or prints
# something else. The model of the walk-through, ~/models/model.gguf, is the 5-layer test model
# (tests/data/stories260K-f32.gguf, 1 MB: every device of a ring needs a layer, and the embedded model
# has 2), which the test puts there as the guide tells a user to put theirs.
# Needs root and `ip netns`; skips (77) otherwise. Everything it makes goes in its EXIT cleanup.
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else os.path.join(SRC, 'build'))
GUIDE = os.path.join(SRC, 'docs', 'guide.md')
DEVICES = {'head': '192.168.1.10', 'worker1': '192.168.1.11', 'worker2': '192.168.1.12'}
# the walk-through's steps, each a block of the guide (in this order)
STEPS = ['key', 'worker1', 'worker2', 'first-ring', 'dealt-ring', 'serve', 'health', 'chat-api', 'completion-api',
         'models-api']
TIMEOUT = 120

n = 0
failed = False


def ok(msg):
    global n
    n += 1
    print(f'ok {n} - {msg}', flush=True)


def bad(msg, detail=''):
    global n, failed
    n += 1
    failed = True
    print(f'not ok {n} - {msg}', flush=True)
    for line in detail.rstrip().splitlines()[-30:]:
        print('#   ' + line)


def skip(why):
    print(f'SKIP: {why}')
    sys.exit(77)


def blocks(path):
    """(line, attributes, text) of each ```sh {...} block."""
    out, cur, start, attrs = [], None, 0, None
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            s = line.rstrip('\n')
            m = re.match(r'\s*```sh\s+\{(.*)\}\s*$', s)
            if cur is None and m:
                attrs = {}
                for tok in shlex.split(m.group(1)):
                    k, _, v = tok.partition('=')
                    attrs[k] = v if _ else True
                cur, start = [], no + 1
            elif cur is not None and re.match(r'\s*```\s*$', s):
                out.append((start, attrs, '\n'.join(cur)))
                cur = None
            elif cur is not None:
                cur.append(s)
    return out


def sh(*cmd, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)}: {r.stdout.strip()}')
    return r


def main():
    walk = [b for b in blocks(GUIDE) if 'step' in b[1]]
    names = [b[1]['step'] for b in walk]
    for s in STEPS:
        if s not in names:
            bad(f'the guide has no step "{s}" (a ```sh {{step={s} device=...}} block)')
    order = [s for s in names if s in STEPS]
    if order != [s for s in STEPS if s in names]:
        bad(f'the guide\'s steps are out of order: {order}')
    for line, attrs, _ in walk:
        if attrs.get('device') not in DEVICES:
            bad(f'docs/guide.md:{line}: step {attrs["step"]}: device must be one of {", ".join(DEVICES)}')
    if failed:
        print(f'1..{n}')
        return 1

    if os.geteuid() != 0:
        skip('needs root (network namespaces for the three devices)')
    ip = shutil.which('ip') or '/usr/sbin/ip'
    if not os.path.exists(ip):
        skip('no ip(8) (iproute2)')
    if not shutil.which('curl'):
        skip('no curl')
    tag = f'pg{os.getpid()}'
    ns = {d: f'{tag}-{d}' for d in DEVICES}
    lan = f'{tag}-lan'
    tmp = tempfile.mkdtemp(prefix='prima-guide-')
    procs = []

    def cleanup():
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for name in list(ns.values()) + [lan]:
            subprocess.run([ip, 'netns', 'del', name], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        r = sh(ip, 'netns', 'add', lan, check=False)
        if r.returncode != 0:
            skip(f'ip netns does not work here: {r.stdout.strip()}')
        # the LAN: a bridge in its own namespace, one veth to each device
        sh(ip, '-n', lan, 'link', 'add', 'br0', 'type', 'bridge')
        sh(ip, '-n', lan, 'link', 'set', 'br0', 'up')
        for i, (d, addr) in enumerate(DEVICES.items()):
            sh(ip, 'netns', 'add', ns[d])
            sh(ip, 'link', 'add', f'{tag}d{i}', 'type', 'veth', 'peer', 'name', f'{tag}l{i}')
            sh(ip, 'link', 'set', f'{tag}d{i}', 'netns', ns[d], 'name', 'eth0')
            sh(ip, 'link', 'set', f'{tag}l{i}', 'netns', lan)
            sh(ip, '-n', lan, 'link', 'set', f'{tag}l{i}', 'master', 'br0', 'up')
            sh(ip, '-n', ns[d], 'addr', 'add', f'{addr}/24', 'dev', 'eth0')
            sh(ip, '-n', ns[d], 'link', 'set', 'eth0', 'up')
            sh(ip, '-n', ns[d], 'link', 'set', 'lo', 'up')

        home = os.path.join(tmp, 'home')
        os.makedirs(os.path.join(home, 'models'))
        shutil.copy(os.path.join(SRC, 'tests', 'data', 'stories260K-f32.gguf'),
                    os.path.join(home, 'models', 'model.gguf'))
        bindir = os.path.join(tmp, 'bin')
        os.mkdir(bindir)
        os.symlink(os.path.join(BUILD, 'pipelines', 'prima'), os.path.join(bindir, 'prima'))
        os.symlink(os.path.join(BUILD, 'pipelines', 'primad', 'primad'), os.path.join(bindir, 'primad'))
        env = {k: v for k, v in os.environ.items() if not k.startswith('PRIMA_')}
        env.update(HOME=home, PATH=bindir + os.pathsep + env.get('PATH', '/usr/bin:/bin'), LC_ALL='C.UTF-8',
                   LANGUAGE='')
        env.pop('XDG_CONFIG_HOME', None)

        for line, attrs, text in walk:
            step, dev = attrs['step'], attrs['device']
            where = f'docs/guide.md:{line} step {step} on {dev} ({DEVICES[dev]})'
            cmd = [ip, 'netns', 'exec', ns[dev], 'bash', '-e', '-o', 'pipefail', '-c', text]
            log = os.path.join(tmp, f'{step}.log')
            if 'background' in attrs:
                p = subprocess.Popen(cmd, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=open(log, 'w'),
                                     stderr=subprocess.STDOUT, start_new_session=True)
                procs.append(p)
                p.step, p.where, p.log = step, where, log
                time.sleep(0.3)
                if p.poll() is not None:
                    bad(f'{where}: exited at once ({p.returncode})', open(log).read())
                else:
                    ok(f'{where}: started')
                continue
            try:
                r = subprocess.run(cmd, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=TIMEOUT, start_new_session=True)
                out, rc = r.stdout.decode('utf-8', 'replace'), r.returncode
            except subprocess.TimeoutExpired as e:
                out, rc = (e.stdout or b'').decode('utf-8', 'replace'), f'timeout after {TIMEOUT} s'
            open(log, 'w').write(out)
            # what the user would see, in the test's log
            for l in out.rstrip().splitlines()[:12]:
                print('#   ' + l[:200])
            want = attrs.get('expect')
            if rc != 0:
                bad(f'{where}: exit {rc}', out + ''.join(f'\n[{p.step}] ' + open(p.log).read()[-2000:]
                                                         for p in procs))
            elif want and not re.search(want, out, re.M):
                bad(f'{where}: the output does not match /{want}/', out)
            else:
                ok(f'{where}' + (f': matches /{want}/' if want else ''))
            # a server the guide stops (kill %1 in its own block does not reach it): the stop step
            # names it with stop=STEP and this test ends it as the user's Ctrl-C would
            if 'stop' in attrs:
                for p in procs:
                    if p.step == attrs['stop'] and p.poll() is None:
                        os.killpg(p.pid, signal.SIGINT)
                        try:
                            p.wait(timeout=20)
                            p.stopped = True
                        except subprocess.TimeoutExpired:
                            bad(f'{p.where}: did not stop on Ctrl-C (SIGINT)')
        for p in procs:
            if getattr(p, 'stopped', False):
                if p.returncode != 0:
                    bad(f'{p.where}: exit {p.returncode} after Ctrl-C', open(p.log).read())
                else:
                    ok(f'{p.where}: stopped cleanly')
            elif p.poll() is not None:
                bad(f'{p.where}: exited ({p.returncode}) before the walk-through ended', open(p.log).read())
            else:
                ok(f'{p.where}: still serving at the end')
    finally:
        cleanup()
    print(f'1..{n}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
