#!/bin/bash
# deb.sh ARCH OUTDIR: build the boardpin .deb for ARCH (native, armhf, arm64, armel) into OUTDIR.
# The working tree (committed or not, without ignored files) is copied to build/deb/ARCH/src with
# packaging/debian as debian/, and dpkg-buildpackage -b runs there, so a build never cleans or touches
# the tree itself. A cross build uses Debian's cross compiler (gcc-<triplet>) and the sysroot of
# tests/cross/sysroot.sh: Build-Depends are then checked against nothing (-d), since the -dev packages
# live in the sysroot, not in the host's dpkg database.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1 out=$2
top=$PWD
case $arch in
native) host=$(dpkg --print-architecture) ;;
armhf | arm64 | armel) host=$arch ;;
*) echo "deb.sh: unknown architecture '$arch' (native, armhf, arm64, armel)" >&2; exit 2 ;;
esac
[ "$host" = "$(dpkg --print-architecture)" ] && arch=native

stage=$top/build/deb/$host
rm -rf "$stage"
mkdir -p "$stage/src" "$out"
git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$stage/src"
rm -rf "$stage/src/debian"
cp -a packaging/debian "$stage/src/debian"

# The unit tests (dh_auto_test, native builds) read board roots made from the cross sysroots.
if [ "$arch" = native ] && [[ " ${DEB_BUILD_OPTIONS:-} " != *" nocheck "* ]]; then
        tests/fixtures/mkroots.sh "$top/build/roots" >/dev/null
        export BP_FIXTURE_ROOTS=$top/build/roots
fi

flags=(-b -us -uc)
if [ "$arch" != native ]; then
        tests/cross/sysroot.sh "$host" "$top/build/sysroot/$host"
        export BP_SYSROOT=$top/build/sysroot/$host
        flags+=(-a"$host" -d)
fi
# Debian's armhf start files (Scrt1.o, crti.o, crtn.o from libc6-dev, crtbeginS.o and crtendS.o from
# gcc) are ARMv7 Thumb-2 (cbz, ldr.w): linked into boardpin they would crash an ARMv6 board at
# _start, whatever boardpin's own code is built for. Debian's armel ones are ARM-mode ARMv5TE and
# hold no floating point, so they serve a hard-float ARMv6 program as well; only their build
# attributes say soft-float, which ld refuses to mix, so they are copied without .ARM.attributes.
# debian/rules puts this directory first in gcc's start file search (-B).
if [ "$host" = armhf ] && [ "$arch" != native ]; then
        tests/cross/sysroot.sh armel "$top/build/sysroot/armel"
        crt=$top/build/deb/armv6-crt
        rm -rf "$crt"
        mkdir -p "$crt"
        for f in "$top"/build/sysroot/armel/usr/lib/arm-linux-gnueabi/{Scrt1.o,crt1.o,crti.o,crtn.o} \
                "$(arm-linux-gnueabi-gcc -print-file-name=crtbeginS.o)" \
                "$(arm-linux-gnueabi-gcc -print-file-name=crtendS.o)"; do
                arm-linux-gnueabi-objcopy --remove-section=.ARM.attributes "$f" "$crt/${f##*/}"
        done
        export BP_ARMV6_CRT=$crt
fi
(cd "$stage/src" && dpkg-buildpackage "${flags[@]}")
for f in "$stage"/*.deb "$stage"/*.buildinfo "$stage"/*.changes; do
        [ -e "$f" ] && mv -f "$f" "$out/"
done
ls "$out"/boardpin_*_"$host".deb
