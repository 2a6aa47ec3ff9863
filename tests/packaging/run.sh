#!/bin/bash
# run.sh BUILDDIR: the Debian packages and the units. Builds `make deb` natively and for armhf, arm64
# and armel into BUILDDIR/packaging/debs, and checks: lintian has no error or warning; the armhf
# binary is ARMv6 hard-float by its Tag_CPU_arch (read by boardpin's own ELF reader), armel's soft
# float, arm64's 64-bit; the conffile, the state directory, the enabled unit and the bash completion
# are in the package;
# Depends name every library boardpin dlopen()s (its .note.dlopen), with the trixie t64 names; `systemd-analyze verify`
# passes on boardpin.service, boardpin-upgrade.service and .timer and the example units; postinst
# enables and starts the timer and starts no service; `systemd-analyze security` puts boardpin.service
# and boardpin-upgrade.service at 3.0 or less; `docker-compose config` reads the example compose
# file with an images.env.
# Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=$1
out=$PWD/$build/packaging
pass=0 fail=0

ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

rm -rf "$out"
mkdir -p "$out/debs"
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iplatform -o "$out/elfarch" \
        tests/packaging/elfarch.c platform/elf.c platform/err.c; then
        bad "elfarch builds"
        finish
fi

native=$(dpkg --print-architecture)
# Tag_CPU_arch: 4 v5TE (Debian's armel), 6 v6 (the Pi Zero's and Pi 1's ARM1176), 10 v7.
declare -A want=(
        [$native]="bits=64 machine=62 *"
        [armhf]="bits=32 machine=40 float=hard cpu_arch=6"
        [arm64]="bits=64 machine=183 *"
        [armel]="bits=32 machine=40 float=soft cpu_arch=[45]"
)
for arch in native armhf arm64 armel; do
        host=$arch
        [ "$arch" = native ] && host=$native
        start=$SECONDS
        if ! make -s deb ARCH="$arch" DEBDIR="$out/debs" > "$out/deb-$host.log" 2>&1; then
                bad "make deb ARCH=$arch (last lines of $out/deb-$host.log follow)"
                tail -n 15 "$out/deb-$host.log"
                continue
        fi
        deb=$out/debs/boardpin_$(dpkg-parsechangelog -l packaging/debian/changelog -SVersion)_$host.deb
        ok "make deb ARCH=$arch: ${deb##*/}, $((SECONDS - start)) s," \
                "Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"

        # lintian prints one line per tag, "E:", "W:", "I:" …; with root it also says it is root.
        tags=$(lintian "${deb%.deb}.changes" 2>&1 | grep -E '^(E|W):')
        if [ -z "$tags" ]; then ok "$host: lintian has no errors or warnings"; else bad "$host: lintian: $tags"; fi

        root=$out/root-$host
        mkdir -p "$root"
        dpkg-deb -x "$deb" "$root"
        got=$("$out/elfarch" "$root/usr/bin/boardpin")
        # shellcheck disable=SC2053
        if [[ $got == ${want[$host]} ]]; then ok "$host: usr/bin/boardpin is $got"
        else bad "$host: usr/bin/boardpin is '$got', want '${want[$host]}'"; fi

        ctl=$out/control-$host
        dpkg-deb -e "$deb" "$ctl"
        if grep -qx /etc/boardpin/boardpin.ini "$ctl/conffiles"; then ok "$host: boardpin.ini is a conffile"
        else bad "$host: conffiles: $(cat "$ctl/conffiles" 2>/dev/null)"; fi
        if [ -d "$root/var/lib/boardpin" ]; then ok "$host: the package owns /var/lib/boardpin"
        else bad "$host: no var/lib/boardpin in the package"; fi
        # Purge goes by the record of what boardpin wrote (boardpin(8)), never by rm -rf.
        if grep -q "deb-systemd-helper enable 'boardpin.service'" "$ctl/postinst" &&
                grep -q '^record=/var/lib/boardpin/written-files$' "$ctl/postrm" &&
                ! grep -v '^[[:space:]]*#' "$ctl/postrm" | grep -q 'rm -r'; then
                ok "$host: postinst enables boardpin.service, postrm purges what the record names"
        else
                bad "$host: postinst does not enable boardpin.service, or postrm does not go by the record"
        fi
        # A stop (or restart) of boardpin.service would stop every unit with Requires=boardpin.service.
        if ! cat "$ctl/preinst" "$ctl/prerm" "$ctl/postinst" 2>/dev/null |
                grep -q "deb-systemd-invoke .*'boardpin.service'"; then
                ok "$host: no maintainer script stops or restarts boardpin.service"
        else
                bad "$host: a maintainer script stops or restarts boardpin.service"
        fi
        # The timer is enabled and started by the install; the upgrade service is neither (only its
        # timer starts it), and nothing starts boardpin.service.
        if grep -q "deb-systemd-helper enable 'boardpin-upgrade.timer'" "$ctl/postinst" &&
                grep -q "deb-systemd-invoke \$_dh_action 'boardpin-upgrade.timer'" "$ctl/postinst" &&
                ! grep -q "boardpin-upgrade.service" "$ctl/postinst" &&
                ! grep -q "deb-systemd-invoke .*'boardpin.service'" "$ctl/postinst"; then
                ok "$host: postinst enables and starts boardpin-upgrade.timer, starts no service"
        else
                bad "$host: postinst: $(grep -E 'deb-systemd-(helper enable|invoke)' "$ctl/postinst" | tr -s '\t\n' '  ')"
        fi
        files=$(dpkg-deb -c "$deb")
        if grep -q ' \./lib/systemd/system/boardpin-upgrade\.service$' <<< "$files" &&
                grep -q ' \./lib/systemd/system/boardpin-upgrade\.timer$' <<< "$files"; then
                ok "$host: the package has boardpin-upgrade.service and .timer"
        else
                bad "$host: the package lacks boardpin-upgrade.service or .timer"
        fi
        if grep -q '^-rw-r--r-- .* \./usr/share/bash-completion/completions/boardpin$' <<< "$files"; then
                ok "$host: the package has the bash completion, 0644"
        else
                bad "$host: no usr/share/bash-completion/completions/boardpin, mode 0644, in the package"
        fi
        deps=$(dpkg-deb -f "$deb" Depends)
        missing=()
        for d in 'libcurl4t64 | libcurl4 (>= 7.85.0)' 'libssl3t64 | libssl3' libc6 libinih1 libjson-c5; do
                [[ ", $deps, " == *", $d"[\ ,]* ]] || missing+=("$d")
        done
        if [ ${#missing[@]} -eq 0 ]; then ok "$host: Depends: $deps"
        else bad "$host: Depends '$deps' lacks: ${missing[*]}"; fi

        # Each library named in the binary's .note.dlopen has its bookworm package among the Depends
        # (this machine's package of that soname; the names are the same on every architecture).
        if ! sonames=$(tests/packaging/dlnotes.py "$root/usr/bin/boardpin"); then
                bad "$host: usr/bin/boardpin has no .note.dlopen"
                continue
        fi
        for so in $sonames; do
                pkg=$(dpkg -S "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$so" 2>/dev/null | cut -d: -f1)
                if [ -n "$pkg" ] && [[ " $deps " =~ [\ \|]$pkg[\ ,] ]]; then
                        ok "$host: .note.dlopen $so, and Depends has its package $pkg"
                else
                        bad "$host: .note.dlopen names $so, but Depends '$deps' has no '${pkg:-its package}'"
                fi
        done
done

# systemd-analyze verify needs the units a unit names (sysinit.target…) and the programs it runs
# under the root it checks: the host's units, and for the examples placeholders of podman, docker and
# docker.service, which only have to exist (nothing runs).
vroot=$out/root-$native
if [ -d "$vroot/usr/bin" ]; then
        cp -an /lib/systemd/system/. "$vroot/lib/systemd/system/"
        mkdir -p "$vroot/etc/systemd/system"
        for p in podman docker; do
                [ -e "$vroot/usr/bin/$p" ] || printf '#!/bin/sh\nexit 0\n' > "$vroot/usr/bin/$p"
                chmod 0755 "$vroot/usr/bin/$p"
        done
        [ -e "$vroot/lib/systemd/system/docker.service" ] ||
                printf '[Service]\nExecStart=/usr/bin/docker\n' > "$vroot/lib/systemd/system/docker.service"
        for u in boardpin.service boardpin-upgrade.service boardpin-upgrade.timer; do
                if msg=$(systemd-analyze verify --man=no --root="$vroot" "$u" 2>&1) && [ -z "$msg" ]; then
                        ok "systemd-analyze verify $u"
                else
                        bad "systemd-analyze verify $u: $msg"
                fi
        done
        for e in vaultwarden-podman.service vaultwarden-docker.service; do
                cp "etc/examples/$e" "$vroot/etc/systemd/system/$e"
                if msg=$(systemd-analyze verify --man=no --root="$vroot" "$e" 2>&1) && [ -z "$msg" ]; then
                        ok "systemd-analyze verify etc/examples/$e"
                else
                        bad "systemd-analyze verify etc/examples/$e: $msg"
                fi
        done
        # boardpin-upgrade.service's figure is what its unit file justifies setting by setting.
        for u in boardpin.service:3.0 boardpin-upgrade.service:3.0; do
                max=${u#*:} u=${u%:*}
                line=$(systemd-analyze security --offline=yes --root="$vroot" "$u" 2>&1 | grep 'Overall exposure')
                level=$(sed -n "s/.*$u: \([0-9.]*\).*/\1/p" <<< "$line")
                if [ -n "$level" ] && awk -v l="$level" -v m="$max" 'BEGIN { exit !(l <= m) }'; then
                        ok "systemd-analyze security $u: exposure $level ($max or less)"
                else
                        bad "systemd-analyze security $u: '$line', want $max or less"
                fi
        done
else
        bad "no native package to check the units in"
fi

# images.env as boardpin writes it (envfile.c): one ENV_VAR=reference line per service.
printf '# generated by boardpin from /var/lib/boardpin/lock.json - do not edit\n' > "$out/images.env"
printf 'VAULTWARDEN_IMAGE=docker.io/vaultwarden/server@sha256:%s\n' \
        "$(printf vaultwarden | sha256sum | cut -c1-64)" >> "$out/images.env"
want_image=$(sed -n 's/^VAULTWARDEN_IMAGE=//p' "$out/images.env")
got=$(docker-compose --env-file "$out/images.env" -f etc/examples/docker-compose.yml config 2>&1)
if grep -qx "    image: $want_image" <<< "$got"; then ok "docker-compose config: the example runs $want_image"
else bad "docker-compose config: $got"; fi
: > "$out/empty.env"
if got=$(docker-compose --env-file "$out/empty.env" -f etc/examples/docker-compose.yml config 2>&1); then
        bad "docker-compose config without a pin succeeded: $got"
elif grep -q 'no pin for vaultwarden' <<< "$got"; then
        ok "docker-compose config without a pin stops, saying why"
else
        bad "docker-compose config without a pin: $got"
fi
finish
