#!/bin/bash
# run.sh SECONDS: build every tests/fuzz/fuzz-*.c with clang's libFuzzer and AddressSanitizer and run each
# for SECONDS, seeded with the real captures and binaries. A crash keeps its input in build/fuzz/.
# Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
out=build/fuzz
mkdir -p "$out"
pass=0 fail=0
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iplatform -I$out/gen"
make -s BUILDDIR="$out" "$out/gen/revision-codes.inc"
for src in tests/fuzz/fuzz-*.c; do
        name=$(basename "$src" .c)
        corpus=$out/$name-corpus
        mkdir -p "$corpus"
        case $name in
        fuzz-cpuinfo) for f in tests/fixtures/boards/*/cpuinfo; do cp "$f" "$corpus/$(basename "$(dirname "$f")")"; done ;;
        fuzz-elf) [ -d build/roots/.elf ] && for f in build/roots/.elf/*; do head -c 65536 "$f" >"$corpus/$(basename "$f")"; done ;;
        esac
        # shellcheck disable=SC2086
        if ! clang $flags -o "$out/$name" "$src" platform/*.c; then
                fail=$((fail + 1)); echo "FAIL $name: build"; continue
        fi
        if (cd "$out" && "./$name" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 "$name-corpus" \
                >"$name.log" 2>&1); then
                pass=$((pass + 1)); echo "PASS $name: $(grep -o '#[0-9]*.*DONE.*' "$out/$name.log" | tail -n1)"
        else
                fail=$((fail + 1)); echo "FAIL $name: see $out/$name.log"; tail -n 30 "$out/$name.log"
        fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
