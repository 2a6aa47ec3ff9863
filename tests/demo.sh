#!/bin/bash
# demo.sh BOARDPIN ROOTS: the main job on an embedded default. Starts a throwaway registry on loopback
# (tests/integration/registry.sh), seeds it with a small multi-arch set, and runs the real
# `boardpin resolve` for this machine and for fixture roots of real boards, printing board by board the
# detect line, the digest chosen for each service and one env file. Leaves nothing running.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bp=$(realpath "$1")
roots=$(realpath "$2")
work=$(mktemp -d /tmp/boardpin-demo.XXXXXX)
cleanup() {
        "$here/integration/registry.sh" stop "$work" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT
echo "Starting a registry on loopback and seeding it (about half a minute)..."
if ! "$here/integration/registry.sh" start "$work" >"$work/start.log" 2>&1 ||
   ! "$here/integration/seed.sh" "$work" >"$work/seed.log" 2>&1; then
        echo "demo: the registry did not come up:"
        tail -n 5 "$work/start.log" "$work/seed.log"
        exit 1
fi
. "$work/env"
cat >"$work/boardpin.ini" <<INI
[boardpin]
state_dir = $work/state
env_dir = $work/env-files
timeout = 10
boot_wait = 0

[registry $REG_PLAIN]
insecure = true

# an OCI index with attestation entries: amd64, arm/v6, arm/v7, arm64
[service multi]
image = $REG_PLAIN/test/multi
version = 1.0

# the same as a Docker manifest list
[service dockerlist]
image = $REG_PLAIN/test/multi-v2
version = 1.0

# one tag per architecture, like the old bitwarden_rs images
[service perarch]
image = $REG_PLAIN/test/perarch
version = 1.0
tag.linux/arm/v6 = {version}-armv6
tag.linux/arm/v7 = {version}-raspberry
tag.linux/arm64 = {version}-aarch64

# an index without arm/v6: a Pi Zero must get an error, never the arm/v7 image
[service nov6]
image = $REG_PLAIN/test/nov6
version = 1.0
INI

board() {
        local title=$1
        shift
        rm -rf "$work/state" "$work/env-files"
        echo
        echo "=== $title"
        "$bp" "$@" detect | sed -n 's/^\(board\|userspace\|platform\) */  \1: /p'
        "$bp" -c "$work/boardpin.ini" "$@" resolve 2>&1 | sed 's/^/  /'
        echo "  -- $work/env-files/multi.env:"
        sed 's/^/     /' "$work/env-files/multi.env" 2>/dev/null
}

board "This machine"
board "Raspberry Pi Zero (ARMv6, Raspbian)" --root "$roots/rpi-zero-rev1.3" --machine armv6l
board "Raspberry Pi 3 on 32-bit Raspbian (ARMv8 CPU, 32-bit userspace)" --root "$roots/rpi-3-b-raspbian32" --machine armv7l
board "Raspberry Pi 4, 64-bit kernel, 32-bit userspace" --root "$roots/rpi-4-b-arm64-kernel-armhf-userspace" --machine aarch64
board "Raspberry Pi 4, 64-bit OS" --root "$roots/rpi-4-b-arm64" --machine aarch64
echo
echo "Done; the registry is stopped and $work removed."
