#!/bin/bash
# gst-prima: `meson install` puts the plugin, the model and the pipelines where they are found (issue 11, point 20),
# and primad with its D-Bus and systemd files (issue 14).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# Configures a second build with --prefix=/usr, builds what it installs and installs it with
# --destdir D. Then: the plugin is in GStreamer's plugin folder (pkg-config's pluginsdir) and
# gst-inspect-1.0 finds it there; the installed .pipeline files name the installed model and run with
# gst-launch-1.0 from any folder; the installed prima, run from D outside the source tree with no
# PRIMA_* variables, finds its plugin and the default model under D (next to its own path) and says
# where it looked when they are missing. The manual pages are in man1, and LANGUAGE=de reaches the
# installed catalogue.
set -u
MESON=${1:?usage: test-install.sh MESON}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
L=${GST_LAUNCH:?}
I=${GST_INSPECT:?}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
n=0

ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }

B=$T/B
D=$T/D
if ! "$MESON" setup --prefix=/usr --buildtype=release "$B" "$SRC" > "$T/log" 2>&1; then
  cat "$T/log"; echo "not ok 1 - meson setup --prefix=/usr"; exit 1
fi
# only what is installed: the tests' programs are not needed here
targets=$("$MESON" introspect --targets "$B" | python3 -c \
  'import json, sys; print(" ".join(t["name"] for t in json.load(sys.stdin) if t["installed"]))')
if ! "$MESON" compile -C "$B" $targets > "$T/log" 2>&1 \
    || ! "$MESON" install -C "$B" --no-rebuild --destdir "$D" > "$T/log" 2>&1; then
  tail -30 "$T/log"; echo "not ok 1 - meson compile and install of $targets"; exit 1
fi
ok "meson setup --prefix=/usr, compile $targets, install --destdir"

gstprefix=$(pkg-config --variable=prefix gstreamer-1.0)
pluginsdir=$(pkg-config --variable=pluginsdir gstreamer-1.0)
DATA=/usr/share/gst-prima
MODEL=TinyStories-656K-f32.gguf
if [ "$gstprefix" = /usr ]; then
  if [ -f "$D$pluginsdir/libgstprima.so" ]; then ok "the plugin is in GStreamer's plugin folder $pluginsdir"
  else bad "the plugin is not in $pluginsdir:"; (cd "$D" && find . -name 'libgstprima*'); fi
else
  echo "# GStreamer's prefix is $gstprefix, not /usr: the plugin is in /usr/LIBDIR/gstreamer-1.0"
  pluginsdir=$(dirname "$(cd "$D" && find . -name libgstprima.so | head -1 | sed 's|^\.||')")
fi
[ -f "$D$DATA/$MODEL" ] && ok "the default model is in $DATA" || bad "no $DATA/$MODEL"

# GStreamer's tools see D's plugin folder and core's elements only, with a private registry
mkdir -p "$T/core"
ln -s "${PRIMA_GST_CORE_PLUGIN:?}" "$T/core/"
unset PRIMA_DATA_DIR PRIMA_PIPELINES_DIR PRIMA_BIN
export GST_PLUGIN_SYSTEM_PATH_1_0="$T/core"
export GST_REGISTRY="$T/registry.bin"
if GST_PLUGIN_PATH="$D$pluginsdir" "$I" primafdsink > "$T/out" 2>&1; then ok "gst-inspect-1.0 finds the plugin in D$pluginsdir"
else bad "gst-inspect-1.0 does not find the plugin in D$pluginsdir"; tail -5 "$T/out"; fi

# the installed descriptions name the installed model, and run (from a folder without data/) once
# that path is taken under D
cd "$T" || exit 1
for f in generate chat ring-head ring-eval worker serve-ring voice-file voice-assistant; do
  p=$D$DATA/$f.pipeline
  if [ ! -f "$p" ]; then bad "no $DATA/$f.pipeline"; continue; fi
  rel=$(grep -v '^#' "$p" | grep -o 'model=[^ ]*' | grep -v "^model=$DATA/$MODEL\$")
  [ -z "$rel" ] && ok "$f.pipeline names the installed model" || bad "$f.pipeline names $rel"
