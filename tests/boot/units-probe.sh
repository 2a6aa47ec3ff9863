#!/bin/sh
# units-probe-run: inside a booted test system, in boardpin-upgrade.service's sandbox (units-probe.service,
# made by boot.py from the installed unit): restarts units through agent/units.c (units-probe) and reads
# their state, over systemd's private socket and over dbus-daemon. One "name: rc output" line each, to
# /var/lib/boot-test/out/units-probe; the host asserts on them.
out=/var/lib/boot-test/out
mkdir -p "$out"
: >"$out/units-probe"
p() {
        name=$1
        shift
        got=$("$@" 2>&1)
        echo "$name: $? $got" | tr '\n' ' ' >>"$out/units-probe"
        echo >>"$out/units-probe"
}
p sleep-before /usr/local/bin/units-probe state units-probe-sleep.service
p restart /usr/local/bin/units-probe restart units-probe-sleep.service
p sleep-after /usr/local/bin/units-probe state units-probe-sleep.service
pid1=$(systemctl show -p MainPID --value units-probe-sleep.service)
p restart-again env DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket \
        /usr/local/bin/units-probe restart units-probe-sleep.service
pid2=$(systemctl show -p MainPID --value units-probe-sleep.service)
[ -n "$pid1" ] && [ "$pid1" != 0 ] && [ "$pid1" != "$pid2" ] && echo "new-pid: 0 $pid1 $pid2" >>"$out/units-probe"
p slow /usr/local/bin/units-probe restart units-probe-slow.service
p fail /usr/local/bin/units-probe restart units-probe-fail.service
p fail-state /usr/local/bin/units-probe state units-probe-fail.service
p missing /usr/local/bin/units-probe restart units-probe-missing.service
p reload /usr/local/bin/units-probe reload
exit 0
