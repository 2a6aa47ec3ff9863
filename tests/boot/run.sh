#!/bin/bash
# run.sh BUILDDIR [--roots-only]: the boot suite. Builds the packages with `make deb` (native and
# ARCH=armhf, arm64, armel), makes qemu-user available through binfmt_misc for as long as it runs (and
# leaves the host as it found it), then boot.py installs and boots them. Needs root. Ends with
# 'N passed, N failed'. With --roots-only it only makes (or finds) the Debian roots the stories boot.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
here=tests/boot
. "$here/binfmt.sh"

fail_early() {
        echo "boot: $*"
        echo "0 passed, 1 failed"
        exit 1
}
for tool in systemd-nspawn mmdebstrap arch-test qemu-arm-static qemu-aarch64-static docker-registry skopeo; do
        command -v "$tool" >/dev/null || fail_early "$tool is not installed (make deps)"
done
[ "$(id -u)" -eq 0 ] || fail_early "needs root (mmdebstrap, systemd-nspawn, binfmt_misc)"

# BP_BOOT_STORIES (boot.py) naming only amd64 roots needs no emulation, and leaves binfmt_misc alone.
if [ -z "${BP_BOOT_STORIES:-}" ] || [[ "$BP_BOOT_STORIES" =~ arm ]]; then
        trap binfmt_down EXIT
        binfmt_up || fail_early "qemu-user cannot be registered in binfmt_misc"
fi

/usr/bin/python3 "$here/boot.py" "$build" "${2:-}"
