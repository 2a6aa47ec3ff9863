#!/usr/bin/env bash
# mkcerts.sh OUTDIR
#
# Generates the TLS material used by the integration harness:
#   ca.pem / ca.key              test CA
#   ca.crt                       copy of ca.pem (skopeo/podman --cert-dir want *.crt)
#   server.pem / server.key      "localhost", 127.0.0.1 and ::1, signed by the CA
#   wrongname.pem / wrongname.key  SAN "wrong.example" only, signed by the CA
#   token.pem / token.key        self-signed RSA pair that signs registry tokens
#
# Idempotent: if every file exists, the chain verifies and no certificate
# expires within a day, nothing is regenerated.
set -euo pipefail

die() { echo "mkcerts: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: mkcerts.sh OUTDIR"
out=$1
command -v openssl >/dev/null || die "openssl not installed (see tests/integration/deps.txt)"
mkdir -p "$out"
out=$(cd "$out" && pwd)

files=(ca.pem ca.key ca.crt server.pem server.key wrongname.pem wrongname.key token.pem token.key)

is_complete() {
    local f
    for f in "${files[@]}"; do [[ -s $out/$f ]] || return 1; done
    for f in ca.pem server.pem wrongname.pem token.pem; do
        openssl x509 -in "$out/$f" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    done
    openssl verify -CAfile "$out/ca.pem" "$out/server.pem" "$out/wrongname.pem" >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$out/token.pem" "$out/token.pem" >/dev/null 2>&1 || return 1
    cmp -s "$out/ca.pem" "$out/ca.crt" || return 1
}

if is_complete; then
    exit 0
fi

tmp=$(mktemp -d "$out/.mkcerts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/openssl.log

run() { "$@" >>"$log" 2>&1 || { tail -n 5 "$log" >&2; die "openssl failed: $*"; }; }

# --- CA ---------------------------------------------------------------------
run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
run openssl req -new -x509 -key "$tmp/ca.key" -sha256 -days 3650 \
    -subj "/O=boardpin test/CN=boardpin test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$tmp/ca.pem"

# --- leaf certificates signed by the CA ----------------------------------------
leaf() { # name CN SAN
    local name=$1 cn=$2 san=$3
    cat >"$tmp/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
EXT
    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$name.key"
    run openssl req -new -key "$tmp/$name.key" -subj "/O=boardpin test/CN=$cn" -out "$tmp/$name.csr"
    run openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 825 \
        -extfile "$tmp/$name.ext" -out "$tmp/$name.pem"
}
leaf server localhost "DNS:localhost, IP:127.0.0.1, IP:::1"
leaf wrongname wrong.example "DNS:wrong.example"

# --- token signing pair (RS256) -------------------------------------------------
run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/token.key"
run openssl req -new -x509 -key "$tmp/token.key" -sha256 -days 3650 \
    -subj "/O=boardpin test/CN=boardpin test token signer" \
    -out "$tmp/token.pem"

cp "$tmp/ca.pem" "$tmp/ca.crt"
chmod 600 "$tmp"/*.key
for f in "${files[@]}"; do mv -f "$tmp/$f" "$out/$f"; done
is_complete || die "generated certificates in $out do not verify"
