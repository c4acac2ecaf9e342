/* gst-prima: tokenizers built from GGUF metadata (SentencePiece-style "llama"
 * and byte-level BPE "gpt2" with its pre-tokenizers), special tokens and
 * detokenization. The behaviour follows llama.cpp's tokenizer so that token
 * ids match it exactly.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "tokenizer.h"

#include <string.h>
#include <stdlib.h>
#include <errno.h>

G_DEFINE_QUARK (prima-tokenizer-error-quark, prima_tokenizer_error)

/* Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type. */
enum {
  ATTR_UNKNOWN = 1 << 0,
  ATTR_UNUSED = 1 << 1,
  ATTR_NORMAL = 1 << 2,
  ATTR_CONTROL = 1 << 3,
  ATTR_USER_DEFINED = 1 << 4,
  ATTR_BYTE = 1 << 5,
  ATTR_LSTRIP = 1 << 7,
  ATTR_RSTRIP = 1 << 8,
};

/* tokenizer.ggml.token_type values. */
enum {
  TYPE_UNDEFINED = 0, TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3,
  TYPE_USER_DEFINED = 4, TYPE_UNUSED = 5, TYPE_BYTE = 6,
};

typedef enum { KIND_SPM, KIND_BPE } tok_kind;

typedef enum {
  PRE_NONE,                     /* SPM: no pre-tokenizer */
  PRE_DEFAULT,
  PRE_LLAMA3,
  PRE_QWEN2,
  PRE_DEEPSEEK_LLM,
  PRE_DEEPSEEK_CODER,
  PRE_GPT2,
  PRE_STARCODER,
  PRE_FALCON,
} pre_kind;

typedef struct {
  uint32_t off;                 /* text in the arena */
  uint32_t len;
  float score;
  uint32_t attr;
} tok_info;

typedef struct {
  uint32_t off;                 /* first then second, back to back, in merge_arena */
  uint32_t la;
  uint32_t lb;
  int32_t rank;
} merge_info;

typedef struct {
  uint32_t hash;
  uint32_t idx;                 /* entry + 1; 0 = empty slot */
} hslot;

typedef struct {
  int32_t child[256];           /* only the root uses the table, see trie_child */
} trie_root;

typedef struct {
  int32_t first_child;
  int32_t sibling;
  int32_t special;              /* index into t->special, or -1 */
  uint8_t byte;
} trie_node;

struct prima_tokenizer {
  tok_kind kind;
  pre_kind pre;
  int32_t n_vocab;
  tok_info *toks;
  char *arena;
  hslot *tok_slots;
  uint32_t tok_mask;

  merge_info *merges;
  uint32_t n_merges;
  char *merge_arena;
  hslot *merge_slots;
  uint32_t merge_mask;

  int32_t bos, eos, eot, eom, unk;
  int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
  gboolean add_bos, add_eos, add_space_prefix, clean_spaces, ignore_merges;
  guint8 *eog;                  /* bitmap over the vocabulary */

  /* Special, control, user-defined and unknown tokens, longest first: the
   * order in which they are cut out of the text. */
  int32_t *special;
  uint32_t n_special;
  trie_node *trie;              /* byte trie of their texts, to find candidates */
  uint32_t n_trie;
  int32_t trie_root[256];

  GRegex *regex[8];
  gboolean regex_collapsed[8];  /* matched against the category stand-ins */
  int n_regex;

  /* GPT-2 byte-level alphabet: byte -> UTF-8 of its code point, and back. */
  char byte_utf8[256][3];
  uint8_t byte_utf8_len[256];
  int16_t cp_byte[324];
  int32_t spm_byte_tok[256];    /* SPM byte fallback */
};

/* ---------------------------------------------------------------- hashing */

#define HASH_SEED 2166136261u
#define HASH_PRIME 16777619u

static inline uint32_t
hash_bytes (uint32_t h, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    h ^= (uint8_t) s[i];
    h *= HASH_PRIME;
  }
  return h;
}

static inline uint32_t
hash_pair (const char *a, size_t la, const char *b, size_t lb)
{
  uint32_t h = hash_bytes (HASH_SEED, a, la);
  /* Mix in the split point so "ab"+"c" and "a"+"bc" rarely collide. */
  h ^= (uint32_t) la | 0x100u;
  h *= HASH_PRIME;
  return hash_bytes (h, b, lb);
}

/* Power of two with a load factor of at most 2/3. */
static uint32_t
table_size_for (uint32_t n)
{
  uint32_t size = 16;
  while (size < n + n / 2 + 1)
    size <<= 1;
  return size;
}

/* How far ahead the bulk inserts prefetch their slots: the tables are far
 * bigger than the caches, so loading is bound by these misses. */
#define PREFETCH_AHEAD 16

static int32_t
vocab_find (const prima_tokenizer *t, const char *s, size_t n)
{
  uint32_t h = hash_bytes (HASH_SEED, s, n);
  for (uint32_t i = h & t->tok_mask;; i = (i + 1) & t->tok_mask) {
    const hslot *sl = &t->tok_slots[i];
    if (sl->idx == 0)
      return -1;
    if (sl->hash == h) {
      const tok_info *ti = &t->toks[sl->idx - 1];
      if (ti->len == n && memcmp (t->arena + ti->off, s, n) == 0)
        return (int32_t) (sl->idx - 1);
    }
  }
}

/* Inserts token id (h: the hash of its text); returns the id already
 * holding that text, or -1. */
static int32_t
vocab_insert (prima_tokenizer *t, int32_t id, uint32_t h)
{
  const tok_info *ti = &t->toks[id];
  const char *s = t->arena + ti->off;
  uint32_t i;
  for (i = h & t->tok_mask; t->tok_slots[i].idx != 0; i = (i + 1) & t->tok_mask) {
    const hslot *sl = &t->tok_slots[i];
    const tok_info *o = &t->toks[sl->idx - 1];
    if (sl->hash == h && o->len == ti->len && memcmp (t->arena + o->off, s, ti->len) == 0)
      return (int32_t) (sl->idx - 1);
  }
  t->tok_slots[i].hash = h;
  t->tok_slots[i].idx = (uint32_t) id + 1;
  return -1;
}

