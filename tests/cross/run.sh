#!/bin/bash
# run.sh: boardpin built for armhf, armel and arm64 with Debian's cross compilers, run under qemu-user with
# the CPU models of real boards, inside a chroot of its own Debian sysroot (with /proc mounted) so that
# the process sees what it would on a board: its userspace, uname and AT_PLATFORM of the emulated CPU, and
# /proc/cpuinfo of the x86 host (as qemu-user passes it through), which detect must set aside.
#   armel  on arm1176   (ARMv6, Pi Zero / Pi 1)          -> linux/arm/v6
#   armhf  on cortex-a7 (ARMv7, Pi 2)                    -> linux/arm/v7
#   armhf  on max       (ARMv8 in 32-bit mode, Pi 3 on Raspbian) -> linux/arm/v7, cpu variant v8
#   armhf  on arm1176   dies with SIGILL, as Debian's armhf does on a real Pi Zero: why armel is the v6 build
#   arm64  on max                                         -> linux/arm64
# Then, for armhf and armel under qemu: tests/cross/lfs.c (64-bit off_t, ino_t and time_t through the code
# that stats and reads files) and the unit tests (32-bit size_t and alignment, 2038). Needs root (chroot,
# mounts).
# Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

for arch in armhf armel arm64; do
        extra=()
        [ "$arch" != arm64 ] && extra=(lfs)
        if ! tests/cross/build.sh "$arch" all unit "${extra[@]}"; then
                bad "build for $arch"
        fi
done

# run_detect ARCH QEMU CPU: detect --json in a chroot of the sysroot; prints stdout, returns the exit code.
run_detect() {
        local arch=$1 qemu=$2 cpu=$3 sr=build/sysroot/$1
        cp "/usr/bin/$qemu" "$sr/usr/bin/$qemu"
        cp "build/cross/$arch/boardpin" "$sr/usr/bin/boardpin"
        mkdir -p "$sr/proc"
        unshare --mount --fork sh -c "mount -t proc proc '$sr/proc' && exec chroot '$sr' /usr/bin/$qemu -cpu $cpu /usr/bin/boardpin --json detect" 2>/dev/null
}

field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

check() {
        local arch=$1 qemu=$2 cpu=$3 want=$4 want_cpu=$5 out rc
        out=$(run_detect "$arch" "$qemu" "$cpu")
        rc=$?
        if [ $rc -ne 0 ]; then
                bad "$arch on $cpu: exit $rc"
                return
        fi
        local got got_cpu src
        got=$(field '["platform"]' <<<"$out")
        got_cpu=$(field '["cpu"]["variant"]' <<<"$out")
        src=$(field '["cpu"]["source"]' <<<"$out")
        if [ "$got" = "$want" ] && [ "$got_cpu" = "$want_cpu" ] && [ "$src" = AT_PLATFORM ]; then
                ok "$arch on $cpu: $got (cpu $got_cpu from $src)"
        else
                bad "$arch on $cpu: got $got (cpu $got_cpu from $src), want $want (cpu $want_cpu from AT_PLATFORM)"
        fi
}

check armel qemu-arm-static arm1176 linux/arm/v6 v6
check armel qemu-arm-static cortex-a7 linux/arm/v7 v7
check armhf qemu-arm-static cortex-a7 linux/arm/v7 v7
check armhf qemu-arm-static max linux/arm/v7 v8
check arm64 qemu-aarch64-static max linux/arm64 v8
run_detect armhf qemu-arm-static arm1176 >/dev/null
rc=$?
if [ $rc -eq 132 ]; then
        ok "armhf on arm1176: SIGILL (exit $rc), as on a real Pi Zero"
else
        bad "armhf on arm1176: exit $rc, want 132 (SIGILL)"
fi

# run_lfs ARCH CPU: tests/cross/lfs.c under qemu-arm, on an overlayfs with xino over two tmpfs (inode
# numbers above 2^32) holding a sparse file past 4 GiB; each of its PASS/FAIL lines counts here.
run_lfs() {
        local arch=$1 cpu=$2 d out rc line
        d=$(mktemp -d /tmp/boardpin-lfs.XXXXXX)
        out=$(unshare --mount sh -ec '
                d=$1 sr=$2 bin=$3 cpu=$4
                mkdir "$d/l" "$d/u" "$d/m"
                mount -t tmpfs -o size=16m tmpfs "$d/l"
                mount -t tmpfs -o size=16m tmpfs "$d/u"
                mkdir "$d/u/upper" "$d/u/work"
                printf "boardpin\n" >"$d/l/small"
                cp "$sr/bin/busybox" "$d/l/elf"
                cp "$sr/bin/busybox" "$d/l/big"
                truncate -s 4294971392 "$d/l/big"
                mount -t overlay overlay -o "lowerdir=$d/l,upperdir=$d/u/upper,workdir=$d/u/work,xino=on" "$d/m"
                exec qemu-arm-static -L "$sr" -cpu "$cpu" "$bin" "$d/m"
        ' sh "$d" "build/sysroot/$arch" "build/cross/$arch/tests/lfs" "$cpu" 2>&1)
        rc=$?
        rm -rf "$d"
        while IFS= read -r line; do
                case $line in
                "PASS "*) ok "$arch on $cpu lfs: ${line#PASS }" ;;
                "FAIL "*) bad "$arch on $cpu lfs: ${line#FAIL }" ;;
                esac
        done <<<"$out"
        if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
                bad "$arch on $cpu lfs: exit $rc: $(tail -n 3 <<<"$out")"
        fi
}
run_lfs armhf cortex-a7
run_lfs armel arm1176

# Unit tests for the 32-bit builds (time_t, off_t and size_t as a Pi has them): -L makes the sysroot's
# loader and libraries win, the fixture paths fall through.
for case in "armhf cortex-a7" "armel arm1176"; do
        read -r arch cpu <<<"$case"
        for t in "build/cross/$arch/tests/test-"*; do
                [[ $t == *.d ]] && continue
                if out=$(qemu-arm-static -L "build/sysroot/$arch" -cpu "$cpu" "$t" 2>&1); then
                        ok "$arch unit $(basename "$t") on $cpu: $(tail -n1 <<<"$out")"
                else
                        bad "$arch unit $(basename "$t") on $cpu"
                        echo "$out" | grep -E 'ERROR|FAILED|Failure' | head -n 10
                fi
        done
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
