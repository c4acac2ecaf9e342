/* Decode attention over an F16 KV cache (docs/numerics.md, "Attention").
 *
 * The cache of one layer and sequence: K row-major, one row of n_kv_dim
 * halves per cell; V per chunk of PRIMA_ATTN_CHUNK cells, [chunk][dim][cell
 * in chunk], so that one chunk's K rows and V rows are two contiguous
 * blocks, read whole and in order (prima_attn_v_index).
 *
 * prima_attn_ref: one query head over cells 0..n_kv-1, the reference
 * rounding: scores = F16 dot of the F16 query with F16 K, times
 * 1/sqrt(head_dim); softmax in float with a double sum; probabilities
 * rounded to F16; each output dimension the F16 dot of V with them. Its V:
 * dimension d, cell j at v[d * v_stride + j].
 *
 * prima_attn_chunk: n_kvh KV heads and their n_group query heads each (GQA)
 * over the n cells of one chunk, each K row and V segment read once for the
 * group and K rows read whole in order; the reference's F16 roundings
 * (query, K, probabilities), normalised within the chunk, giving per query
 * head the chunk's output (normalised), its max score and its sum of
 * exp(score - max). Its exp is a polynomial (about 1 ulp from expf) and its
 * sum runs in 8 lanes, so even for one chunk 0..n_kv-1 a probability may
 * round to the other F16 neighbour of the reference's (test-attention:
 * within 1e-3 of it for |V| <= 1). Each query head's result is the same bits
 * whichever other heads share the call.
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

/* Where cell j, dimension d of a layer's V lives (n_kv_dim dimensions). */
static inline size_t
prima_attn_v_index (int j, int d, int n_kv_dim)
{
  return ((size_t) (j / PRIMA_ATTN_CHUNK) * n_kv_dim + d) * PRIMA_ATTN_CHUNK + j % PRIMA_ATTN_CHUNK;
}

void prima_attn_ref (const float *q, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v, size_t v_stride,
    int head_dim, int n_kv, float *scores, prima_fp16 *q16, prima_fp16 *p16, float *out);

/* q16: the n_kvh * n_group query heads rounded to F16, head_dim apart
 * (query head h * n_group + g goes with KV head h); k: cell i of the chunk,
 * KV head h at k + i * k_stride + h * head_dim; v: cell i, dimension d of KV
 * head h at v + (h * head_dim + d) * v_stride + i. Scratch: qf n_kvh *
 * n_group * head_dim floats, scores and p16 n_kvh * n_group * n. Query head
 * (h, g) writes out + h * out_head_stride + g * out_stride, and its max and
 * sum at m, s + h * ms_head_stride + g (m, s may be NULL for a single chunk). */
void prima_attn_chunk (const prima_fp16 *q16, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    const prima_fp16 *v, size_t v_stride, int head_dim, int n, float *qf, float *scores, prima_fp16 *p16,
    float *out, size_t out_stride, size_t out_head_stride, float *m, double *s, size_t ms_head_stride);

/* n_chunks partial outputs of one head, head_dim floats each part_stride
 * apart, with their m and s (m_stride, s_stride apart) into out. */
void prima_attn_merge (int head_dim, int n_chunks, const float *parts, size_t part_stride, const float *m,
    const double *s, size_t ms_stride, float *out);

/* The scores of prima_attn_chunk with AVX-512 (attention-avx512.c), the
 * same bits as its F16 vec_dot, for all n_kvh KV heads, the cells in tiles
 * of 16 rows read whole: scores[(h * n_group + g) * s_stride + i]. qf: the
 * F16 queries as floats. head_dim a multiple of 16, at most 256; n_group at
 * most 16. */
void prima_attn_scores_avx512 (const float *qf, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    int head_dim, int n, float scale, float *scores, size_t s_stride);

/* The outputs of one KV head: out[g * out_stride + d] = V row d (v + d *
 * v_stride, n cells) . the F16 probabilities of head g as floats (pf[g * n
 * + i]); the same sums as the F16 vec_dot. */
void prima_attn_values_avx512 (const float *pf, int n_group, const prima_fp16 *v, size_t v_stride, int head_dim,
    int n, float *out, size_t out_stride);

/* p16[i] = F16 (e[i] * inv), and e[i] = p16[i] as a float (F16C's
 * rounding, which prima_fp32_to_fp16 copies). */
void prima_attn_probs_avx512 (float *e, int n, float inv, prima_fp16 *p16);

static inline int
prima_attn_n_chunks (int n_kv, int chunk)
{
  return (n_kv + chunk - 1) / chunk;
}

/* All n_kvh KV heads (n_group query heads each, q: n_kvh * n_group *
 * head_dim) over cells 0..n_kv-1 in chunks of chunk cells; K as for
 * prima_attn_chunk from cell 0; V: cell j, dimension d (of all n_kvh *
 * head_dim) at v + (j / chunk) * v_chunk_stride + d * v_stride + j % chunk
 * (the forward pass's layout, or with v_chunk_stride = chunk a V transposed
 * whole). Scratch as prima_attn_chunk for chunk cells; parts: n_chunks *
 * n_kvh * n_group * head_dim floats, m, s: as many / head_dim; out: the
 * query heads head_dim apart. */
void prima_attn_fused (const float *q, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    const prima_fp16 *v, size_t v_stride, size_t v_chunk_stride, int head_dim, int n_kv, int chunk, float *qf,
    float *scores, prima_fp16 *q16, prima_fp16 *p16, float *parts, float *m, double *s, float *out);
