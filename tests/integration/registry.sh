#!/usr/bin/env bash
# registry.sh start WORKDIR | stop WORKDIR | status WORKDIR
#
# Starts real registries on 127.0.0.1 for the integration tests:
#   registry-plain   Debian's docker-registry, plain HTTP, no auth
#   registry-basic   docker-registry, TLS + htpasswd (bcrypt) Basic auth
#   registry-token   docker-registry, TLS + token auth
#   tokenserver      tokenserver.py, the token realm of registry-token
#   fault-plain      faultserver.py over HTTP (+ redirect target listener)
#   fault-tls        faultserver.py over TLS  (+ redirect target listener)
#   fault-wrongname  faultserver.py over TLS with a certificate for wrong.example
#
# Credentials for the basic and token registries: bp / bp-secret.
# Writes WORKDIR/env, a sourceable file (`. "$WORKDIR/env"`) with:
#   REG_PLAIN REG_BASIC REG_TOKEN      127.0.0.1:PORT of each registry
#   REG_USER REG_PASSWORD              bp / bp-secret
#   CA_FILE                            the test CA (PEM)
#   CERT_DIR                           directory with ca.crt (skopeo/podman --cert-dir)
#   AUTH_FILE                          docker config.json with both TLS registries
#   TOKEN_SERVER TOKEN_REALM           https://127.0.0.1:PORT[/token]
#   TOKEN_SERVICE TOKEN_ISSUER         boardpin-test / boardpin-test-issuer
#   TOKEN_LOG                          one JSON line per token request (emptied
#                                      at the end of start)
#   FAULT_PLAIN FAULT_PLAIN_OTHER      faultserver over HTTP, and its redirect
#                                      target (localhost:PORT)
#   FAULT_TLS FAULT_TLS_OTHER          the same over TLS
#   FAULT_WRONGNAME                    faultserver whose certificate is for wrong.example
#   FAULT_LOG                          request log of all faultservers
#   CONTAINERS_REGISTRIES_CONF CONTAINERS_POLICY CONTAINERS_REGISTRIES_D
#                                      configuration for skopeo/podman
#   WORKDIR
# Logs go to WORKDIR/*.log, pid files to WORKDIR/pids/*.pid.  Any component
# that does not come up makes `start` print one line
# "registry.sh: FAIL <component> on 127.0.0.1:PORT: <why>; log ...: <tail>",
# stop the rest and exit 1.  `stop` is idempotent and also ends harness
# processes of WORKDIR whose pid files were lost.  `status` lists them.
#
# Environment: PYTHON (default /usr/bin/python3), REGISTRY_BIN (default
# /usr/bin/docker-registry), START_TIMEOUT seconds per component (default 10).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
USER_NAME=bp
USER_PASSWORD=bp-secret
TOKEN_SERVICE=boardpin-test
TOKEN_ISSUER=boardpin-test-issuer
START_TIMEOUT=${START_TIMEOUT:-10}

die() { echo "registry.sh: FAIL $*" >&2; exit 1; }

usage() { echo "usage: registry.sh start|stop|status WORKDIR" >&2; exit 2; }

