#!/bin/sh
# The translations reach the user: `prima run -m missing.gguf` says so in German with LANGUAGE=de and in
# Chinese with LANGUAGE=zh_CN (LANGUAGE needs a locale other than C: C.UTF-8, which every glibc has), in
# English without. The uninstalled prima binds the build tree's catalogues (build/po/LANG/LC_MESSAGES).
set -u
prima=${1:-build/pipelines/prima}
fail=0
check () {
  want=$1; shift
  got=$(env -u LC_MESSAGES -u LANG -u PRIMA_LOCALEDIR "$@" "$prima" run -m missing.gguf 2>&1 >/dev/null)
  if [ "$got" = "$want" ]; then
    echo "ok: $* -> $got"
  else
    echo "FAIL: $*: expected '$want', got '$got'"
    fail=1
  fi
}
check "prima run: missing.gguf: no such model file" LC_ALL=C.UTF-8 LANGUAGE=
check "prima run: missing.gguf: Modelldatei nicht gefunden" LC_ALL=C.UTF-8 LANGUAGE=de
check "prima run：missing.gguf：找不到模型文件" LC_ALL=C.UTF-8 LANGUAGE=zh_CN
exit $fail
