#!/bin/bash
# gst-prima: speculative decoding end to end (primadraft, docs/elements.md "Speculative decoding").
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# At temperature 0, `prima run` with a draft model prints the same text and the same token ids as
# without one: real model pairs that share a vocabulary (TinyStories-656K Q8_0 target with its Q4_0
# as draft; the F32 one from ../shared with both), the target as its own draft, a self-draft of its
# first layers (--draft-layers), several --draft and --draft-p-min values, a run that ends at the
# context's end (-c), one at n-predict, runs that end at stop strings (-r), a chat with context shifts, on one device and over --local-ring 2 and 3. A sampled
# run (--temp 0.8) with a draft gives -n tokens. Each case is bounded by `timeout`.
set -u
P=${PRIMA_BIN:?}
D=${PRIMA_TEST_DATA:?}
S=${PRIMA_SHARED_DIR:-../shared}/golden
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
BASE=$((20000 + RANDOM % 12000))
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

# run NAME ARGS...: prima run, greedy, text in $T/NAME.txt, ids in $T/NAME.ids
run () {
  local name=$1
  shift
  rm -f "$T/$name.ids"
  timeout 60 "$P" run -p "Once upon a time" --temp 0 -t 1 --ids-out "$T/$name.ids" "$@" >"$T/$name.txt" 2>"$T/$name.err"
}

# same TARGET PLAIN-ARGS -- DRAFT-ARGS: plain and speculative runs agree
same () {
  local target=$1 what=$2
  shift 2
  local plain=() spec=() in_spec=0
  for a in "$@"; do
    if [ "$a" = "--" ]; then in_spec=1; elif [ $in_spec = 1 ]; then spec+=("$a"); else plain+=("$a"); fi
  done
  BASE=$((BASE + 10))
  if ! run plain -m "$target" "${plain[@]}" --port $BASE; then bad "$what: plain run"; cat "$T/plain.err"; return; fi
  BASE=$((BASE + 10))
  if ! run spec -m "$target" "${plain[@]}" "${spec[@]}" --port $BASE; then bad "$what: run with ${spec[*]}"; cat "$T/spec.err"; return; fi
  if ! grep -q "prima run: draft [0-9]* tokens" "$T/spec.err"; then
    bad "$what: no draft report"; cat "$T/spec.err"; return
  fi
  if cmp -s "$T/plain.ids" "$T/spec.ids" && cmp -s "$T/plain.txt" "$T/spec.txt" && [ -s "$T/plain.ids" ]; then
    ok "$what: ${spec[*]}: the same $(wc -w <"$T/plain.ids") tokens ($(grep -o 'draft .*' "$T/spec.err"))"
  else
    bad "$what: ${spec[*]} differs"; diff "$T/plain.txt" "$T/spec.txt" | head -5
  fi
}

Q8=$D/TinyStories-656K-q8_0.gguf
Q4=$D/TinyStories-656K-q4_0.gguf
ST=$D/stories260K-f32.gguf

# one device
same "$Q8" "Q8_0 target" -n 48 -- -md "$Q4" --draft-p-min 0
same "$Q8" "Q8_0 target" -n 48 -- -md "$Q4"
same "$Q8" "Q8_0 target" -n 48 -- -md "$Q4" --draft 1
same "$Q8" "Q8_0 target" -n 48 -- -md "$Q4" --draft 3 --draft-p-min 0.5
same "$Q8" "Q8_0 target, to the context's end" -n -1 -c 80 -- -md "$Q4" --draft 16 --draft-p-min 0
same "$Q8" "Q8_0 target, a stop string" -n 64 -r "shiny." -- -md "$Q4" --draft 8
same "$Q8" "Q8_0 target, a stop string" -n 64 -r "her favorite" -r "Lily wanted" -- -md "$Q8" --draft 8
same "$ST" "stories260K" -n 40 -- -md "$ST" --draft 5
same "$ST" "stories260K" -n 40 -- --draft-layers 2 --draft 4 --draft-p-min 0
same "$ST" "stories260K, n-predict inside a pass" -n 13 -- -md "$ST" --draft 8
if [ -f "$S/TinyStories-656K-f32.gguf" ]; then
  same "$S/TinyStories-656K-f32.gguf" "F32 target" -n 64 -- -md "$Q4"
  same "$S/TinyStories-656K-f32.gguf" "F32 target" -n 64 -- -md "$Q8" --draft 4
else
  echo "# skip: $S/TinyStories-656K-f32.gguf not found"
fi

# rings: one pass round the ring verifies the drafts
same "$ST" "stories260K, --local-ring 3" -n 40 --local-ring 3 -lw 1,2,2 -- -md "$ST" --draft 4
same "$ST" "stories260K, --local-ring 3" -n 40 --local-ring 3 -lw 2,1,2 -- --draft-layers 2 --draft-p-min 0
same "$Q8" "Q8_0 target, --local-ring 2" -n 48 --local-ring 2 -lw 1,1 -- -md "$Q4" --draft-p-min 0

# a chat of three turns (-i: the raw template) in a context of 64 positions: the turns' context shifts
# go through primadraft, whose n-predict count must still equal the loop's
for md in "" "-md $Q4"; do
  printf 'Tell me a story about a cat\nAnd then?\nMore\n' | timeout 60 "$P" run -m "$Q8" -i --temp 0 -n 60 -c 64 -t 1 \
      $md >"$T/chat${md:+-draft}.txt" 2>"$T/chat.err" || { bad "chat ${md}"; cat "$T/chat.err"; }
done
if cmp -s "$T/chat.txt" "$T/chat-draft.txt" && grep -q "draft [0-9]* tokens" "$T/chat.err"; then
  ok "a chat with context shifts: the same text ($(grep -o 'draft .*' "$T/chat.err"))"
else
  bad "a chat with context shifts differs"; diff "$T/chat.txt" "$T/chat-draft.txt" | head -5
fi

# sampling: the acceptance rule, -n tokens out
BASE=$((BASE + 10))
if run sampled -m "$Q8" -n 40 --temp 0.8 -s 5 -md "$Q4" && [ "$(wc -w <"$T/sampled.ids")" = 40 ]; then
  ok "sampled with a draft: 40 tokens"
else
  bad "sampled with a draft"; cat "$T/sampled.err"
fi
# a draft model that is not there, or has another vocabulary: one line each
for md in "$T/none.gguf" "$ST"; do
  if run bad-draft -m "$Q8" -n 4 -md "$md"; then
    bad "-md $md is not an error"
  elif [ "$(grep -c . "$T/bad-draft.err")" = 1 ] && grep -q "draft model" "$T/bad-draft.err"; then
    ok "-md $(basename "$md"): $(cat "$T/bad-draft.err")"
  else
    bad "-md $md"; cat "$T/bad-draft.err"
  fi
done

echo "1..$n"
exit $fail
