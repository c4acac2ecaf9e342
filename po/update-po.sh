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
grep -lE '\b(N_|_|ngettext) ?\(' $(git ls-files 'pipelines/*.c' 'elements/*.c' 'scheduler/*.c') \
  | LC_ALL=C sort > po/POTFILES.new
mv po/POTFILES.new po/POTFILES
xgettext --package-name=gst-prima --sort-by-file $(cat po/xgettext-args) --files-from=po/POTFILES -o po/gst-prima.pot
left=0
for lang in $(cat po/LINGUAS); do
  [ -f "po/$lang.po" ] || msginit --no-translator --locale="$lang.UTF-8" -i po/gst-prima.pot -o "po/$lang.po"
  msgmerge --quiet --update --backup=none "po/$lang.po" po/gst-prima.pot
  todo=$(msgattrib --no-obsolete --untranslated "po/$lang.po"; msgattrib --no-obsolete --only-fuzzy "po/$lang.po")
  n=$(printf '%s\n' "$todo" | grep -c '^msgid ' || true)
  # the header entry (msgid "") of each msgattrib output is not a message
  n=$(printf '%s\n' "$todo" | grep '^msgid ' | grep -vc '^msgid ""$' || true)
  msgattrib --no-obsolete "po/$lang.po" -o "po/$lang.po"
  echo "po/$lang.po: $n to translate"
  if [ "$n" -gt 0 ]; then
    printf '%s\n' "$todo" | awk '/^#, fuzzy/ { print "   (fuzzy: check, then drop the #, fuzzy line)" } /^#:/ { print "  at " substr($0, 4) } /^msgid "./ { print "  " $0 }'
    left=1
  fi
done
exit $left
