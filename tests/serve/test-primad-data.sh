#!/bin/bash
# gst-prima: primad's data/ files (issue 14, point 4; docs/dbus.md).
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
#
# - `systemd-analyze verify` says nothing of the user and the system unit (as configured by this
#   build, their ExecStart pointed at the build's primad); skipped with a message without it;
# - the D-Bus activation files name the bus name, primad and the unit (SystemdService=);
# - the system bus policy: a bus of type system that includes data/org.gstprima.Prima1.conf lets
#   root own the name and load a model (`primad --system`), and a user who is not in the group
#   primad read the properties and run a job but not load a model (AccessDenied); skipped unless
#   run as root with dbus-daemon and setpriv.
set -u
PRIMAD=${1:?usage: test-primad-data.sh PRIMAD BUILD_DATA_DIR}
DATA=${2:?usage: test-primad-data.sh PRIMAD BUILD_DATA_DIR}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
DPID= BPID=
cleanup () {
  [ -n "$DPID" ] && kill -KILL "$DPID" 2> /dev/null
  [ -n "$BPID" ] && kill "$BPID" 2> /dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail=0
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
bad () { n=$((n + 1)); echo "not ok $n - $*"; fail=1; }
skip () { n=$((n + 1)); echo "ok $n - $* # SKIP"; }

# the units: each in a folder of its own under the name it is installed as
mkdir -p "$T/user" "$T/system"
sed "s|^ExecStart=[^ ]*|ExecStart=$PRIMAD|" "$DATA/primad.service" > "$T/user/primad.service"
sed "s|^ExecStart=[^ ]*|ExecStart=$PRIMAD|" "$DATA/primad-system.service" > "$T/system/primad.service"
for f in "$DATA/primad.service" "$DATA/primad-system.service"; do
  grep -q "^ExecStart=/.*/primad --s" "$f" && ok "$(basename "$f"): ExecStart=$(sed -n 's/^ExecStart=//p' "$f")" \
    || bad "$(basename "$f") has no absolute ExecStart"
done
if ! command -v systemd-analyze > /dev/null; then
  skip "systemd-analyze verify: no systemd-analyze here (Debian: systemd)"
else
  out=$(systemd-analyze verify "$T/system/primad.service" 2>&1); rc=$?
  [ $rc = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: the system unit is clean" \
    || bad "systemd-analyze verify of the system unit: exit $rc: $out"
  mkdir -m 700 "$T/run"
  out=$(XDG_RUNTIME_DIR=$T/run systemd-analyze --user verify "$T/user/primad.service" 2>&1); rc=$?
  [ $rc = 0 ] && [ -z "$out" ] && ok "systemd-analyze --user verify: the user unit is clean" \
    || bad "systemd-analyze --user verify of the user unit: exit $rc: $out"
  for opt in User=primad ProtectSystem=strict PrivateTmp=yes NoNewPrivileges=yes MemoryDenyWriteExecute=yes \
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"; do
    grep -qx "$opt" "$T/system/primad.service" || bad "the system unit lacks $opt"
  done
  exposure=$(systemd-analyze security --offline=yes "$T/system/primad.service" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for primad.service: \([0-9.]*\).*/\1/p')
  [ -n "$exposure" ] && ok "systemd-analyze security: exposure $exposure" \
    || bad "systemd-analyze security --offline gave no exposure level"
fi

# the activation files
for f in org.gstprima.Prima1.service org.gstprima.Prima1.system-service; do
  if grep -qx 'Name=org.gstprima.Prima1' "$DATA/$f" && grep -qx 'SystemdService=primad.service' "$DATA/$f" \
      && grep -q '^Exec=/.*/primad --s' "$DATA/$f"; then ok "$f: Name, Exec and SystemdService"
  else bad "$f"; cat "$DATA/$f"; fi
done
grep -qx 'User=primad' "$DATA/org.gstprima.Prima1.system-service" && ok "the system activation file runs as primad" \
  || bad "the system activation file has no User=primad"

# the system bus policy, on a bus of our own
if [ "$(id -u)" != 0 ] || ! command -v dbus-daemon > /dev/null || ! command -v setpriv > /dev/null \
    || ! command -v gdbus > /dev/null; then
  skip "the system bus policy: needs root, dbus-daemon, setpriv and gdbus"
  echo "1..$n"
  exit $fail
fi
chmod 755 "$T"
cat > "$T/system.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$T/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <include>$SRC/data/org.gstprima.Prima1.conf</include>
</busconfig>
EOF
dbus-daemon --config-file="$T/system.conf" --nofork --nopidfile --nosyslog > "$T/bus.log" 2>&1 &
BPID=$!
for _ in $(seq 100); do [ -S "$T/system_bus_socket" ] && break; sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/system_bus_socket
"$PRIMAD" --system > "$T/log" 2>&1 &
DPID=$!
sys () { gdbus call --system --dest org.gstprima.Prima1 --object-path /org/gstprima/Prima1 --method "$@"; }
if gdbus wait --system --timeout 20 org.gstprima.Prima1 && sys org.gstprima.Prima1.LoadModel "" "{}" > /dev/null; then
  ok "primad --system: root owns the name and loads the model"
else
  bad "primad --system as root"; cat "$T/log" "$T/bus.log"
fi
nobody () { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(nobody gdbus call --system --dest org.gstprima.Prima1 --object-path /org/gstprima/Prima1 \
  --method org.freedesktop.DBus.Properties.Get org.gstprima.Prima1 State 2>&1)
[ "$out" = "(<'ready'>,)" ] && ok "another user reads State: $out" || bad "another user reads State: $out"
out=$(nobody gdbus call --system --dest org.gstprima.Prima1 --object-path /org/gstprima/Prima1 \
  --method org.gstprima.Prima1.Generate "Once" "{'max-tokens': <4>}" 2>&1)
case $out in "(objectpath '/org/gstprima/Prima1/jobs/"*) ok "another user runs a job: $out" ;;
  *) bad "another user runs a job: $out" ;; esac
out=$(nobody gdbus call --system --dest org.gstprima.Prima1 --object-path /org/gstprima/Prima1 \
  --method org.gstprima.Prima1.LoadModel "" "{}" 2>&1)
case $out in *AccessDenied*) ok "another user cannot load a model: AccessDenied" ;;
  *) bad "another user loads a model: $out" ;; esac
kill -TERM $DPID; wait $DPID; rc=$?; DPID=
[ $rc = 0 ] && ok "primad --system: SIGTERM, exit 0" || bad "primad --system: exit $rc after SIGTERM"
# the name is free now: the policy alone keeps another user from owning it
out=$(nobody timeout 20 "$PRIMAD" --system 2>&1); rc=$?
case $rc:$out in 1:*"does not let this user own"*) ok "another user cannot own the name: '$out'" ;;
  *) bad "another user's primad --system: exit $rc, '$out'" ;; esac

echo "1..$n"
exit $fail