done
desc=$(grep -v '^#' "$D$DATA/generate.pipeline" | sed "s|model=$DATA/|model=$D$DATA/|g; s/n-predict=-1/n-predict=8/")
out=$(printf 'Once upon a time' | GST_PLUGIN_PATH="$D$pluginsdir" timeout 60 "$L" -q $desc 2> "$T/err")
[ -n "$out" ] && ok "gst-launch-1.0 of the installed generate.pipeline: '$out'" || { bad "gst-launch-1.0 of the installed generate.pipeline"; cat "$T/err"; }

# prima from D: no GST_PLUGIN_PATH, GStreamer's own folders without the plugin
unset GST_PLUGIN_PATH
out=$(timeout 60 "$D/usr/bin/prima" run -p Once -n 4 --temp 0 2> "$T/err")
case $out in
  Once?*) ok "the installed prima finds its plugin and default model under D: '$out'" ;;
  *) bad "the installed prima run: '$out'"; cat "$T/err" ;;
esac
# the installed prima serve answers with the installed model; primad and its bus and unit files
"$D/usr/bin/prima" serve --port 0 > "$T/serve.out" 2> "$T/serve.err" &
spid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$T/serve.out")
  [ -n "$port" ] && break
  sleep 0.1
done
reply=$([ -n "$port" ] && python3 -c 'import json, sys, urllib.request
r = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/v1/completions" % sys.argv[1],
    json.dumps({"prompt": "Once", "max_tokens": 4, "temperature": 0}).encode(), {"Content-Type": "application/json"}), timeout=30)
print(json.load(r)["choices"][0]["text"])' "$port")
kill "$spid"; wait "$spid"; src=$?
[ -n "$reply" ] && [ $src = 0 ] && ok "the installed prima serve answers with the installed model: '$reply'" \
  || { bad "the installed prima serve (exit $src)"; cat "$T/serve.out" "$T/serve.err"; }
[ -x "$D/usr/bin/primad" ] && "$D/usr/bin/primad" --help > /dev/null 2>&1 && ok "primad is installed" \
  || bad "no working $D/usr/bin/primad"
# the manual pages (man1) and the translations (issue 18): the installed prima finds its catalogue
# next to itself (D/usr/share/locale)
for p in prima prima-run prima-worker prima-serve primad; do
  [ -s "$D/usr/share/man/man1/$p.1" ] && ok "$p.1 is installed in man1" || bad "no $D/usr/share/man/man1/$p.1"
done
out=$(env -u PRIMA_LOCALEDIR LC_ALL=C.UTF-8 LANGUAGE=de "$D/usr/bin/prima" run -m missing.gguf 2>&1)
[ "$out" = "prima run: missing.gguf: Modelldatei nicht gefunden" ] && ok "the installed prima speaks German: '$out'" \
  || bad "the installed prima with LANGUAGE=de: '$out'"
for f in share/dbus-1/services/org.gstprima.Prima1.service share/dbus-1/system-services/org.gstprima.Prima1.service \
    share/dbus-1/system.d/org.gstprima.Prima1.conf share/dbus-1/interfaces/org.gstprima.Prima1.xml; do
  [ -f "$D/usr/$f" ] && ok "/usr/$f" || bad "no /usr/$f"
done
units=$(cd "$D" && find . -name primad.service -path '*systemd*' | sort | tr '\n' ' ')
case $units in
  *system/primad.service*user/primad.service*) ok "the systemd units: $units" ;;
  *) bad "the systemd units: '$units'" ;;
esac
grep -q "^Exec=/usr/bin/primad" "$D/usr/share/dbus-1/services/org.gstprima.Prima1.service" \
  && ok "the activation file starts the installed primad" || bad "the activation file names another primad"

mv "$D$DATA/$MODEL" "$T/"
timeout 60 "$D/usr/bin/prima" run -p Once -n 4 --temp 0 > /dev/null 2> "$T/err"
if grep -qF "$D$DATA/$MODEL" "$T/err"; then ok "without the model, it names the path it looked for under D"
else bad "without the model:"; cat "$T/err"; fi
mv "$T/$MODEL" "$D$DATA/"
mv "$D$pluginsdir/libgstprima.so" "$T/"
rm -f "$GST_REGISTRY"
timeout 60 "$D/usr/bin/prima" run -p Once -n 4 --temp 0 > /dev/null 2> "$T/err"
if grep -qF "$D$pluginsdir" "$T/err"; then ok "without the plugin, it names the folder it looked in under D"
else bad "without the plugin:"; cat "$T/err"; fi

echo "1..$n"
exit $fail
