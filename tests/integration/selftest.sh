#!/usr/bin/env bash
# selftest.sh - proves the integration harness works on this machine.
#
# Starts everything (registry.sh start + seed.sh) in a fresh mktemp
# directory, checks the real components with curl and podman, stops
# everything and prints "N passed, N failed" as its last line.  Exits non-zero
# on any failure.  KEEP_WORKDIR=1 keeps the directory for inspection.
# Test functions are called through check(), which shellcheck cannot follow.
# shellcheck disable=SC2317
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/boardpin-it.XXXXXX")
passed=0
failed=0
finished=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
notok() { failed=$((failed + 1)); echo "FAIL - $1: $2"; }
check() { # name command... : ok if the command succeeds
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "$(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi
}

leftover_processes() { # prints pids whose command line names the workdir
    local p
    for p in /proc/[0-9]*; do
        [[ ${p#/proc/} == "$$" ]] && continue
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$W"; then
            echo "${p#/proc/}"
        fi
    done
}

cleanup() {
    local rc=$?
    "$here/registry.sh" stop "$W" >/dev/null 2>&1 || true
    if [[ $finished == 0 ]]; then
        echo "selftest: aborted (exit $rc)"
        echo "$passed passed, $((failed + 1)) failed"
    fi
    if [[ ${KEEP_WORKDIR:-0} == 1 ]]; then
        echo "selftest: workdir kept at $W" >&2
    else
        rm -rf "$W"
    fi
    if [[ $finished == 0 ]]; then exit 1; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary_and_exit() {
    finished=1
    echo "$passed passed, $failed failed"
    [[ $failed == 0 ]]
    exit $?
}

started=$(date +%s)

# --- bring-up --------------------------------------------------------------
if "$here/registry.sh" start "$W"; then ok "registry.sh start"; else
    notok "registry.sh start" "see the FAIL line above"
    summary_and_exit
fi
if "$here/seed.sh" "$W"; then ok "seed.sh (first run)"; else
    notok "seed.sh" "see the FAIL line above"
    "$here/registry.sh" stop "$W" || true
    summary_and_exit
fi
cp "$W/expected.json" "$W/expected.first.json"
if "$here/seed.sh" "$W" >/dev/null && cmp -s "$W/expected.json" "$W/expected.first.json"; then
    ok "seed.sh is idempotent (second run, identical expected.json)"
else
    notok "seed.sh idempotent" "second run failed or expected.json changed"
fi

# shellcheck source=/dev/null
. "$W/env"
E=$W/expected.json
ACCEPT="application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
curl_=(curl -sS --max-time 10)

exp() { # registry image:tag jq-path-after-record
    jq -er --arg r "$1" --arg i "$2" ".images[\$r][\$i]$3" "$E"
}

# --- Basic auth registry --------------------------------------------------------
t_basic_challenge() {
    local h
    h=$("${curl_[@]}" --cacert "$CA_FILE" -o /dev/null -D - "https://$REG_BASIC/v2/test/multi/manifests/1.0")
    grep -q '^HTTP/[0-9.]* 401' <<<"$h" || { echo "status: $(head -n1 <<<"$h")"; return 1; }
    grep -qi '^www-authenticate: Basic realm="boardpin-test"' <<<"$h" || { echo "challenge: $(grep -i www-auth <<<"$h")"; return 1; }
}
check "basic registry: anonymous GET gets 401 with a Basic challenge" t_basic_challenge

t_basic_get() {
    local d want
    want=$(exp basic test/multi:1.0 .digest)
    d=$("${curl_[@]}" -f --cacert "$CA_FILE" -u "$REG_USER:$REG_PASSWORD" -H "Accept: $ACCEPT" \
        "https://$REG_BASIC/v2/test/multi/manifests/1.0" | sha256sum | cut -c1-64)
    [[ sha256:$d == "$want" ]] || { echo "got sha256:$d want $want"; return 1; }
}
check "basic registry: GET with credentials serves the expected index" t_basic_get

# --- token auth registry ------------------------------------------------------
t_token_challenge() {
    local h want
    h=$("${curl_[@]}" --cacert "$CA_FILE" -o /dev/null -D - "https://$REG_TOKEN/v2/test/multi/manifests/1.0")
    grep -q '^HTTP/[0-9.]* 401' <<<"$h" || { echo "status: $(head -n1 <<<"$h")"; return 1; }
    want="Bearer realm=\"$TOKEN_REALM\",service=\"boardpin-test\",scope=\"repository:test/multi:pull\""
    grep -i '^www-authenticate:' <<<"$h" | tr -d '\r' | grep -qF -- "$want" \
        || { echo "challenge: $(grep -i www-auth <<<"$h")"; return 1; }
}
check "token registry: 401 with Bearer realm, service and scope" t_token_challenge

token_for() { # [curl auth args] -> token for pull on test/multi
    "${curl_[@]}" -f --cacert "$CA_FILE" "$@" \
        "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:test/multi:pull" | jq -er .token
}

t_token_get() { # auth args...
    local tok d hd want body
    tok=$(token_for "$@") || { echo "no token"; return 1; }
    want=$(exp token test/multi:1.0 .digest)
    body=$W/t_token_get.body
    hd=$("${curl_[@]}" -f --cacert "$CA_FILE" -H "Authorization: Bearer $tok" -H "Accept: $ACCEPT" \
        -o "$body" -D - "https://$REG_TOKEN/v2/test/multi/manifests/1.0" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    d=sha256:$(sha256sum <"$body" | cut -c1-64)
    [[ $d == "$want" && $hd == "$want" ]] || { echo "body $d header $hd want $want"; return 1; }
}
check "token registry: anonymous token fetches the index with the right digest" t_token_get
check "token registry: token for bp fetches the index with the right digest" \
    t_token_get -u "$REG_USER:$REG_PASSWORD"

t_token_badpass() {
    local code
    code=$("${curl_[@]}" --cacert "$CA_FILE" -u "$REG_USER:wrong" -o /dev/null -w '%{http_code}' \
        "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:test/multi:pull")
    [[ $code == 401 ]] || { echo "HTTP $code"; return 1; }
}
check "token server: wrong password gets 401" t_token_badpass

t_token_anon_push() {
    local granted
    granted=$("${curl_[@]}" -f --cacert "$CA_FILE" \
        "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:test/multi:pull,push" | jq -er .token \
        | cut -d. -f2 | tr '_-' '/+' | { read -r p; while (( ${#p} % 4 )); do p+='='; done; echo "$p"; } \
        | base64 -d | jq -c '.access[0].actions')
    [[ $granted == '["pull"]' ]] || { echo "anonymous token grants $granted"; return 1; }
}
check "token server: anonymous tokens grant pull only" t_token_anon_push

t_token_log() {
    local before after
    before=$(wc -l <"$TOKEN_LOG")
    token_for >/dev/null
    after=$(wc -l <"$TOKEN_LOG")
    (( after == before + 1 )) || { echo "log grew by $((after - before))"; return 1; }
    tail -n 1 "$TOKEN_LOG" | jq -e '.auth == "none" and .scopes == ["repository:test/multi:pull"]' >/dev/null
}
check "token server: one log line per token request" t_token_log

# --- plain registry ----------------------------------------------------------------
t_plain_tags() {
    local all n
    all=$("${curl_[@]}" -f "http://$REG_PLAIN/v2/test/many/tags/list" | jq '.tags | length')
    n=$(jq '.tags["test/many"] | length' "$E")
    [[ $all == "$n" && $n -ge 50 ]] || { echo "registry lists $all tags, expected $n"; return 1; }
}
check "plain registry: tags/list of test/many has every tag" t_plain_tags

t_fault_paged() { # follow Link headers like a client would
    local url="/v2/fault/paged/tags/list" pages=0 total=0 count
    while [[ -n $url && $pages -lt 20 ]]; do
        count=$("${curl_[@]}" -f -D "$W/paged.h" "http://$FAULT_PLAIN$url" | jq '.tags | length')
        total=$((total + count)); pages=$((pages + 1))
        url=$(tr -d '\r' <"$W/paged.h" | sed -n 's/^[Ll]ink: <\([^>]*\)>.*/\1/p')
    done
    [[ $pages == 6 && $total == 60 ]] || { echo "$pages pages, $total tags"; return 1; }
}
check "faultserver: paged tags/list gives 60 tags over 6 Link-chained pages" t_fault_paged

t_plain_headdigest() {
    local hd want
    want=$(exp plain test/nov6:1.0 .digest)
    hd=$("${curl_[@]}" -f -I -H "Accept: $ACCEPT" "http://$REG_PLAIN/v2/test/nov6/manifests/1.0" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    [[ $hd == "$want" ]] || { echo "HEAD digest $hd want $want"; return 1; }
}
check "plain registry: HEAD gives the expected digest" t_plain_headdigest

t_expected_shape() {
    jq -e '
      (.images | keys) == ["basic", "plain", "token"] and
      ([.images[]["test/multi:1.0"].platforms | keys] | unique) == [["linux/amd64","linux/arm/v6","linux/arm/v7","linux/arm64/v8"]] and
      (.images.plain["test/nov6:1.0"].platforms | has("linux/arm/v6") | not) and
      (.images.plain["test/multi-v2:1.0"].mediaType == "application/vnd.docker.distribution.manifest.list.v2+json") and
      (.images.plain["test/multi:1.0"].platforms["linux/arm/v7"] == .images.plain["test/multi:1.1"].platforms["linux/arm/v7"]) and
      (.images.plain["test/multi:1.0"].platforms["linux/amd64"] != .images.plain["test/multi:1.1"].platforms["linux/amd64"]) and
      (.images.plain["test/mislabeled:1.0"] as $m | $m.configs[$m.platforms["linux/arm64/v8"]].architecture == "amd64") and
      ([.images.plain["test/dup:1.0"].entries[] | select(.platform == "linux/arm/v7")] | length) == 2 and
      ([.images.plain["test/multi:1.0"].entries[] | select(.attestation)] | length) == 2
    ' "$E" >/dev/null
}
check "expected.json has the promised shape" t_expected_shape

# --- podman, a real client, pulls a foreign-arch child by digest ---------------------
t_podman() {
    local child arch
    local -a pr
    child=$(exp basic test/multi:1.0 '.platforms["linux/arm64/v8"]')
    cat >"$W/containers.conf" <<'EOF'
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
EOF
    mkdir -p "$W/podman-tmp" "$W/tmp"
    pr=(env CONTAINERS_CONF="$W/containers.conf" CONTAINERS_REGISTRIES_CONF="$CONTAINERS_REGISTRIES_CONF"
        TMPDIR="$W/tmp" podman --storage-driver vfs --root "$W/podman-root" --runroot "$W/podman-run"
        --tmpdir "$W/podman-tmp")
    timeout 60 "${pr[@]}" pull -q --arch arm64 --variant v8 --signature-policy "$CONTAINERS_POLICY" \
        --cert-dir "$CERT_DIR" --creds "$REG_USER:$REG_PASSWORD" "$REG_BASIC/test/multi@$child" \
        || { echo "podman pull failed"; return 1; }
    arch=$(timeout 30 "${pr[@]}" image inspect --format '{{.Architecture}} {{.Os}} {{.Digest}}' \
        "$REG_BASIC/test/multi@$child")
    [[ $arch == "arm64 linux $child" ]] || { echo "podman says: $arch"; return 1; }
}
if command -v podman >/dev/null; then
    check "podman pulls the linux/arm64 child by digest from the Basic TLS registry" t_podman
else
    notok "podman" "not installed (apt-get install podman)"
fi

# --- fault server sanity ----------------------------------------------------------
t_fault_ok() {
    local d hd
    hd=$("${curl_[@]}" -f -D - -o "$W/fault.body" "http://$FAULT_PLAIN/v2/fault/ok/manifests/1.0" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    d=sha256:$(sha256sum <"$W/fault.body" | cut -c1-64)
    [[ $d == "$hd" ]] || { echo "ok mode: body $d header $hd"; return 1; }
    hd=$("${curl_[@]}" -f -D - -o "$W/fault.body" "http://$FAULT_PLAIN/v2/fault/tampered/manifests/1.0" \
        | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    d=sha256:$(sha256sum <"$W/fault.body" | cut -c1-64)
    [[ $d != "$hd" ]] || { echo "tampered mode served a matching digest"; return 1; }
}
check "faultserver: ok serves a matching digest, tampered does not" t_fault_ok

t_fault_flaky() {
    local codes="" _
    "${curl_[@]}" -f "https://$FAULT_TLS/_reset" --cacert "$CA_FILE" >/dev/null
    for _ in 1 2 3 4; do
        codes+="$("${curl_[@]}" --cacert "$CA_FILE" -o /dev/null -w '%{http_code}' \
            "https://$FAULT_TLS/v2/fault/flaky5xx/manifests/1.0") "
    done
    [[ $codes == "500 502 503 200 " ]] || { echo "codes: $codes"; return 1; }
}
check "faultserver (TLS): flaky5xx answers 500 502 503 then 200" t_fault_flaky

t_fault_redirect() {
    local code seen
    "${curl_[@]}" -f "http://$FAULT_PLAIN/_reset" >/dev/null
    code=$("${curl_[@]}" -L -u x:y -o /dev/null -w '%{http_code}' \
        "http://$FAULT_PLAIN/v2/fault/redirectbasic/manifests/1.0")
    seen=$("${curl_[@]}" -f "http://$FAULT_PLAIN/_seen_auth" | jq -c '[.requests, .seen]')
    [[ $code == 200 && $seen == '[1,false]' ]] || { echo "code $code seen $seen"; return 1; }
}
check "faultserver: redirect reaches the other host, which records no credentials from curl" t_fault_redirect

t_fault_wrongname() {
    local rc=0
    "${curl_[@]}" --cacert "$CA_FILE" -o /dev/null "https://$FAULT_WRONGNAME/v2/" 2>/dev/null || rc=$?
    [[ $rc == 60 ]] || { echo "curl exit $rc, want 60 (name mismatch)"; return 1; }
    "${curl_[@]}" -f --cacert "$CA_FILE" -o /dev/null \
        --connect-to "wrong.example:${FAULT_WRONGNAME##*:}:$FAULT_WRONGNAME" \
        "https://wrong.example:${FAULT_WRONGNAME##*:}/v2/"
}
check "faultserver: wrong-name certificate fails verification for 127.0.0.1 only" t_fault_wrongname

t_fault_stall() {
    local rc=0 t0 t1
    t0=$(date +%s)
    "${curl_[@]}" --max-time 2 -o /dev/null "http://$FAULT_PLAIN/v2/fault/stall/manifests/1.0" 2>/dev/null || rc=$?
    t1=$(date +%s)
    [[ $rc == 28 && $((t1 - t0)) -le 4 ]] || { echo "curl exit $rc after $((t1 - t0))s"; return 1; }
}
check "faultserver: stall holds the response (curl times out)" t_fault_stall

# --- stop ------------------------------------------------------------------------
t_stop() {
    "$here/registry.sh" stop "$W" || { echo "stop failed"; return 1; }
    "$here/registry.sh" stop "$W" || { echo "second stop failed"; return 1; }
    local left
    left=$(leftover_processes)
    [[ -z $left ]] || { echo "left running: $left"; return 1; }
}
check "registry.sh stop (twice) leaves no process behind" t_stop

elapsed=$(( $(date +%s) - started ))
echo "selftest: finished in ${elapsed}s"
summary_and_exit