/* Rank of the merge (a, b), or -1. */
static int32_t
merge_rank (const prima_tokenizer *t, const char *a, size_t la, const char *b, size_t lb)
{
  uint32_t h;
  if (t->merge_slots == NULL)
    return -1;
  h = hash_pair (a, la, b, lb);
  for (uint32_t i = h & t->merge_mask;; i = (i + 1) & t->merge_mask) {
    const hslot *sl = &t->merge_slots[i];
    if (sl->idx == 0)
      return -1;
    if (sl->hash == h) {
      const merge_info *m = &t->merges[sl->idx - 1];
      const char *p = t->merge_arena + m->off;
      if (m->la == la && m->lb == lb && memcmp (p, a, la) == 0 && memcmp (p + la, b, lb) == 0)
        return m->rank;
    }
  }
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of a UTF-8 sequence from its lead byte, as llama.cpp counts it
 * (continuation bytes count as 1). */
static inline size_t
utf8_len (uint8_t c)
{
  static const uint8_t lookup[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
  return lookup[c >> 4];
}

/* Decodes one code point the lenient way llama.cpp does (overlong forms
 * accepted); returns FALSE on an invalid sequence (the caller then takes one
 * byte as U+FFFD). */
static gboolean
utf8_decode (const uint8_t *s, size_t n, size_t *pos, uint32_t *cp)
{
  size_t p = *pos;
  uint8_t c = s[p];
  if (!(c & 0x80)) {
    *cp = c;
    *pos = p + 1;
    return TRUE;
  }
  if (!(c & 0x40))
    return FALSE;
  if (!(c & 0x20)) {
    if (p + 1 >= n || (s[p + 1] & 0xc0) != 0x80)
      return FALSE;
    *cp = ((uint32_t) (c & 0x1f) << 6) | (s[p + 1] & 0x3f);
    *pos = p + 2;
    return TRUE;
  }
  if (!(c & 0x10)) {
    if (p + 2 >= n || (s[p + 1] & 0xc0) != 0x80 || (s[p + 2] & 0xc0) != 0x80)
      return FALSE;
    *cp = ((uint32_t) (c & 0x0f) << 12) | ((uint32_t) (s[p + 1] & 0x3f) << 6) | (s[p + 2] & 0x3f);
    *pos = p + 3;
    return TRUE;
  }
  if (!(c & 0x08)) {
    if (p + 3 >= n || (s[p + 1] & 0xc0) != 0x80 || (s[p + 2] & 0xc0) != 0x80
        || (s[p + 3] & 0xc0) != 0x80)
      return FALSE;
    *cp = ((uint32_t) (c & 0x07) << 18) | ((uint32_t) (s[p + 1] & 0x3f) << 12)
        | ((uint32_t) (s[p + 2] & 0x3f) << 6) | (s[p + 3] & 0x3f);
    *pos = p + 4;
    return TRUE;
  }
  return FALSE;
}

static int
utf8_encode (uint32_t cp, char *out)
{
  if (cp <= 0x7f) {
    out[0] = (char) cp;
    return 1;
  }
  if (cp <= 0x7ff) {
    out[0] = (char) (0xc0 | (cp >> 6));
    out[1] = (char) (0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp <= 0xffff) {
    out[0] = (char) (0xe0 | (cp >> 12));
    out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char) (0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char) (0xf0 | (cp >> 18));
  out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
  out[3] = (char) (0x80 | (cp & 0x3f));
  return 4;
}

/* The text as the BPE pre-tokenizer sees it: every code point llama.cpp
 * decodes, re-encoded (invalid bytes become U+FFFD). GRegex needs valid
 * UTF-8, so surrogates (same length) are swapped for U+FFFD in *match. */
static void
bpe_clean_text (const char *s, size_t n, GString *real, GString *match)
{
  size_t pos = 0;
  g_string_truncate (real, 0);
  g_string_truncate (match, 0);
  while (pos < n) {
    uint32_t cp;
    char buf[4];
    int k;
    if (!utf8_decode ((const uint8_t *) s, n, &pos, &cp)) {
      pos++;
      cp = 0xfffd;
    }
    if (cp > 0x10ffff)
      cp = 0xfffd;
    k = utf8_encode (cp, buf);
    g_string_append_len (real, buf, k);
    if (cp >= 0xd800 && cp <= 0xdfff)
      g_string_append (match, "\xef\xbf\xbd");
    else
      g_string_append_len (match, buf, k);
  }
}

/* ---------------------------------------------------------------- categories */

/* llama.cpp classifies code points with its own tables (Unicode 15.1), not
 * with the regex engine's. Patterns that use \p{..} are therefore matched
 * against a copy of the text in which every non-ASCII code point is replaced
 * by a stand-in of its category with the same UTF-8 length (so offsets stay
 * the same), like llama.cpp's "collapsed" text. */
enum { CAT_OTHER, CAT_LETTER, CAT_NUMBER, CAT_PUNCT, CAT_SYMBOL, CAT_MARK, CAT_SPACE, N_CATS };

/* Unicode White_Space, as llama.cpp's table has it. */
static inline gboolean
is_white_space (uint32_t cp)
{
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680
      || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f
      || cp == 0x205f || cp == 0x3000;
}

static int
cpt_category (uint32_t cp)
{
  if (is_white_space (cp))
    return CAT_SPACE;
  /* Unicode 15.1 additions that a Unicode 15.0 GLib does not know yet. */
  if (cp >= 0x2ebf0 && cp <= 0x2ee5d)
    return CAT_LETTER;
  if ((cp >= 0x2ffc && cp <= 0x2fff) || cp == 0x31ef)
    return CAT_SYMBOL;
  switch (g_unichar_type (cp)) {
    case G_UNICODE_LOWERCASE_LETTER:
    case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER:
    case G_UNICODE_UPPERCASE_LETTER:
      return CAT_LETTER;
    case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK:
    case G_UNICODE_NON_SPACING_MARK:
      return CAT_MARK;
    case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_OTHER_NUMBER:
      return CAT_NUMBER;
    case G_UNICODE_CONNECT_PUNCTUATION:
    case G_UNICODE_DASH_PUNCTUATION:
    case G_UNICODE_CLOSE_PUNCTUATION:
    case G_UNICODE_FINAL_PUNCTUATION:
    case G_UNICODE_INITIAL_PUNCTUATION:
    case G_UNICODE_OTHER_PUNCTUATION:
    case G_UNICODE_OPEN_PUNCTUATION:
      return CAT_PUNCT;
    case G_UNICODE_CURRENCY_SYMBOL:
    case G_UNICODE_MODIFIER_SYMBOL:
    case G_UNICODE_MATH_SYMBOL:
    case G_UNICODE_OTHER_SYMBOL:
      return CAT_SYMBOL;
    default:
      return CAT_OTHER;
  }
}

/* Stand-ins by category and UTF-8 length (2, 3, 4 bytes), chosen among code
 * points every regex engine's tables agree on. */
static const char cat_stand_in[N_CATS][3][5] = {
  [CAT_OTHER] = { "\xc2\x80", "\xee\x80\x80", "\xf3\xb0\x80\x80" },            /* U+0080 U+E000 U+F0000 */
  [CAT_LETTER] = { "\xc2\xaa", "\xe4\xb8\x80", "\xf0\xa0\x80\x80" },           /* U+00AA U+4E00 U+20000 */
  [CAT_NUMBER] = { "\xc2\xb2", "\xe2\x91\xa0", "\xf0\x9d\x9f\x8e" },           /* U+00B2 U+2460 U+1D7CE */
  [CAT_PUNCT] = { "\xc2\xa1", "\xe2\x80\x90", "\xf0\x90\x84\x80" },            /* U+00A1 U+2010 U+10100 */
  [CAT_SYMBOL] = { "\xc2\xa6", "\xe2\x86\x90", "\xf0\x9f\x8c\x80" },           /* U+00A6 U+2190 U+1F300 */
  [CAT_MARK] = { "\xcc\x80", "\xe0\xa4\x80", "\xf0\x90\x87\xbd" },             /* U+0300 U+0900 U+101FD */
  [CAT_SPACE] = { "\xc2\xa0", "\xe2\x80\x80", "\xf3\xb0\x80\x80" },            /* U+00A0 U+2000 (none) */
};

/* s is valid UTF-8. */
static void
collapse_text (const char *s, size_t n, GString *out)
{
  size_t pos = 0;
  g_string_set_size (out, n);
  while (pos < n) {
    uint8_t c = (uint8_t) s[pos];
    size_t len;
    if (c < 0x80) {
      out->str[pos++] = (char) c;
      continue;
    }
    len = utf8_len (c);
    if (len < 2 || pos + len > n) {
      out->str[pos++] = (char) c;          /* cannot happen in valid UTF-8 */
      continue;
    }
    memcpy (out->str + pos, cat_stand_in[cpt_category (g_utf8_get_char (s + pos))][len - 2], len);
    pos += len;
  }
}

/* ---------------------------------------------------------------- pre-tokenizers */

/* White space as llama.cpp's tables have it (Unicode White_Space). GRegex's
 * \s also takes U+180E, so the patterns spell the class out. */
#define WS "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
#define S_ "[" WS "]"
#define NS_ "[^" WS "]"

#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"

static const char *const re_llama3 =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|" S_ "*[\\r\\n]+|" S_ "+(?!" NS_ ")|" S_ "+";

static const char *const re_qwen2 =
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|" S_ "*[\\r\\n]+|" S_ "+(?!" NS_ ")|" S_ "+";

static const char *const re_gpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" S_ "+(?!" NS_ ")";

/* deepseek-llm's letter class (cased letters) from its tokenizer.json. */
static const char *const re_deepseek_letters =
    S_ "?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}"
    "\\x{1c4}-\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}"
    "\\x{37f}\\x{386}\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}"
    "\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}"
    "\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}\\x{1cbd}-\\x{1cbf}"
    "\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-\\x{1f15}"
    "\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}\\x{1f50}-\\x{1f57}"
    "\\x{1f59}\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}"
    "\\x{1fbe}\\x{1fc2}-\\x{1fc4}\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}"
    "\\x{1fe0}-\\x{1fec}\\x{1ff2}-\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}"
    "\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}\\x{2124}\\x{2126}\\x{2128}"
    "\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}\\x{2145}-\\x{2149}"
    "\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-\\x{2cee}"
    "\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}"
    "\\x{a771}-\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}"
    "\\x{fb13}-\\x{fb17}\\x{ff21}-\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}"
    "\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}"
    "\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+";

/* llama.cpp matches the literal classes against text whose non-ASCII white
 * space was replaced by U+000B, so U+3000 never matches the ideographic
 * punctuation range and no white space matches the CJK ranges. */
static const char *const re_deepseek_punct =
    S_ "?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3001}-\\x{3002}]+";
static const char *const re_cjk =
    "(?:(?!" S_ ")[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}])+";

static int
pre_patterns (pre_kind pre, const char **out)
{
  int n = 0;
  switch (pre) {
    case PRE_NONE:
      break;
    case PRE_LLAMA3:
      out[n++] = re_llama3;
      break;
    case PRE_QWEN2:
      out[n++] = re_qwen2;
      break;
    case PRE_GPT2:
      out[n++] = re_gpt2;
      break;
    case PRE_DEEPSEEK_LLM:
      out[n++] = "[\\r\\n]";
      out[n++] = re_deepseek_letters;
      out[n++] = re_deepseek_punct;
      out[n++] = S_ "+$";
      out[n++] = re_cjk;
      out[n++] = "\\p{N}+";
      break;
    case PRE_DEEPSEEK_CODER:
      out[n++] = "[\\r\\n]";
      out[n++] = S_ "?\\p{L}+";
      out[n++] = S_ "?\\p{P}+";
      out[n++] = re_cjk;
      out[n++] = "\\p{N}";
      break;
    case PRE_STARCODER:
      out[n++] = "\\p{N}";
      out[n++] = re_gpt2;
      break;
    case PRE_FALCON:
      out[n++] = "[\\p{P}\\$\\+<=>\\^~\\|`]+";
      out[n++] = re_gpt2;
      out[n++] = "[0-9][0-9][0-9]";
      break;
    case PRE_DEFAULT:
      out[n++] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
      out[n++] = re_gpt2;
      out[n++] = "\\p{N}+";
      out[n++] = "[0-9][0-9][0-9]";
      break;
  }
  return n;
}

typedef struct {
  const char *name;
  pre_kind pre;
  gboolean clean_spaces;
  gboolean ignore_merges;
  gboolean add_bos;
} pre_info;

/* tokenizer.ggml.pre names and the settings llama.cpp gives them. */
static const pre_info pre_table[] = {
  { "default", PRE_DEFAULT, TRUE, FALSE, FALSE },
  { "llama3", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "llama-v3", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "llama-bpe", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "falcon3", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "falcon-h1", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "pixtral", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "midm-2.0", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "lfm2", PRE_LLAMA3, TRUE, TRUE, TRUE },
  { "dbrx", PRE_LLAMA3, TRUE, FALSE, FALSE },
  { "smaug-bpe", PRE_LLAMA3, TRUE, FALSE, FALSE },
  { "deepseek-llm", PRE_DEEPSEEK_LLM, FALSE, FALSE, FALSE },
  { "deepseek-coder", PRE_DEEPSEEK_CODER, FALSE, FALSE, FALSE },
  { "falcon", PRE_FALCON, TRUE, FALSE, FALSE },
  { "gpt-2", PRE_GPT2, TRUE, FALSE, FALSE },
  { "phi-2", PRE_GPT2, TRUE, FALSE, FALSE },
  { "mpt", PRE_GPT2, TRUE, FALSE, FALSE },
  { "olmo", PRE_GPT2, TRUE, FALSE, FALSE },
  { "jais", PRE_GPT2, TRUE, FALSE, FALSE },
  { "gigachat", PRE_GPT2, TRUE, FALSE, FALSE },
  { "exaone4", PRE_GPT2, TRUE, FALSE, FALSE },
  { "trillion", PRE_GPT2, FALSE, FALSE, FALSE },
  { "granite-docling", PRE_GPT2, FALSE, FALSE, FALSE },
  { "starcoder", PRE_STARCODER, TRUE, FALSE, FALSE },
  { "refact", PRE_STARCODER, TRUE, FALSE, FALSE },
  { "command-r", PRE_STARCODER, FALSE, FALSE, FALSE },
  { "smollm", PRE_STARCODER, FALSE, FALSE, FALSE },
  { "codeshell", PRE_STARCODER, TRUE, FALSE, FALSE },
  { "exaone", PRE_STARCODER, TRUE, FALSE, FALSE },
  { "minerva-7b", PRE_STARCODER, TRUE, FALSE, FALSE },
  { "qwen2", PRE_QWEN2, FALSE, FALSE, FALSE },
  { "deepseek-r1-qwen", PRE_QWEN2, FALSE, FALSE, FALSE },
  { "kormo", PRE_QWEN2, FALSE, FALSE, FALSE },
  { "megrez", PRE_QWEN2, TRUE, FALSE, FALSE },
  { "stablelm2", PRE_QWEN2, TRUE, FALSE, FALSE },
  { "hunyuan", PRE_QWEN2, FALSE, FALSE, FALSE },
};

/* ---------------------------------------------------------------- loading */

static const char *const eog_texts[] = {
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
  "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
  "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
  "<turn|>", "<|tool_response>",
  "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
  "[e~[",
};

static const char *const eot_texts[] = {
  "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
  "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
  "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
  "<end_of_utterance>", NULL,
};
static const char *const eom_texts[] = { "<|eom_id|>", NULL };
static const char *const fim_pre_texts[] = {
  "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
  "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL,
};
static const char *const fim_suf_texts[] = {
  "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
  "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL,
};
static const char *const fim_mid_texts[] = {
  "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
  "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL,
};
static const char *const fim_pad_texts[] = { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL };
static const char *const fim_rep_texts[] = {
  "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL,
};
static const char *const fim_sep_texts[] = { "<|file_sep|>", NULL };

static inline const char *
tok_text (const prima_tokenizer *t, int32_t id)
{
  return t->arena + t->toks[id].off;
}

static int32_t
find_text (const prima_tokenizer *t, const char *s)
{
  return vocab_find (t, s, strlen (s));
}

static void
set_error (GError **error, const gguf_file *f, int code, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
set_error (GError **error, const gguf_file *f, int code, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PRIMA_TOKENIZER_ERROR, code, "%s: %s",
      gguf_path (f) ? gguf_path (f) : "gguf", msg);
  g_free (msg);
}

/* Token id from a key, kept only when inside the vocabulary. */
static void
read_id (const gguf_file *f, const char *key, int32_t n_vocab, int32_t *id)
{
  uint32_t v;
  if (*id >= n_vocab)
    *id = -1;
  if (gguf_get_u32 (f, key, &v) && v < (uint32_t) n_vocab)
    *id = (int32_t) v;
}

/* Auto-detects a special token by its text (first id wins) when the
 * metadata left it unset, and marks it CONTROL. */
static void
detect_special (prima_tokenizer *t, int32_t *id, const char *const *texts)
{
  int32_t best = -1;
  if (*id >= 0)
    return;
  for (int i = 0; texts[i] != NULL; i++) {
    int32_t k = find_text (t, texts[i]);
    if (k >= 0 && (best < 0 || k < best))
      best = k;
  }
  if (best >= 0) {
    *id = best;
    t->toks[best].attr |= ATTR_CONTROL;
  }
}

static inline void
eog_set (prima_tokenizer *t, int32_t id, gboolean on)
{
  if (id < 0 || id >= t->n_vocab)
    return;
  if (on)
    t->eog[id >> 3] |= (guint8) (1u << (id & 7));
  else
    t->eog[id >> 3] &= (guint8) ~(1u << (id & 7));
}

static inline gboolean
eog_get (const prima_tokenizer *t, int32_t id)
{
  return id >= 0 && id < t->n_vocab && (t->eog[id >> 3] >> (id & 7)) & 1;
}

static void
setup_eog (prima_tokenizer *t)
{
  int32_t id;
  t->eog = g_malloc0 ((gsize) t->n_vocab / 8 + 1);
  eog_set (t, t->fim_pad, TRUE);
  eog_set (t, t->fim_rep, TRUE);
  eog_set (t, t->fim_sep, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (eog_texts); i++) {
    id = find_text (t, eog_texts[i]);
    if (id >= 0) {
      eog_set (t, id, TRUE);
      t->toks[id].attr |= ATTR_CONTROL;
    }
  }
  /* gpt-oss renders these always. */
  {
    static const char *const always[] = { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>" };
    for (guint i = 0; i < G_N_ELEMENTS (always); i++)
      if ((id = find_text (t, always[i])) >= 0)
        t->toks[id].attr = ATTR_USER_DEFINED;
  }
  eog_set (t, t->eos, TRUE);
  eog_set (t, t->eot, TRUE);
  eog_set (t, t->eom, TRUE);
  /* o200k_harmony / solar-open: <|end|> ends a message, not the generation. */
  {
    int32_t ret = find_text (t, "<|return|>"), call = find_text (t, "<|call|>");
    int32_t calls = find_text (t, "<|calls|>"), flush = find_text (t, "<|flush|>");
    int32_t end = find_text (t, "<|end|>");
    gboolean has_return = eog_get (t, ret), has_call = eog_get (t, call) || eog_get (t, calls);
    gboolean has_flush = eog_get (t, flush), has_end = eog_get (t, end);
    if ((has_return && has_call && has_end) || (has_call && has_flush && has_end)) {
      eog_set (t, end, FALSE);
      t->toks[end].attr = ATTR_USER_DEFINED;
    }
  }
  /* gemma4 / paddleocr: </s> is not an end of generation there. */
  {
    int32_t tr = find_text (t, "<|tool_response>"), s = find_text (t, "</s>");
    if (eog_get (t, tr) && eog_get (t, s)) {
      eog_set (t, s, FALSE);
      t->toks[s].attr = ATTR_NORMAL;
    }
  }
}

static int
cmp_special (const void *a, const void *b, void *data)
{
  const prima_tokenizer *t = data;
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  uint32_t lx = t->toks[x].len, ly = t->toks[y].len;
  if (lx != ly)
    return lx > ly ? -1 : 1;
  return x < y ? -1 : x > y;
}

static int32_t
trie_child (const prima_tokenizer *t, int32_t node, uint8_t byte)
{
  if (node < 0)
    return t->trie_root[byte];
  for (int32_t c = t->trie[node].first_child; c >= 0; c = t->trie[c].sibling)
    if (t->trie[c].byte == byte)
      return c;
  return -1;
}

static void
setup_special (prima_tokenizer *t)
{
  GArray *nodes = g_array_new (FALSE, FALSE, sizeof (trie_node));
  uint32_t n = 0;

  for (int32_t id = 0; id < t->n_vocab; id++)
    if (t->toks[id].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN))
      n++;
  t->special = g_new (int32_t, n > 0 ? n : 1);
  t->n_special = 0;
  for (int32_t id = 0; id < t->n_vocab; id++)
    if (t->toks[id].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN))
      t->special[t->n_special++] = id;
  g_qsort_with_data (t->special, (gint) t->n_special, sizeof (int32_t), cmp_special, t);

  for (int i = 0; i < 256; i++)
    t->trie_root[i] = -1;
  for (uint32_t k = 0; k < t->n_special; k++) {
    const tok_info *ti = &t->toks[t->special[k]];
    const uint8_t *s = (const uint8_t *) t->arena + ti->off;
    int32_t node = -1;
    t->trie = (trie_node *) (void *) nodes->data;
    for (uint32_t j = 0; j < ti->len; j++) {
      int32_t c = trie_child (t, node, s[j]);
      if (c < 0) {
        trie_node nn = { -1, -1, -1, s[j] };
        c = (int32_t) nodes->len;
        if (node < 0) {
          t->trie_root[s[j]] = c;
        } else {
          nn.sibling = ((trie_node *) (void *) nodes->data)[node].first_child;
          ((trie_node *) (void *) nodes->data)[node].first_child = c;
        }
        g_array_append_val (nodes, nn);
        t->trie = (trie_node *) (void *) nodes->data;
      }
      node = c;
    }
    if (node >= 0)
      t->trie[node].special = (int32_t) k;
  }
  t->n_trie = nodes->len;
  t->trie = (trie_node *) (void *) g_array_free (nodes, FALSE);
}

static void
setup_byte_maps (prima_tokenizer *t)
{
  int next = 0;
  for (int i = 0; i < 324; i++)
    t->cp_byte[i] = -1;
  for (int b = 0; b < 256; b++) {
    /* Printable bytes keep their code point, the rest go to 256 + n. */
    gboolean keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
    uint32_t cp = keep ? (uint32_t) b : 256u + (uint32_t) next++;
    t->byte_utf8_len[b] = (uint8_t) utf8_encode (cp, t->byte_utf8[b]);
    t->cp_byte[cp] = (int16_t) b;
  }
  for (int b = 0; b < 256; b++) {
    static const char hex[] = "0123456789ABCDEF";
    char buf[7] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0 };
    char one = (char) b;
    int32_t id = find_text (t, buf);
    if (id < 0)
      id = vocab_find (t, &one, 1);
    t->spm_byte_tok[b] = id >= 0 ? id : t->unk;
  }
}

static gboolean
load_merges (prima_tokenizer *t, const gguf_file *f, int64_t key, GError **error)
{
  uint64_t n = gguf_arr_n (f, key);
  size_t total = 0;
  uint32_t cap, count = 0, kept = 0;
  uint32_t *hashes;

  if (n > INT32_MAX) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.merges has too many entries");
    return FALSE;
  }
  for (uint64_t i = 0; i < n; i++)
    total += gguf_arr_str_len (f, key, i);
  if (total > UINT32_MAX) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.merges is too large");
    return FALSE;
  }
  t->merges = g_new (merge_info, n > 0 ? n : 1);
  t->merge_arena = g_malloc (total + 1);
  hashes = g_new (uint32_t, n > 0 ? n : 1);

  /* First pass, sequential: split "first second" at the first space after
   * the first byte (as llama.cpp does), copy the halves and hash them. */
  total = 0;
  for (uint64_t i = 0; i < n; i++) {
    const char *s = gguf_arr_str (f, key, i);
    size_t len = gguf_arr_str_len (f, key, i);
    const char *sp = len > 1 ? memchr (s + 1, ' ', len - 1) : NULL;
    merge_info *m = &t->merges[count];
    if (sp == NULL)
      continue;                 /* llama.cpp keeps an empty pair, never looked up */
    m->off = (uint32_t) total;
    m->la = (uint32_t) (sp - s);
    m->lb = (uint32_t) (len - m->la - 1);
    m->rank = (int32_t) i;
    memcpy (t->merge_arena + total, s, m->la);
    memcpy (t->merge_arena + total + m->la, sp + 1, m->lb);
    hashes[count] = hash_pair (s, m->la, sp + 1, m->lb);
    total += m->la + m->lb;
    count++;
  }

  /* Second pass: insert, prefetching the slots ahead. A repeated pair keeps
   * its first (lowest) rank. */
  cap = table_size_for (count);
  t->merge_slots = g_new0 (hslot, cap);
  t->merge_mask = cap - 1;
  for (uint32_t k = 0; k < count; k++) {
    const merge_info *m = &t->merges[k];
    uint32_t h = hashes[k], j;
    gboolean dup = FALSE;
    if (k + PREFETCH_AHEAD < count)
      __builtin_prefetch (&t->merge_slots[hashes[k + PREFETCH_AHEAD] & t->merge_mask], 1);
    for (j = h & t->merge_mask; t->merge_slots[j].idx != 0; j = (j + 1) & t->merge_mask) {
      const merge_info *o = &t->merges[t->merge_slots[j].idx - 1];
      if (t->merge_slots[j].hash == h && o->la == m->la && o->lb == m->lb
          && memcmp (t->merge_arena + o->off, t->merge_arena + m->off, m->la + m->lb) == 0) {
        dup = TRUE;
        break;
      }
    }
    if (dup)
      continue;
    t->merge_slots[j].hash = h;
    t->merge_slots[j].idx = k + 1;
    kept++;
  }
  t->n_merges = kept;
  g_free (hashes);
  return TRUE;
}

