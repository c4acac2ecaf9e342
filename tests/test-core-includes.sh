#!/bin/bash
# gst-prima: the core library is GStreamer-free (issue 12, point 6): no file under elements/core includes
# a GStreamer header (<gst/...>, "gst/..."), and its meson.build files ask for no GStreamer dependency.
# The elements (gstprima*.[ch]) live in elements/{model,text,flow,net,speech}, the core in elements/core/.
# Usage: test-core-includes.sh SOURCE_ROOT
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
set -u
SRC=${1:?usage: $0 SOURCE_ROOT}
CORE=$SRC/elements/core
PATTERN='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]gst/'
fail=0

# the pattern itself: it must catch each spelling, or the test passes for nothing
for line in '#include <gst/gst.h>' '#include "gst/base/gstbasetransform.h"' '  #  include <gst/app/gstappsink.h>'; do
  if ! printf '%s\n' "$line" | grep -Eq "$PATTERN"; then
    echo "not ok - the pattern misses: $line"; fail=1
  fi
done
for line in '#include <glib.h>' '#include "gstprimalayers.h"' '/* #include <gst/gst.h> is not here */'; do
  if printf '%s\n' "$line" | grep -Eq "$PATTERN"; then
    echo "not ok - the pattern catches: $line"; fail=1
  fi
done

mapfile -t files < <(find "$CORE" -type f -name '*.[ch]' | sort)
if [ ${#files[@]} -lt 30 ]; then
  echo "not ok - found only ${#files[@]} core files under $CORE"; fail=1
fi
hits=$(grep -EHn "$PATTERN" "${files[@]}")
if [ -n "$hits" ]; then
  echo "not ok - the core library includes GStreamer headers:"
  echo "$hits"
  fail=1
else
  echo "ok - ${#files[@]} files under elements/core include no GStreamer header"
fi

# no element source in the core, no core source beside the elements
elements=$(find "$CORE" -type f -name 'gstprima*' | sort)
if [ -n "$elements" ]; then
  echo "not ok - elements under elements/core:"; echo "$elements"; fail=1
fi
strays=$(find "$SRC/elements/model" "$SRC/elements/text" "$SRC/elements/flow" "$SRC/elements/net" \
  "$SRC/elements/speech" \
  -type f -name '*.[ch]' ! -name 'gstprima*' 2>/dev/null | sort)
if [ -n "$strays" ]; then
  echo "not ok - non-element sources beside the elements (core files go to elements/core):"; echo "$strays"; fail=1
else
  echo "ok - elements/{model,text,flow,net,speech} hold only gstprima*.[ch]"
fi

mesons=$(find "$CORE" -name meson.build | sort)
gsthits=$(grep -Hn "gstreamer\|gst_dep" $mesons)
if [ -n "$gsthits" ]; then
  echo "not ok - the core's build asks for GStreamer:"; echo "$gsthits"; fail=1
else
  echo "ok - elements/core's meson.build files name no GStreamer dependency"
fi
exit $fail
