/* gst-prima: chat templates (recognising a model's Jinja chat template and
 * rendering conversations per family, as Hugging Face's apply_chat_template
 * renders the real templates).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "chat-template.h"

#include <string.h>

/* Full-width bars and U+2581 as DeepSeek's special tokens spell them. */
#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"
#define DS_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"
#define DS_BOS "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
#define DS_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"

#define QWEN_DEFAULT_SYSTEM \
  "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."

static const struct {
  const char *name;
  prima_chat_template_kind kind;
} known_names[] = {
  /* canonical names first: prima_chat_template_name returns the first hit */
  { "chatml", PRIMA_CHAT_TEMPLATE_CHATML },
  { "qwen2.5", PRIMA_CHAT_TEMPLATE_QWEN2_5 },
  { "qwen3", PRIMA_CHAT_TEMPLATE_QWEN3 },
  { "llama2-sys-strip", PRIMA_CHAT_TEMPLATE_LLAMA2 },
  { "llama2", PRIMA_CHAT_TEMPLATE_LLAMA2_NOSYS },
  { "llama3", PRIMA_CHAT_TEMPLATE_LLAMA3 },
  { "llama3.1", PRIMA_CHAT_TEMPLATE_LLAMA3_1 },
  { "llama3.2", PRIMA_CHAT_TEMPLATE_LLAMA3_2 },
  { "deepseek-r1", PRIMA_CHAT_TEMPLATE_DEEPSEEK_R1 },
  { "deepseek3", PRIMA_CHAT_TEMPLATE_DEEPSEEK3 },
  { PRIMA_CHAT_TEMPLATE_RAW_NAME, PRIMA_CHAT_TEMPLATE_RAW },
  /* aliases */
  { "qwen2", PRIMA_CHAT_TEMPLATE_QWEN2_5 },
  { "qwen", PRIMA_CHAT_TEMPLATE_QWEN2_5 },
  { "llama2-sys", PRIMA_CHAT_TEMPLATE_LLAMA2 },
  { "llama2-sys-bos", PRIMA_CHAT_TEMPLATE_LLAMA2 },
  { "llama3.3", PRIMA_CHAT_TEMPLATE_LLAMA3_1 },
  { "deepseek-r1-distill", PRIMA_CHAT_TEMPLATE_DEEPSEEK_R1 },
  { "deepseek-v3", PRIMA_CHAT_TEMPLATE_DEEPSEEK3 },
};

prima_chat_template_kind
prima_chat_template_from_name (const char *name)
{
  if (name == NULL)
    return PRIMA_CHAT_TEMPLATE_UNKNOWN;
  for (gsize i = 0; i < G_N_ELEMENTS (known_names); i++)
    if (g_ascii_strcasecmp (name, known_names[i].name) == 0)
      return known_names[i].kind;
  return PRIMA_CHAT_TEMPLATE_UNKNOWN;
}

const char *
prima_chat_template_name (prima_chat_template_kind kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_names); i++)
    if (known_names[i].kind == kind)
      return known_names[i].name;
  return "unknown";
}

static gboolean
contains (const char *hay, const char *needle)
{
  return strstr (hay, needle) != NULL;
}

prima_chat_template_kind
prima_chat_template_detect (const char *src)
{
  if (src == NULL || *src == '\0')
    return PRIMA_CHAT_TEMPLATE_UNKNOWN;

  if (contains (src, "<|im_start|>")) {
    /* Phi-4 and SmolVLM also use <|im_start|> but are not ChatML */
    if (contains (src, "<|im_sep|>") || contains (src, "<end_of_utterance>"))
      return PRIMA_CHAT_TEMPLATE_UNKNOWN;
    /* Qwen3 keeps reasoning only after the last user query; other ChatML
     * templates with <think> (QwQ) are rendered as plain ChatML */
    if (contains (src, "<think>") && (contains (src, "last_query_index")
            || contains (src, "reasoning_content")))
      return PRIMA_CHAT_TEMPLATE_QWEN3;
    if (contains (src, QWEN_DEFAULT_SYSTEM))
      return PRIMA_CHAT_TEMPLATE_QWEN2_5;
    return PRIMA_CHAT_TEMPLATE_CHATML;
  }
  if (contains (src, "[INST]")) {
    /* Mistral v3/v7 templates use [AVAILABLE_TOOLS]/[SYSTEM_PROMPT] and
     * render differently: leave them to the fallback */
    if (contains (src, "[SYSTEM_PROMPT]") || contains (src, "[AVAILABLE_TOOLS]"))
      return PRIMA_CHAT_TEMPLATE_UNKNOWN;
    return contains (src, "<<SYS>>") ? PRIMA_CHAT_TEMPLATE_LLAMA2
        : PRIMA_CHAT_TEMPLATE_LLAMA2_NOSYS;
  }
  if (contains (src, "<|start_header_id|>") && contains (src, "<|end_header_id|>")) {
    if (contains (src, "Cutting Knowledge Date"))
      return contains (src, "strftime_now") ? PRIMA_CHAT_TEMPLATE_LLAMA3_2
          : PRIMA_CHAT_TEMPLATE_LLAMA3_1;
    return PRIMA_CHAT_TEMPLATE_LLAMA3;
  }
  if (contains (src, DS_USER) && contains (src, DS_ASSISTANT))
    return contains (src, "<think>") ? PRIMA_CHAT_TEMPLATE_DEEPSEEK_R1
        : PRIMA_CHAT_TEMPLATE_DEEPSEEK3;
  return PRIMA_CHAT_TEMPLATE_UNKNOWN;
}

