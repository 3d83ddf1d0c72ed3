#!/usr/bin/env bash
# The web UI under load (issue 5's budget): a database seeded with 1,000 projects and 20,000 builds, wrk on
# loopback with 64 connections against the dashboard, a project page and a build page (p99 ≤ 50 ms each), with
# /healthz measured in the same run as the server's floor; and a 100 MB log: its raw page's first byte
# (≤ 100 ms) and the server's memory growth while serving it whole (≤ 20 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q -p slipway-cli
slipway=target/release/slipway
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
"$slipway" db migrate --data-dir "$work" >/dev/null
python3 bench/seed_web.py "$work/slipway.db" 1000 20 100
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$slipway" serve --no-workers --index /nonexistent --data-dir "$work" --listen "127.0.0.1:$port" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"

p99() { # wrk's p99 in ms; with a second argument, each request asks for that page of a random project
  local script=()
  [ $# -gt 1 ] && script=(-s bench/random_page.lua)
  PAGE=${2:-} wrk -t2 -c64 -d"${DURATION:-10s}" --latency "${script[@]}" "$1" | awk '
    /^ +99%/ { v=$2; if (v ~ /us$/) { sub(/us$/,"",v); v=v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v=v*1000 } p=v }
    /Requests\/sec/ { r=$2 }
    /Non-2xx/ { bad=$NF }
    END { printf "%.1f %s %d\n", p, r, bad }'
}

status=0
printf '%-42s %10s %10s %8s\n' "page (64 connections)" "p99 ms" "req/s" "budget"
read -r floor floor_rps _ < <(p99 "$base/healthz")
printf '%-42s %10s %10s %8s\n' "/healthz (the floor)" "$floor" "$floor_rps" "-"
# One page asked for again and again, then (with {p} and {n}) a random project's or build's page each time.
for page in "/" "/projects/bench/app0500/latest" "/projects/bench/app0500/latest/builds/20" "/?state=failing&q=app05" \
  "/projects/bench/app{p}/latest" "/projects/bench/app{p}/latest/builds/{n}"; do
  if [[ $page == *"{"* ]]; then read -r ms rps bad < <(p99 "$base" "$page"); else read -r ms rps bad < <(p99 "$base$page"); fi
  verdict=$(python3 -c "print('PASS' if $ms <= 50 and $bad == 0 else 'FAIL')")
  [ "$bad" = 0 ] || echo "$page: $bad answers were not 200"
  [ "$verdict" = PASS ] || status=1
  printf '%-42s %10s %10s %8s\n' "$page" "$ms" "$rps" "$verdict"
done

log="$base/projects/bench/app0000/latest/builds/20/logs/build"
rss_before=$(ps -o rss= -p $server)
first=$(curl -s -o /dev/null -w '%{time_starttransfer}' "$log")
peak=$rss_before
curl -s -o "$work/log.txt" "$log" &
fetch=$!
while kill -0 $fetch 2>/dev/null; do
  rss=$(ps -o rss= -p $server); [ "$rss" -gt "$peak" ] && peak=$rss; sleep 0.05
done
wait $fetch
got=$(stat -c %s "$work/log.txt")
# The anchor: the first byte of a 100 MB static file served on loopback by Python's http.server.
(cd "$work" && python3 -m http.server --bind 127.0.0.1 "$((port + 1))" >/dev/null 2>&1) &
static=$!
for _ in $(seq 50); do curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$((port + 1))/log.txt" && break; sleep 0.1; done
anchor=$(curl -s -o /dev/null -w '%{time_starttransfer}' "http://127.0.0.1:$((port + 1))/log.txt")
kill $static
first_ms=$(python3 -c "print(round($first*1000,1))")
growth_mb=$(python3 -c "print(round(($peak-$rss_before)/1024,1))")
page_ms=$(curl -s -o /dev/null -w '%{time_starttransfer}' "$base/projects/bench/app0000/latest/builds/20")
page_ms=$(python3 -c "print(round($page_ms*1000,1))")
echo
echo "100 MB log: $got bytes served; raw page first byte ${first_ms} ms (budget 100), build page with its tail ${page_ms} ms,"
echo "server RSS ${rss_before} KiB before, peak growth ${growth_mb} MB while serving it (budget 20)"
echo "anchor: python3 -m http.server's first byte of the same 100 MB as a static file: $(python3 -c "print(round($anchor*1000,1))") ms"
python3 -c "import sys; sys.exit(0 if $first_ms <= 100 and $growth_mb <= 20 and $page_ms <= 100 else 1)" || status=1
[ "$status" = 0 ] && echo "every budget met" || echo "a budget was missed"
exit $status
