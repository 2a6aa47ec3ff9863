#!/bin/bash
# debs.sh OUTDIR [ARCH...]: the packages the boot suite installs, made by `make deb` natively and with
# ARCH=armhf, arm64 and armel (or only the ARCHes named: native, armhf, arm64, armel), into OUTDIR
# (DEBDIR), each build's output in OUTDIR/ARCH.log. Not the parent directory: other checkouts beside
# this one build there too. nocheck: make check runs the unit tests itself, natively and under
# qemu-user. Prints each package with its size; non-zero if one failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
mkdir -p "$1"                   # first: realpath wants it to exist, and a fresh clone has no build/
out=$(realpath "$1")
rm -f "$out"/boardpin*.deb "$out"/boardpin*.changes "$out"/boardpin*.buildinfo
rc=0
shift
[ $# -gt 0 ] || set -- native armhf arm64 armel
for arch in "$@"; do
        start=$(date +%s)
        if DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" make -s deb ARCH="$arch" DEBDIR="$out" \
                >"$out/$arch.log" 2>&1; then
                echo "make deb ARCH=$arch: $(($(date +%s) - start)) s"
        else
                echo "make deb ARCH=$arch failed; last lines of $out/$arch.log:"
                tail -n 12 "$out/$arch.log" | sed 's/^/    | /'
                rc=1
        fi
done
ls -l "$out"/*.deb 2>/dev/null | awk '{print "  " $NF ": " $5 " bytes"}'
exit $rc