static char *
known_name_list (void)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (known_names); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", known_names[i].name);
  return g_string_free (s, FALSE);
}

prima_chat_template_kind
prima_chat_template_resolve (const char *name, const char *jinja_source,
    char **note)
{
  prima_chat_template_kind k;

  if (note)
    *note = NULL;
  if (name != NULL && *name != '\0') {
    k = prima_chat_template_from_name (name);
    if (k != PRIMA_CHAT_TEMPLATE_UNKNOWN)
      return k;
    /* llama.cpp also accepts a Jinja source in place of a name */
    if (contains (name, "{%") || contains (name, "{{")) {
      k = prima_chat_template_detect (name);
      if (k != PRIMA_CHAT_TEMPLATE_UNKNOWN)
        return k;
      if (note)
        *note = g_strdup ("chat template given is not recognised; using ChatML");
      return PRIMA_CHAT_TEMPLATE_CHATML;
    }
    if (note) {
      char *list = known_name_list ();
      *note = g_strdup_printf ("unknown chat template name '%s' (known: %s)",
          name, list);
      g_free (list);
    }
    return PRIMA_CHAT_TEMPLATE_UNKNOWN;
  }
  if (jinja_source == NULL || *jinja_source == '\0') {
    if (note)
      *note = g_strdup ("model has no tokenizer.chat_template; using ChatML");
    return PRIMA_CHAT_TEMPLATE_CHATML;
  }
  k = prima_chat_template_detect (jinja_source);
  if (k == PRIMA_CHAT_TEMPLATE_UNKNOWN) {
    if (note)
      *note = g_strdup ("model's chat template is not recognised; using ChatML");
    return PRIMA_CHAT_TEMPLATE_CHATML;
  }
  return k;
}

/* ---- string helpers with Python's semantics (the templates' str methods) */

/* Length of the character at s if Python's str.isspace () holds for it, else 0. */
static gsize
py_space_len (const char *s, const char *end)
{
  guchar c = (guchar) s[0];
  gunichar u;
  const char *next;

  if (c < 0x80)
    return (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f))
        ? 1 : 0;
  u = g_utf8_get_char_validated (s, end - s);
  if (u == (gunichar) -1 || u == (gunichar) -2)
    return 0;
  next = g_utf8_next_char (s);
  switch (u) {
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
      return next - s;
    default:
      return (u >= 0x2000 && u <= 0x200a) ? (gsize) (next - s) : 0;
  }
}

/* Python's str.strip () with no argument (Jinja's trim filter). */
static void
py_strip (const char *s, const char **out, gsize *out_len)
{
  const char *end = s + strlen (s);
  gsize l;

  while (s < end && (l = py_space_len (s, end)) > 0)
    s += l;
  /* scan forward for the last non-space: multi-byte spaces cannot be
   * recognised from their last byte */
  const char *last = s;
  for (const char *p = s; p < end;) {
    l = py_space_len (p, end);
    if (l == 0) {
      p = g_utf8_next_char (p);
      if (p > end)
        p = end;
      last = p;
    } else {
      p += l;
    }
  }
  *out = s;
  *out_len = last - s;
}

static void
append_py_strip (GString *o, const char *s)
{
  const char *p;
  gsize l;
  py_strip (s, &p, &l);
  g_string_append_len (o, p, l);
}

