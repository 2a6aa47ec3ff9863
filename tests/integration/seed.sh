#!/usr/bin/env bash
# seed.sh WORKDIR
#
# Pushes the test images into the three registries started by
# `registry.sh start WORKDIR` and writes WORKDIR/expected.json.
#
#   1. seedtool.py build  -> WORKDIR/layout (one deterministic OCI layout)
#   2. skopeo copy --all  -> each registry (Docker v2s2 where plan.json says so)
#      seedtool.py put-tags -> the remaining tags of test/many (same children,
#      PUT of the index only; ~60 skopeo runs per registry would be slow)
#   3. seedtool.py expected -> fetches every tag with curl (full Accept list),
#      cross-checks every platform with skopeo inspect --override-*, writes
#      WORKDIR/expected.json.
#
# Idempotent: a second run pushes identical bytes and rewrites an identical
# expected.json.  Any failure prints "seed: FAIL <component>: ..." and exits 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-/usr/bin/python3}

die() { echo "seed: FAIL $*" >&2; exit 1; }

[[ $# -eq 1 ]] || { echo "usage: seed.sh WORKDIR" >&2; exit 2; }
W=$(cd "$1" && pwd) || die "workdir: $1 does not exist"
[[ -s $W/env ]] || die "env: $W/env missing; run registry.sh start $W first"
# shellcheck source=/dev/null
. "$W/env"
command -v skopeo >/dev/null || die "skopeo: not installed (apt-get install skopeo)"
command -v curl >/dev/null || die "curl: not installed"

export CONTAINERS_REGISTRIES_CONF
# skopeo keeps temporary files here, not in /var/tmp.
mkdir -p "$W/tmp"
export TMPDIR=$W/tmp

"$PY" "$here/seedtool.py" build "$W/layout" || die "seedtool: could not build $W/layout"

# plan lines: ref repo tag format push
mapfile -t plan < <("$PY" -c '
import json, sys
for e in json.load(open(sys.argv[1]))["images"]:
    print(e["ref"], e["repo"], e["tag"], e["format"], e["push"])
' "$W/layout/plan.json")
[[ ${#plan[@]} -gt 0 ]] || die "seedtool: empty plan"

skopeo_g=(skopeo --policy "$CONTAINERS_POLICY" --registries-conf "$CONTAINERS_REGISTRIES_CONF"
          --registries.d "$CONTAINERS_REGISTRIES_D")

push_registry() { # kind host -> pushes everything; returns non-zero on failure
    local kind=$1 host=$2 log=$W/seed-$1.log line ref repo tag format push
    local -a dest put
    case $kind in
        plain) dest=(--dest-tls-verify=false)
               put=(--scheme http) ;;
        basic) dest=(--dest-cert-dir "$CERT_DIR" --dest-creds "$REG_USER:$REG_PASSWORD")
               put=(--scheme https --ca "$CA_FILE" --user "$REG_USER" --password "$REG_PASSWORD") ;;
        token) dest=(--dest-cert-dir "$CERT_DIR" --dest-creds "$REG_USER:$REG_PASSWORD")
               put=(--scheme https --ca "$CA_FILE" --user "$REG_USER" --password "$REG_PASSWORD"
                    --token-realm "$TOKEN_REALM" --token-service "$TOKEN_SERVICE") ;;
    esac
    : >"$log"
    for line in "${plan[@]}"; do
        read -r ref repo tag format push <<<"$line"
        [[ $push == skopeo ]] || continue
        local -a fmt=(--preserve-digests)
        [[ $format == v2s2 ]] && fmt=(--format v2s2)
        echo "+ skopeo copy --all ${fmt[*]} oci:layout:$ref docker://$host/$repo:$tag" >>"$log"
        if ! "${skopeo_g[@]}" copy --all --quiet --retry-times 2 "${fmt[@]}" "${dest[@]}" \
                "oci:$W/layout:$ref" "docker://$host/$repo:$tag" >>"$log" 2>&1; then
            echo "seed: FAIL skopeo copy $repo:$tag to the $kind registry ($host): $(tail -n 1 "$log")" >&2
            return 1
        fi
    done
    echo "+ seedtool.py put-tags $host" >>"$log"
    if ! "$PY" "$here/seedtool.py" put-tags "$W/layout" "$host" "${put[@]}" >>"$log" 2>&1; then
        echo "seed: FAIL put-tags to the $kind registry ($host): $(tail -n 1 "$log")" >&2
        return 1
    fi
}

# The three registries are independent: push in parallel.
pids=()
push_registry plain "$REG_PLAIN" & pids+=($!)
push_registry basic "$REG_BASIC" & pids+=($!)
push_registry token "$REG_TOKEN" & pids+=($!)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[[ $failed == 0 ]] || die "push: see $W/seed-*.log"

rm -rf "$W/fetched"
"$PY" "$here/seedtool.py" expected "$W" "$W/fetched" "$W/expected.json" \
    || die "expected: registries and skopeo disagree (see messages above)"
