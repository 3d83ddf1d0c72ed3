#!/usr/bin/env bash
# Planning the cascade of a rebuilt base (issue 6): over the CentOS index and a generated 10,000-project index
# of the same shape, against slipway-index's layering of the whole index in the same run. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_index.py "$work/index" --projects "${PROJECTS:-10000}" >/dev/null
cargo bench -q -p slipway-engine --bench cascade -- "$work/index"