static gboolean
compile_regexes (prima_tokenizer *t, GError **error)
{
  const char *pats[8];
  int n = pre_patterns (t->pre, pats);
  for (int i = 0; i < n; i++) {
    GError *err = NULL;
    t->regex[i] = g_regex_new (pats[i], G_REGEX_OPTIMIZE | G_REGEX_DOLLAR_ENDONLY, 0, &err);
    if (t->regex[i] == NULL) {
      g_set_error (error, PRIMA_TOKENIZER_ERROR, PRIMA_TOKENIZER_ERROR_INVALID,
          "pre-tokenizer pattern %d does not compile: %s", i, err->message);
      g_error_free (err);
      return FALSE;
    }
    t->regex_collapsed[i] = strstr (pats[i], "\\p{") != NULL;
    t->n_regex = i + 1;
  }
  return TRUE;
}

prima_tokenizer *
prima_tokenizer_new (const gguf_file *f, GError **error)
{
  prima_tokenizer *t;
  const char *model, *pre_name, *name;
  int64_t k_tokens, k_scores, k_types, k_merges;
  uint64_t n;
  size_t total = 0;
  gboolean b;
  uint32_t cap;

  g_return_val_if_fail (f != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  model = gguf_get_str (f, "tokenizer.ggml.model");
  if (model == NULL) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_MISSING, "tokenizer.ggml.model is missing");
    return NULL;
  }
  t = g_new0 (prima_tokenizer, 1);
  if (strcmp (model, "llama") == 0) {
    t->kind = KIND_SPM;
    t->pre = PRE_NONE;
    t->bos = 1;
    t->eos = 2;
    t->unk = 0;
    t->add_space_prefix = TRUE;
    t->add_bos = TRUE;
  } else if (strcmp (model, "gpt2") == 0) {
    const pre_info *pi = NULL;
    t->kind = KIND_BPE;
    t->bos = 11;
    t->eos = 11;
    t->unk = -1;
    pre_name = gguf_get_str (f, "tokenizer.ggml.pre");
    if (pre_name == NULL || pre_name[0] == '\0') {
      pi = &pre_table[0];       /* llama.cpp falls back to "default" */
    } else {
      for (guint i = 0; i < G_N_ELEMENTS (pre_table); i++)
        if (strcmp (pre_table[i].name, pre_name) == 0)
          pi = &pre_table[i];
    }
    if (pi == NULL) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_UNSUPPORTED,
          "unknown pre-tokenizer type '%s' (tokenizer.ggml.pre)", pre_name);
      g_free (t);
      return NULL;
    }
    t->pre = pi->pre;
    t->clean_spaces = pi->clean_spaces;
    t->ignore_merges = pi->ignore_merges;
    t->add_bos = pi->add_bos;
  } else {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_UNSUPPORTED,
        "unknown tokenizer model '%s' (tokenizer.ggml.model)", model);
    g_free (t);
    return NULL;
  }
  t->eot = t->eom = -1;
  t->fim_pre = t->fim_suf = t->fim_mid = t->fim_pad = t->fim_rep = t->fim_sep = -1;
  if (gguf_get_bool (f, "tokenizer.ggml.add_space_prefix", &b))
    t->add_space_prefix = b;

  /* Vocabulary. */
  k_tokens = gguf_find_key (f, "tokenizer.ggml.tokens");
  if (k_tokens < 0) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_MISSING, "tokenizer.ggml.tokens is missing");
    goto fail;
  }
  if (gguf_kv_type (f, k_tokens) != GGUF_TYPE_ARRAY || gguf_arr_type (f, k_tokens) != GGUF_TYPE_STRING) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.tokens is not an array of strings");
    goto fail;
  }
  n = gguf_arr_n (f, k_tokens);
  if (n == 0 || n > INT32_MAX / 2) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
        "tokenizer.ggml.tokens has %" G_GUINT64_FORMAT " entries", (guint64) n);
    goto fail;
  }
  t->n_vocab = (int32_t) n;

  k_scores = gguf_find_key (f, "tokenizer.ggml.scores");
  if (k_scores >= 0) {
    gguf_type at = gguf_kv_type (f, k_scores) == GGUF_TYPE_ARRAY ? gguf_arr_type (f, k_scores) : GGUF_TYPE_COUNT;
    if (at != GGUF_TYPE_FLOAT32 && at != GGUF_TYPE_INT32) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.scores is not an array of float32");
      goto fail;
    }
    if (gguf_arr_n (f, k_scores) != n) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
          "tokenizer.ggml.scores has %" G_GUINT64_FORMAT " entries but tokenizer.ggml.tokens has %"
          G_GUINT64_FORMAT, (guint64) gguf_arr_n (f, k_scores), (guint64) n);
      goto fail;
    }
  }
  k_types = gguf_find_key (f, "tokenizer.ggml.token_type");
  if (k_types >= 0) {
    if (gguf_kv_type (f, k_types) != GGUF_TYPE_ARRAY || gguf_arr_type (f, k_types) != GGUF_TYPE_INT32) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.token_type is not an array of int32");
      goto fail;
    }
    if (gguf_arr_n (f, k_types) != n) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
          "tokenizer.ggml.token_type has %" G_GUINT64_FORMAT " entries but tokenizer.ggml.tokens has %"
          G_GUINT64_FORMAT, (guint64) gguf_arr_n (f, k_types), (guint64) n);
      goto fail;
    }
  }

  /* Texts go into one arena (an empty text becomes "[EMPTY_i]" as in llama.cpp). */
  for (uint64_t i = 0; i < n; i++) {
    uint64_t len = gguf_arr_str_len (f, k_tokens, i);
    total += len > 0 ? len + 1 : 24;
  }
  if (total > UINT32_MAX) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.tokens is too large");
    goto fail;
  }
  t->toks = g_new (tok_info, n);
  t->arena = g_malloc (total + 1);
  cap = table_size_for ((uint32_t) n);
  t->tok_slots = g_new0 (hslot, cap);
  t->tok_mask = cap - 1;
  {
    const uint8_t *scores = k_scores >= 0 ? gguf_arr_data (f, k_scores) : NULL;
    gboolean iscores = k_scores >= 0 && gguf_arr_type (f, k_scores) == GGUF_TYPE_INT32;
    const uint8_t *types = k_types >= 0 ? gguf_arr_data (f, k_types) : NULL;
    uint32_t *hashes = g_new (uint32_t, n);
    size_t off = 0;

    for (uint64_t i = 0; i < n; i++) {
      tok_info *ti = &t->toks[i];
      uint64_t len = gguf_arr_str_len (f, k_tokens, i);
      ti->off = (uint32_t) off;
      if (len > 0) {
        memcpy (t->arena + off, gguf_arr_str (f, k_tokens, i), len);
      } else {
        len = (uint64_t) g_snprintf (t->arena + off, 24, "[EMPTY_%" G_GUINT64_FORMAT "]", (guint64) i);
      }
      t->arena[off + len] = '\0';
      ti->len = (uint32_t) len;
      off += len + 1;
      ti->score = 0.0f;
      if (scores != NULL) {
        if (iscores) {
          int32_t v;
          memcpy (&v, scores + i * 4, 4);
          ti->score = (float) v;
        } else {
          memcpy (&ti->score, scores + i * 4, 4);
        }
      }
      ti->attr = ATTR_NORMAL;
      if (types != NULL) {
        int32_t ty;
        memcpy (&ty, types + i * 4, 4);
        switch (ty) {
          case TYPE_NORMAL: ti->attr = ATTR_NORMAL; break;
          case TYPE_UNKNOWN: ti->attr = ATTR_UNKNOWN; break;
          case TYPE_CONTROL: ti->attr = ATTR_CONTROL; break;
          case TYPE_USER_DEFINED: ti->attr = ATTR_USER_DEFINED; break;
          case TYPE_UNUSED: ti->attr = ATTR_UNUSED; break;
          case TYPE_BYTE: ti->attr = ATTR_BYTE; break;
          default: ti->attr = 0; break;
        }
      }
      hashes[i] = hash_bytes (HASH_SEED, t->arena + ti->off, ti->len);
    }
    /* Insert in a second pass, prefetching the slots ahead. */
    for (uint64_t i = 0; i < n; i++) {
      int32_t dup;
      if (i + PREFETCH_AHEAD < n)
        __builtin_prefetch (&t->tok_slots[hashes[i + PREFETCH_AHEAD] & t->tok_mask], 1);
      dup = vocab_insert (t, (int32_t) i, hashes[i]);
      if (dup >= 0) {
        char *shown = g_strescape (t->arena + t->toks[i].off, NULL);
        set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
            "duplicate token '%s' in tokenizer.ggml.tokens (ids %d and %" G_GUINT64_FORMAT ")",
            shown, dup, (guint64) i);
        g_free (shown);
        g_free (hashes);
        goto fail;
      }
    }
    g_free (hashes);
  }

  if (t->kind == KIND_BPE) {
    k_merges = gguf_find_key (f, "tokenizer.ggml.merges");
    if (k_merges < 0) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_MISSING, "tokenizer.ggml.merges is missing");
      goto fail;
    }
    if (gguf_kv_type (f, k_merges) != GGUF_TYPE_ARRAY || gguf_arr_type (f, k_merges) != GGUF_TYPE_STRING) {
      set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID, "tokenizer.ggml.merges is not an array of strings");
      goto fail;
    }
    if (!load_merges (t, f, k_merges, error))
      goto fail;
  }

  /* Special token ids: defaults out of range are dropped, keys override. */
  read_id (f, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos);
  read_id (f, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos);
  read_id (f, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot);
  read_id (f, "tokenizer.ggml.eom_token_id", t->n_vocab, &t->eom);
  read_id (f, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk);
  read_id (f, "tokenizer.ggml.fim_pre_token_id", t->n_vocab, &t->fim_pre);
  read_id (f, "tokenizer.ggml.fim_suf_token_id", t->n_vocab, &t->fim_suf);
  read_id (f, "tokenizer.ggml.fim_mid_token_id", t->n_vocab, &t->fim_mid);
  read_id (f, "tokenizer.ggml.fim_pad_token_id", t->n_vocab, &t->fim_pad);
  read_id (f, "tokenizer.ggml.fim_rep_token_id", t->n_vocab, &t->fim_rep);
  read_id (f, "tokenizer.ggml.fim_sep_token_id", t->n_vocab, &t->fim_sep);
  read_id (f, "tokenizer.ggml.prefix_token_id", t->n_vocab, &t->fim_pre);
  read_id (f, "tokenizer.ggml.suffix_token_id", t->n_vocab, &t->fim_suf);
  read_id (f, "tokenizer.ggml.middle_token_id", t->n_vocab, &t->fim_mid);

  if (gguf_get_bool (f, "tokenizer.ggml.add_bos_token", &b))
    t->add_bos = b;
  if (gguf_get_bool (f, "tokenizer.ggml.add_eos_token", &b))
    t->add_eos = b;
  if (t->add_bos && t->bos < 0) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
        "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
    goto fail;
  }
  if (t->add_eos && t->eos < 0) {
    set_error (error, f, PRIMA_TOKENIZER_ERROR_INVALID,
        "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
    goto fail;
  }

  /* Special tokens known by their text are made CONTROL, as llama.cpp does. */
  detect_special (t, &t->eot, eot_texts);
  detect_special (t, &t->eom, eom_texts);
  detect_special (t, &t->fim_pre, fim_pre_texts);
  detect_special (t, &t->fim_suf, fim_suf_texts);
  detect_special (t, &t->fim_mid, fim_mid_texts);
  detect_special (t, &t->fim_pad, fim_pad_texts);
  detect_special (t, &t->fim_rep, fim_rep_texts);
  detect_special (t, &t->fim_sep, fim_sep_texts);
  setup_eog (t);
  setup_special (t);

  /* Phi-3 strips white space after its special tokens. */
  name = gguf_get_str (f, "general.name");
  if (name != NULL) {
    char *lower = g_ascii_strdown (name, -1);
    if (strstr (lower, "phi-3") != NULL || strstr (lower, "phi3") != NULL) {
      static const char *const keep[] = { "<unk>", "<s>", "<|endoftext|>" };
      int32_t id;
      for (uint32_t i = 0; i < t->n_special; i++)
        t->toks[t->special[i]].attr |= ATTR_RSTRIP;
      if ((id = find_text (t, "</s>")) >= 0)
        t->toks[id].attr |= ATTR_RSTRIP;
      for (guint i = 0; i < G_N_ELEMENTS (keep); i++)
        if ((id = find_text (t, keep[i])) >= 0)
          t->toks[id].attr &= ~(uint32_t) ATTR_RSTRIP;
    }
    g_free (lower);
  }

  setup_byte_maps (t);
  if (!compile_regexes (t, error))
    goto fail;
  return t;

fail:
  prima_tokenizer_free (t);
  return NULL;
}

