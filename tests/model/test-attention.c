/* The fused, split decode attention (attention.h) against the scalar
 * reference on random data: head_dim, GQA ratios, lengths 1..5000, chunk
 * sizes. The fused kernel's exp is a polynomial (about 1 ulp from expf) and
 * its softmax sum runs in 8 lanes, so even one chunk may differ from the
 * reference where a probability rounds to the other F16 neighbour (the
 * count of one-chunk cases equal bit for bit is printed). Several chunks:
 * the probabilities are rounded to F16 against the chunk's own max and sum
 * instead of the global ones, so the outputs differ by F16 rounding: |fused - ref| and
 * |fused - attention in double| at most TOL (about two F16 ulps of 1;
 * |V| <= 1). The ratio of the two errors against double is printed. Two KV
 * heads, both checked; the fused result is the same bits with V in the
 * forward pass's chunked layout or transposed whole, and for a KV head
 * computed alone or with the other. */
#include <glib.h>
#include <math.h>
#include <string.h>
#include "attention.h"
#include "fp16.h"
#include "tensor-types.h"

#define TOL 1e-3

static int failures, n_one, n_one_exact;

static void
check (int hd, int group, int n_kv, int chunk, float qscale, GRand *rand, double *worst, double *worst_ratio)
{
  const int n_ctx = n_kv + 3, n_kvh = 2, n_kv_dim = n_kvh * hd, n_q = n_kvh * group;
  const int nc = prima_attn_n_chunks (n_kv, chunk);
  prima_fp16 *kc = g_new (prima_fp16, (size_t) n_ctx * n_kv_dim);
  prima_fp16 *vc = g_new (prima_fp16, (size_t) n_kv_dim * n_ctx);
  /* V as the forward pass keeps it: [chunk][dimension][cell in chunk] */
  prima_fp16 *vb = g_new0 (prima_fp16, (size_t) nc * n_kv_dim * chunk);
  float *q = g_new (float, (size_t) n_q * hd), *qf = g_new (float, (size_t) n_q * hd);
  float *ref = g_new (float, (size_t) n_q * hd), *fused = g_new (float, (size_t) n_q * hd);
  float *fused_t = g_new (float, (size_t) n_q * hd), *one = g_new (float, (size_t) group * hd);
  float *scores = g_new (float, (size_t) MAX (n_kv, n_q * chunk));
  prima_fp16 *q16 = g_new (prima_fp16, (size_t) n_q * hd);
  prima_fp16 *p16 = g_new (prima_fp16, (size_t) MAX (n_kv, n_q * chunk));
  float *parts = g_new (float, (size_t) nc * n_q * hd), *m = g_new (float, (size_t) nc * n_q);
  double *s = g_new (double, (size_t) nc * n_q);
  double err_ref = 0.0, err_fused = 0.0, diff = 0.0;

  for (size_t i = 0; i < (size_t) n_ctx * n_kv_dim; i++) {
    kc[i] = prima_fp32_to_fp16 ((float) g_rand_double_range (rand, -1, 1));
    vc[i] = prima_fp32_to_fp16 ((float) g_rand_double_range (rand, -1, 1));
  }
  for (int d = 0; d < n_kv_dim; d++)
    for (int j = 0; j < n_kv; j++)
      vb[((size_t) (j / chunk) * n_kv_dim + d) * chunk + j % chunk] = vc[(size_t) d * n_ctx + j];
  for (int i = 0; i < n_q * hd; i++)
    q[i] = qscale * (float) g_rand_double_range (rand, -1, 1);
  for (int h = 0; h < n_kvh; h++)
    for (int g = 0; g < group; g++)
      prima_attn_ref (q + (size_t) (h * group + g) * hd, kc + (size_t) h * hd, n_kv_dim, vc + (size_t) h * hd * n_ctx,
          n_ctx, hd, n_kv, scores, q16, p16, ref + (size_t) (h * group + g) * hd);
  prima_attn_fused (q, n_kvh, group, kc, n_kv_dim, vb, chunk, (size_t) n_kv_dim * chunk, hd, n_kv, chunk, qf,
      scores, q16, p16, parts, m, s, fused);
  /* the layout and the heads sharing the call change no bit: V transposed
   * whole, and the second KV head alone */
  prima_attn_fused (q, n_kvh, group, kc, n_kv_dim, vc, n_ctx, chunk, hd, n_kv, chunk, qf, scores, q16, p16, parts,
      m, s, fused_t);
  prima_attn_fused (q + (size_t) group * hd, 1, group, kc + hd, n_kv_dim, vb + (size_t) hd * chunk, chunk,
      (size_t) n_kv_dim * chunk, hd, n_kv, chunk, qf, scores, q16, p16, parts, m, s, one);
  if (memcmp (fused, fused_t, sizeof (float) * n_q * hd) != 0
      || memcmp (fused + (size_t) group * hd, one, sizeof (float) * group * hd) != 0) {
    g_printerr ("FAIL hd %d group %d n_kv %d chunk %d: the V layout or the heads per call changed the result\n", hd,
        group, n_kv, chunk);
    failures++;
  }

  for (int qh = 0; qh < n_q; qh++) {
    /* attention in double, of the F16 query */
    const prima_fp16 *k = kc + (size_t) (qh / group) * hd, *v = vc + (size_t) (qh / group) * hd * n_ctx;
    double *w = g_new (double, n_kv), mx = -INFINITY, sum = 0.0;
    for (int j = 0; j < n_kv; j++) {
      double d = 0.0;
      for (int i = 0; i < hd; i++)
        d += (double) prima_fp16_to_fp32 (prima_fp32_to_fp16 (q[qh * hd + i])) * prima_fp16_to_fp32 (k[(size_t) j * n_kv_dim + i]);
      w[j] = d / sqrt ((double) hd);
      mx = MAX (mx, w[j]);
    }
    for (int j = 0; j < n_kv; j++)
      sum += (w[j] = exp (w[j] - mx));
    for (int i = 0; i < hd; i++) {
      double o = 0.0;
      for (int j = 0; j < n_kv; j++)
        o += w[j] / sum * prima_fp16_to_fp32 (v[(size_t) i * n_ctx + j]);
      err_ref = MAX (err_ref, fabs (ref[qh * hd + i] - o));
      err_fused = MAX (err_fused, fabs (fused[qh * hd + i] - o));
      diff = MAX (diff, fabs (ref[qh * hd + i] - fused[qh * hd + i]));
    }
    g_free (w);
  }
  if (nc == 1) {
    n_one++;
    n_one_exact += memcmp (ref, fused, sizeof (float) * n_q * hd) == 0;
  }
  if (diff > TOL || err_fused > TOL) {
    g_printerr ("FAIL hd %d group %d n_kv %d chunk %d qscale %g: |fused - ref| %g, err ref %g fused %g\n", hd, group,
        n_kv, chunk, qscale, diff, err_ref, err_fused);
    failures++;
  }
  *worst = MAX (*worst, diff);
  if (err_ref > 0)
    *worst_ratio = MAX (*worst_ratio, err_fused / err_ref);
  g_free (kc); g_free (vc); g_free (vb); g_free (q); g_free (qf); g_free (ref); g_free (fused); g_free (fused_t);
  g_free (one); g_free (scores); g_free (q16); g_free (p16); g_free (parts); g_free (m); g_free (s);
}

