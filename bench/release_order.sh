#!/usr/bin/env bash
# One release order per project, measured: 8 projects x 2 builds (each second build waits for its project's
# first) against 16 independent builds, on 4 workers, real Docker, git and registry. See bench/README.md.
# Environment: SKIP_BUILD=1 (use the existing release binary), SLIPWAY_BIN (another binary, e.g. a debug one;
# implies SKIP_BUILD), REGISTRY (127.0.0.1:5555), BENCH_DIR=1 (keep the work dir). Exit status: 0 when the budgets hold, 1 when one is missed, 2 when it could not run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REGISTRY=${REGISTRY:-127.0.0.1:5555}
die() { echo "bench: error: $*" >&2; exit 2; }
for tool in docker git python3 curl; do command -v "$tool" >/dev/null || die "$tool is required"; done
docker info >/dev/null 2>&1 || die "dockerd does not answer (scripts/setup starts it)"
curl -fsS -o /dev/null "http://$REGISTRY/v2/" || die "no registry at $REGISTRY (scripts/setup starts it)"
BIN=${SLIPWAY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/slipway}
if [[ "${SKIP_BUILD:-0}" != 1 && -z "${SLIPWAY_BIN:-}" ]]; then
    echo "bench: building the release binary" >&2
    (cd "$ROOT" && cargo build --release --locked -q -p slipway-cli) || die "the release build failed"
fi
exec python3 "$ROOT/bench/release_order.py" "$BIN"