void
prima_tokenizer_free (prima_tokenizer *t)
{
  if (t == NULL)
    return;
  g_free (t->toks);
  g_free (t->arena);
  g_free (t->tok_slots);
  g_free (t->merges);
  g_free (t->merge_arena);
  g_free (t->merge_slots);
  g_free (t->eog);
  g_free (t->special);
  g_free (t->trie);
  for (int i = 0; i < t->n_regex; i++)
    g_regex_unref (t->regex[i]);
  g_free (t);
}

int32_t
prima_tokenizer_n_vocab (const prima_tokenizer *t)
{
  return t->n_vocab;
}

int32_t
prima_tokenizer_bos (const prima_tokenizer *t)
{
  return t->bos;
}

int32_t
prima_tokenizer_eos (const prima_tokenizer *t)
{
  return t->eos;
}

int32_t
prima_tokenizer_eot (const prima_tokenizer *t)
{
  return t->eot;
}

void
prima_tokenizer_prepend_bos (const prima_tokenizer *t, GArray *ids)
{
  const int32_t bos = prima_tokenizer_bos (t);
  if (prima_tokenizer_add_bos (t) && bos >= 0 && (ids->len == 0 || g_array_index (ids, int32_t, 0) != bos))
    g_array_prepend_val (ids, bos);
}

