#!/usr/bin/env bash
# Soak, printed as a report (issue 8, item 7; not part of scripts/test: it takes 10-20 minutes):
#   1. onboarding: `slipway serve --no-workers` given a generated 10,000-project index: the time until it has
#      recorded every project and queued every first build, and its memory then;
#   2. the server's memory over 1,000 real builds: `slipway serve --workers 2` builds 20 projects of one small
#      repository (served by a local `git daemon`) in 50 rounds; its resident memory is sampled after each round.
#      Verdict: flat when the last sample is within 25% (and 32 MiB) of the sample after the warm-up rounds.
# Needs scripts/setup (dockerd, the registry on 127.0.0.1:5555, the base image). ROUNDS and PROJECTS shrink it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-50}
JOBS=${PROJECTS:-20}
WARMUP=${WARMUP:-5}
# The release binary when there is one (SLIPWAY_BIN overrides); memory is compared within one run, so a
# debug binary still shows whether it grows.
bin=${SLIPWAY_BIN:-target/release/slipway}
[ -x "$bin" ] || cargo build -q --release -p slipway-cli
work=$(mktemp -d /tmp/slipway-soak.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# How many projects' last builds are queued / ended / not succeeded (`slipway status`).
count_builds() {
  "$bin" status --format json | python3 -c '
import json, sys
want = sys.argv[1]
states = [p.get("state") for p in json.load(sys.stdin)["projects"]]
pick = {"queued": lambda s: s == "queued", "ended": lambda s: s not in ("queued", "running", None),
        "unsucceeded": lambda s: s != "succeeded"}[want]
print(sum(1 for s in states if pick(s)))' "$1"
}

rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# Starts `slipway serve ARGS` in the background; sets SERVE_PID and SERVE_ADDR once it listens.
serve() {
  local out=$work/serve-$RANDOM.out
  "$bin" serve --listen 127.0.0.1:0 --git-poll-interval 1h --index-poll-interval 1h "$@" >"$out" 2>"$out.err" &
  SERVE_PID=$!
  pids+=("$SERVE_PID")
  for _ in $(seq 1 6000); do
    SERVE_ADDR=$(sed -n 's|^serving the UI at http://\([^/]*\)/.*|\1|p' "$out")
    [ -n "$SERVE_ADDR" ] && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$out.err" >&2; echo "soak: serve exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "soak: serve did not listen within 10 minutes" >&2
  exit 1
}

export SLIPWAY_REGISTRY=${SLIPWAY_REGISTRY:-127.0.0.1:5555}

# --- 1. onboarding ----------------------------------------------------------------------------------------
export SLIPWAY_DATA_DIR=$work/onboard SLIPWAY_DATABASE=sqlite://$work/onboard/slipway.db
mkdir -p "$SLIPWAY_DATA_DIR"
python3 bench/gen_index.py "$work/index10k" --projects 10000 >/dev/null
started=$(date +%s.%N)
serve --no-workers --index "$work/index10k"
onboarded=$(echo "$(date +%s.%N) - $started" | bc)
queued=$(count_builds queued)
onboard_rss=$(rss_mib "$SERVE_PID")
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true

# --- 2. memory over 1,000 builds ------------------------------------------------------------------------------
export SLIPWAY_DATA_DIR=$work/soak SLIPWAY_DATABASE=sqlite://$work/soak/slipway.db
mkdir -p "$SLIPWAY_DATA_DIR" "$work/git"
repo=$work/src
mkdir -p "$repo"
printf 'FROM slipway/busybox:latest\nRUN echo soak > /soak\nCMD ["cat", "/soak"]\n' >"$repo/Dockerfile"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=soak -c user.email=soak@example.org add -A
git -C "$repo" -c user.name=soak -c user.email=soak@example.org commit -q -m soak
git clone -q --bare "$repo" "$work/git/soak"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
git daemon --reuseaddr --export-all --base-path="$work/git" --listen=127.0.0.1 --port="$port" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$port/soak" >/dev/null 2>&1 && break; sleep 0.1; done
app="soak$$"
mkdir -p "$work/index/index.d"
{
  echo "Projects:"
  for n in $(seq 1 "$JOBS"); do
    printf '  - id: %d\n    app-id: %s\n    job-id: p%d\n    git-url: git://127.0.0.1:%d/soak\n    git-branch: main\n' \
      "$n" "$app" "$n" "$port"
    printf '    git-path: /\n    target-file: Dockerfile\n    desired-tag: latest\n    notify-email: soak@example.org\n'
    printf '    depends-on: null\n    test-skip: true\n'
  done
} >"$work/index/index.d/$app.yaml"
serve --workers 2 --index "$work/index"

ended() { count_builds ended; }
samples=()
done_builds=0
for round in $(seq 1 "$ROUNDS"); do
  if [ "$round" -gt 1 ]; then
    for n in $(seq 1 "$JOBS"); do "$bin" build "$app/p$n:latest" --by soak >/dev/null; done
  fi
  for _ in $(seq 1 3000); do
    [ "$(ended)" -ge "$JOBS" ] && break
    sleep 0.2
  done
  done_builds=$((done_builds + JOBS))
  samples+=("$(rss_mib "$SERVE_PID")")
  printf 'soak: round %d/%d, %d builds, server RSS %s MiB\n' "$round" "$ROUNDS" "$done_builds" "${samples[-1]}" >&2
done
failed=$(count_builds unsucceeded)

warm=${samples[$((WARMUP - 1))]}
last=${samples[-1]}
peak=$(printf '%s\n' "${samples[@]}" | sort -g | tail -1)
flat=$(python3 -c "w=$warm; l=$last; print('flat' if l <= max(w * 1.25, w + 32) else 'GROWING')")
echo
echo "Soak report ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $bin)"
echo "  onboarding 10,000 projects (serve --no-workers, SQLite): ${onboarded%.*}.$(printf '%s' "${onboarded#*.}" | cut -c1-2) s to record them and queue first builds ($queued queued); server RSS $onboard_rss MiB"
echo "  $done_builds builds of $JOBS projects in $ROUNDS rounds, 2 workers: server RSS after round $WARMUP (warm) $warm MiB, peak $peak MiB, last $last MiB: $flat; $failed project(s) not succeeded at the end"
echo "  RSS by round (MiB): ${samples[*]}"
[ "$flat" = flat ] && [ "$failed" = 0 ]
