/* gst-prima: AVX-512 (F, BW, VL, DQ, VNNI) dot products.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Registered on top of the AVX2 table, so only the kernels that gain from
 * wider vectors or VNNI live here: Q4_K and Q6_K (which dominate decoding of
 * K-quant models), the other K-quants, Q8_0, Q4_0, F32 and F16. Integer sums per block are exact,
 * as in the reference; only the float accumulation order differs.
 */
#include "quants.h"

#include <immintrin.h>
#include <string.h>

#include "simd-avx512.h"

/* ---------------------------------------------------------------------
 * Float types
 * --------------------------------------------------------------------- */

static void
vec_dot_f32_f32_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const float *x = vx, *y = vy;
  __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i), _mm512_loadu_ps (y + i), a0);
    a1 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i + 16), _mm512_loadu_ps (y + i + 16), a1);
    a2 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i + 32), _mm512_loadu_ps (y + i + 32), a2);
    a3 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i + 48), _mm512_loadu_ps (y + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16)
    a0 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i), _mm512_loadu_ps (y + i), a0);
  if (i < n) {
    /* masked tail: lanes past n load as zero */
    const __mmask16 m = (__mmask16) ((1u << (n - i)) - 1);
    a1 = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (m, x + i), _mm512_maskz_loadu_ps (m, y + i), a1);
  }
  *s = _mm512_reduce_add_ps (_mm512_add_ps (_mm512_add_ps (a0, a1), _mm512_add_ps (a2, a3)));
}

static void
vec_dot_f16_f16_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const prima_fp16 *x = vx, *y = vy;
  __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
#define LD(p) _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (p)))
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_fmadd_ps (LD (x + i), LD (y + i), a0);
    a1 = _mm512_fmadd_ps (LD (x + i + 16), LD (y + i + 16), a1);
    a2 = _mm512_fmadd_ps (LD (x + i + 32), LD (y + i + 32), a2);
    a3 = _mm512_fmadd_ps (LD (x + i + 48), LD (y + i + 48), a3);
  }
  for (; i + 16 <= n; i += 16)
    a0 = _mm512_fmadd_ps (LD (x + i), LD (y + i), a0);
#undef LD
  if (i < n) {
    const __mmask16 m = (__mmask16) ((1u << (n - i)) - 1);
    const __m512 xv = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (m, x + i));
    const __m512 yv = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (m, y + i));
    a1 = _mm512_fmadd_ps (xv, yv, a1);
  }
  *s = _mm512_reduce_add_ps (_mm512_add_ps (_mm512_add_ps (a0, a1), _mm512_add_ps (a2, a3)));
}

/* ---------------------------------------------------------------------
 * Legacy 32-blocks: two blocks per 512-bit VNNI dot, block scales converted
 * eight at a time. vpdpbusd multiplies unsigned by signed bytes, so the
 * weights go in offset to unsigned (nibbles as they are, int8 + 128) and
 * the offset times the activation sum comes off afterwards.
 * --------------------------------------------------------------------- */

/* dx * dy of eight consecutive blocks (both rows start with an fp16 d) */
#define BLOCK_SCALES_8(x, y, i) _mm256_mul_ps ( \
    _mm256_cvtph_ps (_mm_setr_epi16 ((short) x[i].d, (short) x[i + 1].d, (short) x[i + 2].d, \
            (short) x[i + 3].d, (short) x[i + 4].d, (short) x[i + 5].d, (short) x[i + 6].d, (short) x[i + 7].d)), \
    _mm256_cvtph_ps (_mm_setr_epi16 ((short) y[i].d, (short) y[i + 1].d, (short) y[i + 2].d, \
            (short) y[i + 3].d, (short) y[i + 4].d, (short) y[i + 5].d, (short) y[i + 6].d, (short) y[i + 7].d)))

/* The fp16 d of eight consecutive Q8_0 blocks (34 bytes each: at bytes 0,
 * 34, .., 238), as the eight words BLOCK_SCALES_8 builds, from four 64-byte
 * loads and two byte permutes instead of sixteen word loads and inserts:
 * the same values, so the same products (the kernel is compute-bound at
 * decode, and these were a third of its instructions). */
