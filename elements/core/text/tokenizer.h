/* gst-prima: tokenizers built from GGUF metadata (SentencePiece-style "llama"
 * and byte-level BPE "gpt2" with its pre-tokenizers), special tokens and
 * detokenization.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include "gguf.h"

typedef struct prima_tokenizer prima_tokenizer;

#define PRIMA_TOKENIZER_ERROR (prima_tokenizer_error_quark ())
GQuark prima_tokenizer_error_quark (void);

typedef enum {
  PRIMA_TOKENIZER_ERROR_MISSING,      /* a required tokenizer.ggml.* key is absent */
  PRIMA_TOKENIZER_ERROR_UNSUPPORTED,  /* unknown model or pre-tokenizer name */
  PRIMA_TOKENIZER_ERROR_INVALID,      /* wrong types, mismatched lengths, duplicates */
} PrimaTokenizerError;

/* Build from tokenizer.ggml.* keys. Unknown model or pre-tokenizer names give
 * a one-line error naming them. */
prima_tokenizer *prima_tokenizer_new (const gguf_file *f, GError **error);
void prima_tokenizer_free (prima_tokenizer *t);

int32_t prima_tokenizer_n_vocab (const prima_tokenizer *t);
int32_t prima_tokenizer_bos (const prima_tokenizer *t);   /* -1 if none */
int32_t prima_tokenizer_eos (const prima_tokenizer *t);   /* -1 if none */
gboolean prima_tokenizer_add_bos (const prima_tokenizer *t);
gboolean prima_tokenizer_add_eos (const prima_tokenizer *t);
int32_t prima_tokenizer_eot (const prima_tokenizer *t);   /* -1 if none */
/* End of generation: EOS, EOT (<|eot_id|>, <|im_end|>, ...). */
gboolean prima_tokenizer_is_eog (const prima_tokenizer *t, int32_t id);
/* The vocabulary entry as stored (NUL-terminated; *len its true length), or
 * NULL for an id out of range. */
const char *prima_tokenizer_token_text (const prima_tokenizer *t, int32_t id, gsize *len);
/* The id whose vocabulary text is exactly text (len < 0: NUL-terminated), or -1. */
int32_t prima_tokenizer_find_token (const prima_tokenizer *t, const char *text, gssize len);

/* Tokenize len bytes of UTF-8 (len < 0: NUL-terminated). add_special adds
 * BOS/EOS as the metadata says; parse_special turns the text of special and
 * control tokens (e.g. "<|im_start|>") into those tokens. Returns int32 ids. */
GArray *prima_tokenize (const prima_tokenizer *t, const char *text, gssize len,
    gboolean add_special, gboolean parse_special);

/* Token ids written as text ("1,2,3" or "1 2 3": commas and white space
 * separate them), as prima eval --tokens takes them. NULL if a part is not a
 * number in 0 .. G_MAXINT32; then *bad (where bad is not NULL) is that part,
 * to g_free. */
GArray *prima_token_ids_parse (const char *text, char **bad);
/* The ids as prima eval prints them: separated by spaces, then a newline. */
void prima_token_ids_print (FILE *f, const GArray *ids);

/* A conversation's first tokens, rendered by a chat template (tokenized
 * without special tokens added): the BOS the model asks for goes first
 * unless the template wrote it. */
void prima_tokenizer_prepend_bos (const prima_tokenizer *t, GArray *ids);

/* The bytes of one token's piece (byte tokens give their byte; SentencePiece's
 * U+2581 becomes a space; GPT-2 byte-level characters become bytes). Special
 * and control tokens give their text only if special is TRUE. Appends to out. */
void prima_token_to_piece (const prima_tokenizer *t, int32_t id, gboolean special, GString *out);

/* The text of a token sequence as llama.cpp's llama_detokenize gives it
 * (remove_special drops a leading BOS / trailing EOS; unparse_special renders
 * special tokens; SentencePiece's leading space is removed). */
char *prima_detokenize (const prima_tokenizer *t, const int32_t *ids, gsize n,
    gboolean remove_special, gboolean unparse_special);
