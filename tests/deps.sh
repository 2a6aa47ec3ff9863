#!/bin/bash
# Installs every package the build and the tests need on Debian 12, as root. Idempotent: when everything is
# there it only looks. Package lists: tests/deps.txt, tests/integration/deps.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t want < <(cat tests/deps.txt tests/integration/deps.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages and not root: ${missing[*]}" >&2
        exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