gboolean
prima_tokenizer_add_bos (const prima_tokenizer *t)
{
  return t->add_bos;
}

gboolean
prima_tokenizer_add_eos (const prima_tokenizer *t)
{
  return t->add_eos;
}

gboolean
prima_tokenizer_is_eog (const prima_tokenizer *t, int32_t id)
{
  return eog_get (t, id);
}

const char *
prima_tokenizer_token_text (const prima_tokenizer *t, int32_t id, gsize *len)
{
  if (id < 0 || id >= t->n_vocab) {
    if (len != NULL)
      *len = 0;
    return NULL;
  }
  if (len != NULL)
    *len = t->toks[id].len;
  return tok_text (t, id);
}

int32_t
prima_tokenizer_find_token (const prima_tokenizer *t, const char *text, gssize len)
{
  return vocab_find (t, text, len < 0 ? strlen (text) : (size_t) len);
}

/* ---------------------------------------------------------------- work buffers */

typedef struct {
  int32_t prev, next;
  uint32_t off;                 /* into the word / text */
  uint32_t n;
} symbol;

typedef struct {
  int32_t left, right;
  float score;                  /* SPM */
  int32_t rank;                 /* BPE */
  uint32_t size;
} bigram;

typedef struct {
  GArray *symbols;              /* symbol */
  GArray *heap;                 /* bigram */
  GArray *words;                /* uint32 pairs: offset, length */
  GArray *words2;
  GString *real;
  GString *match;
  GString *enc;
  GString *collapsed;
  gboolean spm;
} work;