/* str.lstrip ('\n') / rstrip ('\n') on a (ptr, len) span */
static void
lstrip_nl (const char **p, gsize *l)
{
  while (*l > 0 && **p == '\n') {
    (*p)++;
    (*l)--;
  }
}

static void
rstrip_nl (const char *p, gsize *l)
{
  while (*l > 0 && p[*l - 1] == '\n')
    (*l)--;
}

/* Last occurrence of needle in [s, s+len), or NULL. */
static const char *
find_last (const char *s, gsize len, const char *needle)
{
  gsize nl = strlen (needle);
  const char *found = NULL;
  if (nl > len)
    return NULL;
  for (const char *p = s; p + nl <= s + len; p++) {
    p = memchr (p, needle[0], (s + len) - p);
    if (p == NULL || p + nl > s + len)
      break;
    if (memcmp (p, needle, nl) == 0)
      found = p;
  }
  return found;
}

/* json.dumps (s, ensure_ascii=False): HF's tojson filter on a string. */
static void
append_json_string (GString *o, const char *s)
{
  g_string_append_c (o, '"');
  for (; *s; s++) {
    guchar c = (guchar) *s;
    switch (c) {
      case '"': g_string_append (o, "\\\""); break;
      case '\\': g_string_append (o, "\\\\"); break;
      case '\n': g_string_append (o, "\\n"); break;
      case '\r': g_string_append (o, "\\r"); break;
      case '\t': g_string_append (o, "\\t"); break;
      case '\b': g_string_append (o, "\\b"); break;
      case '\f': g_string_append (o, "\\f"); break;
      default:
        if (c < 0x20)
          g_string_append_printf (o, "\\u%04x", c);
        else
          g_string_append_c (o, (char) c);
    }
  }
  g_string_append_c (o, '"');
}

static const char *
role_of (const prima_chat_message *m)
{
  return m->role ? m->role : "";
}

static const char *
content_of (const prima_chat_message *m)
{
  return m->content ? m->content : "";
}

static gboolean
role_is (const prima_chat_message *m, const char *role)
{
  return strcmp (role_of (m), role) == 0;
}

static const char *
or_default (const char *s, const char *def)
{
  return s ? s : def;
}

/* ---- per-family renderers ---------------------------------------------- */

/* Also the fallback: llama.cpp's chatml. */
static void
render_chatml (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt)
{
  for (gsize i = 0; i < n; i++)
    g_string_append_printf (o, "<|im_start|>%s\n%s<|im_end|>\n",
        role_of (&msgs[i]), content_of (&msgs[i]));
  if (opt->add_generation_prompt)
    g_string_append (o, "<|im_start|>assistant\n");
}

/* Tool results: consecutive tool messages share one user turn. */
static void
render_qwen_tool (GString *o, const prima_chat_message *msgs, gsize n, gsize i)
{
  if (i == 0 || !role_is (&msgs[i - 1], "tool"))
    g_string_append (o, "<|im_start|>user");
  g_string_append (o, "\n<tool_response>\n");
  g_string_append (o, content_of (&msgs[i]));
  g_string_append (o, "\n</tool_response>");
  if (i + 1 == n || !role_is (&msgs[i + 1], "tool"))
    g_string_append (o, "<|im_end|>\n");
}

static void
render_qwen2_5 (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt)
{
  if (n > 0 && role_is (&msgs[0], "system"))
    g_string_append_printf (o, "<|im_start|>system\n%s<|im_end|>\n",
        content_of (&msgs[0]));
  else
    g_string_append (o, "<|im_start|>system\n" QWEN_DEFAULT_SYSTEM "<|im_end|>\n");
  for (gsize i = 0; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    if (role_is (m, "user") || (role_is (m, "system") && i > 0)
        || role_is (m, "assistant"))
      g_string_append_printf (o, "<|im_start|>%s\n%s<|im_end|>\n",
          role_of (m), content_of (m));
    else if (role_is (m, "tool"))
      render_qwen_tool (o, msgs, n, i);
    /* other roles: the template renders nothing */
  }
  if (opt->add_generation_prompt)
    g_string_append (o, "<|im_start|>assistant\n");
}

static gboolean
is_tool_response_text (const char *s)
{
  return g_str_has_prefix (s, "<tool_response>")
      && g_str_has_suffix (s, "</tool_response>");
}

