#!/bin/bash
# gst-prima: primad on a private session bus (issue 14, "done when" 4; docs/dbus.md).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Under dbus-run-session: primad owns org.gstprima.Prima1; `gdbus introspect` shows every member of
# data/org.gstprima.Prima1.xml with its documentation; errors come as org.gstprima.Prima1.Error.*;
# LoadModel of the embedded model; a chat turn whose Tokens signals (seen by `gdbus monitor`), put
# together, are the job's Text, batched (not one signal per token) and counted right; completions equal
# `prima run` (greedy and seeded); StartHttp serves the same completion (API key), StopHttp closes it;
# a turn cancelled mid-way (JobFinished "cancelled", the job's State and Reason); a second primad
# cannot take the name (one error line, exit 1); as a ring's head (local-ring 3) the answer of one
# device, and a ring without its worker fails after ring-timeout; JoinRingAsWorker serves a head
# `prima run --world 2` as one device, LeaveRing stops it; SIGTERM with a job running: JobFinished
# "cancelled", exit 0 within seconds, the name released; --replace takes the name over.
set -u
PRIMAD=${1:?usage: test-primad.sh PRIMAD}
for tool in dbus-run-session gdbus python3; do
  if ! command -v "$tool" > /dev/null; then
    echo "1..0 # SKIP no $tool (Debian: dbus-daemon, libglib2.0-bin)"
    exit 77
  fi
done
if [ -z "${PRIMAD_TEST_IN_SESSION:-}" ]; then
  PRIMAD_TEST_IN_SESSION=1 exec dbus-run-session -- "$0" "$@" 2> >(grep -v 'Failed to set fd limit' >&2)
fi

SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
DPID= MPID=
cleanup () {
  [ -n "$MPID" ] && kill "$MPID" 2> /dev/null
  [ -n "$DPID" ] && kill -KILL "$DPID" 2> /dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

NAME=org.gstprima.Prima1
OBJ=/org/gstprima/Prima1
call () { gdbus call --session --dest $NAME --object-path "$1" --method "$2" "${@:3}"; }
main () { call $OBJ $NAME."$1" "${@:2}"; }
prop () { call "${3:-$OBJ}" org.freedesktop.DBus.Properties.Get "${2:-$NAME}" "$1"; }
# the path out of "(objectpath '/org/...',)"
path_of () { sed -n "s/^(objectpath '\([^']*\)',)\$/\1/p"; }
# waits up to $2 s for a line matching $1 in the monitor's output
wait_mon () {
  for _ in $(seq $((${2:-20} * 20))); do
    grep -q -- "$1" "$T/mon" && return 0
    sleep 0.05
  done
  return 1
}

"$PRIMAD" --verbose > "$T/log" 2>&1 &
DPID=$!
if gdbus wait --session --timeout 20 $NAME && [ "$(prop State)" = "(<'idle'>,)" ]; then
  ok "primad owns $NAME, State idle"
else
  bad "primad does not own $NAME"; cat "$T/log"; exit 1
fi

# every member of the interface description, documented, in what primad says of itself
gdbus introspect --session --dest $NAME --object-path $OBJ > "$T/intro"
python3 - "$SRC/data/org.gstprima.Prima1.xml" "$T/intro" <<'EOF' && ok "gdbus introspect shows every member of the XML with its org.gstprima.Doc" || bad "gdbus introspect"
import re, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
intro = open(sys.argv[2]).read().splitlines()
missing = []
for iface in root.findall('interface'):
    if iface.get('name') != 'org.gstprima.Prima1':
        continue
    for m in list(iface.findall('method')) + list(iface.findall('signal')) + list(iface.findall('property')):
        name = m.get('name')
        pat = re.compile(r'^\s*(readonly \S+ )?' + name + r'\b')
        idx = [i for i, l in enumerate(intro) if pat.match(l)]
        if not idx or not intro[idx[0] - 1].strip().startswith('@org.gstprima.Doc("' + name):
            missing.append(name)
if missing:
    print('# undocumented or missing:', ' '.join(missing))
    sys.exit(1)
EOF

# errors by name
out=$(main Generate "Once" "{}" 2>&1)
case $out in *"$NAME.Error.NoModel"*) ok "Generate without a model: $NAME.Error.NoModel" ;;
  *) bad "Generate without a model: $out" ;; esac
