#!/bin/bash
# build.sh ARCH [MAKE TARGETS…|lfs]: build boardpin for ARCH (armhf, armel, arm64) with Debian's cross
# compiler against the sysroot of sysroot.sh, into build/cross/ARCH.
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
# The pseudo-target lfs builds tests/cross/lfs.c with the project's own flags (BP_CFLAGS, as the Makefile
# gives them) against the agent and platform libraries: 64-bit off_t, ino_t and time_t on 32-bit ARM.
targets=() lfs=false
for t in "${@:-all}"; do
        if [ "$t" = lfs ]; then lfs=true; else targets+=("$t"); fi
done
b=build/cross/$arch
$lfs && targets+=("$b/libagent.a" "$b/libplatform.a")
cross_make() {
        make -s BUILDDIR="$b" CC="$triplet-gcc" AR="$triplet-ar" CFLAGS="-O2 -g --sysroot=$sr" \
                LDFLAGS="--sysroot=$sr" "$@"
}
cross_make "${targets[@]}"
if $lfs; then
        bp_cflags=$(cross_make --no-print-directory --eval 'print-bp-cflags: ; @echo $(BP_CFLAGS)' print-bp-cflags)
        mkdir -p "$b/tests"
        # shellcheck disable=SC2086 # word splitting of the flag lists is meant
        "$triplet-gcc" $bp_cflags -Iagent -O2 -g --sysroot="$sr" -o "$b/tests/lfs" tests/cross/lfs.c \
                "$b/libagent.a" "$b/libplatform.a" $(pkg-config --libs inih json-c) -ldl
fi