static void
work_init (work *w, gboolean spm)
{
  w->symbols = g_array_new (FALSE, FALSE, sizeof (symbol));
  w->heap = g_array_new (FALSE, FALSE, sizeof (bigram));
  w->words = g_array_new (FALSE, FALSE, sizeof (uint32_t) * 2);
  w->words2 = g_array_new (FALSE, FALSE, sizeof (uint32_t) * 2);
  w->real = g_string_new (NULL);
  w->match = g_string_new (NULL);
  w->enc = g_string_new (NULL);
  w->collapsed = g_string_new (NULL);
  w->spm = spm;
}

static void
work_clear (work *w)
{
  g_array_free (w->symbols, TRUE);
  g_array_free (w->heap, TRUE);
  g_array_free (w->words, TRUE);
  g_array_free (w->words2, TRUE);
  g_string_free (w->real, TRUE);
  g_string_free (w->match, TRUE);
  g_string_free (w->enc, TRUE);
  g_string_free (w->collapsed, TRUE);
}

/* Which bigram goes first: SPM takes the highest score, BPE the lowest
 * rank; ties go to the leftmost. */
static inline gboolean
bigram_before (const work *w, const bigram *a, const bigram *b)
{
  if (w->spm) {
    if (a->score != b->score)
      return a->score > b->score;
  } else if (a->rank != b->rank) {
    return a->rank < b->rank;
  }
  return a->left < b->left;
}

static void
heap_push (work *w, const bigram *bg)
{
  bigram *h;
  guint i;
  g_array_append_val (w->heap, *bg);
  h = (bigram *) (void *) w->heap->data;
  i = w->heap->len - 1;
  while (i > 0) {
    guint p = (i - 1) / 2;
    bigram tmp;
    if (!bigram_before (w, &h[i], &h[p]))
      break;
    tmp = h[i];
    h[i] = h[p];
    h[p] = tmp;
    i = p;
  }
}

static bigram
heap_pop (work *w)
{
  bigram *h = (bigram *) (void *) w->heap->data;
  bigram top = h[0];
  guint n = w->heap->len - 1, i = 0;
  h[0] = h[n];
  g_array_set_size (w->heap, n);
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, best = i;
    bigram tmp;
    if (l < n && bigram_before (w, &h[l], &h[best]))
      best = l;
    if (r < n && bigram_before (w, &h[r], &h[best]))
      best = r;
    if (best == i)
      break;
    tmp = h[i];
    h[i] = h[best];
    h[best] = tmp;
    i = best;
  }
  return top;
}

/* Splits s[0..n) into symbols of one UTF-8 character each. */
static void
split_symbols (work *w, const char *s, size_t n)
{
  size_t off = 0;
  int32_t index = 0;
  g_array_set_size (w->symbols, 0);
  while (off < n) {
    symbol sym;
    size_t len = utf8_len ((uint8_t) s[off]);
    sym.off = (uint32_t) off;
    sym.n = (uint32_t) MIN (len, n - off);
    off += sym.n;
    sym.prev = index - 1;
    sym.next = off == n ? -1 : index + 1;
    index++;
    g_array_append_val (w->symbols, sym);
  }
}

/* Merges the right symbol into the left one. */
static void
merge_symbols (symbol *syms, const bigram *bg)
{
  symbol *l = &syms[bg->left], *r = &syms[bg->right];
  l->n += r->n;
  r->n = 0;
  l->next = r->next;
  if (r->next >= 0)
    syms[r->next].prev = bg->left;
}

/* ---------------------------------------------------------------- SPM */

static void
spm_try_bigram (const prima_tokenizer *t, work *w, const char *text, int32_t left, int32_t right)
{
  const symbol *syms = (const symbol *) (void *) w->symbols->data;
  bigram bg;
  int32_t id;
  if (left < 0 || right < 0)
    return;
  /* The two symbols are adjacent in the text. */
  id = vocab_find (t, text + syms[left].off, syms[left].n + syms[right].n);
  if (id < 0)
    return;
  bg.left = left;
  bg.right = right;
  bg.score = t->toks[id].score;
  bg.rank = 0;
  bg.size = syms[left].n + syms[right].n;
  heap_push (w, &bg);
}

static void
spm_tokenize (const prima_tokenizer *t, work *w, const char *text, size_t n, GArray *out)
{
  symbol *syms;

  split_symbols (w, text, n);
  if (w->symbols->len == 0)
    return;
  g_array_set_size (w->heap, 0);
  for (guint i = 1; i < w->symbols->len; i++)
    spm_try_bigram (t, w, text, (int32_t) i - 1, (int32_t) i);

  while (w->heap->len > 0) {
    bigram bg = heap_pop (w);
    syms = (symbol *) (void *) w->symbols->data;
    /* Stale when either side was merged since it was queued. */
    if (syms[bg.left].n == 0 || syms[bg.right].n == 0 || syms[bg.left].n + syms[bg.right].n != bg.size)
      continue;
    merge_symbols (syms, &bg);
    spm_try_bigram (t, w, text, syms[bg.left].prev, bg.left);
    spm_try_bigram (t, w, text, bg.left, syms[bg.left].next);
  }

  syms = (symbol *) (void *) w->symbols->data;
  for (int32_t i = 0; i != -1; i = syms[i].next) {
    const symbol *sym = &syms[i];
    int32_t id = vocab_find (t, text + sym->off, sym->n);
    if (id >= 0) {
      g_array_append_val (out, id);
      continue;
    }
    /* Not a token: byte fallback. */
    for (uint32_t j = 0; j < sym->n; j++) {
      int32_t b = t->spm_byte_tok[(uint8_t) text[sym->off + j]];
      if (b >= 0)
        g_array_append_val (out, b);
    }
  }
}

