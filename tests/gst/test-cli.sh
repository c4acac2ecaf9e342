#!/bin/bash
# gst-prima: the `prima` command line as a new user meets it (issue 11, points 4, 12, 14, 17, 21).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Every case is bounded by `timeout`, so that a regression fails instead of hanging. Checks: each
# out-of-range number (-n -5, -t 0, --temp nan, --top-p 5, ... in every subcommand) is refused
# with exit status 2 and one line naming the option and its range, and the special values
# (-n -1/-2, --repeat-last-n -1, -c 0, --keep -1) are taken; a prompt on standard input is the
# prompt; a FIFO as the model or the cluster key file is refused at once ("not a regular file")
# while -f reads one; `prima eval` refuses a prompt longer than the model's context as `prima run`
# does; --version, bare `prima`, -no-cnv, -r, -i, -e, -f, --no-mmap, --mlock, -fa; the ring
# links' g_message lines reach stderr only with --verbose or G_MESSAGES_DEBUG.
set -u
P=${PRIMA_BIN:?}
DATA=${PRIMA_DATA_DIR:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# below the ephemeral ports (32768 and up): a client socket of another test cannot hold ours
BASE=$((20000 + RANDOM % 12000))
# under meson (tests/gst/meson.build) only our plugin and GStreamer's core elements are loaded, as
# in test-run.c: the core elements' library goes into a private folder on GST_PLUGIN_PATH
if [ -n "${PRIMA_GST_CORE_PLUGIN:-}" ]; then
  mkdir "$T/core" && ln -s "$PRIMA_GST_CORE_PLUGIN" "$T/core/libgstcoreelements.so"
  export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:+$GST_PLUGIN_PATH:}$T/core
  export GST_REGISTRY=$T/registry.bin
fi
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# refused OPTION-NAME CMD ARGS...: exit 2, one line on stderr naming the option and a range
refused () {
  local name=$1 rc lines; shift
  timeout 20 "$P" "$@" </dev/null >"$T/out" 2>"$T/err"
  rc=$?
  lines=$(wc -l <"$T/err")
  if [ $rc = 2 ] && [ "$lines" = 1 ] && grep -q -- "^prima [a-z]*: $name [^ ]*: expected" "$T/err"; then
    ok "prima $* refused: $(cat "$T/err")"
  else
    bad "prima $*: exit $rc, $lines lines on stderr (want 2 and one line naming $name)"
    head -n 5 "$T/err"
  fi
}

# the run arguments come first, the bad value last (it overrides): on a build without the checks
# the command still ends quickly
R=(run -p x -c 64 -n 4 --temp 0)
for a in "-n -5" "-n -3" "-t 0" "-t -3" "-t 100000" "-c -1" "--temp -1" "--temp nan" "--temp inf" \
         "--top-p 5" "--top-p -0.1" "--top-k -5" "--min-p nan" "--min-p 2" "--keep -5" "--repeat-last-n -2" \
         "--repeat-penalty nan" "--frequency-penalty nan" "--presence-penalty inf" "--local-ring 0" \
         "--local-ring -2" "-s -5" "-b 0" "--port 70000" "--world 0"; do
  set -- $a
  refused "$1" "${R[@]}" "$@"
done
refused -t eval -p x -t 0
refused -b eval -p x -b -1
refused --local-ring eval -p x --local-ring 0
refused -t worker --world 2 --rank 1 --port $BASE -t -1
refused -c worker --world 2 --rank 1 --port $BASE -c -1
refused --rank worker --world 2 --port $BASE --rank -1
B=(bench --bandwidth-mib 1 -p 0 -n 0 -r 1)
refused -t "${B[@]}" -t 0
refused -n "${B[@]}" -n -1
refused -r "${B[@]}" -r 0
refused --bandwidth-mib "${B[@]}" --bandwidth-mib 0
refused -c plan -c -1
refused -k plan -k -1
refused --min-disk plan --min-disk nan
refused -t profile -q --no-disk -t 0
refused --n-layer mkmodel --n-layer -1 "$T/never.gguf"

