#!/usr/bin/env bash
# Benchmark `slipway index check` and `slipway index graph` on a generated 10,000-project index
# (100 files), against the budget and against an anchor measured in the same run: PyYAML reading
# the same index.d the way CentOS's cccp index_reader.py did. See bench/README.md.
#
# Environment: BENCH_DIR (keep the index and raw results there instead of a temp dir),
# PROJECTS (10000), FILES (100), RUNS (10), WARMUP (2), SKIP_BUILD=1 (use the existing binary),
# NO_HYPERFINE=1 (time with the date +%s%N loop even when hyperfine is there).
# Exit status: 0 when every budget is met, 1 when one is missed, 2 when the benchmark could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROJECTS=${PROJECTS:-10000}
FILES=${FILES:-100}
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
BUDGET_CHECK_MS=500
BUDGET_GRAPH_MS=500
BUDGET_RSS_MB=200
BASE_IMAGE=ns000/base:7

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }

# --- work dir -------------------------------------------------------------------------------
if [[ -n "${BENCH_DIR:-}" ]]; then
    WORK=$BENCH_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
INDEX=$WORK/index

# --- build ----------------------------------------------------------------------------------
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/slipway
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    say "building the release binary (cargo build --release --locked -p slipway-cli)"
    if ! (cd "$ROOT" && cargo build --release --locked -p slipway-cli) >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        die "the release build failed (log above)"
    fi
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"

# --- tools ----------------------------------------------------------------------------------
apt_install() {  # best effort: the benchmark falls back when a package cannot be installed
    apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
}
if [[ "${NO_HYPERFINE:-0}" != 1 ]] && ! command -v hyperfine >/dev/null; then
    say "installing hyperfine"
    apt_install hyperfine || say "no hyperfine: timing with a date +%s%N loop"
fi
[[ -x /usr/bin/time ]] || { say "installing time"; apt_install time || true; }
command -v python3 >/dev/null || die "python3 is required"
# The interpreter itself, not a version-manager shim: a shim's own start-up would inflate the anchor.
PY=$(python3 -c 'import sys; print(sys.executable)')
if ! "$PY" -c 'import yaml' 2>/dev/null; then
    say "installing PyYAML"
    "$PY" -m pip install -q pyyaml >/dev/null 2>&1 || "$PY" -m pip install -q --break-system-packages pyyaml >/dev/null 2>&1 \
        || die "PyYAML is not importable and pip install pyyaml failed"
fi
HAVE_CLOADER=$("$PY" -c 'import yaml; print(1 if getattr(yaml, "__with_libyaml__", False) and hasattr(yaml, "CBaseLoader") else 0)')

# --- index ----------------------------------------------------------------------------------
rm -rf "$INDEX/index.d"
"$PY" "$ROOT/bench/gen_index.py" "$INDEX" --projects "$PROJECTS" --files "$FILES" 2>"$WORK/gen.log" \
    || { cat "$WORK/gen.log" >&2; die "gen_index.py failed"; }
set +e
"$BIN" index check "$INDEX" --format json >"$WORK/check.json" 2>"$WORK/check.err"
rc=$?
set -e
[[ $rc -eq 0 ]] || { cat "$WORK/check.err" >&2; die "slipway index check exited $rc on the generated index"; }
"$BIN" index graph "$INDEX" --format json >"$WORK/graph.json" || die "slipway index graph failed"
"$BIN" index graph "$INDEX" --format json --descendants "$BASE_IMAGE" >"$WORK/descendants.json" \
    || die "slipway index graph --descendants $BASE_IMAGE failed"
INDEX_SUMMARY=$("$PY" - "$WORK" "$PROJECTS" "$FILES" "$BASE_IMAGE" "$INDEX" <<'EOF'
import json, os, sys
work, projects, files, base, index = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
check = json.load(open(os.path.join(work, "check.json")))
waves = json.load(open(os.path.join(work, "graph.json")))["waves"]
descendants = json.load(open(os.path.join(work, "descendants.json")))["descendants"]
size = sum(os.path.getsize(os.path.join(index, "index.d", f)) for f in os.listdir(os.path.join(index, "index.d")))
problems = []
if len(check["errors"]):
    problems.append("%d errors" % len(check["errors"]))
if (check["files"], check["projects"], check["valid"]) != (files, projects, projects):
    problems.append("expected %d files / %d valid projects, got %d / %d / %d valid"
                    % (files, projects, check["files"], check["projects"], check["valid"]))
if files >= 100 and (len(waves) < 6 or len(descendants) < 1000):
    problems.append("expected depth 5 (6 waves) and >= 1000 descendants of %s" % base)
if problems:
    sys.exit("generated index is not what the benchmark needs: " + "; ".join(problems))
print("%d projects in %d files (%.1f MB), %d errors, %d warnings, %d waves, %s has %d descendants"
      % (check["projects"], check["files"], size / 1e6, len(check["errors"]), len(check["warnings"]),
         len(waves), base, len(descendants)))
EOF
) || die "the generated index failed verification"

