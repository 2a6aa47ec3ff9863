#!/bin/bash
# mkroot.sh OUTDIR NAME SUITE ARCH PACKAGES: OUTDIR/NAME/, a Debian SUITE root for ARCH made by
# mmdebstrap: minbase plus PACKAGES (comma-separated), with its apt lists kept so that apt inside
# resolves a package's Depends against the release. Foreign architectures need qemu-user in
# binfmt_misc (binfmt.sh up). Cached: OUTDIR/NAME.key holds what it was made from, and a root made
# from the same suite, architecture, packages and archive is used again (it is copied, never booted). The last line of the output
# says how long it took, or that it was cached.
set -euo pipefail
out=$(realpath -m "$1") name=$2 suite=$3 arch=$4 pkgs=$5

# The main archive this host installs from, as tests/cross/sysroot.sh finds it.
mirror=$(grep -hs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources | awk '/^URIs:/ {print $2}' |
         grep -E '/debian/?$' | head -n1 || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "mkroot: no Debian main archive in /etc/apt/sources*" >&2; exit 1; }

key="suite=$suite arch=$arch variant=minbase packages=$pkgs mirror=$mirror"
dir=$out/$name
mkdir -p "$out"
# Two runs in one checkout make a root once: the second waits for the first and takes its root.
exec 9>"$out/$name.lock"
flock 9
# A week old, it is made again: the archive moves on (security updates), and the boots should too.
if [ -d "$dir" ] && [ "$(cat "$out/$name.key" 2>/dev/null)" = "$key" ] &&
        [ -n "$(find "$out/$name.key" -mtime -7 2>/dev/null)" ]; then
        echo "$name: cached (made in $(cat "$out/$name.secs" 2>/dev/null || echo '?') s)"
        exit 0
fi
# An interrupted mmdebstrap can leave /proc, /sys and /dev mounted in its target: never rm -rf those.
if grep -qE " ($dir|$dir\.tmp)/" /proc/mounts; then
        echo "mkroot: file systems are still mounted under $dir or $dir.tmp (an interrupted mmdebstrap);"
        echo "mkroot: unmount them (grep '$dir' /proc/mounts) and run again"
        exit 1
fi
rm -rf "$dir" "$dir.tmp" "$out/$name.key"
start=$(date +%s%N)
# Languages none: no Translation files, which nothing here reads. cleanup/apt/lists skipped: the lists
# stay, apt in the root answers without an update. eatmydata (mmdebstrap's hook, which fetches it for
# the root's architecture and takes it out again): dpkg's fsyncs would cost minutes on a busy disk.
if ! mmdebstrap --quiet --arch="$arch" --variant=minbase --include="$pkgs" \
        --aptopt='Acquire::Languages "none"' --skip=cleanup/apt/lists \
        --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
        "$suite" "$dir.tmp" "deb $mirror $suite main" >"$out/$name.log" 2>&1; then
        rm -rf "$dir.tmp"
        echo "mkroot: mmdebstrap for $name failed; last lines of $out/$name.log:"
        tail -n 8 "$out/$name.log"
        exit 1
fi
mv "$dir.tmp" "$dir"
echo $(( ($(date +%s%N) - start) / 1000000000 )) >"$out/$name.secs"
echo "$key" >"$out/$name.key"
echo "$name: made in $(cat "$out/$name.secs") s ($(du -sm "$dir" | cut -f1) MiB)"