# the special values of llama-cli are taken
for a in "-n -1" "-n -2" "--repeat-last-n -1" "-c 0" "--keep -1" "-t 1"; do
  if timeout 60 "$P" run -p "Once upon a time" -n 4 --temp 0 $a </dev/null >/dev/null 2>"$T/err"; then
    ok "prima run $a is taken"
  else
    bad "prima run $a: exit status $?"; head -n 5 "$T/err"
  fi
done

# point 14: the prompt on standard input
echo "Once upon a time" | timeout 60 "$P" run -n 5 --temp 0 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && [ "$(head -c 16 "$T/out")" = "Once upon a time" ] \
   && grep -Eq "prompt ([6-9]|[1-9][0-9]+) tokens" "$T/err"; then
  ok "a prompt on standard input is the prompt"
else
  bad "echo 'Once upon a time' | prima run: exit $rc, output '$(head -c 60 "$T/out")'"; cat "$T/err"
fi
# -p wins over standard input
echo "Lily" | timeout 60 "$P" run -p "Once" -n 2 --temp 0 >"$T/out" 2>/dev/null
if [ "$(head -c 4 "$T/out")" = "Once" ]; then ok "-p wins over standard input"; else bad "-p with stdin: $(head -c 40 "$T/out")"; fi

# point 4: FIFOs as the model or the key file are refused at once; -f reads one
mkfifo "$T/fifo"
for c in "run -p x -n 1" "eval -p x" "tokenize -p x" "bench --bandwidth-mib 1 -p 0 -n 0 -r 1"; do
  timeout 20 "$P" $c -m "$T/fifo" </dev/null >/dev/null 2>"$T/err"
  rc=$?
  if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "not a regular file" "$T/err"; then
    ok "prima $c -m FIFO refused: $(head -n 1 "$T/err")"
  else
    bad "prima $c -m FIFO: exit $rc (124: it blocked)"; head -n 3 "$T/err"
  fi
done
timeout 20 "$P" worker --world 2 --rank 1 --port $BASE -t 1 --cluster-key-file "$T/fifo" </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q "not a regular file" "$T/err"; then
  ok "prima worker --cluster-key-file FIFO refused: $(grep "regular" "$T/err")"
else
  bad "prima worker --cluster-key-file FIFO: exit $rc (124: it blocked)"; head -n 3 "$T/err"
fi
( echo "Once upon a time" >"$T/fifo" ) &
timeout 60 "$P" run -f "$T/fifo" -n 3 --temp 0 </dev/null >"$T/out" 2>"$T/err"
rc=$?
wait
if [ $rc = 0 ] && [ "$(head -c 16 "$T/out")" = "Once upon a time" ]; then
  ok "prima run -f FIFO reads the prompt from it"
else
  bad "prima run -f FIFO: exit $rc"; cat "$T/err"
fi

# point 17: a model whose context is 1: eval refuses a longer prompt, as run does
"$P" mkmodel -q --vocab-from "$DATA/TinyStories-656K-f32.gguf" --type F32 --n-embd 64 --n-ff 128 --n-layer 1 \
  --n-ctx 1 "$T/ctx1.gguf" || bad "mkmodel of a 1-position model"
timeout 60 "$P" eval -m "$T/ctx1.gguf" -p "Once upon a time" >/dev/null 2>"$T/err"
rc=$?
if [ $rc = 1 ] && grep -q "more than the context of 1" "$T/err"; then
  ok "prima eval refuses 6 tokens in a context of 1: $(cat "$T/err")"
else
  bad "prima eval on a context of 1: exit $rc"; cat "$T/err"
fi
timeout 60 "$P" run -m "$T/ctx1.gguf" -p "Once upon a time" </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc != 0 ] && grep -qi "more than the context of 1" "$T/err"; then
  ok "prima run refuses it too"
else
  bad "prima run on a context of 1: exit $rc"; cat "$T/err"
fi
if timeout 60 "$P" eval -m "$T/ctx1.gguf" --tokens 1 >/dev/null 2>"$T/err"; then
  ok "prima eval of one token in a context of 1"
else
  bad "prima eval --tokens 1 on a context of 1"; cat "$T/err"
fi

# point 21: llama-cli's habits
if "$P" --version >"$T/out" 2>&1 && grep -q "^prima (gst-prima) [0-9]" "$T/out"; then
  ok "prima --version: $(cat "$T/out")"
