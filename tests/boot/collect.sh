#!/bin/sh
# boot-test-collect: inside a booted test system, after multi-user.target. Writes unit states and
# timestamps, the env files (with their mtimes), boardpin's journal as JSON and the generated Quadlet
# unit to /var/lib/boot-test/out, then powers the system off. The host asserts on what it finds there.
out=/var/lib/boot-test/out
mkdir -p "$out"
props=ActiveState,SubState,Result,ExecMainStatus,ExecMainStartTimestampMonotonic,ExecMainExitTimestampMonotonic,ActiveEnterTimestampMonotonic,After
for u in boardpin.service pinned-consumer.service true-probe.service sandbox-probe.service network-online.target \
        slow-online.service; do
        systemctl show -p "$props" "$u" >"$out/$u.show" 2>&1
done
systemctl show -p UserspaceTimestampMonotonic >"$out/manager.show"
if [ -d /run/boardpin ]; then
        mkdir -p "$out/env"
        for f in /run/boardpin/*; do
                [ -f "$f" ] || continue
                cp "$f" "$out/env/"
                stat -c '%n %.9Y' "$f" >>"$out/env-mtimes"
        done
fi
journalctl -b -o json -u boardpin.service >"$out/journal.json" 2>&1
journalctl -b -u boardpin.service --no-pager >"$out/journal.txt" 2>&1
systemctl list-units --failed --plain --no-legend >"$out/failed" 2>&1
uname -m >"$out/uname"
if [ -e /etc/containers/systemd/web.container ]; then
        systemctl cat web.service >"$out/quadlet-web.service" 2>&1
        # Each daemon-reload in this boot: boardpin reloads only when a Quadlet pin changed.
        journalctl -b _PID=1 -o cat | grep -c '^Reloading' >"$out/reloads"
fi
echo done >"$out/complete"
systemctl --no-block poweroff