static inline __m128i
q8_0_d8 (const block_q8_0 *b)
{
  const uint8_t *p = (const uint8_t *) b;
  /* words 0, 17, 34, 51 of the first 128 bytes, 68, 85, 102, 119 of the
   * next (permutex2var_epi16: index bit 5 picks the second table) */
  const __m512i i0 = _mm512_castsi128_si512 (_mm_setr_epi16 (0, 17, 32 + 2, 32 + 19, 0, 0, 0, 0));
  const __m512i i1 = _mm512_castsi128_si512 (_mm_setr_epi16 (4, 21, 32 + 6, 32 + 23, 0, 0, 0, 0));
  const __m512i lo = _mm512_permutex2var_epi16 (_mm512_loadu_si512 (p), i0, _mm512_loadu_si512 (p + 64));
  const __m512i hi = _mm512_permutex2var_epi16 (_mm512_loadu_si512 (p + 128), i1, _mm512_loadu_si512 (p + 192));
  return _mm_unpacklo_epi64 (_mm512_castsi512_si128 (lo), _mm512_castsi512_si128 (hi));
}

static void
vec_dot_q8_0_q8_0_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK8_0;
  const __m512i bias = _mm512_set1_epi8 ((char) 0x80);
  const __m512i idx[4] = { pair_index (0), pair_index (2), pair_index (4), pair_index (6) };
  __m512 acc = _mm512_setzero_ps ();
  int i = 0;
  for (; i + 8 <= nb; i += 8) {
    const __m512 d8 = _mm512_castps256_ps512 (_mm256_mul_ps (_mm256_cvtph_ps (q8_0_d8 (x + i)),
            _mm256_cvtph_ps (q8_0_d8 (y + i))));
    for (int k = 0; k < 4; k++) {
      const __m512i xx = load_2x32 (x[i + 2 * k].qs, x[i + 2 * k + 1].qs);
      const __m512i yy = load_2x32 (y[i + 2 * k].qs, y[i + 2 * k + 1].qs);
      /* (x + 128) . y - 128 . y */
      const __m512i t = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), _mm512_xor_si512 (xx, bias), yy);
      const __m512i u = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), bias, yy);
      acc = _mm512_fmadd_ps (_mm512_permutexvar_ps (idx[k], d8), _mm512_cvtepi32_ps (_mm512_sub_epi32 (t, u)), acc);
    }
  }
  __m256 acc0 = _mm256_setzero_ps ();
  for (; i < nb; i++) {
    const __m256i p = dot_i8_vnni (_mm256_loadu_si256 ((const __m256i *) x[i].qs),
        _mm256_loadu_si256 ((const __m256i *) y[i].qs));
    acc0 = _mm256_fmadd_ps (_mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d)), _mm256_cvtepi32_ps (p), acc0);
  }
  *s = _mm512_reduce_add_ps (acc) + hsum256_ps (acc0);
}

