#!/bin/bash
# dl-typecheck.sh: libcurl is dlopen()ed (agent/dl.h), yet curl's compile-time type checks must stay on:
# a curl_easy_setopt with the wrong argument type fails the build with the agent's flags, and the same
# call with the right type builds. Ends with 'N passed, N failed'.
set -uo pipefail
cd "$(dirname "$0")/.."
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wsystem-headers -Iplatform -Iagent
       $(${PKG_CONFIG:-pkg-config} --cflags libcurl))
pass=0 fail=0
probe() {       # probe NAME WANT(ok|fail) TYPE VALUE
        printf '#include <curl/curl.h>\n#include "dl.h"\nvoid f(CURL *c);\nvoid f(CURL *c) { %s v = %s; curl_easy_setopt(c, CURLOPT_TIMEOUT, v); }\n' \
                "$3" "$4" >"$tmp/$1.c"
        if "$cc" "${flags[@]}" -c -o "$tmp/$1.o" "$tmp/$1.c" 2>"$tmp/$1.log"; then got=ok; else got=fail; fi
        if [ "$got" = "$2" ] && { [ "$2" = ok ] || grep -q "expects a long argument" "$tmp/$1.log"; }; then
                pass=$((pass + 1)); echo "PASS $1"
        else
                fail=$((fail + 1)); echo "FAIL $1: built=$got"; cat "$tmp/$1.log"
        fi
}
probe "setopt with a long builds" ok long 30L
probe "setopt with a string for a long option fails the build" fail "const char *" '"30"'
probe "setopt with a pointer for a long option fails the build" fail "void *" 0
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
