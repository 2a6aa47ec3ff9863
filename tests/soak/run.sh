#!/bin/bash
# run.sh BOARDPIN ROOTS [CYCLES]: `make soak`: start the registry of tests/integration/registry.sh on
# loopback, run soak.py for CYCLES upgrade cycles (default 365), stop it. Not part of `make check`
# (tests/integration/test-soak.py runs 30 cycles there).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bp=$(realpath "$1")
roots=$(realpath "$2")
work=$(mktemp -d /tmp/boardpin-soak.XXXXXX)
cleanup() {
        "$here/../integration/registry.sh" stop "$work" >/dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT
if ! "$here/../integration/registry.sh" start "$work"; then
        echo "soak: the registry harness did not come up"
        echo "0 passed, 1 failed"
        exit 1
fi
/usr/bin/python3 "$here/soak.py" "$bp" "$work" "$roots" "${3:-365}"
