#!/bin/bash
# build.sh ARCH [MAKE TARGETS…]: build boardpin for ARCH (armhf, armel, arm64) with Debian's cross compiler
# against the sysroot of sysroot.sh, into build/cross/ARCH.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=$1
shift
case $arch in
armhf) triplet=arm-linux-gnueabihf ;;
armel) triplet=arm-linux-gnueabi ;;
arm64) triplet=aarch64-linux-gnu ;;
*) echo "build.sh: unknown architecture '$arch'" >&2; exit 2 ;;
esac
sr=$PWD/build/sysroot/$arch
tests/cross/sysroot.sh "$arch" "$sr"
export PKG_CONFIG_SYSROOT_DIR=$sr
export PKG_CONFIG_LIBDIR=$sr/usr/lib/$triplet/pkgconfig:$sr/usr/share/pkgconfig
make -s BUILDDIR="build/cross/$arch" CC="$triplet-gcc" AR="$triplet-ar" \
        CFLAGS="-O2 -g --sysroot=$sr" LDFLAGS="--sysroot=$sr" "${@:-all}"