static void
vec_dot_q4_0_q8_0_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK8_0;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i eights = _mm512_set1_epi8 (8);
  /* 128-bit lanes [qs0, qs0, qs1, qs1]: shift lanes 1 and 3 by 4 to get
   * each block's low nibbles (elements 0..15) then high (16..31) */
  const __m512i nib_shift = _mm512_setr_epi64 (0, 0, 0x0004000400040004LL, 0x0004000400040004LL,
      0, 0, 0x0004000400040004LL, 0x0004000400040004LL);
  const __m512i idx[4] = { pair_index (0), pair_index (2), pair_index (4), pair_index (6) };
  __m512 acc = _mm512_setzero_ps ();
  int i = 0;
  for (; i + 8 <= nb; i += 8) {
    const __m512 d8 = _mm512_castps256_ps512 (BLOCK_SCALES_8 (x, y, i));
    for (int k = 0; k < 4; k++) {
      const block_q4_0 *b = x + i + 2 * k;
      const __m256i q2 = _mm256_inserti128_si256 (_mm256_castsi128_si256 (_mm_loadu_si128 ((const __m128i *) b[0].qs)),
          _mm_loadu_si128 ((const __m128i *) b[1].qs), 1);
      const __m512i q4 = _mm512_shuffle_i64x2 (_mm512_castsi256_si512 (q2), _mm512_castsi256_si512 (q2),
          _MM_SHUFFLE (1, 1, 0, 0));
      const __m512i qn = _mm512_and_si512 (_mm512_srlv_epi16 (q4, nib_shift), m4);
      const __m512i yy = load_2x32 (y[i + 2 * k].qs, y[i + 2 * k + 1].qs);
      /* q . y - 8 . y */
      const __m512i t = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), qn, yy);
      const __m512i u = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), eights, yy);
      acc = _mm512_fmadd_ps (_mm512_permutexvar_ps (idx[k], d8), _mm512_cvtepi32_ps (_mm512_sub_epi32 (t, u)), acc);
    }
  }
  __m256 acc0 = _mm256_setzero_ps ();
  for (; i < nb; i++) {
    const __m256i p = dot_i8_vnni (_mm256_sub_epi8 (nibbles_32 (x[i].qs), _mm256_set1_epi8 (8)),
        _mm256_loadu_si256 ((const __m256i *) y[i].qs));
    acc0 = _mm256_fmadd_ps (_mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d)), _mm256_cvtepi32_ps (p), acc0);
  }
  *s = _mm512_reduce_add_ps (acc) + hsum256_ps (acc0);
}

/* ---------------------------------------------------------------------
 * Q4_K: 64-byte loads of the nibbles, maddubs against the activations, then
 * vpdpwssd with the sub-block scales as words.
 * --------------------------------------------------------------------- */

/* word_halves_ctrl (0, 2), (1, 3), (4, 6), (5, 7) as data: a decode row of
 * 2048 levels is only eight blocks, and building them in registers took a
 * tenth of the call's instructions. */
#define WH2(a) 2 * (a), 2 * (a) + 1
#define WH8(a) WH2 (a), WH2 (a), WH2 (a), WH2 (a), WH2 (a), WH2 (a), WH2 (a), WH2 (a)
#define WORD_HALVES(a, b) { WH8 (a), WH8 (a), WH8 (b), WH8 (b) }
static const uint8_t q4_K_ctrl[4][64] __attribute__ ((aligned (64))) = {
  WORD_HALVES (0, 2), WORD_HALVES (1, 3), WORD_HALVES (4, 6), WORD_HALVES (5, 7)
};

/* Q4_K against Q8_K_X (activations reordered per 128 levels as sub-blocks
 * 0, 2, 1, 3): a 64-byte load of nibbles gives sub-blocks 0 and 2 in its low
 * nibbles and 1 and 3 in its high ones, the order of the activations, so
 * the levels come out with one and (and one shift) per 64 instead of a
 * broadcast and a variable shift; the mins take the activations' sums per
 * 32 as they are. About 10% faster than the same kernel on plain Q8_K
 * (broadcast + vpsrlvw per 64 levels) on Zen 5. */
