#!/bin/sh
# po/update-po.sh: after new messages came in (a merge, a new _() in the code), bring po/ in step and
# list what is left to translate. It rewrites po/POTFILES (every source under pipelines/, elements/ and
# scheduler/ with a _(), N_() or ngettext), regenerates po/gst-prima.pot with the same xgettext flags as
# meson's gst-prima-pot target, merges it into each language of po/LINGUAS (msgmerge: a changed message
# comes back fuzzy, with the old translation as a hint) and prints, per language, the entries that are
# untranslated or fuzzy. Fill those in po/LANG.po, remove the "#, fuzzy" lines, and run
# `meson test -C build --suite po` until it passes. Also `ninja -C build po-todo`.
set -eu
cd "$(dirname "$0")/.."
grep -lE '\b(N_|_|ngettext) ?\(' $(git ls-files 'pipelines/*.[ch]' 'elements/*.[ch]' 'scheduler/*.[ch]') \
  | LC_ALL=C sort > po/POTFILES.new
mv po/POTFILES.new po/POTFILES
xgettext --package-name=gst-prima --sort-by-file $(cat po/xgettext-args) --files-from=po/POTFILES -o po/gst-prima.pot
left=0
# messages of the programs that nobody marked yet (a merge brings English fprintf lines): mark them
# with _() and run this script again
marks=$(python3 po/check-po.py --unmarked po)
if [ -n "$marks" ]; then
  echo "not marked for translation (wrap each in _()):"
  printf '%s\n' "$marks"
  left=1
fi
for lang in $(cat po/LINGUAS); do
  [ -f "po/$lang.po" ] || msginit --no-translator --locale="$lang.UTF-8" -i po/gst-prima.pot -o "po/$lang.po"
  msgmerge --quiet --update --backup=none "po/$lang.po" po/gst-prima.pot
  msgattrib --no-obsolete "po/$lang.po" -o "po/$lang.po"
  # the entries left, one a paragraph (msgattrib's header entries, msgid "", are left out): the place,
  # whether fuzzy, and the msgid on one line
  todo=$( (msgattrib --untranslated "po/$lang.po"; echo; msgattrib --only-fuzzy "po/$lang.po") | awk '
    BEGIN { RS = ""; FS = "\n" } {
      at = ""; fuzzy = 0; id = ""; inid = 0
      for (i = 1; i <= NF; i++) {
        l = $i
        if (l ~ /^#,.*fuzzy/) fuzzy = 1
        else if (l ~ /^#:/) at = at substr(l, 3)
        else if (l ~ /^msgid /) { id = substr(l, 7); inid = 1 }
        else if (l ~ /^"/ && inid) id = id l
        else inid = 0
      }
      gsub(/""/, "", id)
      if (id != "" && id != "\"\"")
        print " " at (fuzzy ? " (fuzzy: check the old translation, then drop the #, fuzzy line)" : "") "\n    " id
    }')
  n=$(printf '%s\n' "$todo" | grep -c '^    ' || true)
  echo "po/$lang.po: $n to translate"
  if [ "$n" -gt 0 ]; then
    printf '%s\n' "$todo"
    left=1
  fi
done
exit $left
