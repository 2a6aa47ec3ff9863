#!/bin/bash
# run.sh SECONDS: build every tests/fuzz/fuzz-*.c with clang's libFuzzer and AddressSanitizer and run each
# for SECONDS, seeded with the real captures and binaries. A crash keeps its input in build/fuzz/.
# The ELF seeds are the fixture roots' userspaces ($BP_FIXTURE_ROOTS, else build/roots, built with
# tests/fixtures/mkroots.sh when missing): a target that cannot get its seeds fails, never runs without.
# Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
secs=${1:-30}
out=build/fuzz
mkdir -p "$out"
pass=0 fail=0 built=()
seed() {        # seed DIR TEXT...: one corpus file per text
        local dir=$1 i=0
        shift
        for t in "$@"; do
                printf '%s' "$t" >"$dir/seed-$i"
                i=$((i + 1))
        done
}
common="-std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64 -g -O1 -Iplatform -Iagent -I$out/gen"
flags="$common -fsanitize=fuzzer,address,undefined"
make -s BUILDDIR="$out" "$out/gen/revision-codes.inc"
libs=$(${PKG_CONFIG:-pkg-config} --cflags --libs inih json-c libcurl libsystemd libcrypto)
# Every target links the same agent and platform modules (all but main()): compile them once, side by
# side, instrumented for coverage but without libFuzzer's main, then link each target against them.
objs=$out/obj
rm -rf "$objs" && mkdir -p "$objs"
modules=()
for f in agent/*.c platform/*.c; do
        [ "$f" = agent/main.c ] || modules+=("$f")
done
BP_FUZZ_CC="clang $common -fsanitize=fuzzer-no-link,address,undefined $(${PKG_CONFIG:-pkg-config} --cflags inih json-c libcurl libsystemd libcrypto)"
export BP_FUZZ_CC
# shellcheck disable=SC2016 # $BP_FUZZ_CC and $1 are the inner shell's
if ! printf '%s\n' "${modules[@]}" | xargs -P "$(nproc)" -n 1 sh -c \
        'o=$(printf %s "$1" | tr / _); exec $BP_FUZZ_CC -c -o "$0/${o%.c}.o" "$1"' "$objs"; then
        echo "FAIL the agent's modules do not build for fuzzing"
        echo "0 passed, 1 failed"
        exit 1
fi
for src in tests/fuzz/fuzz-*.c; do
        name=$(basename "$src" .c)
        corpus=$out/$name-corpus
        mkdir -p "$corpus"
        case $name in
        fuzz-cpuinfo) for f in tests/fixtures/boards/*/cpuinfo; do cp "$f" "$corpus/$(basename "$(dirname "$f")")"; done ;;
        fuzz-elf) roots=${BP_FIXTURE_ROOTS:-build/roots}
                if [ ! -d "$roots/.elf" ] && ! tests/fixtures/mkroots.sh "$roots" >"$out/mkroots.log" 2>&1; then
                        fail=$((fail + 1)); echo "FAIL $name: no ELF seeds: mkroots.sh $roots failed"
                        tail -n 20 "$out/mkroots.log"; continue
                fi
                n=0
                for f in "$roots"/.elf/*; do
                        [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] || continue
                        head -c 65536 "$f" >"$corpus/$(basename "$f")"; n=$((n + 1))
                done
                if [ $n -eq 0 ]; then
                        fail=$((fail + 1)); echo "FAIL $name: no ELF seeds in $roots/.elf"; continue
                fi ;;
        fuzz-manifest) cp tests/fixtures/manifests/*.json "$corpus/" ;;
        fuzz-ref)
                seed "$corpus" nginx vaultwarden/server:1.30 "127.0.0.1:5000/x/y:tag" "[fc00::1]:5000/a/b" \
                        "ghcr.io/o/r:t@sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c" ;;
        fuzz-challenge)
                seed "$corpus" \
                        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"' \
                        'Basic realm="Registry \"Realm\"", Negotiate a8Z==' ;;
        fuzz-authfile)
                seed "$corpus" \
                        '{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz","identitytoken":"t"},"127.0.0.1:5000":{"username":"u","password":"p"}},"credsStore":"x"}' ;;
        fuzz-version) seed "$corpus" $'^1.30\n1.30.1\nv1.31.0\n1.31.0-alpine\n2.0.0-rc.1' $'~1.29.4-alpine\n1.29.10-alpine\nlatest' ;;
        fuzz-config) cp etc/boardpin.ini "$corpus/example.ini" ;;
        fuzz-tags) seed "$corpus" $'</v2/fault/paged/tags/list?n=10&last=1.1.4>; rel="next"\n{"name":"fault/paged","tags":["1.0","latest"]}' \
                $'\n{"name":"x","tags":null}' ;;
        fuzz-simplesigning) for f in tests/fixtures/signatures/{classic-*,rotated,skopeo}/sha256-*; do
                        cp "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"; done ;;
        # Bundles as fetched, and (behind one byte that is not '{') the statements inside them.
        fuzz-bundle) for f in tests/fixtures/signatures/bundle*/sha256-* tests/fixtures/signatures/wild/*.json; do
                        cp "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"
                        python3 -c 'import base64, json, sys; sys.stdout.buffer.write(b"S" + base64.b64decode(
                                json.load(open(sys.argv[1]))["dsseEnvelope"]["payload"]))' "$f" \
                                >"$corpus/statement-$(basename "$f")"
                done ;;
        fuzz-referrers) for f in tests/fixtures/signatures/*/{referrers,bundle-manifest,sig-manifest*}.json; do
                        cp "$f" "$corpus/$(basename "$(dirname "$f")")-$(basename "$f")"; done ;;
        fuzz-mirror) seed "$corpus" https://cache.lan:5000 http://10.0.0.2:5000/ "http://[fc00::1]:5000" \
                https://bp:pw@cache.lan "https://cache.lan:99999" ;;
        fuzz-token) seed "$corpus" '{"token":"abc","access_token":"abc","expires_in":300,"issued_at":"2020-01-01T00:00:00Z"}' \
                '{"access_token":"x","expires_in":-1}' ;;
        esac
        # shellcheck disable=SC2086
        if ! clang $flags -o "$out/$name" "$src" "$objs"/*.o $libs; then
                fail=$((fail + 1)); echo "FAIL $name: build"; continue
        fi
        # The lock's seed is one lock_render() wrote, from the real manifest lists (see fuzz-lock.c).
        if [ "$name" = fuzz-lock ] && ! BP_FUZZ_SEED="$corpus/rendered.json" "$out/$name" tests/fixtures/manifests/*.json; then
                fail=$((fail + 1)); echo "FAIL $name: could not render its seed lock"; continue
        fi
        built+=("$name")
done

# Each target runs on one core for $secs: as many at once as there are cores, reported in order.
fuzz_one() {
        rm -f "$out/$1.ok"
        (cd "$out" && "./$1" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 "$1-corpus" \
                >"$1.log" 2>&1) && touch "$out/$1.ok"
}
for name in "${built[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do
                wait -n
        done
        fuzz_one "$name" &
done
wait
for name in "${built[@]}"; do
        if [ -e "$out/$name.ok" ]; then
                pass=$((pass + 1)); echo "PASS $name: $(grep -o '#[0-9]*.*DONE.*' "$out/$name.log" | tail -n1)"
        else
                fail=$((fail + 1)); echo "FAIL $name: see $out/$name.log"; tail -n 30 "$out/$name.log"
        fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
