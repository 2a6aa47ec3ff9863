#!/bin/bash
# dl-typecheck.sh: libcurl is dlopen()ed (agent/dl.h), yet curl's compile-time type checks must stay on:
# a curl_easy_setopt with the wrong argument type fails the build with the agent's flags, and the same
# call with the right type builds. The sd-bus calls of agent/units.c are checked the same way against
# <systemd/sd-bus.h>'s prototypes, and go through the loaded symbol, never the linked name, and so are
# the signature checks of agent/verify.c against <openssl/evp.h>. Ends with 'N passed, N failed'.
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
# probe_bus NAME WANT(ok|fail) CALL: CALL on an sd_bus *b, through dl.h.
probe_bus() {
        printf '#include <systemd/sd-bus.h>\n#include "dl.h"\nint f(sd_bus *b);\nint f(sd_bus *b) { return %s; }\n' \
                "$3" >"$tmp/$1.c"
        if "$cc" "${flags[@]}" -c -o "$tmp/$1.o" "$tmp/$1.c" 2>"$tmp/$1.log"; then got=ok; else got=fail; fi
        if [ "$got" = "$2" ] && { [ "$2" = fail ] || { nm "$tmp/$1.o" | grep -q ' U dl_sym_sd_bus_wait$' &&
                ! nm "$tmp/$1.o" | grep -q ' U sd_bus_wait$'; }; }; then
                pass=$((pass + 1)); echo "PASS $1"
        else
                fail=$((fail + 1)); echo "FAIL $1: built=$got"; cat "$tmp/$1.log"; nm "$tmp/$1.o" 2>/dev/null
        fi
}
# probe_evp NAME WANT(ok|fail) CALL: CALL on an EVP_MD_CTX *c, through dl.h.
probe_evp() {
        printf '#include <openssl/err.h>\n#include <openssl/evp.h>\n#include <openssl/pem.h>\n#include "dl.h"\nint f(EVP_MD_CTX *c, const unsigned char *s, size_t n);\nint f(EVP_MD_CTX *c, const unsigned char *s, size_t n) { return %s; }\n' \
                "$3" >"$tmp/$1.c"
        if "$cc" "${flags[@]}" -c -o "$tmp/$1.o" "$tmp/$1.c" 2>"$tmp/$1.log"; then got=ok; else got=fail; fi
        if [ "$got" = "$2" ] && { [ "$2" = fail ] || { nm "$tmp/$1.o" | grep -q ' U dl_sym_EVP_DigestVerify$' &&
                ! nm "$tmp/$1.o" | grep -q ' U EVP_DigestVerify$'; }; }; then
                pass=$((pass + 1)); echo "PASS $1"
        else
                fail=$((fail + 1)); echo "FAIL $1: built=$got"; cat "$tmp/$1.log"; nm "$tmp/$1.o" 2>/dev/null
        fi
}
probe "setopt with a long builds" ok long 30L
probe "setopt with a string for a long option fails the build" fail "const char *" '"30"'
probe "setopt with a pointer for a long option fails the build" fail "void *" 0
probe_bus "sd_bus_wait with a uint64_t builds and calls the loaded symbol" ok "sd_bus_wait(b, UINT64_C(1000))"
probe_bus "sd_bus_wait with a string for its timeout fails the build" fail 'sd_bus_wait(b, "1000")'
probe_bus "sd_bus_wait without its timeout fails the build" fail "sd_bus_wait(b)"
probe_evp "EVP_DigestVerify with its arguments builds and calls the loaded symbol" ok "EVP_DigestVerify(c, s, n, s, n)"
probe_evp "EVP_DigestVerify with a pointer for a length fails the build" fail "EVP_DigestVerify(c, s, s, s, n)"
probe_evp "EVP_DigestVerify without its message fails the build" fail "EVP_DigestVerify(c, s, n)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