static void
vec_dot_q4_K_q8_K_x_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_K *x = vx;
  const block_q8_K_x *y = vy;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i c02 = _mm512_load_si512 (q4_K_ctrl[0]), c13 = _mm512_load_si512 (q4_K_ctrl[1]);
  const __m512i c46 = _mm512_load_si512 (q4_K_ctrl[2]), c57 = _mm512_load_si512 (q4_K_ctrl[3]);
  __m512 acc = _mm512_setzero_ps ();
  __m128 acc_m = _mm_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    uint32_t dd;
    memcpy (&dd, &x[i].d, sizeof dd);
    /* d, dmin of the block times the activation scale */
    const __m128 dm = _mm_mul_ps (_mm_cvtph_ps (_mm_cvtsi32_si128 ((int) dd)), _mm_set1_ps (y[i].d));
    const __m128i sm = k4_scales_mins (x[i].scales);
    /* mins as words against the sums per 32 */
    const __m128i mprod = _mm_madd_epi16 (_mm_unpackhi_epi8 (sm, _mm_setzero_si128 ()),
        _mm_loadu_si128 ((const __m128i *) y[i].bsums32));
    acc_m = _mm_fmadd_ps (_mm_permute_ps (dm, _MM_SHUFFLE (1, 1, 1, 1)), _mm_cvtepi32_ps (mprod), acc_m);

    const __m512i scb = _mm512_broadcast_i32x4 (_mm_cvtepu8_epi16 (sm));
    const int8_t *q8 = y[i].qs;
    const __m512i v0 = _mm512_loadu_si512 (x[i].qs), v1 = _mm512_loadu_si512 (x[i].qs + 64);
    const __m512i p0 = _mm512_maddubs_epi16 (_mm512_and_si512 (v0, m4), _mm512_loadu_si512 (q8));
    const __m512i p1 = _mm512_maddubs_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (v0, 4), m4),
        _mm512_loadu_si512 (q8 + 64));
    const __m512i p2 = _mm512_maddubs_epi16 (_mm512_and_si512 (v1, m4), _mm512_loadu_si512 (q8 + 128));
    const __m512i p3 = _mm512_maddubs_epi16 (_mm512_and_si512 (_mm512_srli_epi16 (v1, 4), m4),
        _mm512_loadu_si512 (q8 + 192));
    __m512i s0 = _mm512_madd_epi16 (p0, _mm512_shuffle_epi8 (scb, c02));
    __m512i s1 = _mm512_madd_epi16 (p1, _mm512_shuffle_epi8 (scb, c13));
    s0 = _mm512_dpwssd_epi32 (s0, p2, _mm512_shuffle_epi8 (scb, c46));
    s1 = _mm512_dpwssd_epi32 (s1, p3, _mm512_shuffle_epi8 (scb, c57));
    acc = _mm512_fmadd_ps (_mm512_broadcastss_ps (dm), _mm512_cvtepi32_ps (_mm512_add_epi32 (s0, s1)), acc);
  }
  acc_m = _mm_add_ps (acc_m, _mm_movehl_ps (acc_m, acc_m));
  acc_m = _mm_add_ss (acc_m, _mm_movehdup_ps (acc_m));
  *s = _mm512_reduce_add_ps (acc) - _mm_cvtss_f32 (acc_m);
}

/* The table's Q8_K quantizer (AVX2) then the reorder: bit-identical to
 * quantize_row_q8_K_x_ref. Activations are small; this is not hot. */
static prima_from_float_fn q8_K_from_float;

static void
quantize_row_q8_K_x_avx512 (const float *x, void *vy, int64_t n)
{
  block_q8_K tmp;
  for (int64_t i = 0; i < n / QK_K; i++) {
    q8_K_from_float (x + i * QK_K, &tmp, QK_K);
    q8_K_to_q8_K_x (&tmp, (block_q8_K_x *) vy + i, QK_K);
  }
}

/* Q5_K: Q4_K plus a fifth bit per level, bit 2j (low nibbles) or 2j+1
 * (high) of qh[l] for chunk j. */
static void
vec_dot_q5_K_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i one = _mm512_set1_epi8 (1);
  const __m512i nib_shift = _mm512_inserti64x4 (_mm512_setzero_si512 (), _mm256_set1_epi16 (4), 1);
  const __m512i c01 = word_halves_ctrl (0, 1), c23 = word_halves_ctrl (2, 3);
  const __m512i c45 = word_halves_ctrl (4, 5), c67 = word_halves_ctrl (6, 7);
  __m512i hshift[4];
  for (int j = 0; j < 4; j++)
    hshift[j] = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) (2 * j)), _mm256_set1_epi16 ((short) (2 * j + 1)), 1);
  __m512 acc = _mm512_setzero_ps ();
  __m256 acc_m = _mm256_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    uint32_t dd;
    memcpy (&dd, &x[i].d, sizeof dd);
    const __m128 dm = _mm_mul_ps (_mm_cvtph_ps (_mm_cvtsi32_si128 ((int) dd)), _mm_set1_ps (y[i].d));
    const __m512 d = _mm512_broadcastss_ps (dm);
    const __m256 dmin = _mm256_broadcastss_ps (_mm_movehdup_ps (dm));

    const __m128i sm = k4_scales_mins (x[i].scales);
    const __m256i mn16 = _mm256_cvtepu8_epi16 (_mm_unpackhi_epi8 (sm, sm));
    const __m256i mprod = _mm256_madd_epi16 (mn16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    acc_m = _mm256_fmadd_ps (dmin, _mm256_cvtepi32_ps (mprod), acc_m);

    const __m512i scb = _mm512_broadcast_i32x4 (_mm_cvtepu8_epi16 (sm));
    const __m512i qh = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) x[i].qh));
    const uint8_t *q = x[i].qs;
    const int8_t *q8 = y[i].qs;