out=$(main LoadModel "/nonexistent/model.gguf" "{}" 2>&1)
case $out in *"$NAME.Error."*) ok "LoadModel of a missing file: ${out#*Error: }" ;;
  *) bad "LoadModel of a missing file: $out" ;; esac
[ "$(prop State)" = "(<'idle'>,)" ] && ok "State idle after the failed load" || bad "State after the failed load: $(prop State)"

# the embedded model; 4096 positions and one thread give the second turn (ignore-eos) seconds to run
if main LoadModel "" "{'threads': <1>, 'context-size': <4096>}" > "$T/out" 2>&1 \
    && [ "$(prop State)" = "(<'ready'>,)" ] && prop Model | grep -q 'TinyStories-656K-f32.gguf'; then
  ok "LoadModel of the embedded model: State ready, Model $(prop Model), Parallel $(prop Parallel)"
else
  bad "LoadModel: $(cat "$T/out")"; cat "$T/log"; exit 1
fi
out=$(main Generate "Once" "{'temperature': <'hot'>}" 2>&1)
case $out in *"$NAME.Error.Invalid"*) ok "a parameter of the wrong type: $NAME.Error.Invalid" ;;
  *) bad "a parameter of the wrong type: $out" ;; esac
out=$(main Cancel "objectpath '$OBJ/jobs/999'" 2>&1)
case $out in *"$NAME.Error.NotFound"*) ok "Cancel of an unknown job: $NAME.Error.NotFound" ;;
  *) bad "Cancel of an unknown job: $out" ;; esac

gdbus monitor --session --dest $NAME > "$T/mon" 2>&1 &
MPID=$!
# the monitor says whose the name is once it listens
wait_mon "is owned by" 10 || { bad "gdbus monitor did not start"; cat "$T/mon"; }

# a chat turn: its Tokens put together are its Text; 24 tokens in far fewer signals (50 ms batches)
job=$(main Chat "[('user', 'Tell me a story about a cat.')]" "{'max-tokens': <24>, 'temperature': <0.0>}" \
  | path_of)
if [ -n "$job" ] && wait_mon "JobFinished (objectpath '$job'," 30; then
  call "$job" org.freedesktop.DBus.Properties.GetAll $NAME.Job > "$T/props"
  if python3 - "$T/mon" "$job" "$T/props" <<'EOF'; then
import ast, re, sys
mon, job, props = open(sys.argv[1]).read(), sys.argv[2], open(sys.argv[3]).read()
toks = re.findall(r"\.Tokens \(objectpath '" + re.escape(job) + r"', (.*), uint32 (\d+)\)$", mon, re.M)
fin = re.search(r"\.JobFinished \(objectpath '" + re.escape(job) + r"', '(\w+)', (.*)\)$", mon, re.M)
text = ''.join(ast.literal_eval(t) for t, _ in toks)
ntok = sum(int(c) for _, c in toks)
pred = int(re.search(r"'predicted-tokens': <uint32 (\d+)>", fin.group(2)).group(1))
secs = sum(float(re.search(r"'%s': <([0-9.e-]+)>" % k, fin.group(2)).group(1)) for k in ('ttft-seconds', 'decode-seconds'))
ptext = re.search(r"'Text': <(.*?)>, 'PromptTokens'", props).group(1)
preds = int(re.search(r"'PredictedTokens': <uint32 (\d+)>", props).group(1))
print('# %d Tokens signals, %d tokens in %.3f s, reason %s: %r' % (len(toks), ntok, secs, fin.group(1), text))
errs = []
if not toks or not text:
    errs.append('no Tokens signal')
if ntok != pred or preds != pred:
    errs.append('Tokens count %d tokens, JobFinished %d, PredictedTokens %d' % (ntok, pred, preds))
if ast.literal_eval(ptext) != text:
    errs.append('Text %s is not the Tokens put together' % ptext)
if fin.group(1) not in ('length', 'stop') or (fin.group(1) == 'length') != (pred == 24):
    errs.append('reason %s after %d tokens' % (fin.group(1), pred))
