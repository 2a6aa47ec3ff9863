#!/bin/bash
# run.sh BOARDPIN ROOTS: start the registries and fault servers of registry.sh on loopback, seed them, run
# the integration tests with the real binary (inspect; resolve/boot/status/report/upgrade on the fixture
# roots in ROOTS), stop everything. What will not start fails the run. Ends with 'N passed, N failed'.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bp=$(realpath "$1")
roots=$(realpath "$2")
work=$(mktemp -d /tmp/boardpin-it.XXXXXX)
cleanup() {
        "$here/registry.sh" stop "$work" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT
if ! "$here/registry.sh" start "$work" || ! "$here/seed.sh" "$work"; then
        echo "integration: the registry harness did not come up"
        echo "0 passed, 1 failed"
        exit 1
fi
pass=0 fail=0
# Every test-*.py gets BOARDPIN WORKDIR ROOTS; each ends with 'N passed, N failed'.
for path in "$here"/test-*.py; do
        t=$(basename "$path")
        echo "--- $t"
        out=$(/usr/bin/python3 "$path" "$bp" "$work" "$roots" 2>&1)
        rc=$?
        echo "$out"
        read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' <<<"$out" | tail -n1)
        pass=$((pass + ${p:-0})) fail=$((fail + ${f:-0}))
        [ $rc -ne 0 ] && [ "${f:-0}" -eq 0 ] && fail=$((fail + 1))
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