/* ---------------------------------------------------------------- BPE */

static void
bpe_word (const prima_tokenizer *t, work *w, const char *word, size_t n, GArray *out)
{
  symbol *syms;

  if (t->ignore_merges) {
    int32_t id = vocab_find (t, word, n);
    if (id >= 0) {
      g_array_append_val (out, id);
      return;
    }
  }
  split_symbols (w, word, n);
  g_array_set_size (w->heap, 0);
  syms = (symbol *) (void *) w->symbols->data;
  for (guint i = 1; i < w->symbols->len; i++) {
    const symbol *a = &syms[i - 1], *b = &syms[i];
    int32_t rank = merge_rank (t, word + a->off, a->n, word + b->off, b->n);
    if (rank >= 0) {
      bigram bg = { (int32_t) i - 1, (int32_t) i, 0.0f, rank, a->n + b->n };
      heap_push (w, &bg);
    }
  }

  while (w->heap->len > 0) {
    bigram bg = heap_pop (w);
    int32_t nb[2][2];
    syms = (symbol *) (void *) w->symbols->data;
    /* Stale when either side changed since it was queued. */
    if (syms[bg.left].n == 0 || syms[bg.right].n == 0 || syms[bg.left].n + syms[bg.right].n != bg.size)
      continue;
    merge_symbols (syms, &bg);
    nb[0][0] = syms[bg.left].prev;
    nb[0][1] = bg.left;
    nb[1][0] = bg.left;
    nb[1][1] = syms[bg.left].next;
    for (int k = 0; k < 2; k++) {
      const symbol *a, *b;
      int32_t rank;
      if (nb[k][0] < 0 || nb[k][1] < 0)
        continue;
      a = &syms[nb[k][0]];
      b = &syms[nb[k][1]];
      rank = merge_rank (t, word + a->off, a->n, word + b->off, b->n);
      if (rank >= 0) {
        bigram nbg = { nb[k][0], nb[k][1], 0.0f, rank, a->n + b->n };
        heap_push (w, &nbg);
        syms = (symbol *) (void *) w->symbols->data;
      }
    }
  }

  syms = (symbol *) (void *) w->symbols->data;
  for (int32_t i = 0; i != -1 && w->symbols->len > 0; i = syms[i].next) {
    const symbol *sym = &syms[i];
    int32_t id;
    if (sym->n == 0)
      continue;
    id = vocab_find (t, word + sym->off, sym->n);
    if (id >= 0) {
      g_array_append_val (out, id);
      continue;
    }
    /* As llama.cpp: each byte of the encoded text as a one-byte token. */
    for (uint32_t j = 0; j < sym->n; j++) {
      int32_t b = vocab_find (t, word + sym->off + j, 1);
      if (b >= 0)
        g_array_append_val (out, b);
    }
  }
}

/* Applies one pattern to every current piece: matches and the text between
 * them both become pieces, each piece matched on its own. */
static void
regex_split (const GRegex *re, const char *match_text, GArray *in, GArray *out)
{
  g_array_set_size (out, 0);
  for (guint i = 0; i < in->len; i++) {
    const uint32_t *piece = &g_array_index (in, uint32_t, 2 * i);
    uint32_t start = piece[0], len = piece[1], prev = 0;
    GMatchInfo *mi = NULL;
    g_regex_match_full (re, match_text + start, len, 0, 0, &mi, NULL);
    while (g_match_info_matches (mi)) {
      gint ms, me;
      if (g_match_info_fetch_pos (mi, 0, &ms, &me) && me > ms) {
        uint32_t p[2];
        if ((uint32_t) ms > prev) {
          p[0] = start + prev;
          p[1] = (uint32_t) ms - prev;
          g_array_append_vals (out, p, 1);
        }
        p[0] = start + (uint32_t) ms;
        p[1] = (uint32_t) (me - ms);
        g_array_append_vals (out, p, 1);
        prev = (uint32_t) me;
      }
      g_match_info_next (mi, NULL);
    }
    g_match_info_free (mi);
    if (prev < len) {
      uint32_t p[2] = { start + prev, len - prev };
      g_array_append_vals (out, p, 1);
    }
  }
}

static void
bpe_tokenize (const prima_tokenizer *t, work *w, const char *s, size_t n, GArray *out)
{
  const char *real, *match, *collapsed = NULL;
  GArray *tmp;

  if (g_utf8_validate_len (s, n, NULL)) {
    real = match = s;
  } else {
    bpe_clean_text (s, n, w->real, w->match);
    real = w->real->str;
    match = w->match->str;
    n = w->real->len;
  }
  g_array_set_size (w->words, 0);
  if (n == 0)
    return;
  {
    uint32_t p[2] = { 0, (uint32_t) n };
    g_array_append_vals (w->words, p, 1);
  }
  for (int r = 0; r < t->n_regex; r++) {
    if (t->regex_collapsed[r] && collapsed == NULL) {
      collapse_text (match, n, w->collapsed);
      collapsed = w->collapsed->str;
    }
    regex_split (t->regex[r], t->regex_collapsed[r] ? collapsed : match, w->words, w->words2);
    tmp = w->words;
    w->words = w->words2;
    w->words2 = tmp;
  }
  for (guint i = 0; i < w->words->len; i++) {
    const uint32_t *piece = &g_array_index (w->words, uint32_t, 2 * i);
    /* Byte-level encoding: every byte becomes its stand-in character. */
    g_string_truncate (w->enc, 0);
    for (uint32_t j = 0; j < piece[1]; j++) {
      uint8_t c = (uint8_t) real[piece[0] + j];
      g_string_append_len (w->enc, t->byte_utf8[c], t->byte_utf8_len[c]);
    }
    if (w->enc->len > 0)
      bpe_word (t, w, w->enc->str, w->enc->len, out);
  }
}

/* ---------------------------------------------------------------- tokenize */

typedef struct {
  int32_t token;                /* -1: raw text */
  uint32_t off, len;
} fragment;

/* isspace() of the C locale (g_ascii_isspace leaves out \v). */
static inline gboolean
c_isspace (char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return x < y ? -1 : x > y;
}

/* Cuts special tokens out of the text, longest token first and each token
 * at all its places, before anything else is tokenized. Control and
 * unknown tokens only when parse_special; user-defined ones always. */
static GArray *
partition_special (const prima_tokenizer *t, const char *text, size_t n, gboolean parse_special)
{
  GArray *frags = g_array_new (FALSE, FALSE, sizeof (fragment));
  GArray *cands = g_array_new (FALSE, FALSE, sizeof (uint32_t));
  GArray *next;
  fragment whole = { -1, 0, (uint32_t) n };

  if (n == 0) {
    g_array_free (cands, TRUE);
    return frags;
  }
  g_array_append_val (frags, whole);

  /* Only tokens that occur somewhere in the text can cut it. */
  for (size_t pos = 0; pos < n; pos++) {
    int32_t node = -1;
    for (size_t k = pos; k < n; k++) {
      node = trie_child (t, node, (uint8_t) text[k]);
      if (node < 0)
        break;
      if (t->trie[node].special >= 0) {
        uint32_t idx = (uint32_t) t->trie[node].special;
        uint32_t attr = t->toks[t->special[idx]].attr;
        if (parse_special || !(attr & (ATTR_CONTROL | ATTR_UNKNOWN)))
          g_array_append_val (cands, idx);
      }
    }
  }
  if (cands->len == 0) {
    g_array_free (cands, TRUE);
    return frags;
  }
  g_array_sort (cands, cmp_u32);

  next = g_array_new (FALSE, FALSE, sizeof (fragment));
  for (guint c = 0; c < cands->len; c++) {
    uint32_t idx = g_array_index (cands, uint32_t, c);
    int32_t id;
    const tok_info *ti;
    const char *s;
    GArray *tmp;
    if (c > 0 && g_array_index (cands, uint32_t, c - 1) == idx)
      continue;
    id = t->special[idx];
    ti = &t->toks[id];
    s = t->arena + ti->off;
    g_array_set_size (next, 0);
    for (guint i = 0; i < frags->len; i++) {
      fragment fr = g_array_index (frags, fragment, i);
      uint32_t base = fr.off, blen = fr.len;
      if (fr.token >= 0) {
        g_array_append_val (next, fr);
        continue;
      }
      for (;;) {
        const char *m = memmem (text + base, blen, s, ti->len);
        uint32_t mpos, left;
        fragment tokf = { id, 0, 0 };
        if (m == NULL) {
          fragment rest = { -1, base, blen };
          g_array_append_val (next, rest);
          break;
        }
        mpos = (uint32_t) (m - text);
        left = mpos - base;
        if (ti->attr & ATTR_LSTRIP)
          while (left > 0 && c_isspace (text[base + left - 1]))
            left--;
        if (left > 0) {
          fragment lf = { -1, base, left };
          g_array_append_val (next, lf);
        }
        g_array_append_val (next, tokf);
        if (mpos + ti->len < base + blen) {
          uint32_t roff = mpos + ti->len, rlen = base + blen - roff;
          if (ti->attr & ATTR_RSTRIP)
            while (rlen > 0 && c_isspace (text[roff])) {
              roff++;
              rlen--;
            }
          if (rlen == 0)
            break;
          base = roff;
          blen = rlen;
        } else {
          break;
        }
      }
    }
    tmp = frags;
    frags = next;
    next = tmp;
  }
  g_array_free (next, TRUE);
  g_array_free (cands, TRUE);
  return frags;
}