[[ $# -eq 2 ]] || usage
cmd=$1
if [[ $cmd != start && ! -d $2 ]]; then
    [[ $cmd == stop ]] && exit 0
    echo "registry.sh: nothing started in $2" >&2; exit 1
fi
mkdir -p "$2"
W=$(cd "$2" && pwd)
PIDS=$W/pids

# ---------------------------------------------------------------------------
# process bookkeeping

pid_alive() { # pidfile -> 0 if the recorded process is ours and alive
    local pf=$1 pid
    [[ -s $pf ]] || return 1
    pid=$(<"$pf")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    # Only processes started for this WORKDIR carry its path in their arguments.
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$W" || return 1
}

stop_one() { # pidfile
    local pf=$1 pid i
    if pid_alive "$pf"; then
        pid=$(<"$pf")
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            [[ -d /proc/$pid ]] || break
            # A zombie child of ours counts as gone.
            [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
            sleep 0.1
        done
        if [[ -d /proc/$pid ]] && pid_alive "$pf"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pf"
}

# Harness processes of this WORKDIR whose pid file is gone (workdir wiped
# while running, start interrupted): matched by their exact command line.
orphans() {
    local p cmdline
    for p in /proc/[0-9]*; do
        cmdline=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
        case $cmdline in
            *"$REGISTRY_BIN serve $W/config/"*|*"$here/tokenserver.py "*"$W/"*|*"$here/faultserver.py "*"$W/"*)
                echo "${p#/proc/}" ;;
        esac
    done
}

stop_all() {
    local pf
    if [[ -d $PIDS ]]; then
        for pf in "$PIDS"/*.pid; do
            [[ -e $pf ]] || continue
            stop_one "$pf"
        done
    fi
    local left i
    left=$(orphans)
    [[ -n $left ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $left 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        left=$(orphans)
        [[ -n $left ]] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
}

# launch NAME CMD... : background process, output to WORKDIR/NAME.log
launch() {
    local name=$1; shift
    : >"$W/$name.log"
    "$@" >>"$W/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
}

fail_component() { # name port message
    local name=$1 port=$2 msg=$3 tail_text
    tail_text=$(tail -n 8 "$W/$name.log" 2>/dev/null | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
    echo "registry.sh: FAIL $name on 127.0.0.1:$port: $msg; log $W/$name.log: ${tail_text:-<empty>}" >&2
    stop_all
    exit 1
}

# wait_http NAME PORT EXPECTED_CODE URL [curl args...]
wait_http() {
    local name=$1 port=$2 want=$3 url=$4; shift 4
    local deadline code
    deadline=$(( $(date +%s%N) / 1000000 + START_TIMEOUT * 1000 ))
    while :; do
        if ! pid_alive "$PIDS/$name.pid"; then
            fail_component "$name" "$port" "process exited during start-up"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) || code=000
        [[ $code == "$want" ]] && return 0
        if (( $(date +%s%N) / 1000000 > deadline )); then
            fail_component "$name" "$port" "no HTTP $want from $url within ${START_TIMEOUT}s (last: $code)"
        fi
        sleep 0.1
    done
}

free_ports() { # N -> N distinct free loopback ports, one per line
    "$PY" - "$1" <<'PYEOF'
import socket, sys
n = int(sys.argv[1])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
PYEOF
}

# ---------------------------------------------------------------------------

write_registry_config() { # name port tls(0/1) authblock
    local name=$1 port=$2 tls=$3 auth=$4 f=$W/config/$1.yml
    mkdir -p "$W/storage/$name"
    {
        cat <<YAML
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
  fields:
    service: $name
storage:
  filesystem:
    rootdirectory: $W/storage/$name
  delete:
    enabled: true
  redirect:
    disable: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $HTTP_SECRET
  headers:
    X-Content-Type-Options: [nosniff]
YAML
        if [[ $tls == 1 ]]; then
            cat <<YAML
  tls:
    certificate: $W/certs/server.pem
    key: $W/certs/server.key
YAML
        fi
        printf '%s\n' "$auth"
    } >"$f"
}

do_start() {
    local p_plain p_basic p_token p_tokensrv p_fplain p_fplain2 p_ftls p_ftls2 p_fwrong
    command -v "$REGISTRY_BIN" >/dev/null || die "docker-registry: $REGISTRY_BIN not installed (apt-get install docker-registry)"
    command -v htpasswd >/dev/null || die "htpasswd: not installed (apt-get install apache2-utils)"
    command -v curl >/dev/null || die "curl: not installed"
    [[ -x $PY ]] || die "python3: $PY not found"

    stop_all
    mkdir -p "$PIDS" "$W/config" "$W/storage"
    "$here/mkcerts.sh" "$W/certs" || die "mkcerts: could not create certificates in $W/certs"
    mkdir -p "$W/certdir"
    cp "$W/certs/ca.crt" "$W/certdir/ca.crt"

    if [[ ! -s $W/http-secret ]]; then
        head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$W/http-secret"
    fi
    HTTP_SECRET=$(<"$W/http-secret")

    htpasswd -Bbn "$USER_NAME" "$USER_PASSWORD" >"$W/htpasswd" 2>"$W/htpasswd.err" \
        || die "htpasswd: $(cat "$W/htpasswd.err")"

    mapfile -t ports < <(free_ports 9)
    [[ ${#ports[@]} -eq 9 ]] || die "ports: could not find free loopback ports"
    p_plain=${ports[0]} p_basic=${ports[1]} p_token=${ports[2]} p_tokensrv=${ports[3]}
    p_fplain=${ports[4]} p_fplain2=${ports[5]} p_ftls=${ports[6]} p_ftls2=${ports[7]} p_fwrong=${ports[8]}

    write_registry_config registry-plain "$p_plain" 0 ""
    write_registry_config registry-basic "$p_basic" 1 "auth:
  htpasswd:
    realm: boardpin-test
    path: $W/htpasswd"
    write_registry_config registry-token "$p_token" 1 "auth:
  token:
    realm: https://127.0.0.1:$p_tokensrv/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $W/certs/token.pem"

    local auth_b64
    auth_b64=$(printf '%s:%s' "$USER_NAME" "$USER_PASSWORD" | base64 -w0)
    cat >"$W/auth.json" <<JSON
{
  "auths": {
    "127.0.0.1:$p_basic": {"auth": "$auth_b64"},
    "127.0.0.1:$p_token": {"auth": "$auth_b64"}
  }
}
JSON
    # Configuration for containers tools (skopeo, podman) so they never fall
    # back to /etc or to any registry other than the ones named in full.
    cat >"$W/registries.conf" <<'TOML'
unqualified-search-registries = []
short-name-mode = "enforcing"
TOML
    cat >"$W/policy.json" <<'JSON'
{"default": [{"type": "insecureAcceptAnything"}]}
JSON
    mkdir -p "$W/registries.d"

    : >>"$W/tokenserver-requests.log"
    : >>"$W/faultserver-requests.log"

    # Env vars that would override the YAML files must not leak in.
    local -a regenv=(env)
    local v
    for v in $(compgen -e); do
        [[ $v == REGISTRY_* ]] && regenv+=(-u "$v")
    done

    launch registry-plain "${regenv[@]}" "$REGISTRY_BIN" serve "$W/config/registry-plain.yml"
    launch registry-basic "${regenv[@]}" "$REGISTRY_BIN" serve "$W/config/registry-basic.yml"
    launch registry-token "${regenv[@]}" "$REGISTRY_BIN" serve "$W/config/registry-token.yml"
    launch tokenserver "$PY" "$here/tokenserver.py" --port "$p_tokensrv" \
        --cert "$W/certs/server.pem" --key "$W/certs/server.key" \
        --sign-key "$W/certs/token.key" --sign-cert "$W/certs/token.pem" \
        --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
        --user "$USER_NAME" --password "$USER_PASSWORD" \
        --log "$W/tokenserver-requests.log" --pidfile "$W/tokenserver.pidfile"
    launch fault-plain "$PY" "$here/faultserver.py" --port "$p_fplain" --other-port "$p_fplain2" \
        --log "$W/faultserver-requests.log"
    launch fault-tls "$PY" "$here/faultserver.py" --port "$p_ftls" --other-port "$p_ftls2" \
        --plain-port "$p_fplain" --tls-cert "$W/certs/server.pem" --tls-key "$W/certs/server.key" \
        --log "$W/faultserver-requests.log"
    launch fault-wrongname "$PY" "$here/faultserver.py" --port "$p_fwrong" \
        --tls-cert "$W/certs/wrongname.pem" --tls-key "$W/certs/wrongname.key" \
        --log "$W/faultserver-requests.log"

    local ca=$W/certs/ca.pem
    wait_http registry-plain "$p_plain" 200 "http://127.0.0.1:$p_plain/v2/"
    wait_http registry-basic "$p_basic" 401 "https://127.0.0.1:$p_basic/v2/" --cacert "$ca"
    wait_http registry-token "$p_token" 401 "https://127.0.0.1:$p_token/v2/" --cacert "$ca"
    wait_http tokenserver "$p_tokensrv" 200 "https://127.0.0.1:$p_tokensrv/healthz" --cacert "$ca"
    wait_http fault-plain "$p_fplain" 200 "http://127.0.0.1:$p_fplain/v2/"
    wait_http fault-plain "$p_fplain2" 200 "http://localhost:$p_fplain2/v2/"
    wait_http fault-tls "$p_ftls" 200 "https://127.0.0.1:$p_ftls/v2/" --cacert "$ca"
    wait_http fault-tls "$p_ftls2" 200 "https://localhost:$p_ftls2/v2/" --cacert "$ca"
    wait_http fault-wrongname "$p_fwrong" 200 "https://127.0.0.1:$p_fwrong/v2/" --insecure

    # The Basic registry must accept the credentials, the token registry a
    # token from the token server: catch configuration errors here, not in tests.
    wait_http registry-basic "$p_basic" 200 "https://127.0.0.1:$p_basic/v2/" \
        --cacert "$ca" -u "$USER_NAME:$USER_PASSWORD"
    local tok
    tok=$(curl -sf --max-time 5 --cacert "$ca" -u "$USER_NAME:$USER_PASSWORD" \
        "https://127.0.0.1:$p_tokensrv/token?service=$TOKEN_SERVICE&scope=registry:catalog:*" \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["token"])') \
        || fail_component tokenserver "$p_tokensrv" "no token issued for bp"
    wait_http registry-token "$p_token" 200 "https://127.0.0.1:$p_token/v2/" \
        --cacert "$ca" -H "Authorization: Bearer $tok"

    # Tests count token requests from here on.
    : >"$W/tokenserver-requests.log"

    {
        echo "# Written by tests/integration/registry.sh; source it."
        envline() { printf '%s=%q\n' "$1" "$2"; }
        envline WORKDIR "$W"
        envline CA_FILE "$W/certs/ca.pem"
        envline CERT_DIR "$W/certdir"
        envline REG_PLAIN "127.0.0.1:$p_plain"
        envline REG_BASIC "127.0.0.1:$p_basic"
        envline REG_TOKEN "127.0.0.1:$p_token"
        envline REG_USER "$USER_NAME"
        envline REG_PASSWORD "$USER_PASSWORD"
        envline AUTH_FILE "$W/auth.json"
        envline TOKEN_SERVER "https://127.0.0.1:$p_tokensrv"
        envline TOKEN_REALM "https://127.0.0.1:$p_tokensrv/token"
        envline TOKEN_SERVICE "$TOKEN_SERVICE"
        envline TOKEN_ISSUER "$TOKEN_ISSUER"
        envline TOKEN_LOG "$W/tokenserver-requests.log"
        envline FAULT_PLAIN "127.0.0.1:$p_fplain"
        envline FAULT_PLAIN_OTHER "localhost:$p_fplain2"
        envline FAULT_TLS "127.0.0.1:$p_ftls"
        envline FAULT_TLS_OTHER "localhost:$p_ftls2"
        envline FAULT_WRONGNAME "127.0.0.1:$p_fwrong"
        envline FAULT_LOG "$W/faultserver-requests.log"
        envline CONTAINERS_REGISTRIES_CONF "$W/registries.conf"
        envline CONTAINERS_POLICY "$W/policy.json"
        envline CONTAINERS_REGISTRIES_D "$W/registries.d"
    } >"$W/env.tmp"
    mv "$W/env.tmp" "$W/env"
    echo "registry.sh: started in $W (plain $p_plain, basic $p_basic, token $p_token, tokenserver $p_tokensrv)"
}

do_status() {
    local pf rc=0
    [[ -d $PIDS ]] || { echo "registry.sh: nothing started in $W"; return 1; }
    for pf in "$PIDS"/*.pid; do
        [[ -e $pf ]] || continue
        if pid_alive "$pf"; then echo "$(basename "$pf" .pid) running (pid $(<"$pf"))"
        else echo "$(basename "$pf" .pid) NOT running"; rc=1; fi
    done
    return $rc
}

case $cmd in
    start) do_start ;;
    stop) stop_all; rm -f "$W/env" ;;
    status) do_status ;;
    *) usage ;;
esac
