/* Decode attention over an F16 KV cache (docs/numerics.md, "Attention").
 *
 * The cache of one layer and sequence: K row-major, one row of n_kv_dim
 * halves per cell; V transposed, one row of n_ctx halves per dimension. The
 * caller points k at the KV head's first dimension of cell 0 (row stride
 * k_stride halves) and v at the KV head's first dimension (dimension stride
 * v_stride halves, cell j at index j).
 *
 * prima_attn_ref: one query head over cells 0..n_kv-1, the reference
 * rounding: scores = F16 dot of the F16 query with F16 K, times
 * 1/sqrt(head_dim); softmax in float with a double sum; probabilities
 * rounded to F16; each output dimension the F16 dot of V with them.
 *
 * prima_attn_chunk: the n_group query heads of one KV head (GQA) at once
 * over cells j0..j1-1, each K row and V segment read once for the group;
 * the reference's F16 roundings (query, K, probabilities), normalised
 * within the chunk, giving per head the chunk's output (normalised), its
 * max score and its sum of exp(score - max). Its exp is a polynomial
 * (about 1 ulp from expf) and its sum runs in 8 lanes, so even for one
 * chunk 0..n_kv-1 a probability may round to the other F16 neighbour of
 * the reference's (test-attention: within 1e-3 of it for |V| <= 1).
 *
 * prima_attn_merge: the chunks of one head (online softmax, in chunk
 * order): out = sum_c w_c * out_c, w_c = s_c * exp(m_c - M) / sum_c' (...).
 *
 * prima_attn_fused: chunks of `chunk` cells, merged; what the forward pass
 * computes (with PRIMA_ATTN_CHUNK), on one thread (for the unit test). */
#pragma once
#include <stddef.h>
#include "fp16.h"

#define PRIMA_ATTN_CHUNK 256

void prima_attn_ref (const float *q, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v, size_t v_stride,
    int head_dim, int n_kv, float *scores, prima_fp16 *q16, prima_fp16 *p16, float *out);

/* q16: the n_group query heads rounded to F16, head_dim apart; scores:
 * n_group * (j1 - j0) floats; p16: n_group * (j1 - j0); out: n_group heads,
 * out_stride apart; m, s: n_group each (may be NULL for a single chunk). */
void prima_attn_chunk (const prima_fp16 *q16, int n_group, const prima_fp16 *k, size_t k_stride,
    const prima_fp16 *v, size_t v_stride, int head_dim, int j0, int j1, float *scores, prima_fp16 *p16, float *out,
    size_t out_stride, float *m, double *s);

/* n_chunks partial outputs of one head, head_dim floats each part_stride
 * apart, with their m and s (m_stride, s_stride apart) into out. */
void prima_attn_merge (int head_dim, int n_chunks, const float *parts, size_t part_stride, const float *m,
    const double *s, size_t ms_stride, float *out);

/* The scores of prima_attn_chunk with AVX-512 (quants-avx512.c), the same
 * bits as its F16 vec_dot: scores[g * (j1 - j0) + j - j0]. */
void prima_attn_scores_avx512 (const prima_fp16 *q16, int n_group, const prima_fp16 *k, size_t k_stride,
    int head_dim, int j0, int j1, float scale, float *scores);

void prima_attn_values_avx512 (const prima_fp16 *p16, int n_group, const prima_fp16 *v, size_t v_stride,
    int head_dim, int j0, int j1, float *out, size_t out_stride);

static inline int
prima_attn_n_chunks (int n_kv, int chunk)
{
  return (n_kv + chunk - 1) / chunk;
}

/* All n_group heads of a KV head over cells 0..n_kv-1 in chunks of chunk
 * cells; scratch as prima_attn_chunk for chunk cells, parts: n_chunks *
 * n_group * head_dim floats, m, s: n_chunks * n_group. */
void prima_attn_fused (const float *q, int n_group, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v,
    size_t v_stride, int head_dim, int n_kv, int chunk, float *scores, prima_fp16 *q16, prima_fp16 *p16,
    float *parts, float *m, double *s, float *out);