else
  bad "prima --version"; cat "$T/out"
fi
if "$P" run --version >"$T/out" 2>&1 && grep -q "^prima (gst-prima) [0-9]" "$T/out"; then
  ok "prima run --version"
else
  bad "prima run --version"; cat "$T/out"
fi
"$P" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q "^usage: prima COMMAND" "$T/out" && [ ! -s "$T/err" ]; then
  ok "bare prima prints the usage on stdout, exit 0"
else
  bad "bare prima: exit $rc"; cat "$T/out" "$T/err"
fi
timeout 60 "$P" run -cnv -no-cnv -p "Once upon a time" -n 3 --temp 0 </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && [ "$(head -c 16 "$T/out")" = "Once upon a time" ] && ! grep -q "^> " "$T/out"; then
  ok "-no-cnv generates from the prompt"
else
  bad "-no-cnv: exit $rc, '$(head -c 60 "$T/out")'"; cat "$T/err"
fi
timeout 60 "$P" run -p "Once upon a time" -n 200 --temp 0 </dev/null >"$T/full" 2>/dev/null
timeout 60 "$P" run -p "Once upon a time" -n 200 --temp 0 -r "," -r "zzzz" </dev/null >"$T/out" 2>"$T/err"
rc=$?
text=$(tr -d '\n' <"$T/out")
full=$(tr -d '\n' <"$T/full")
# the token that completes the reverse prompt is the last one (its piece may go on a little)
if [ $rc = 0 ] && [[ "${text#Once upon a time}" == *,* ]] && [ ${#text} -lt ${#full} ] && [ "${full:0:${#text}}" = "$text" ]; then
  ok "-r stops the generation at the reverse prompt: '$text'"
else
  bad "-r ',': exit $rc, '$text'"; cat "$T/err"
fi
printf 'Once upon a time\n' | timeout 60 "$P" run -i -n 3 --temp 0 >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q "> ." "$T/out" && ! grep -q "ChatML" "$T/err"; then
  ok "-i: a chat without a template"
else
  bad "-i: exit $rc"; cat "$T/out" "$T/err"
fi
timeout 60 "$P" run -e -p 'a\tb\x41\\' -n 1 --temp 0 </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && [ "$(head -c 5 "$T/out")" = "$(printf 'a\tbA\\')" ]; then
  ok "-e processes the escapes of the prompt"
else
  bad "-e: exit $rc, '$(head -c 20 "$T/out" | od -c | head -n 2)'"; cat "$T/err"
fi
printf 'Once upon a time' >"$T/prompt.txt"
timeout 60 "$P" run -f "$T/prompt.txt" -n 2 --temp 0 </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && [ "$(head -c 16 "$T/out")" = "Once upon a time" ]; then ok "-f FILE"; else bad "-f FILE: exit $rc"; cat "$T/err"; fi
timeout 60 "$P" run -p "Once" -n 2 --temp 0 --no-mmap --mlock -fa </dev/null >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q -- "--no-mmap has no effect" "$T/err"; then
  ok "--no-mmap (says why it has no effect), --mlock, -fa are taken"
else
  bad "--no-mmap --mlock -fa: exit $rc"; cat "$T/err"
fi

# g_message lines of the ring links: not on a plain run's stderr, there with G_MESSAGES_DEBUG
timeout 60 "$P" run -p "Once" -n 2 --temp 0 -t 1 --local-ring 2 -lw 1,1 --port $BASE </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc = 0 ] && ! grep -q "Message" "$T/err"; then
  ok "no prima-Message lines on a ring run's stderr"
else
  bad "ring run: exit $rc, $(grep -c Message "$T/err") Message lines"; head -n 5 "$T/err"
fi
G_MESSAGES_DEBUG=all timeout 60 "$P" run -p "Once" -n 2 --temp 0 -t 1 --local-ring 2 -lw 1,1 --port $((BASE + 10)) \
  </dev/null >/dev/null 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q "prima-Message" "$T/err"; then
  ok "G_MESSAGES_DEBUG shows them"
else
  bad "ring run with G_MESSAGES_DEBUG: exit $rc"; head -n 5 "$T/err"
fi

echo "1..$n"
exit $fail
