#!/usr/bin/env python3
# gst-prima: recovery time of a ring that loses a device (issue 13, point 5 of "done when").
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
#   tests/ring/bench-recovery.py [--model FILE] [--runs 3] [--signal KILL|STOP] [--at 20] [--tokens 64]
#
# A ring of 3 simulated devices on loopback, each under ../shared/tools/device.sh (a cgroup-v1 memory
# cap, a CPU quota and a read limit on the model's disk; needs root): the head and two persistent
# `prima worker`s, auto-scheduled (Halda over their profiles). Worker 2 sends itself SIGKILL (or
# SIGSTOP: a stall, found by the heartbeat) when it is handed token AT of the answer
# (PRIMA_WORKER_TEST_SIGNAL). Timestamps on every chunk of the head's output and line of its
# standard error give, per run: the time per token before the loss, the loss (the worker's own line
# just before it signals itself) -> the head's "lost after token" line (detection and re-plan), ->
# the first token after it (the KV cache rebuilt from the conversation so far, one batch), and the
# whole gap in the output. Medians and spread over the runs go to standard output.
import argparse
import os
import random
import selectors
import signal
import statistics
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))

ap = argparse.ArgumentParser()
ap.add_argument("--model", default="/var/tmp/prima-models/llama-1b-q4km.gguf")
ap.add_argument("--prima", default=os.environ.get("PRIMA_BIN", os.path.join(root, "build/pipelines/prima")))
ap.add_argument("--device-sh", default=os.path.join(root, "..", "shared", "tools", "device.sh"))
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--signal", choices=["KILL", "STOP"], default="KILL")
ap.add_argument("--at", type=int, default=20, help="the answer's token at which worker 2 is lost")
ap.add_argument("--tokens", type=int, default=64)
# MEM_MB:CPU%:READ_MBPS per device, head first (as docs/scheduler-plans.md)
ap.add_argument("--devices", default="1500:100:300,900:60:300,900:60:300")
ap.add_argument("--prompt", default="Once upon a time")
a = ap.parse_args()

if os.geteuid() != 0 or not os.path.isdir("/sys/fs/cgroup/memory"):
    sys.exit("bench-recovery: needs root and cgroup v1 (device.sh)")
for f in (a.model, a.prima, a.device_sh):
    if not os.path.exists(f):
        sys.exit(f"bench-recovery: {f}: not found")

devices = [d.split(":") for d in a.devices.split(",")]
world = len(devices)
key = os.urandom(32).hex()
env = dict(os.environ, PRIMA_CLUSTER_KEY=key, DEVICE_DISK_PATH=a.model)


def device(rank, cmd, extra_env=None):
    mem, cpu, rd = devices[rank]
    e = dict(env, **(extra_env or {}))
    return ["bash", a.device_sh, f"prima-bench-rec-{os.getpid()}-{rank}", mem, cpu, rd] + cmd, e


def n_prompt_tokens():
    out = subprocess.run([a.prima, "tokenize", "-m", a.model, "-p", a.prompt], capture_output=True, text=True)
    # the ids on one line (BOS included)
    return len(out.stdout.split())


results = []
n_prompt = n_prompt_tokens()
for run in range(a.runs):
    base = 20000 + random.randrange(12000)
    workers = []
    for r in range(1, world):
        extra = {"PRIMA_WORKER_TEST_SIGNAL": f"{a.signal}@{n_prompt + a.at - 1}"} if r == world - 1 else None
        cmd, e = device(r, [a.prima, "worker", "--world", str(world), "--rank", str(r), "--port", str(base),
                            "-m", a.model, "-t", "2"], extra)
        workers.append(subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    cmd, e = device(0, [a.prima, "run", "--world", str(world), "--rank", "0", "--port", str(base), "-m", a.model,
                        "-t", "2", "-p", a.prompt, "-n", str(a.tokens), "--temp", "0", "-no-cnv"])
    head = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(head.stdout, selectors.EVENT_READ, "out")
    sel.register(head.stderr, selectors.EVENT_READ, "err")
    victim = workers[-1]
    sel.register(victim.stderr, selectors.EVENT_READ, "victim")
    chunks, t_loss, t_line, line = [], None, None, ""
    open_streams = 3
    deadline = time.monotonic() + 600
    while open_streams > 0 and time.monotonic() < deadline:
        for k, _ in sel.select(timeout=1):
            data = os.read(k.fileobj.fileno(), 65536)
            now = time.monotonic()
            if not data:
                sel.unregister(k.fileobj)
                open_streams -= 1
                continue
            if k.data == "out":
                chunks.append((now, data))
            elif k.data == "err":
                for l in data.decode(errors="replace").splitlines():
                    if "lost after token" in l and t_line is None:
                        t_line, line = now, l.strip()
                    sys.stderr.write(f"  head: {l}\n")
            elif "PRIMA_WORKER_TEST_SIGNAL" in data.decode(errors="replace") and t_loss is None:
                t_loss = now
        if head.poll() is not None and open_streams <= 1:
            break
    head.wait(timeout=60)
    for w in workers:
        w.send_signal(signal.SIGCONT)
        w.kill()
        w.wait()
    if t_loss is None or t_line is None:
        print(f"run {run + 1}: no recovery seen (head exit {head.returncode})")
        continue
    before = [t for t, _ in chunks if t < t_loss]
    after = [t for t, _ in chunks if t > t_line]
    tpot = statistics.median([b - a_ for a_, b in zip(before[1:], before[2:])]) if len(before) > 3 else float("nan")
    r = {
        "tpot": tpot,
        "detect": t_line - t_loss,
        "first": (after[0] - t_line) if after else float("nan"),
        "gap": (after[0] - before[-1]) if after and before else float("nan"),
        "exit": head.returncode,
        "line": line,
    }
    results.append(r)
    print(f"run {run + 1}: exit {r['exit']}; {r['line']}\n"
          f"  per token before: {r['tpot'] * 1e3:.1f} ms; loss -> re-planned line: {r['detect']:.2f} s; "
          f"-> first token after: {r['first']:.2f} s; output gap: {r['gap']:.2f} s")

if results:
    def m(k):
        v = [r[k] for r in results]
        return f"median {statistics.median(v):.2f} s (min {min(v):.2f}, max {max(v):.2f})"
    print(f"{len(results)} runs, {a.signal} of worker 2 at token {a.at}, {os.path.basename(a.model)}, devices {a.devices}:")
    print(f"  loss -> re-planned: {m('detect')}")
    print(f"  re-planned -> first token: {m('first')}")
    print(f"  output gap (last token before -> first after): {m('gap')}")
