#!/bin/bash
# sysroot.sh ARCH DIR: unpack a Debian 12 sysroot for ARCH (armhf, armel, arm64) into DIR with the -dev
# packages boardpin builds against, cmocka for its unit tests, and busybox-static and dash as real
# userspace binaries. From the main archive alone: multiarch -dev packages on the host would clash with
# its newer security updates, whose archive has no armhf/armel/arm64 indexes here. Cached: a finished DIR
# has DIR/.complete.
set -euo pipefail
arch=$1 dir=$2
pkgs=libc6-dev,libcurl4-openssl-dev,libinih-dev,libjson-c-dev,libsystemd-dev,libssl-dev,libcmocka-dev,busybox-static,dash
[ -e "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$pkgs" ] && exit 0

# The main archive this host installs from (deb822 or one-line sources).
mirror=$(grep -hs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources | awk '/^URIs:/ {print $2}' |
         grep -E '/debian/?$' | head -n1 || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "sysroot: no Debian main archive in /etc/apt/sources*" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
if ! mmdebstrap --quiet --arch="$arch" --variant=extract --include="$pkgs" bookworm "$dir" \
        "deb $mirror bookworm main" > "$dir.log" 2>&1; then
        echo "sysroot: mmdebstrap for $arch failed; last lines of $dir.log:" >&2
        tail -n 5 "$dir.log" >&2
        exit 1
fi
echo "$pkgs" > "$dir/.complete"
