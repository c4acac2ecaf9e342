#!/usr/bin/env python3
"""The translations are complete and safe: for each language of po/LINGUAS, po/LANG.po compiles with
`msgfmt --check --statistics` with no untranslated and no fuzzy message, every msgstr keeps its msgid's
printf placeholders (the same conversions in the same order, or all numbered as %1$s), POTFILES names
every source with a _() message, and no message of the sources is missing from a .po (after a merge:
po/update-po.sh lists what to translate)."""
import os, re, subprocess, sys, tempfile

args = [a for a in sys.argv[1:] if not a.startswith('--')]
src = os.path.abspath(args[0] if args else os.path.dirname(__file__))
root = os.path.dirname(src)
errors = []

def parse_po(path):
  """[(flags, msgid, msgid_plural, [msgstr...])] of the live entries (the header too)."""
  entries, cur, key = [], None, None
  def unq(s):
    return bytes(s[1:-1], 'utf-8').decode('unicode_escape').encode('latin-1').decode('utf-8')
  for line in open(path, encoding='utf-8'):
    line = line.rstrip('\n')
    if line.startswith('#~'):
      continue
    if not line.strip():
      if cur: entries.append(cur)
      cur, key = None, None
      continue
    if cur is None:
      cur = {'flags': '', 'msgid': '', 'msgid_plural': None, 'msgstr': {}}
    if line.startswith('#,'):
      cur['flags'] += line[2:]
    elif line.startswith('#'):
      pass
    elif line.startswith('"'):
      if isinstance(key, int): cur['msgstr'][key] += unq(line)
      else: cur[key] += unq(line)
    else:
      m = re.match(r'(msgid_plural|msgid|msgstr)(?:\[(\d+)\])?\s+(".*")$', line)
      if not m:
        errors.append(f'{path}: cannot read the line {line!r}')
        continue
      if m.group(1) == 'msgstr':
        key = int(m.group(2) or 0)
        cur['msgstr'][key] = unq(m.group(3))
      else:
        key = m.group(1)
        cur[key] = unq(m.group(3))
  if cur: entries.append(cur)
  return entries

DIRECTIVE = re.compile(r"%(?:(\d+)\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(hh|h|ll|l|L|z|j|t|q)?([diouxXeEfFgGaAcsp%])"
                       r"|%(?:(\d+)\$)?<(PRI\w+)>")

def placeholders(s):
  """The conversions of a printf format, in argument order (numbered ones sorted by number)."""
  out, numbered = [], []
  for m in DIRECTIVE.finditer(s):
    if m.group(3) == '%':
      continue
    num = m.group(1) or m.group(4)
    conv = (m.group(2) or '') + m.group(3) if m.group(3) else '<' + m.group(5) + '>'
    # %i and %d take the same argument
    conv = conv.replace('i', 'd') if conv.endswith('i') else conv
    if num: numbered.append((int(num), conv))
    else: out.append(conv)
  if numbered:
    return [c for _, c in sorted(numbered)] + out
  return out

def check_lang(lang):
  po = os.path.join(src, lang + '.po')
  if not os.path.exists(po):
    errors.append(f'po/{lang}.po is missing (listed in po/LINGUAS)')
    return set()
  r = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po], capture_output=True, text=True,
                     env=dict(os.environ, LC_ALL='C', LANGUAGE=''))
  stats = (r.stdout + r.stderr).strip()
  print(f'po/{lang}.po: {stats.splitlines()[-1] if stats else "?"}')
  if r.returncode != 0:
    errors.append(f'po/{lang}.po: msgfmt --check failed:\n{stats}')
  if re.search(r'\d+ (untranslated|fuzzy)', stats):
    errors.append(f'po/{lang}.po: not complete ({stats.splitlines()[-1]}): run po/update-po.sh for the list')
  ids = set()
  for e in parse_po(po):
    if e['msgid'] == '':
      continue
    ids.add(e['msgid'])
    if 'fuzzy' in e['flags']:
      errors.append(f'po/{lang}.po: fuzzy: {e["msgid"]!r}')
    sources = [e['msgid']] + ([e['msgid_plural']] if e['msgid_plural'] is not None else [])
    want = placeholders(sources[-1])
    for n, s in sorted(e['msgstr'].items()):
      if s == '':
        errors.append(f'po/{lang}.po: untranslated: {e["msgid"]!r}')
        continue
      got = placeholders(s)
      # a singular form may leave out the number (as the English "one token" could); every other
      # placeholder must stay, in order
      if got != want and not (e['msgid_plural'] is not None and got == [c for c in want if c != want[-1]] + []):
        errors.append(f'po/{lang}.po: the placeholders of {e["msgid"]!r} are {want}, its msgstr[{n}] has {got}: '
                      f'{s!r}')
  return ids

