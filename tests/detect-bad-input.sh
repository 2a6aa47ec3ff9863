#!/bin/bash
# detect-bad-input.sh BOARDPIN: the command line on bad input: exit codes of the contract, one line on
# stderr that names what is wrong, and nothing but the result on stdout. Ends with 'N passed, N failed'.
set -uo pipefail
bp=$1
pass=0 fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_EXIT STDERR_PATTERN -- ARGS…  (an empty pattern: stderr must be empty)
expect() {
        local name=$1 want=$2 pattern=$3
        shift 4
        "$bp" "$@" >"$tmp/out" 2>"$tmp/err"
        local rc=$?
        local says=false
        if [ -z "$pattern" ]; then [ ! -s "$tmp/err" ] && says=true; else grep -qE -- "$pattern" "$tmp/err" && says=true; fi
        if [ $rc -eq "$want" ] && $says && [ "$(wc -l <"$tmp/err")" -le 1 ]; then
                pass=$((pass + 1))
                echo "PASS $name"
        else
                fail=$((fail + 1))
                echo "FAIL $name: exit $rc (want $want), stderr: $(head -c 300 "$tmp/err")"
        fi
}

mkdir -p "$tmp/empty" "$tmp/zero/usr/bin" "$tmp/zero/proc"
: >"$tmp/zero/usr/bin/dockerd"
printf 'model name\t: ARMv6-compatible processor rev 7 (v6l)\nCPU architecture: 7\n' >"$tmp/zero/proc/cpuinfo"

expect "no command" 2 "no command given" -- 
expect "unknown command" 2 "unknown command 'frobnicate'" -- frobnicate
expect "unknown option" 2 "unrecognized option" -- --frobnicate detect
expect "operand to detect" 2 "detect takes no operands" -- detect extra
expect "--dry-run to detect" 2 "option '--dry-run' is not used by 'detect'" -- --root "$tmp/empty" detect --dry-run
expect "--timeout to detect" 2 "option '--timeout' is not used by 'detect'" -- --timeout 5 --root "$tmp/empty" detect
expect "--insecure to status" 2 "option '--insecure' is not used by 'status'" -- status --insecure
expect "bad --platform" 2 "bad platform 'linux//v7'" -- --root "$tmp/empty" --platform linux//v7 detect
expect "missing root" 1 "root '$tmp/nope'" -- --root "$tmp/nope" detect
expect "root is a file" 1 "not a directory" -- --root "$tmp/zero/proc/cpuinfo" detect
expect "empty root: no platform" 1 "no platform: no readable userspace ELF under '$tmp/empty'" -- --root "$tmp/empty" detect
expect "0-byte runtime ELF" 1 "no platform: no readable userspace ELF" -- --root "$tmp/zero" --json detect
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["platform"] is None and "not an ELF file (0 bytes)" in d["notes"][0]' "$tmp/out"; then
        pass=$((pass + 1)); echo "PASS --json still one document with the reason"
else
        fail=$((fail + 1)); echo "FAIL --json output: $(head -c 300 "$tmp/out")"
fi
expect "--platform overrides" 0 "" -- --root "$tmp/empty" --platform armhf --json detect
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["platform"] == "linux/arm/v7" and d["compatible"][1] == "linux/arm/v6"' "$tmp/out"; then
        pass=$((pass + 1)); echo "PASS --platform armhf gives linux/arm/v7"
else
        fail=$((fail + 1)); echo "FAIL --platform output: $(head -c 300 "$tmp/out")"
fi
expect "--version" 0 "" -- --version
grep -q '^boardpin ' "$tmp/out" && { pass=$((pass + 1)); echo "PASS --version prints the version"; } ||
        { fail=$((fail + 1)); echo "FAIL --version: $(cat "$tmp/out")"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
