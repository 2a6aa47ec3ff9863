#!/bin/bash
# binfmt.sh up | down: qemu-user for ARM roots through binfmt_misc, and the host left as it was found.
#   up    mounts binfmt_misc if it is not mounted and registers qemu-arm / qemu-aarch64 (Debian's
#         qemu-user-static, F flag: the interpreter is opened now, so it works in any root) for each one
#         that is missing. What it did is written to $state, and the caller holds a shared lock on
#         $lock for as long as it runs ARM code (fd 8, kept open by the caller: source this file).
#   down  when no other run still holds the lock, undoes exactly what $state says: unregisters what was
#         registered, unmounts what was mounted. Entries that were there before are never touched.
# Several runs of the boot suite may overlap (two checkouts on one machine): the lock is why the first
# one to finish does not pull qemu away from under the others.
bf=/proc/sys/fs/binfmt_misc
state=/run/boardpin-boot-binfmt.state
lock=/run/lock/boardpin-boot-binfmt.lock

# The magic and mask of Debian's /usr/lib/binfmt.d/qemu-{arm,aarch64}.conf, with the static interpreter.
_bf_line() {
        case $1 in
        qemu-arm)
                printf '%s' ':qemu-arm:M::\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-arm-static:F'
                ;;
        qemu-aarch64)
                printf '%s' ':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F'
                ;;
        esac
}

# binfmt_up: returns non-zero with one line on stderr when qemu-user cannot be made available.
binfmt_up() {
        exec 8>>"$lock" || { echo "binfmt: cannot open $lock" >&2; return 1; }
        flock -x 8
        touch "$state"
        if ! mountpoint -q "$bf"; then
                if ! mount -t binfmt_misc binfmt_misc "$bf"; then
                        echo "binfmt: cannot mount binfmt_misc on $bf" >&2
                        flock -u 8
                        return 1
                fi
                echo mounted >>"$state"
        fi
        local name
        for name in qemu-arm qemu-aarch64; do
                [ -e "$bf/$name" ] && continue
                if ! [ -x "/usr/bin/$name-static" ] || ! _bf_line "$name" >"$bf/register"; then
                        echo "binfmt: cannot register $name with /usr/bin/$name-static" >&2
                        flock -u 8
                        return 1
                fi
                echo "registered $name" >>"$state"
        done
        if ! grep -qx enabled "$bf/status"; then
                echo "binfmt: binfmt_misc is disabled on this host ($bf/status)" >&2
                flock -u 8
                return 1
        fi
        # Shared from here on: other runs may come up beside this one, no one tears down under it.
        flock -s 8
}

binfmt_down() {
        { true >&8; } 2>/dev/null || return 0
        if flock -x -n 8; then
                local what name
                while read -r what name; do
                        case $what in
                        registered) [ -e "$bf/$name" ] && echo -1 >"$bf/$name" ;;
                        esac
                done <"$state"
                grep -qx mounted "$state" && umount "$bf"
                rm -f "$state"
        fi
        exec 8>&-
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        case ${1:-} in
        up) binfmt_up && echo "binfmt: qemu-arm and qemu-aarch64 ready" ;;
        down) exec 8>>"$lock" && binfmt_down ;;
        *) echo "usage: binfmt.sh up|down" >&2; exit 2 ;;
        esac
fi