int
main (void)
{
  GRand *rand = g_rand_new_with_seed (16);
  const int hds[] = { 64, 128, 80 }, groups[] = { 1, 4, 8 }, lens[] = { 1, 2, 100, 255, 256, 257, 1000, 4096, 5000 };
  const int chunks[] = { PRIMA_ATTN_CHUNK, 7, 64, 1000 };
  const float qscales[] = { 0.5f, 4.0f, 16.0f };
  double worst = 0.0, worst_ratio = 0.0;
  int n = 0;
  for (guint a = 0; a < G_N_ELEMENTS (hds); a++)
    for (guint b = 0; b < G_N_ELEMENTS (groups); b++)
      for (guint c = 0; c < G_N_ELEMENTS (lens); c++)
        for (guint d = 0; d < G_N_ELEMENTS (chunks); d++) {
          /* the long ones with fewer combinations (time) */
          if (lens[c] >= 4096 && (b != 1 || d == 1))
            continue;
          check (hds[a], groups[b], lens[c], chunks[d], qscales[(a + b + c + d) % 3], rand, &worst, &worst_ratio);
          n++;
        }
  g_print ("%d cases: max |fused - ref| %.3g (bound %g, |V| <= 1); max err(fused)/err(ref) against double %.2f; "
      "one chunk: %d of %d bit for bit; %s\n", n, worst, TOL, worst_ratio, n_one_exact, n_one, failures ? "FAIL" : "ok");
  g_rand_free (rand);
  return failures ? 1 : 0;
}
