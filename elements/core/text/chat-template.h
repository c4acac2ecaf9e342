/* gst-prima: chat templates (recognising a model's Jinja chat template and
 * rendering conversations the way Hugging Face's apply_chat_template does,
 * per family, without a Jinja interpreter).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

typedef enum {
  PRIMA_CHAT_TEMPLATE_UNKNOWN = 0,  /* not recognised; renders as ChatML */
  PRIMA_CHAT_TEMPLATE_CHATML,       /* plain <|im_start|>role\n...<|im_end|>\n */
  PRIMA_CHAT_TEMPLATE_QWEN2_5,      /* ChatML + Qwen's default system prompt */
  PRIMA_CHAT_TEMPLATE_QWEN3,        /* ChatML + <think> handling */
  PRIMA_CHAT_TEMPLATE_LLAMA2,       /* HF Llama-2-chat: <<SYS>> in first [INST], strip, BOS per turn */
  PRIMA_CHAT_TEMPLATE_LLAMA2_NOSYS, /* [INST] without <<SYS>> (Mistral v0.1 style) */
  PRIMA_CHAT_TEMPLATE_LLAMA3,       /* Llama 3: header ids, assistant header always added */
  PRIMA_CHAT_TEMPLATE_LLAMA3_1,     /* Llama 3.1/3.3: system header with dates, default 26 Jul 2024 */
  PRIMA_CHAT_TEMPLATE_LLAMA3_2,     /* Llama 3.2: as 3.1, default date is today */
  PRIMA_CHAT_TEMPLATE_DEEPSEEK_R1,  /* <｜User｜>/<｜Assistant｜>, prompt opens <think> */
  PRIMA_CHAT_TEMPLATE_DEEPSEEK3,    /* DeepSeek V3: as R1 without the <think> opener */
  PRIMA_CHAT_TEMPLATE_RAW,          /* no template: the texts one after the other, a user turn ends
                                     * with a newline (llama-cli -i) */
  PRIMA_CHAT_TEMPLATE_N_KINDS
} prima_chat_template_kind;

typedef struct {
  const char *role;     /* "system", "user", "assistant", "tool" (ipython for Llama 3.x) */
  const char *content;  /* UTF-8; NULL is treated as "" */
} prima_chat_message;

typedef struct {
  gboolean add_generation_prompt;
  const char *bos_text;     /* NULL: the family's usual BOS text */
  const char *eos_text;     /* NULL: the family's usual EOS text */
  const char *date_string;  /* Llama 3.1/3.2 "Today Date"; NULL: family default */
  gboolean disable_thinking;  /* Qwen3 enable_thinking=false: empty think block */
} prima_chat_render_options;

/* Family of a tokenizer.chat_template Jinja source; UNKNOWN for NULL, empty
 * or unrecognised text (render then uses ChatML). */
prima_chat_template_kind prima_chat_template_detect (const char *jinja_source);

/* Names as given to --chat-template: llama.cpp's (chatml, llama2, llama2-sys,
 * llama2-sys-bos, llama2-sys-strip, llama3, deepseek3) plus qwen2.5, qwen3,
 * llama3.1, llama3.2, llama3.3, deepseek-r1. UNKNOWN for anything else. */
prima_chat_template_kind prima_chat_template_from_name (const char *name);

/* The name of PRIMA_CHAT_TEMPLATE_RAW, for `prima run -i`. */
#define PRIMA_CHAT_TEMPLATE_RAW_NAME "raw"

/* Canonical name of a kind ("chatml", "llama3.2", ...). */
const char *prima_chat_template_name (prima_chat_template_kind kind);

/* The kind to use: an explicit name (or an inline Jinja source given in its
 * place) wins, else the model's template. Never returns UNKNOWN unless name is
 * given and not known; then *note (if non-NULL) says so and lists the names.
 * When the model has no template or it is not recognised, returns CHATML and
 * sets *note to a one-line message for the caller to log once. *note is NULL
 * when there is nothing to say; free it with g_free. */
prima_chat_template_kind prima_chat_template_resolve (const char *name,
    const char *jinja_source, char **note);

/* Render a conversation as the family's real template does (byte for byte for
 * plain text messages). The result starts with the BOS text where the template
 * emits it, so tokenize it with add_special = FALSE and parse_special = TRUE.
 * Llama 2's and Llama 3's templates ignore add_generation_prompt (Llama 3
 * always appends the assistant header, Llama 2 never does). Free with g_free. */
char *prima_chat_template_render (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n, gboolean add_generation_prompt,
    const char *bos_text, const char *eos_text, const char *date_string);

char *prima_chat_template_render_opts (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opts);

/* Incremental rendering for a chat that keeps its KV cache. msgs[0..n_prev)
 * is the conversation already in the cache (normally ending with the
 * assistant's reply), msgs[0..n) adds the new turn(s). Compares
 * render(previous, no generation prompt) with render(all, opts) and returns
 * the part of render(all) after their common prefix. *keep_bytes (optional)
 * is that prefix's length and *prev_bytes (optional) the length of
 * render(previous); keep == prev means the new text is a pure append.
 *
 * Where it is not a pure append: Qwen3 rewrites earlier assistant turns (the
 * last one after the last user query carries a <think> block, which is dropped
 * once a new user message comes), so the cache must be rolled back to
 * *keep_bytes. Llama 3's template always adds an assistant header, which this
 * function leaves out of render(previous). DeepSeek-R1 drops the reasoning of
 * earlier turns in both renderings, so the text is an append, but the KV cache
 * holds the generated <think> text that render(previous) omits: compare the
 * cache's own text with prima_chat_template_common_prefix where that matters.
 * The common prefix never ends inside a UTF-8 character. */
char *prima_chat_template_render_delta (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n_prev, gsize n,
    const prima_chat_render_options *opts, gsize *keep_bytes,
    gsize *prev_bytes);

/* What -cnv needs: the cache holds exactly cached_text (the prompts fed so far
 * and the tokens generated, end-of-turn token included, as text). Returns the
 * part of render(msgs[0..n), opts) after its common prefix with cached_text;
 * *keep_bytes (optional) is that prefix's length. keep < strlen (cached_text)
 * means the cache must be rolled back first (e.g. ChatML's "\n" after
 * <|im_end|> is not generated, so it comes back as the delta's first byte;
 * Qwen3 and DeepSeek-R1 drop the generated think block of earlier turns). */
char *prima_chat_template_render_continue (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opts, const char *cached_text,
    gsize *keep_bytes);

/* Length of the common prefix of a and b in bytes, backed off to a UTF-8
 * character boundary. */
gsize prima_chat_template_common_prefix (const char *a, const char *b);