# one signal per 50 ms at most (the first at once, the last at the end)
if len(toks) > 2 + int(secs / 0.05):
    errs.append('%d Tokens signals in %.3f s: not batched' % (len(toks), secs))
for e in errs:
    print('# ' + e)
sys.exit(1 if errs else 0)
EOF
    ok "a chat turn: Tokens signals, batched, whose text is the job's Text"
  else
    bad "the chat turn's signals"; grep -- "$job" "$T/mon" | head -5
  fi
else
  bad "the chat turn did not finish: job '$job'"; tail -5 "$T/mon"; tail -5 "$T/log"
fi

# completions equal `prima run` on the same prompt: greedy, and sampled with a seed
PRIMA=${PRIMA_BIN:-$(dirname "$PRIMAD")/../prima}
for params in "{'max-tokens': <24>, 'temperature': <0.0>}|--temp 0" \
    "{'max-tokens': <24>, 'temperature': <0.8>, 'seed': <uint64 42>}|--temp 0.8 -s 42"; do
  job=$(main Generate "Once upon a time" "${params%|*}" | path_of)
  if [ -n "$job" ] && wait_mon "JobFinished (objectpath '$job'," 30; then
    text=$(call "$job" org.freedesktop.DBus.Properties.Get $NAME.Job Text \
      | python3 -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read().strip()[2:-3]), end="")')
    want=$("$PRIMA" run -p "Once upon a time" -n 24 ${params#*|} 2> /dev/null)
    [ "${params#*|}" = "--temp 0" ] && greedy=$text
    if [ "Once upon a time$text" = "$want" ]; then ok "Generate (${params#*|}) equals prima run: '$text'"
    else bad "Generate (${params#*|}): '$text', prima run: '$want'"; fi
  else
    bad "Generate (${params#*|}) did not finish: '$job'"
  fi
done

# the HTTP API on the same engine: the same greedy completion, the API key asked for; StopHttp closes it
http=$(main StartHttp "127.0.0.1" 0 "{'api-key': <'sekret'>}" | sed -n 's/^(uint32 \([0-9]*\),)$/\1/p')
if [ -n "$http" ] && [ "$(prop HttpPort)" = "(<uint32 $http>,)" ]; then
  if python3 - "$http" "${greedy:-}" <<'EOF'; then
import json, sys, urllib.request, urllib.error
port, want = sys.argv[1], sys.argv[2]
body = json.dumps({'prompt': 'Once upon a time', 'max_tokens': 24, 'temperature': 0}).encode()
def post(key):
    req = urllib.request.Request('http://127.0.0.1:%s/v1/completions' % port, body,
                                 {'Content-Type': 'application/json', **({'Authorization': 'Bearer ' + key} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, None
code, _ = post(None)
code2, out = post('sekret')
text = out['choices'][0]['text'] if out else None
print('# without the key: %d; with it: %d %r' % (code, code2, text))
sys.exit(0 if code == 401 and code2 == 200 and text == want else 1)
EOF
    ok "StartHttp: port $http, HttpPort; /v1/completions with the key gives Generate's text, 401 without"
  else
    bad "the HTTP API started by StartHttp"
  fi
  if main StopHttp > /dev/null && [ "$(prop HttpPort)" = "(<uint32 0>,)" ] \
      && ! python3 -c "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5)" "$http" 2> /dev/null
  then ok "StopHttp: HttpPort 0, port $http closed"
  else bad "StopHttp: HttpPort $(prop HttpPort)"; fi
else
  bad "StartHttp: port '$http', HttpPort $(prop HttpPort)"; tail -3 "$T/log"
fi

# a second turn, cancelled once its first tokens came: it would run to the full context (4093 tokens)
job=$(main Chat "[('user', 'Tell me a story about a cat.')]" "{'ignore-eos': <true>, 'temperature': <0.0>}" \
  | path_of)
if [ -n "$job" ] && wait_mon "Tokens (objectpath '$job'," 30 && main Cancel "objectpath '$job'" > /dev/null \
    && wait_mon "JobFinished (objectpath '$job'," 30; then
  line=$(grep "JobFinished (objectpath '$job'," "$T/mon")
  pred=$(echo "$line" | sed -n "s/.*'predicted-tokens': <uint32 \([0-9]*\)>.*/\1/p")
  state=$(prop State $NAME.Job "$job") reason=$(prop Reason $NAME.Job "$job")
  if echo "$line" | grep -q "'cancelled'" && [ "${pred:-9999}" -lt 4000 ] && [ "$state" = "(<'finished'>,)" ] \
      && [ "$reason" = "(<'cancelled'>,)" ]; then
    ok "a second turn cancelled mid-way: JobFinished cancelled after $pred tokens, State finished, Reason cancelled"
  else
    bad "the cancelled turn: $line; State $state Reason $reason"
  fi
else
  bad "the second turn: job '$job'"; tail -5 "$T/mon"
fi

# a second daemon cannot take the name
out=$(timeout 20 "$PRIMAD" 2>&1); rc=$?
if [ $rc = 1 ] && [ "$(echo "$out" | grep -c .)" = 1 ] && echo "$out" | grep -q "owned by another process"; then
  ok "a second primad: exit 1, '$out'"
else
  bad "a second primad: exit $rc, '$out'"
fi

# as the head of a ring of 3 local processes: the plan, a device entry per rank, the answer of one device
BASE=$((20000 + RANDOM % 12000))
M260=${PRIMA_TEST_DATA:-$SRC/tests/data}/stories260K-f32.gguf
if main LoadModel "$M260" "{'local-ring': <3>, 'layer-window': <'2,2,1'>, 'port': <$BASE>}" > "$T/out" 2>&1; then
  job=$(main Generate "Once upon a time" "{'max-tokens': <16>, 'temperature': <0.0>}" | path_of)
  wait_mon "JobFinished (objectpath '$job'," 60
  text=$(call "$job" org.freedesktop.DBus.Properties.Get $NAME.Job Text \
    | python3 -c 'import ast, sys; print(ast.literal_eval(sys.stdin.read().strip()[2:-3]), end="")')
  want=$("$PRIMA" run -m "$M260" -p "Once upon a time" -n 16 --temp 0 2> /dev/null)
  ranks=$(prop Plan | grep -o '"rank":[0-9]*' | sort -u | wc -l)
  devices=$(prop DeviceStats | grep -o "'rank': <[0-9]*>" | wc -l)
  if [ "Once upon a time$text" = "$want" ] && [ "$ranks" = 3 ] && [ "$devices" = 3 ]; then
    ok "a ring of 3 (LoadModel local-ring 3): Plan and DeviceStats of 3 ranks, the answer of one device: '$text'"
  else
    bad "the ring: '$text' against '$want', $ranks ranks in Plan, $devices in DeviceStats"
  fi
else
  bad "LoadModel as a ring's head: $(cat "$T/out")"; tail -5 "$T/log"
fi
# as a ring's worker: JoinRingAsWorker runs `prima worker` (not while a model is loaded), a head
# `prima run --world 2` on its port answers as one device, LeaveRing stops it
out=$(main JoinRingAsWorker 2 1 "{}" 2>&1)
case $out in *"$NAME.Error.State"*) ok "JoinRingAsWorker with a model loaded: $NAME.Error.State" ;;
  *) bad "JoinRingAsWorker with a model loaded: $out" ;; esac
main UnloadModel > /dev/null && [ "$(prop State)" = "(<'idle'>,)" ] && [ "$(prop Model)" = "(<''>,)" ] \
  && ok "UnloadModel: State idle, Model ''" || bad "UnloadModel: State $(prop State)"
# a ring whose worker never comes: LoadModel gives up after ring-timeout, State idle again
echo "test-primad-cluster-key-$(date +%s%N)" > "$T/key"
chmod 600 "$T/key"
BASE=$((20000 + RANDOM % 12000))
start=$(date +%s)
out=$(main LoadModel "$M260" "{'world': <2>, 'next': <'127.0.0.1'>, 'port': <$BASE>, 'layer-window': <'3,2'>, 'ring-timeout': <1>, 'cluster-key-file': <'$T/key'>}" 2>&1)
secs=$(( $(date +%s) - start ))
case $out in *"$NAME.Error.Failed"*) [ $secs -le 15 ] && [ "$(prop State)" = "(<'idle'>,)" ] \
    && ok "LoadModel of a ring without its worker: Failed after $secs s (ring-timeout 1), State idle: ${out#*Error.Failed: }" \
    || bad "LoadModel of a ring without its worker: $secs s, State $(prop State)" ;;
  *) bad "LoadModel of a ring without its worker: $out" ;; esac
BASE=$((20000 + RANDOM % 12000))
if main JoinRingAsWorker 2 1 "{'port': <$BASE>, 'model': <'$M260'>, 'cluster-key-file': <'$T/key'>}" > /dev/null; then
  head=$(timeout 60 "$PRIMA" run --world 2 --next 127.0.0.1 --port $BASE --cluster-key-file "$T/key" -m "$M260" \
    -lw 3,2 -p "Once upon a time" -n 16 --temp 0 2> "$T/head")
  solo=$("$PRIMA" run -m "$M260" -p "Once upon a time" -n 16 --temp 0 2> /dev/null)
  if [ -n "$head" ] && [ "$head" = "$solo" ]; then ok "JoinRingAsWorker: a head of 2 answers as one device: '$head'"
  else bad "JoinRingAsWorker: the head said '$head', one device '$solo'"; tail -3 "$T/head"; tail -5 "$T/log"; fi
  main LeaveRing > /dev/null
  for _ in $(seq 100); do pgrep -f "prima worker.*--port=$BASE" > /dev/null || break; sleep 0.05; done
  pgrep -f "prima worker.*--port=$BASE" > /dev/null && bad "LeaveRing: the worker still runs" \
    || ok "LeaveRing: the worker stopped"
else
  bad "JoinRingAsWorker"; tail -5 "$T/log"
fi
main LoadModel "" "{'threads': <1>, 'context-size': <4096>}" > /dev/null || bad "LoadModel of the embedded model again"
pgrep -f "prima worker.*--port[= ]$BASE" > /dev/null && bad "the ring's workers still run after the next LoadModel"

# SIGTERM with a job running: its JobFinished "cancelled" goes out, exit 0, the name released
job=$(main Generate "Once upon a time" "{'ignore-eos': <true>}" | path_of)
if [ -n "$job" ] && wait_mon "Tokens (objectpath '$job'," 30; then
  kill -TERM $DPID
  start=$(date +%s%N)
  for _ in $(seq 200); do kill -0 $DPID 2> /dev/null || break; sleep 0.05; done
  if kill -0 $DPID 2> /dev/null; then
    bad "primad still runs 10 s after SIGTERM"
  else
    wait $DPID; rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    DPID=
    owner=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
      --method org.freedesktop.DBus.NameHasOwner $NAME)
    wait_mon "JobFinished (objectpath '$job', 'cancelled'" 5; got=$?
    if [ $rc = 0 ] && [ $got = 0 ] && [ "$owner" = "(false,)" ]; then
      ok "SIGTERM: the running job finished 'cancelled', exit 0 after $ms ms, the name released"
    else
      bad "SIGTERM: exit $rc, JobFinished cancelled seen: $([ $got = 0 ] && echo yes || echo no), NameHasOwner $owner"
      tail -5 "$T/log"
    fi
  fi
else
  bad "the job for SIGTERM did not start: '$job'"
fi

# --replace: a second primad takes the name over; the first stops with one line, exit 1
"$PRIMAD" > "$T/a.log" 2>&1 &
A=$!
gdbus wait --session --timeout 20 $NAME
"$PRIMAD" --replace > "$T/b.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do kill -0 $A 2> /dev/null || break; sleep 0.05; done
if kill -0 $A 2> /dev/null; then
  bad "--replace: the first primad still runs"; kill -KILL $A
else
  wait $A; rc=$?
  gdbus wait --session --timeout 20 $NAME
  line=$(grep '^primad:' "$T/a.log")
  if [ $rc = 1 ] && [ "$line" = "primad: the name $NAME was taken over by another process" ] \
      && [ "$(prop State)" = "(<'idle'>,)" ] && kill -0 $DPID; then
    ok "--replace: the first primad: '$line', exit 1; the second serves"
  else
    bad "--replace: exit $rc, '$line'"
  fi
fi
kill -TERM $DPID; wait $DPID; DPID=

echo "1..$n"
exit $fail