GArray *
prima_tokenize (const prima_tokenizer *t, const char *text, gssize len,
    gboolean add_special, gboolean parse_special)
{
  GArray *out = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GArray *frags;
  size_t n;
  work w;

  g_return_val_if_fail (t != NULL, out);
  if (text == NULL)
    text = "";
  n = len < 0 ? strlen (text) : (size_t) len;
  frags = partition_special (t, text, n, parse_special);
  work_init (&w, t->kind == KIND_SPM);

  if (add_special && t->add_bos)
    g_array_append_val (out, t->bos);

  if (t->kind == KIND_SPM) {
    GString *buf = g_string_new (NULL);
    gboolean prev_special = TRUE;    /* the first text gets the space prefix */
    for (guint i = 0; i < frags->len; i++) {
      const fragment *fr = &g_array_index (frags, fragment, i);
      if (fr->token >= 0) {
        g_array_append_val (out, fr->token);
        prev_special = TRUE;
        continue;
      }
      g_string_truncate (buf, 0);
      if (t->add_space_prefix && prev_special)
        g_string_append (buf, "\xe2\x96\x81");
      for (uint32_t j = 0; j < fr->len; j++) {
        char c = text[fr->off + j];
        if (c == ' ')
          g_string_append (buf, "\xe2\x96\x81");
        else
          g_string_append_c (buf, c);
      }
      spm_tokenize (t, &w, buf->str, buf->len, out);
      prev_special = FALSE;
    }
    g_string_free (buf, TRUE);
  } else {
    for (guint i = 0; i < frags->len; i++) {
      const fragment *fr = &g_array_index (frags, fragment, i);
      if (fr->token >= 0)
        g_array_append_val (out, fr->token);
      else
        bpe_tokenize (t, &w, text + fr->off, fr->len, out);
    }
  }

  if (add_special && t->add_eos)
    g_array_append_val (out, t->eos);

  work_clear (&w);
  g_array_free (frags, TRUE);
  return out;
}

/* ---------------------------------------------------------------- detokenize */

static int
hex_digit (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The byte of a <0xXX> token (strtol on the two digits, as llama.cpp). */
static uint8_t
byte_of_token (const prima_tokenizer *t, int32_t id)
{
  const char *s = tok_text (t, id);
  int v = 0;
  if (t->toks[id].len < 5)
    return 0;
  for (int i = 3; i < 5; i++) {
    int d = hex_digit (s[i]);
    if (d < 0)
      break;
    v = v * 16 + d;
  }
  return (uint8_t) v;
}

static void
append_piece (const prima_tokenizer *t, int32_t id, gboolean special, int lstrip, GString *out)
{
  const tok_info *ti;
  const char *s;
  gsize start = out->len;

  if (id < 0 || id >= t->n_vocab)
    return;
  ti = &t->toks[id];
  if (!special && (ti->attr & (ATTR_UNKNOWN | ATTR_CONTROL)))
    return;
  s = t->arena + ti->off;
  if (ti->attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)) {
    g_string_append_len (out, s, ti->len);
  } else if (ti->attr & ATTR_NORMAL) {
    if (t->kind == KIND_SPM) {
      for (uint32_t i = 0; i < ti->len; i++) {
        if (i + 2 < ti->len && memcmp (s + i, "\xe2\x96\x81", 3) == 0) {
          g_string_append_c (out, ' ');
          i += 2;
        } else {
          g_string_append_c (out, s[i]);
        }
      }
    } else {
      size_t pos = 0;
      while (pos < ti->len) {
        uint32_t cp;
        if (!utf8_decode ((const uint8_t *) s, ti->len, &pos, &cp)) {
          pos++;
          cp = 0xfffd;
        }
        if (cp < 324 && t->cp_byte[cp] >= 0) {
          g_string_append_c (out, (char) t->cp_byte[cp]);
        } else {
          char buf[4];
          int k = utf8_encode (cp > 0x10ffff ? 0xfffd : cp, buf);
          g_string_append (out, "[UNK_BYTE_0x");
          for (int j = 0; j < k; j++)
            g_string_append_printf (out, "%02x", (uint8_t) buf[j]);
          g_string_append_len (out, s, ti->len);
          g_string_append_c (out, ']');
        }
      }
    }
  } else if (ti->attr & ATTR_BYTE) {
    g_string_append_c (out, (char) byte_of_token (t, id));
  }
  /* Leading spaces to drop (the SentencePiece prefix of the first piece). */
  if (lstrip > 0) {
    gsize k = 0;
    while ((int) k < lstrip && start + k < out->len && out->str[start + k] == ' ')
      k++;
    if (k > 0)
      g_string_erase (out, (gssize) start, (gssize) k);
  }
}

void
prima_token_to_piece (const prima_tokenizer *t, int32_t id, gboolean special, GString *out)
{
  g_return_if_fail (t != NULL && out != NULL);
  append_piece (t, id, special, 0, out);
}

/* llama.cpp's clean_up_tokenization_spaces, done in place as it does it. */
static gsize
clean_spaces (char *text, gsize total)
{
  gsize n1 = total, n2, n3;

  total = total ? 1 : 0;
  for (gsize i = 1; i < n1; i++) {
    char x = text[i];
    if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
      total--;
    text[total++] = x;
  }

  n2 = total;
  total = total ? 1 : 0;
  for (gsize i = 1; i < n2; i++) {
    char x = text[i];
    if (x == '\'' && i + 1 < n2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
      total--;
      text[++i] = '\0';
    }
    text[total++] = x;
  }

  n3 = total;
  total = total ? 1 : 0;
  for (gsize i = 1; i < n3; i++) {
    char x = text[i];
    if (text[i - 1] == ' ' && x == '\'' && i + 1 < n3) {
      char x1 = text[i + 1];
      if (x1 == 's' || x1 == 'm')
        total--;
      else if (x1 != 't' && x1 != 'd' && i + 2 < n3) {
        char x2 = text[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))
          total--;
      }
    }
    text[total++] = x;
  }
  return total;
}

char *
prima_detokenize (const prima_tokenizer *t, const int32_t *ids, gsize n,
    gboolean remove_special, gboolean unparse_special)
{
  GString *out = g_string_new (NULL);
  gboolean remove_space;

  g_return_val_if_fail (t != NULL, g_string_free (out, FALSE));
  remove_space = t->add_space_prefix;
  if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) {
    remove_space = FALSE;
    ids++;
    n--;
  }
  if (remove_special && t->add_eos && n > 0 && ids[n - 1] == t->eos)
    n--;
  for (gsize i = 0; i < n; i++) {
    append_piece (t, ids[i], unparse_special, remove_space ? 1 : 0, out);
    remove_space = FALSE;
  }
  if (t->clean_spaces)
    g_string_truncate (out, clean_spaces (out->str, out->len));
  return g_string_free (out, FALSE);
}

GArray *
prima_token_ids_parse (const char *text, char **bad)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  char **parts = g_strsplit_set (text, ", \t\n", -1);
  for (char **p = parts; *p; p++) {
    char *end;
    long v;
    if (**p == '\0')
      continue;
    errno = 0;
    v = strtol (*p, &end, 10);
    if (errno || *end || v < 0 || v > G_MAXINT32) {
      if (bad)
        *bad = g_strdup (*p);
      g_strfreev (parts);
      g_array_free (ids, TRUE);
      return NULL;
    }
    int32_t id = (int32_t) v;
    g_array_append_val (ids, id);
  }
  g_strfreev (parts);
  return ids;
}

void
prima_token_ids_print (FILE *f, const GArray *ids)
{
  for (guint i = 0; i < ids->len; i++)
    fprintf (f, "%s%d", i ? " " : "", g_array_index (ids, int32_t, i));
  fputc ('\n', f);
}