#define CHUNK(j) _mm512_or_si512 ( \
        _mm512_and_si512 (_mm512_srlv_epi16 (_mm512_broadcast_i64x4 ( \
                _mm256_loadu_si256 ((const __m256i *) (q + 32 * (j)))), nib_shift), m4), \
        _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srlv_epi16 (qh, hshift[j]), one), 4))
    const __m512i p0 = _mm512_maddubs_epi16 (CHUNK (0), _mm512_loadu_si512 (q8));
    const __m512i p1 = _mm512_maddubs_epi16 (CHUNK (1), _mm512_loadu_si512 (q8 + 64));
    const __m512i p2 = _mm512_maddubs_epi16 (CHUNK (2), _mm512_loadu_si512 (q8 + 128));
    const __m512i p3 = _mm512_maddubs_epi16 (CHUNK (3), _mm512_loadu_si512 (q8 + 192));
#undef CHUNK
    __m512i s0 = _mm512_madd_epi16 (p0, _mm512_shuffle_epi8 (scb, c01));
    __m512i s1 = _mm512_madd_epi16 (p1, _mm512_shuffle_epi8 (scb, c23));
    s0 = _mm512_dpwssd_epi32 (s0, p2, _mm512_shuffle_epi8 (scb, c45));
    s1 = _mm512_dpwssd_epi32 (s1, p3, _mm512_shuffle_epi8 (scb, c67));
    acc = _mm512_fmadd_ps (d, _mm512_cvtepi32_ps (_mm512_add_epi32 (s0, s1)), acc);
  }
  *s = _mm512_reduce_add_ps (acc) - hsum256_ps (acc_m);
}

/* ---------------------------------------------------------------------
 * Q6_K: rebuild the six-bit levels 64 at a time (variable shifts place the
 * two high bits), maddubs, vpdpwssd with per-16 scales; the +32 bias is
 * taken off once per super-block through the activation group sums.
 * --------------------------------------------------------------------- */

static void
vec_dot_q6_K_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i m30 = _mm512_set1_epi8 (0x30);
  /* low nibbles: elements 0..31 take qh bits 0-1 (<< 4), 32..63 bits 2-3 (<< 2);
   * high nibbles: 64..95 bits 4-5 (as is), 96..127 bits 6-7 (>> 2) */
  const __m512i shl_lo = _mm512_inserti64x4 (_mm512_set1_epi16 (4), _mm256_set1_epi16 (2), 1);
  const __m512i shr_hi = _mm512_inserti64x4 (_mm512_setzero_si512 (), _mm256_set1_epi16 (2), 1);
  __m512i sidx[4];
  group_scale_index (sidx);
  __m512 acc = _mm512_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) x[i].scales));
    const __m512i sc16z = _mm512_zextsi256_si512 (sc16);
    const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));

    __m512i sumi[2];
    for (int h = 0; h < 2; h++) {
      const __m512i l = _mm512_loadu_si512 (x[i].ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) (x[i].qh + 32 * h)));
      const __m512i h_lo = _mm512_and_si512 (_mm512_sllv_epi16 (hb, shl_lo), m30);
      const __m512i h_hi = _mm512_and_si512 (_mm512_srlv_epi16 (hb, shr_hi), m30);
      /* (a & 0x0F) | c */
      const __m512i q_lo = _mm512_ternarylogic_epi32 (l, m4, h_lo, 0xEA);
      const __m512i q_hi = _mm512_ternarylogic_epi32 (_mm512_srli_epi16 (l, 4), m4, h_hi, 0xEA);
      const __m512i p_lo = _mm512_maddubs_epi16 (q_lo, _mm512_loadu_si512 (y[i].qs + 128 * h));
      const __m512i p_hi = _mm512_maddubs_epi16 (q_hi, _mm512_loadu_si512 (y[i].qs + 128 * h + 64));
      __m512i t = _mm512_madd_epi16 (p_lo, _mm512_permutexvar_epi16 (sidx[2 * h], sc16z));
      sumi[h] = _mm512_dpwssd_epi32 (t, p_hi, _mm512_permutexvar_epi16 (sidx[2 * h + 1], sc16z));
    }
    __m512i tot = _mm512_add_epi32 (sumi[0], sumi[1]);
    tot = _mm512_sub_epi32 (tot, _mm512_zextsi256_si512 (_mm256_slli_epi32 (corr, 5)));
    acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (tot), acc);
  }
  *s = _mm512_reduce_add_ps (acc);
}

