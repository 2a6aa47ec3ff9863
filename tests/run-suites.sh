#!/bin/bash
# run-suites.sh BUILDDIR: every test suite of `make check`, against the sanitizer build in BUILDDIR.
# Each suite prints its own summary (cmocka's, or 'N passed, N failed'); this adds them up and ends with
# one 'N passed, N failed' line. A suite that exits non-zero counts as failed even if it counted nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1
export BP_FIXTURE_ROOTS=$PWD/$build/roots
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
total_pass=0 total_fail=0 failed_suites=()

run() {
        local name=$1 log p f
        shift
        log=$(mktemp)
        echo "=== $name"
        "$@" 2>&1 | tee "$log"
        local rc=${PIPESTATUS[0]}
        p=0 f=0
        if grep -q '^\[==========\]' "$log"; then      # cmocka
                p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
                f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n1)
        else
                read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$log" | tail -n1)
        fi
        p=${p:-0} f=${f:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
                f=1
        fi
        if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then      # ran nothing: that is a failure too
                f=1
        fi
        [ "$f" -gt 0 ] && failed_suites+=("$name")
        total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
        rm -f "$log"
}

# The boot suite's Debian roots take minutes to make on a fresh machine (mmdebstrap, ARM ones under
# qemu-user). Start them now, at the lowest CPU and I/O priority, so that they take the time the suites
# before it spend waiting on registries, podman and qemu; the boot suite then finds them made (mkroot.sh
# makes a root once, a second caller waits for the first), and reports any that could not be made.
roots_log=$(mktemp)
nice -n 19 ionice -c 3 tests/boot/run.sh "$build" --roots-only >"$roots_log" 2>&1 &
roots_pid=$!

if ! tests/fixtures/mkroots.sh "$build/roots"; then
        echo "fixture roots could not be built"
        echo "0 passed, 1 failed"
        wait "$roots_pid"
        exit 1
fi
for t in "$build"/tests/test-*; do
        [[ $t == *.d ]] && continue
        [ -f "tests/unit/$(basename "$t").c" ] || continue      # left in the build dir by a removed test
        run "unit $(basename "$t")" "$t"
done
run "fixtures: detect --json on every board" tests/fixtures/check.py "$build/boardpin" "$build/roots"
run "detect: bad input" tests/detect-bad-input.sh "$build/boardpin"
run "dl: curl type checks stay on" tests/dl-typecheck.sh
run "completion: bash" tests/completion/run.py "$build/boardpin"
# The contract checks live beside the tree, as CI lays it out; without them the suite fails, counted.
missing() { echo "$1"; echo "0 passed, 1 failed"; return 1; }
if [ -x ../shared/tools/contract-smoke ]; then
        run "contract-smoke" ../shared/tools/contract-smoke "$build/boardpin"
else
        run "contract-smoke" missing "FAIL ../shared/tools/contract-smoke is not beside this tree ($PWD/..)"
fi
run "valgrind: detect (every other command: integration/test-valgrind.py)" tests/valgrind.sh
lint() {        # cppcheck says nothing when all is well: give the suite its count
        if make -s BUILDDIR="$build" lint; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; return 1; fi
}
run "lint: cppcheck" lint
run "layers: include arrows against tests/layers.txt" /usr/bin/python3 tests/layers.py
run "integration: real registries, inspect, resolve, boot" tests/integration/run.sh "$build/boardpin" "$build/roots"
run "packaging: make deb native and cross, lintian, ARMv6, units, examples" tests/packaging/run.sh "$build"
run "cross: qemu-user" tests/cross/run.sh
wait "$roots_pid"
echo "=== boot roots, made in the background since the start (the boot suite counts any that failed)"
sed 's/^/  /' "$roots_log"
rm -f "$roots_log"
run "boot: the packages installed and booted in Debian roots (nspawn, qemu-user)" tests/boot/run.sh "$build"
run "fuzz: 10 s per parser" tests/fuzz/run.sh 10

echo
[ ${#failed_suites[@]} -gt 0 ] && printf 'failed suites: %s\n' "${failed_suites[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
