#!/bin/bash
# valgrind.sh: boardpin built without sanitizers, run under valgrind (memcheck, leaks) on fixture roots.
# Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
roots=${BP_FIXTURE_ROOTS:?run through make check}
make -s BUILDDIR=build/plain build/plain/boardpin || { echo "0 passed, 1 failed"; exit 1; }
pass=0 fail=0
for args in "--root $roots/rpi-zero-rev1.3 --machine armv6l --json detect" \
            "--root $roots/rpi-4-b-arm64-kernel-armhf-userspace detect" \
            "--root $roots/x86-64-dell-latitude-e4310 --json detect" "--json detect" "--root /nonexistent detect"; do
        if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                build/plain/boardpin $args >/dev/null 2>"$roots/../valgrind.log"; [ $? -ne 99 ]; then
                pass=$((pass + 1)); echo "PASS valgrind boardpin $args"
        else
                fail=$((fail + 1)); echo "FAIL valgrind boardpin $args"; cat "$roots/../valgrind.log"
        fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
