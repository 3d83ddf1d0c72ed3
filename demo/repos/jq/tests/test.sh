#!/bin/sh
# User test: the package came from apt (dpkg knows it), and the image's command works.
set -e
dpkg-query -W -f='${Package} ${Version} ${Status}\n' jq | grep -q ' install ok installed$'
out=$(jq -r '"\(.name) \(.version) on Debian"' /etc/demo/release.json)
[ "$out" = "demo jq 1.0 on Debian" ] || { echo "unexpected output: $out" >&2; exit 1; }
echo "ok: $out ($(jq --version))"