/* ---------------------------------------------------------------------
 * Q2_K and Q3_K: 64 levels per vector (two 2-bit fields of the same 32
 * bytes, split by a per-half variable shift), per-16 scales by vpermw.
 * --------------------------------------------------------------------- */

static void
vec_dot_q2_K_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i m3 = _mm512_set1_epi8 (3);
  /* vector v covers elements 64v..64v+63: fields 2(v%2) and 2(v%2)+1 of bytes 32(v/2).. */
  const __m512i sh[2] = {
    _mm512_inserti64x4 (_mm512_set1_epi16 (0), _mm256_set1_epi16 (2), 1),
    _mm512_inserti64x4 (_mm512_set1_epi16 (4), _mm256_set1_epi16 (6), 1),
  };
  __m512i sidx[4];
  group_scale_index (sidx);
  __m512 acc = _mm512_setzero_ps ();
  __m256 acc_m = _mm256_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    const __m128i packed = _mm_loadu_si128 ((const __m128i *) x[i].scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16 (_mm_and_si128 (packed, _mm_set1_epi8 (0x0F)));
    const __m256i mn16 = _mm256_cvtepu8_epi16 (_mm_and_si128 (_mm_srli_epi16 (packed, 4), _mm_set1_epi8 (0x0F)));
    const __m256i mprod = _mm256_madd_epi16 (mn16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    acc_m = _mm256_fmadd_ps (_mm256_set1_ps (y[i].d * fp16 (x[i].dmin)), _mm256_cvtepi32_ps (mprod), acc_m);
    const __m512i sc16z = _mm512_zextsi256_si512 (sc16);
    __m512i sumi[2];
    for (int h = 0; h < 2; h++) {
      const __m512i b = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * h)));
      const __m512i q0 = _mm512_and_si512 (_mm512_srlv_epi16 (b, sh[0]), m3);
      const __m512i q1 = _mm512_and_si512 (_mm512_srlv_epi16 (b, sh[1]), m3);
      const __m512i p0 = _mm512_maddubs_epi16 (q0, _mm512_loadu_si512 (y[i].qs + 128 * h));
      const __m512i p1 = _mm512_maddubs_epi16 (q1, _mm512_loadu_si512 (y[i].qs + 128 * h + 64));
      const __m512i t = _mm512_madd_epi16 (p0, _mm512_permutexvar_epi16 (sidx[2 * h], sc16z));
      sumi[h] = _mm512_dpwssd_epi32 (t, p1, _mm512_permutexvar_epi16 (sidx[2 * h + 1], sc16z));
    }
    acc = _mm512_fmadd_ps (_mm512_set1_ps (y[i].d * fp16 (x[i].d)),
        _mm512_cvtepi32_ps (_mm512_add_epi32 (sumi[0], sumi[1])), acc);
  }
  *s = _mm512_reduce_add_ps (acc) - hsum256_ps (acc_m);
}