static void
render_qwen3 (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt)
{
  gsize last_query = n > 0 ? n - 1 : 0;

  if (n > 0 && role_is (&msgs[0], "system"))
    g_string_append_printf (o, "<|im_start|>system\n%s<|im_end|>\n",
        content_of (&msgs[0]));
  /* the last real user query (tool results sent as user text do not count):
   * only assistant turns after it keep their reasoning */
  for (gsize j = n; j > 0; j--) {
    const prima_chat_message *m = &msgs[j - 1];
    if (role_is (m, "user") && !is_tool_response_text (content_of (m))) {
      last_query = j - 1;
      break;
    }
  }
  for (gsize i = 0; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    if (role_is (m, "user") || (role_is (m, "system") && i > 0)) {
      g_string_append_printf (o, "<|im_start|>%s\n%s<|im_end|>\n",
          role_of (m), content_of (m));
    } else if (role_is (m, "assistant")) {
      const char *c = content_of (m);
      const char *content = c, *reason = "";
      gsize content_len = strlen (c), reason_len = 0;
      const char *close = strstr (c, "</think>");

      if (close != NULL) {
        /* content: after the last </think>, leading newlines dropped */
        const char *last_close = find_last (c, content_len, "</think>");
        content = last_close + strlen ("</think>");
        content_len = strlen (content);
        lstrip_nl (&content, &content_len);
        /* reasoning: before the first </think>, after the last <think> */
        reason = c;
        reason_len = close - c;
        rstrip_nl (reason, &reason_len);
        const char *open = find_last (reason, reason_len, "<think>");
        if (open != NULL) {
          reason_len -= (open + strlen ("<think>")) - reason;
          reason = open + strlen ("<think>");
        }
        lstrip_nl (&reason, &reason_len);
      }
      g_string_append (o, "<|im_start|>assistant\n");
      if (i > last_query && (i + 1 == n || reason_len > 0)) {
        rstrip_nl (reason, &reason_len);
        lstrip_nl (&reason, &reason_len);
        g_string_append (o, "<think>\n");
        g_string_append_len (o, reason, reason_len);
        g_string_append (o, "\n</think>\n\n");
        lstrip_nl (&content, &content_len);
      }
      g_string_append_len (o, content, content_len);
      g_string_append (o, "<|im_end|>\n");
    } else if (role_is (m, "tool")) {
      render_qwen_tool (o, msgs, n, i);
    }
  }
  if (opt->add_generation_prompt) {
    g_string_append (o, "<|im_start|>assistant\n");
    if (opt->disable_thinking)
      g_string_append (o, "<think>\n\n</think>\n\n");
  }
}

/* HF's Llama-2-chat template: the system prompt goes into the first user turn
 * inside <<SYS>>, every turn is stripped, each user turn starts with BOS. */
static void
render_llama2 (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt)
{
  const char *bos = or_default (opt->bos_text, "<s>");
  const char *eos = or_default (opt->eos_text, "</s>");
  const char *system = NULL;
  gsize first = 0;

  if (n > 0 && role_is (&msgs[0], "system")) {
    system = content_of (&msgs[0]);
    first = 1;
  }
  for (gsize i = first; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    char *content;
    if (i == first && system != NULL)
      content = g_strconcat ("<<SYS>>\n", system, "\n<</SYS>>\n\n",
          content_of (m), NULL);
    else
      content = g_strdup (content_of (m));
    if (role_is (m, "user")) {
      g_string_append (o, bos);
      g_string_append (o, "[INST] ");
      append_py_strip (o, content);
      g_string_append (o, " [/INST]");
    } else if (role_is (m, "assistant")) {
      g_string_append_c (o, ' ');
      append_py_strip (o, content);
      g_string_append_c (o, ' ');
      g_string_append (o, eos);
    }
    /* the real template raises on roles that do not alternate; we render
     * what it would render for the messages it accepts */
    g_free (content);
  }
}

/* [INST] templates without <<SYS>> (Mistral v0.1 style): BOS once, no
 * stripping; a system prompt is put in front of the next user message as
 * llama.cpp does, since these templates have no place for it. */
static void
render_llama2_nosys (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt)
{
  const char *eos = or_default (opt->eos_text, "</s>");
  GString *system = g_string_new (NULL);

  g_string_append (o, or_default (opt->bos_text, "<s>"));
  for (gsize i = 0; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    if (role_is (m, "system")) {
      g_string_append (system, content_of (m));
      g_string_append_c (system, '\n');
    } else if (role_is (m, "user")) {
      g_string_append_printf (o, "[INST] %s%s [/INST]", system->str,
          content_of (m));
      g_string_truncate (system, 0);
    } else if (role_is (m, "assistant")) {
      g_string_append (o, content_of (m));
      g_string_append (o, eos);
    }
  }
  g_string_free (system, TRUE);
}