# --- measurements ---------------------------------------------------------------------------
# Each command is a shell command line, timed as a whole (process start-up included, as a user sees it).
NAMES=(check graph anchor-base)
declare -A CMD LABEL
CMD[check]="'$BIN' index check '$INDEX' --format json > /dev/null"
CMD[graph]="'$BIN' index graph '$INDEX' --format json > /dev/null"
LABEL[check]="slipway index check --format json"
LABEL[graph]="slipway index graph --format json"
anchor_cmd() {
    echo "'$PY' -c 'import glob, sys, yaml
for name in sorted(glob.glob(sys.argv[1] + \"/index.d/*.yaml\")):
    with open(name) as f:
        yaml.load(f, Loader=yaml.$1)' '$INDEX' > /dev/null"
}
CMD[anchor-base]=$(anchor_cmd BaseLoader)
LABEL[anchor-base]="anchor: PyYAML BaseLoader (cccp)"
if [[ $HAVE_CLOADER == 1 ]]; then
    NAMES+=(anchor-c)
    CMD[anchor-c]=$(anchor_cmd CBaseLoader)
    LABEL[anchor-c]="anchor: PyYAML CBaseLoader (libyaml)"
fi

RESULTS=$WORK/results.tsv
: >"$RESULTS"
TIMER=loop
if [[ "${NO_HYPERFINE:-0}" != 1 ]] && command -v hyperfine >/dev/null; then TIMER="hyperfine $(hyperfine --version | awk '{print $2}')"; fi

time_cmd() {  # NAME -> "mean_ms max_ms"
    local name=$1 cmd=${CMD[$1]}
    if [[ $TIMER == hyperfine* ]]; then
        hyperfine --warmup "$WARMUP" --runs "$RUNS" --style none --export-json "$WORK/$name.hyperfine.json" "$cmd" \
            >"$WORK/$name.hyperfine.log" 2>&1 || { cat "$WORK/$name.hyperfine.log" >&2; die "hyperfine failed on $name"; }
        "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.1f %.1f" % (r["mean"] * 1e3, r["max"] * 1e3))' \
            "$WORK/$name.hyperfine.json"
    else
        local i start end times=()
        for ((i = 0; i < WARMUP; i++)); do bash -c "$cmd" || die "$name failed"; done
        for ((i = 0; i < RUNS; i++)); do
            start=$(date +%s%N)
            bash -c "$cmd" || die "$name failed"
            end=$(date +%s%N)
            times+=($(((end - start) / 1000)))
        done
        printf '%s\n' "${times[@]}" | awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%.1f %.1f\n", s / NR / 1e3, m / 1e3 }'
    fi
}

rss_cmd() {  # NAME -> peak RSS in KB (the largest of 3 runs for slipway, 1 run for an anchor)
    local name=$1 cmd=${CMD[$1]} n=3 i kb max=0
    [[ $name == anchor-* ]] && n=1
    for ((i = 0; i < n; i++)); do
        if [[ -x /usr/bin/time ]]; then
            /usr/bin/time -f %M -o "$WORK/$name.rss" bash -c "$cmd" || die "$name failed"
            kb=$(tail -n 1 "$WORK/$name.rss")
        else  # no GNU time: the children's peak RSS as the kernel reports it
            kb=$("$PY" -c 'import resource, subprocess, sys
subprocess.run(["bash", "-c", sys.argv[1]], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$cmd") || die "$name failed"
        fi
        ((kb > max)) && max=$kb
    done
    echo "$max"
}

for name in "${NAMES[@]}"; do
    say "timing ${LABEL[$name]} ($TIMER, $WARMUP warm-up + $RUNS runs)"
    timing=$(time_cmd "$name")
    read -r mean max <<<"$timing"
    rss=$(rss_cmd "$name")
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "${LABEL[$name]}" "$mean" "$max" "$rss" >>"$RESULTS"
done

# --- report ---------------------------------------------------------------------------------
PYYAML=$("$PY" -c 'import sys, yaml; print("Python %d.%d, PyYAML %s" % (sys.version_info[0], sys.version_info[1], yaml.__version__))')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
HEADER1="slipway index benchmark: $INDEX_SUMMARY"
HEADER2="$(nproc) cores, load $LOAD; timer: $TIMER, $WARMUP warm-up + $RUNS runs; anchors: $PYYAML"
"$PY" - "$RESULTS" "$BUDGET_CHECK_MS" "$BUDGET_GRAPH_MS" "$BUDGET_RSS_MB" "$HEADER1" "$HEADER2" <<'EOF'
import sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
budget_ms = {"check": float(sys.argv[2]), "graph": float(sys.argv[3])}
budget_mb = float(sys.argv[4])
print(sys.argv[5])
print(sys.argv[6])
print()
head = ("command", "mean ms", "max ms", "peak RSS MB", "budget", "result")
fmt = "%-37s %8s %8s %12s  %-19s %s"
print(fmt % head)
failed = []
means = {}
for name, label, mean, mx, kb in rows:
    mean, mx, mb = float(mean), float(mx), int(kb) / 1024
    means[name] = mean
    if name in budget_ms:
        ok = mean <= budget_ms[name] and mb <= budget_mb
        budget = "<=%d ms, <=%d MB" % (budget_ms[name], budget_mb)
        result = "PASS" if ok else "FAIL"
        if not ok:
            failed.append(label)
    else:
        budget, result = "-", "anchor"
    print(fmt % (label, "%.1f" % mean, "%.1f" % mx, "%.1f" % mb, budget, result))
print()
for name, label, *_ in rows:
    if name.startswith("anchor"):
        r = means["check"] / means[name]
        print("slipway check / %s = %.3f (%.1fx faster)" % (label.split(": ", 1)[1], r, 1 / r))
print("result: " + ("FAIL (" + ", ".join(failed) + ")" if failed else "PASS, every budget met"))
sys.exit(1 if failed else 0)
EOF