static void
vec_dot_q3_K_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i m3 = _mm512_set1_epi8 (3);
  const __m512i one = _mm512_set1_epi8 (1);
  const __m512i sh[2] = {
    _mm512_inserti64x4 (_mm512_set1_epi16 (0), _mm256_set1_epi16 (2), 1),
    _mm512_inserti64x4 (_mm512_set1_epi16 (4), _mm256_set1_epi16 (6), 1),
  };
  /* high bit of element 128h + 32k + l: bit 4h + k of hmask[l] */
  __m512i hsh[4];
  for (int v = 0; v < 4; v++)
    hsh[v] = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) (2 * v)), _mm256_set1_epi16 ((short) (2 * v + 1)), 1);
  __m512i sidx[4];
  group_scale_index (sidx);
  __m512 acc = _mm512_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    uint32_t w[3];
    memcpy (w, x[i].scales, sizeof w);
    const uint32_t a0 = (w[0] & 0x0f0f0f0f) | (((w[2] >> 0) & 0x03030303) << 4);
    const uint32_t a1 = (w[1] & 0x0f0f0f0f) | (((w[2] >> 2) & 0x03030303) << 4);
    const uint32_t a2 = ((w[0] >> 4) & 0x0f0f0f0f) | (((w[2] >> 4) & 0x03030303) << 4);
    const uint32_t a3 = ((w[1] >> 4) & 0x0f0f0f0f) | (((w[2] >> 6) & 0x03030303) << 4);
    const __m128i sc8 = _mm_sub_epi8 (_mm_set_epi32 ((int) a3, (int) a2, (int) a1, (int) a0), _mm_set1_epi8 (32));
    const __m256i sc16 = _mm256_cvtepi8_epi16 (sc8);
    const __m512i sc16z = _mm512_zextsi256_si512 (sc16);
    /* levels go in +4 (0..7): take 4 * sum(scale * group sum) off */
    const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    const __m512i hm = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) x[i].hmask));
    __m512i sumi[2];
    for (int h = 0; h < 2; h++) {
      const __m512i b = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * h)));
      __m512i q[2], p[2];
      for (int k = 0; k < 2; k++) {
        const __m512i hb = _mm512_and_si512 (_mm512_srlv_epi16 (hm, hsh[2 * h + k]), one);
        q[k] = _mm512_or_si512 (_mm512_and_si512 (_mm512_srlv_epi16 (b, sh[k]), m3), _mm512_slli_epi16 (hb, 2));
        p[k] = _mm512_maddubs_epi16 (q[k], _mm512_loadu_si512 (y[i].qs + 128 * h + 64 * k));
      }
      const __m512i t = _mm512_madd_epi16 (p[0], _mm512_permutexvar_epi16 (sidx[2 * h], sc16z));
      sumi[h] = _mm512_dpwssd_epi32 (t, p[1], _mm512_permutexvar_epi16 (sidx[2 * h + 1], sc16z));
    }
    __m512i tot = _mm512_add_epi32 (sumi[0], sumi[1]);
    tot = _mm512_sub_epi32 (tot, _mm512_zextsi256_si512 (_mm256_slli_epi32 (corr, 2)));
    acc = _mm512_fmadd_ps (_mm512_set1_ps (y[i].d * fp16 (x[i].d)), _mm512_cvtepi32_ps (tot), acc);
  }
  *s = _mm512_reduce_add_ps (acc);
}

void
prima_quants_avx512_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_F32].vec_dot = vec_dot_f32_f32_avx512;
  table[PRIMA_TYPE_F16].vec_dot = vec_dot_f16_f16_avx512;
  table[PRIMA_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx512;
  table[PRIMA_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx512;
  table[PRIMA_TYPE_Q2_K].vec_dot = vec_dot_q2_K_q8_K_avx512;
  table[PRIMA_TYPE_Q3_K].vec_dot = vec_dot_q3_K_q8_K_avx512;
  /* Q4_K reads its activations as Q8_K_X here (AVX2 and scalar: Q8_K) */
  q8_K_from_float = table[PRIMA_TYPE_Q8_K].from_float;
  table[PRIMA_TYPE_Q8_K_X].from_float = quantize_row_q8_K_x_avx512;
  table[PRIMA_TYPE_Q4_K].vec_dot_type = PRIMA_TYPE_Q8_K_X;
  table[PRIMA_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_x_avx512;
  table[PRIMA_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_avx512;
  table[PRIMA_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx512;
}