def source_ids():
  """The msgids of the sources now, by the same xgettext run as update-po.sh."""
  listed = [l.strip() for l in open(os.path.join(src, 'POTFILES')) if l.strip() and not l.startswith('#')]
  marked = []
  for top in ('pipelines', 'elements', 'scheduler'):
    for d, _, files in os.walk(os.path.join(root, top)):
      for f in files:
        if f.endswith(('.c', '.h')):
          p = os.path.join(d, f)
          if re.search(r'\b(N_|_|ngettext) ?\(', open(p, encoding='utf-8', errors='replace').read()):
            marked.append(os.path.relpath(p, root))
  for p in sorted(set(marked) - set(listed)):
    errors.append(f'po/POTFILES does not list {p}, which has _() messages (po/update-po.sh adds it)')
  args = open(os.path.join(src, 'xgettext-args')).read().split()
  with tempfile.TemporaryDirectory() as tmp:
    pot = os.path.join(tmp, 'new.pot')
    subprocess.run(['xgettext', *args, '--files-from', os.path.join(src, 'POTFILES'), '-D', root, '-o', pot],
                   check=True, capture_output=True)
    # xgettext writes nothing when the sources have no message
    return {e['msgid'] for e in parse_po(pot) if e['msgid']} if os.path.exists(pot) else set()

# the programs' messages to the user that are not marked: a literal with words straight in fprintf
# (stderr), g_printerr or g_warning (a new message from a merge; printf to stdout is left out: tables
# and data). The HTTP API's JSON errors (openai-request.c, http-api.c) stay English on purpose.
PROGRAMS = ['pipelines/prima', 'pipelines/primad', 'pipelines/serve', 'scheduler/ring-setup.c']
UNMARKED = re.compile(r'\b(fprintf\s*\(\s*stderr\s*,|g_printerr\s*\(|g_warning\s*\()\s*("(?:[^"\\\n]|\\.)*")')

def unmarked():
  out = []
  for p in PROGRAMS:
    path = os.path.join(root, p)
    files = [path] if p.endswith('.c') else [os.path.join(path, f) for f in sorted(os.listdir(path)) if f.endswith('.c')]
    for f in files:
      text = open(f, encoding='utf-8', errors='replace').read()
      for m in UNMARKED.finditer(text):
        words = re.sub(r'%[-+ #0-9.*]*[a-zA-Z]+|\\.', '', m.group(2))
        if re.search(r'[A-Za-z]{2,}', words):
          line = text.count('\n', 0, m.start()) + 1
          out.append(f'{os.path.relpath(f, root)}:{line}: {m.group(2)[:80]}')
  return out

if '--unmarked' in sys.argv:
  # po/update-po.sh: list them, for whoever merges
  for u in unmarked():
    print(f'  {u}')
  sys.exit(0)
for u in unmarked():
  errors.append(f'a message not marked for translation (wrap it in _(), then po/update-po.sh): {u}')

wanted = source_ids()
langs = open(os.path.join(src, 'LINGUAS')).read().split()
if len(langs) < 2:
  errors.append('po/LINGUAS names fewer than two languages')
for lang in langs:
  have = check_lang(lang)
  new = sorted(wanted - have)
  if new:
    errors.append(f'po/{lang}.po lacks {len(new)} message(s) of the sources (run po/update-po.sh, then translate), '
                  f'e.g. {new[0]!r}')
for e in errors:
  print('FAIL', e)
sys.exit(1 if errors else 0)
