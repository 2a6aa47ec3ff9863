#!/bin/bash
# valgrind.sh [BOARDPIN]: boardpin built without sanitizers (or BOARDPIN), run under valgrind (memcheck,
# leaks) on fixture roots: detect, which needs no registry. Every other command runs under valgrind in
# tests/integration/test-valgrind.py, against the registries the integration suite starts. A case passes
# only when valgrind ran, found no error and boardpin exited with the code that case expects: a crash (139),
# a missing valgrind (127) or any other code is a failure. Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
roots=${BP_FIXTURE_ROOTS:?run through make check}
if [ $# -gt 0 ]; then
        bin=$1
else
        bin=build/plain/boardpin
        make -s BUILDDIR=build/plain "$bin" || { echo "FAIL build $bin"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! command -v valgrind >/dev/null; then
        echo "FAIL valgrind is not installed (tests/deps.txt lists it; run make deps as root)"
        echo "0 passed, 1 failed"
        exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0
# want ARGS: the exit code boardpin must return, then its arguments (99 is valgrind's, for an error found).
while read -r want args; do
        [ -n "$want" ] || continue
        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
                "$bin" $args >/dev/null 2>"$log"
        rc=$?
        if [ $rc -eq "$want" ]; then
                pass=$((pass + 1)); echo "PASS valgrind boardpin $args"
        else
                fail=$((fail + 1))
                case $rc in
                99) why="valgrind found errors" ;;
                127) why="valgrind or boardpin could not be run" ;;
                *) if [ $rc -gt 128 ]; then why="killed by signal $((rc - 128))"; else why="exit $rc"; fi ;;
                esac
                echo "FAIL valgrind boardpin $args: $why, want exit $want"
                cat "$log"
        fi
done <<EOT
0 --root $roots/rpi-zero-rev1.3 --machine armv6l --json detect
0 --root $roots/rpi-4-b-arm64-kernel-armhf-userspace detect
0 --root $roots/x86-64-dell-latitude-e4310 --json detect
0 --json detect
1 --root /nonexistent detect
EOT
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
