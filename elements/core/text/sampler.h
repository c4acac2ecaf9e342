/* gst-prima: choosing the next token from logits.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The chain is llama.cpp's default order: penalties, top-k, top-p, min-p,
 * temperature, then a seeded draw. Temperature <= 0 is greedy (argmax; ties go
 * to the lowest id). */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef struct {
  float temperature;            /* <= 0: greedy */
  int top_k;                    /* <= 0: off */
  float top_p;                  /* >= 1: off */
  float min_p;                  /* <= 0: off */
  float repeat_penalty;         /* 1: off */
  float frequency_penalty;      /* 0: off */
  float presence_penalty;       /* 0: off */
  int penalty_last_n;           /* tokens of history the penalties look at */
  guint64 seed;
} prima_sampler_params;

/* llama-cli's defaults: temp 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat 1.0, last-n 64. */
void prima_sampler_params_init (prima_sampler_params *p);

typedef struct prima_sampler prima_sampler;

prima_sampler *prima_sampler_new (const prima_sampler_params *p, int n_vocab);
void prima_sampler_free (prima_sampler *s);
/* Record a token (prompt or generated) in the penalty history. */
void prima_sampler_accept (prima_sampler *s, int32_t token);
int32_t prima_sampler_sample (prima_sampler *s, const float *logits);
/* Speculative decoding's verification of one draft token against the
 * target's logits at its position (llama.cpp's speculative sampling with a
 * greedy draft, whose distribution q is 1 on its token): greedy, the
 * arg-max, accepted when it equals draft; else draft is accepted with the
 * probability p(draft) the chain above gives it, and a rejection draws from
 * max (0, p - q), p without draft. Either way the token comes from p, so the
 * output is distributed as prima_sampler_sample's. Returns the token to
 * emit (draft when *accepted). */
int32_t prima_sampler_verify (prima_sampler *s, const float *logits, int32_t draft, gboolean *accepted);
/* Index of the largest value; the lowest index wins ties. */
int32_t prima_argmax (const float *v, int n);