static void
append_llama3_turn (GString *o, const char *role, const char *content)
{
  g_string_append_printf (o, "<|start_header_id|>%s<|end_header_id|>\n\n", role);
  append_py_strip (o, content);
  g_string_append (o, "<|eot_id|>");
}

/* Llama 3 (8B/70B Instruct): the assistant header is appended whatever
 * add_generation_prompt says; with_tail FALSE leaves it out (used for the
 * "previous conversation" of incremental rendering). */
static void
render_llama3 (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt, gboolean with_tail)
{
  for (gsize i = 0; i < n; i++) {
    if (i == 0)
      g_string_append (o, or_default (opt->bos_text, "<|begin_of_text|>"));
    append_llama3_turn (o, role_of (&msgs[i]), content_of (&msgs[i]));
  }
  if (with_tail)
    g_string_append (o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Today as strftime ("%d %b %Y") gives it in the C locale. */
static char *
today_string (void)
{
  static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  GDateTime *now = g_date_time_new_now_local ();
  char *s = g_strdup_printf ("%02d %s %04d", g_date_time_get_day_of_month (now),
      mon[g_date_time_get_month (now) - 1], g_date_time_get_year (now));
  g_date_time_unref (now);
  return s;
}

/* Llama 3.1/3.2/3.3 without tools: a system turn with the knowledge cutoff
 * and date always comes first and holds the (stripped) system prompt. */
static void
render_llama3_1 (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt, gboolean today_default)
{
  gsize first = 0;
  char *today = NULL;
  const char *date = opt->date_string;

  if (date == NULL)
    date = today_default ? (today = today_string ()) : "26 Jul 2024";
  g_string_append (o, or_default (opt->bos_text, "<|begin_of_text|>"));
  g_string_append (o, "<|start_header_id|>system<|end_header_id|>\n\n"
      "Cutting Knowledge Date: December 2023\nToday Date: ");
  g_string_append (o, date);
  g_string_append (o, "\n\n");
  if (n > 0 && role_is (&msgs[0], "system")) {
    append_py_strip (o, content_of (&msgs[0]));
    first = 1;
  }
  g_string_append (o, "<|eot_id|>");
  for (gsize i = first; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    if (role_is (m, "tool") || role_is (m, "ipython")) {
      /* a string "is iterable" in Jinja, so tool output goes through tojson */
      g_string_append (o, "<|start_header_id|>ipython<|end_header_id|>\n\n");
      append_json_string (o, content_of (m));
      g_string_append (o, "<|eot_id|>");
    } else {
      append_llama3_turn (o, role_of (m), content_of (m));
    }
  }
  if (opt->add_generation_prompt)
    g_string_append (o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
  g_free (today);
}

/* DeepSeek R1 (and V3, think = FALSE): BOS, the last system prompt, then the
 * turns; assistant turns lose everything up to their last </think>. */
static void
render_deepseek (GString *o, const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt, gboolean think)
{
  const char *system = "";

  for (gsize i = 0; i < n; i++)
    if (role_is (&msgs[i], "system"))
      system = content_of (&msgs[i]);
  g_string_append (o, or_default (opt->bos_text, DS_BOS));
  g_string_append (o, system);
  for (gsize i = 0; i < n; i++) {
    const prima_chat_message *m = &msgs[i];
    if (role_is (m, "user")) {
      g_string_append (o, DS_USER);
      g_string_append (o, content_of (m));
    } else if (role_is (m, "assistant")) {
      const char *c = content_of (m);
      if (think) {
        const char *close = find_last (c, strlen (c), "</think>");
        if (close != NULL)
          c = close + strlen ("</think>");
      }
      g_string_append (o, DS_ASSISTANT);
      g_string_append (o, c);
      g_string_append (o, DS_EOS);
    }
    /* tool messages: not rendered (the template handles only these roles) */
  }
  if (opt->add_generation_prompt)
    g_string_append (o, think ? DS_ASSISTANT "<think>\n" : DS_ASSISTANT);
}

/* No template (llama-cli -i): the conversation is one text that the user
 * and the model continue in turn; the user's line keeps its newline. */
static void
render_raw (GString *o, const prima_chat_message *msgs, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    g_string_append (o, content_of (&msgs[i]));
    if (role_is (&msgs[i], "user"))
      g_string_append_c (o, '\n');
  }
}

static void
render_into (GString *o, prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opt, gboolean llama3_tail)
{
  switch (kind) {
    case PRIMA_CHAT_TEMPLATE_QWEN2_5:
      render_qwen2_5 (o, msgs, n, opt);
      break;
    case PRIMA_CHAT_TEMPLATE_QWEN3:
      render_qwen3 (o, msgs, n, opt);
      break;
    case PRIMA_CHAT_TEMPLATE_LLAMA2:
      render_llama2 (o, msgs, n, opt);
      break;
    case PRIMA_CHAT_TEMPLATE_LLAMA2_NOSYS:
      render_llama2_nosys (o, msgs, n, opt);
      break;
    case PRIMA_CHAT_TEMPLATE_LLAMA3:
      render_llama3 (o, msgs, n, opt, llama3_tail);
      break;
    case PRIMA_CHAT_TEMPLATE_LLAMA3_1:
      render_llama3_1 (o, msgs, n, opt, FALSE);
      break;
    case PRIMA_CHAT_TEMPLATE_LLAMA3_2:
      render_llama3_1 (o, msgs, n, opt, TRUE);
      break;
    case PRIMA_CHAT_TEMPLATE_DEEPSEEK_R1:
      render_deepseek (o, msgs, n, opt, TRUE);
      break;
    case PRIMA_CHAT_TEMPLATE_DEEPSEEK3:
      render_deepseek (o, msgs, n, opt, FALSE);
      break;
    case PRIMA_CHAT_TEMPLATE_RAW:
      render_raw (o, msgs, n);
      break;
    case PRIMA_CHAT_TEMPLATE_CHATML:
    case PRIMA_CHAT_TEMPLATE_UNKNOWN:
    default:
      render_chatml (o, msgs, n, opt);
      break;
  }
}

char *
prima_chat_template_render_opts (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opts)
{
  prima_chat_render_options def = { 0 };
  GString *o = g_string_new (NULL);

  g_return_val_if_fail (msgs != NULL || n == 0, NULL);
  render_into (o, kind, msgs, n, opts ? opts : &def, TRUE);
  return g_string_free (o, FALSE);
}

char *
prima_chat_template_render (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n, gboolean add_generation_prompt,
    const char *bos_text, const char *eos_text, const char *date_string)
{
  prima_chat_render_options opt = {
    .add_generation_prompt = add_generation_prompt,
    .bos_text = bos_text,
    .eos_text = eos_text,
    .date_string = date_string,
  };
  return prima_chat_template_render_opts (kind, msgs, n, &opt);
}

gsize
prima_chat_template_common_prefix (const char *a, const char *b)
{
  gsize i = 0;

  while (a[i] != '\0' && a[i] == b[i])
    i++;
  /* a full string is a boundary; otherwise back off over continuation bytes
   * so a split never falls inside a character */
  if (a[i] == '\0' || b[i] == '\0')
    return i;
  while (i > 0 && ((guchar) a[i] & 0xc0) == 0x80)
    i--;
  return i;
}

char *
prima_chat_template_render_delta (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n_prev, gsize n,
    const prima_chat_render_options *opts, gsize *keep_bytes,
    gsize *prev_bytes)
{
  prima_chat_render_options def = { 0 }, prev_opt;
  GString *prev = g_string_new (NULL), *all = g_string_new (NULL);
  gsize keep;
  char *delta;

  g_return_val_if_fail (n_prev <= n, NULL);
  if (opts == NULL)
    opts = &def;
  prev_opt = *opts;
  prev_opt.add_generation_prompt = FALSE;
  render_into (prev, kind, msgs, n_prev, &prev_opt, FALSE);
  render_into (all, kind, msgs, n, opts, TRUE);
  keep = prima_chat_template_common_prefix (prev->str, all->str);
  delta = g_strdup (all->str + keep);
  if (keep_bytes)
    *keep_bytes = keep;
  if (prev_bytes)
    *prev_bytes = prev->len;
  g_string_free (prev, TRUE);
  g_string_free (all, TRUE);
  return delta;
}

char *
prima_chat_template_render_continue (prima_chat_template_kind kind,
    const prima_chat_message *msgs, gsize n,
    const prima_chat_render_options *opts, const char *cached_text,
    gsize *keep_bytes)
{
  char *all = prima_chat_template_render_opts (kind, msgs, n, opts);
  gsize keep = prima_chat_template_common_prefix (cached_text ? cached_text : "",
      all);
  char *delta = g_strdup (all + keep);

  if (keep_bytes)
    *keep_bytes = keep;
  g_free (all);
  return delta;
}
