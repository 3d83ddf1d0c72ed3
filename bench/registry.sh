#!/usr/bin/env bash
# Benchmark promotion by digest against the local CNCF registry, in one run: `slipway image tag` (manifest-only
# retag) against `skopeo copy` within the repository and against docker pull + tag + push on a worker without the
# image, for images of 1 MiB, 100 MiB and 1 GiB; `slipway image copy` of the 1 GiB image to a second registry
# against `skopeo copy` (wall time, slipway's peak RSS); and 1,000 retags through the library API, as one call with
# 1,000 tags and as 1,000 calls (crates/slipway-registry/examples/retag_bench.rs). Every :rc and every copy is checked by digest.
# See bench/README.md.
#
# Environment: REGISTRY (127.0.0.1:5555), BASE_IMAGE (slipway/busybox:latest), BENCH_DIR (keep the work dir,
# the raw hyperfine JSON and the logs there instead of a temp dir), RUNS (30 slipway and skopeo retags per size,
# in ROUNDS (5) rounds of WARMUP (2) warm-up runs and RUNS/ROUNDS timed runs), DOCKER_RUNS_1M (10),
# DOCKER_RUNS_100M (5), DOCKER_RUNS_1G (3), COPY_RUNS (3), RETAGS (1000), SKIP_BUILD=1 (use the existing release
# binary and example).
# Exit status: 0 when every budget is met, 1 when one is missed (or a digest check fails), 2 when the benchmark
# could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REGISTRY=${REGISTRY:-127.0.0.1:5555}
BASE_IMAGE=${BASE_IMAGE:-slipway/busybox:latest}
RUNS=${RUNS:-30}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-2}
COPY_RUNS=${COPY_RUNS:-3}
RETAGS=${RETAGS:-1000}
SIZES=(1m 100m 1g)
COPY_SIZE=1g
declare -A BYTES=([1m]=1048576 [100m]=104857600 [1g]=1073741824)
declare -A HUMAN=([1m]="1 MiB" [100m]="100 MiB" [1g]="1 GiB")
declare -A DOCKER_RUNS=([1m]=${DOCKER_RUNS_1M:-10} [100m]=${DOCKER_RUNS_100M:-5} [1g]=${DOCKER_RUNS_1G:-3})
BUDGET_TAG_MS=15         # slipway image tag, median per call, every size
BUDGET_TAG_GROWTH=1.2    # 1 GiB median / 1 MiB median
BUDGET_VS_SKOPEO=4       # skopeo copy (same repository) median / slipway image tag median, every size
BUDGET_RETAGS_S=2        # one tag() call with 1,000 tags through the library
BUDGET_COPY_RSS_MB=64    # slipway's peak RSS copying the 1 GiB image across registries
# (and slipway image copy's median <= skopeo copy's median)

T0=$(date +%s)
say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }
now_ns() { date +%s%N; }

# --- work dir and clean-up ------------------------------------------------------------------
if [[ -n "${BENCH_DIR:-}" ]]; then
    WORK=$BENCH_DIR
    mkdir -p "$WORK"
    KEEP_WORK=1
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-registry-bench.XXXXXX")
    KEEP_WORK=0
fi
RUN_ID=$(date -u +%Y%m%d-%H%M%S)-$$
declare -A REPO
for size in "${SIZES[@]}"; do REPO[$size]=$REGISTRY/bench/img-$size-$RUN_ID; done
REG2_DIR=$WORK/registry2
REG2_PORT=
LOCAL_IMAGES=()

cleanup() {
    local rc=$?
    set +e
    if [[ -f "$REG2_DIR/pid" ]]; then
        "$REG2_DIR/ctl.sh" stop >/dev/null 2>&1
    fi
    rm -rf "$REG2_DIR/data"
    if ((${#LOCAL_IMAGES[@]})); then
        docker rmi -f "${LOCAL_IMAGES[@]}" >/dev/null 2>&1
    fi
    if [[ $KEEP_WORK == 1 ]]; then
        say "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools ----------------------------------------------------------------------------------
apt_install() {  # best effort
    apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
}
command -v hyperfine >/dev/null || { say "installing hyperfine"; apt_install hyperfine || true; }
[[ -x /usr/bin/time ]] || { say "installing time"; apt_install time || true; }
for tool in hyperfine docker skopeo curl docker-registry python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is required for the peak RSS"
PY=$(python3 -c 'import sys; print(sys.executable)')
docker info >/dev/null 2>&1 || die "dockerd does not answer (scripts/setup starts it)"
curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null || die "no registry at http://$REGISTRY (scripts/setup starts it)"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "no base image $BASE_IMAGE (scripts/setup imports it)"
# The CLI has no buildx here: the legacy builder, which honours --network none and --no-cache.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

# --- build ----------------------------------------------------------------------------------
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/slipway
RETAG_BENCH=$TARGET_DIR/release/examples/retag_bench
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    say "building the release binary and the retag_bench example"
    if ! (cd "$ROOT" && cargo build --release --locked -p slipway-cli &&
        cargo build --release --locked --example retag_bench -p slipway-registry) >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        die "the release build failed (log above)"
    fi
fi
[[ -x "$BIN" ]] || die "no binary at $BIN"
[[ -x "$RETAG_BENCH" ]] || die "no example at $RETAG_BENCH"
"$BIN" image tag --help >/dev/null 2>&1 || die "$BIN has no \`image tag\` (stale binary? run without SKIP_BUILD)"

# --- helpers --------------------------------------------------------------------------------
RESULTS=$WORK/results.txt
: >"$RESULTS"
put() { printf '%s %s\n' "$1" "$2" >>"$RESULTS"; }

# digest REGISTRY NAME TAG: the Docker-Content-Digest the registry answers for a manifest (empty when none).
digest() {
    { curl -sS -I --max-time 30 \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$1/v2/$2/manifests/$3" 2>/dev/null || true; } | tr -d '\r' |
        awk 'tolower($0) ~ /^docker-content-digest:/ { sub(/^[^:]*: */, ""); print }'
}
# check NAME REPOSITORY_REF TAG EXPECTED: records "check NAME ok|<what was found>".
check() {
    local reg=${2%%/*} name=${2#*/} got
    got=$(digest "$reg" "$name" "$3")
    if [[ -n "$4" && "$got" == "$4" ]]; then
        put "check:$1" ok
    else
        put "check:$1" "${got:-missing}"
        say "digest check failed: $2:$3 is ${got:-missing}, expected $4"
    fi
}
# hf FILE RUNS WARMUP HYPERFINE_OPTION... -- COMMAND: one hyperfine call, raw times in $WORK/FILE.hyperfine.json.
hf() {
    local file=$1 runs=$2 warmup=$3
    shift 3
    local opts=()
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    hyperfine --runs "$runs" --warmup "$warmup" --style none "${opts[@]}" \
        --export-json "$WORK/$file.hyperfine.json" "$1" >"$WORK/$file.hyperfine.log" 2>&1 ||
        { tail -n 20 "$WORK/$file.hyperfine.log" >&2; die "hyperfine failed on $file: $1"; }
}
# record NAME: the median (ms) over every timed run of NAME, in one hyperfine call (NAME) or in rounds (NAME.rN).
record() {
    local out
    out=$("$PY" - "$WORK" "$1" <<'EOF'
import glob, json, statistics, sys
work, name = sys.argv[1:3]
times = []
for path in glob.glob("%s/%s.hyperfine.json" % (work, name)) + glob.glob("%s/%s.r*.hyperfine.json" % (work, name)):
    times += json.load(open(path))["results"][0]["times"]
print("%.3f %d" % (statistics.median(times) * 1e3, len(times)))
EOF
    ) || die "no hyperfine results for $1"
    put "median_ms:$1" "${out% *}"
    put "runs:$1" "${out#* }"
    say "  $1: median ${out% *} ms over ${out#* } runs"
}
# untag_rc REF: removes :rc so the next method has to write it (distribution refuses tag deletes, slipway moves the
# tag to a tombstone and deletes that).
untag_rc() {
    "$BIN" image untag "$1:rc" >/dev/null 2>&1 || true
    local reg=${1%%/*} name=${1#*/}
    [[ -z "$(digest "$reg" "$name" rc)" ]] || die "could not remove $1:rc before the next method"
}

# --- 1. images ------------------------------------------------------------------------------
mkdir -p "$WORK/context"
cat >"$WORK/context/Dockerfile" <<EOF
FROM $BASE_IMAGE
ARG SIZE
RUN head -c "\$SIZE" /dev/urandom > /data
EOF
declare -A DIGEST
for size in "${SIZES[@]}"; do
    ref=${REPO[$size]}
    LOCAL_IMAGES+=("$ref:test" "$ref:rc")
    say "building $ref:test (${HUMAN[$size]} of /dev/urandom)"
    start=$(now_ns)
    docker build --no-cache --force-rm --network none --build-arg "SIZE=${BYTES[$size]}" -t "$ref:test" \
        "$WORK/context" >"$WORK/build-$size.log" 2>&1 ||
        { tail -n 20 "$WORK/build-$size.log" >&2; die "docker build of $ref:test failed"; }
    put "build_s:$size" "$(((($(now_ns) - start) / 1000000)))"
    say "pushing $ref:test"
    start=$(now_ns)
    docker push "$ref:test" >"$WORK/push-$size.log" 2>&1 ||
        { tail -n 20 "$WORK/push-$size.log" >&2; die "docker push of $ref:test failed"; }
    put "push_s:$size" "$(((($(now_ns) - start) / 1000000)))"
    DIGEST[$size]=$(digest "$REGISTRY" "${ref#*/}" test)
    [[ "${DIGEST[$size]}" =~ ^sha256:[0-9a-f]{64}$ ]] || die "the registry has no $ref:test after the push"
    put "digest:$size" "${DIGEST[$size]}"
done

# --- 2. retag :test -> :rc ------------------------------------------------------------------
# slipway and skopeo take a few milliseconds and share a 2-core machine, so they are timed in ROUNDS rounds,
# alternating sizes and methods, and the median is taken over all the runs: a slow minute weighs on every column
# alike instead of on whichever size happened to run then. Before each method :rc is removed, so the digest check
# after it proves that method wrote :rc. The docker method runs after them: the gigabytes it writes are flushed to
# disk for a while after, which would slow the registry's small writes under whatever is timed next.
SKOPEO=(skopeo copy --src-tls-verify=false --dest-tls-verify=false)
PER_ROUND=$(((RUNS + ROUNDS - 1) / ROUNDS))
for ((round = 1; round <= ROUNDS; round++)); do
    say "retag round $round/$ROUNDS: slipway image tag and skopeo copy, $WARMUP warm-up + $PER_ROUND runs per size"
    sync
    for size in "${SIZES[@]}"; do
        ref=${REPO[$size]}
        untag_rc "$ref"
        hf "slipway-tag-$size.r$round" "$PER_ROUND" "$WARMUP" -N -- "'$BIN' image tag $ref:test rc"
        check "slipway-tag-$size.r$round" "$ref" rc "${DIGEST[$size]}"
        untag_rc "$ref"
        hf "skopeo-tag-$size.r$round" "$PER_ROUND" "$WARMUP" -N -- "${SKOPEO[*]} docker://$ref:test docker://$ref:rc"
        check "skopeo-tag-$size.r$round" "$ref" rc "${DIGEST[$size]}"
    done
done
for size in "${SIZES[@]}"; do
    record "slipway-tag-$size"
    record "skopeo-tag-$size"
done
for size in "${SIZES[@]}"; do
    ref=${REPO[$size]}
    say "retag ${HUMAN[$size]} ($ref): docker pull + tag + push"
    # A CI worker without the image: the local copy goes before every run, so the pull moves the layer.
    untag_rc "$ref"
    sync
    hf "docker-tag-$size" "${DOCKER_RUNS[$size]}" 0 \
        --prepare "docker rmi -f $ref:test $ref:rc >/dev/null 2>&1 || true" -- \
        "docker pull -q $ref:test >/dev/null && docker tag $ref:test $ref:rc && docker push -q $ref:rc >/dev/null"
    record "docker-tag-$size"
    check "docker-tag-$size" "$ref" rc "${DIGEST[$size]}"
done

# --- 3. cross-registry copy of the 1 GiB image ----------------------------------------------
REG2_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG2=127.0.0.1:$REG2_PORT
mkdir -p "$REG2_DIR"
cat >"$REG2_DIR/config.yml" <<YAML
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $REG2_DIR/data
  delete:
    enabled: true
http:
  addr: $REG2
YAML
# ctl.sh start|stop|restart: restart stops the registry, empties its storage and starts it again, so every copy
# moves every byte (and skopeo finds nothing to mount from an earlier run).
cat >"$REG2_DIR/ctl.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
dir='$REG2_DIR'
stop() {
    [[ -f "\$dir/pid" ]] || return 0
    local pid
    pid=\$(cat "\$dir/pid")
    if kill "\$pid" 2>/dev/null; then
        for _ in \$(seq 100); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "\$pid" 2>/dev/null || true
    fi
    rm -f "\$dir/pid"
}
start() {
    rm -rf "\$dir/data"
    mkdir -p "\$dir/data"
    nohup docker-registry serve "\$dir/config.yml" >>"\$dir/registry.log" 2>&1 </dev/null &
    echo \$! >"\$dir/pid"
    for _ in \$(seq 300); do
        curl -fsS -o /dev/null 'http://$REG2/v2/' 2>/dev/null && return 0
        sleep 0.1
    done
    echo "registry on $REG2 did not start; see \$dir/registry.log" >&2
    return 1
}
case \${1:-} in
    start) start ;;
    stop) stop; rm -rf "\$dir/data" ;;
    restart) stop; start ;;
    *) echo "usage: ctl.sh start|stop|restart" >&2; exit 2 ;;
esac
EOF
chmod +x "$REG2_DIR/ctl.sh"
"$REG2_DIR/ctl.sh" start || die "could not start the second registry on $REG2"
sync

src=${REPO[$COPY_SIZE]}
dst=$REG2/bench/img-$COPY_SIZE
say "cross-registry copy of ${HUMAN[$COPY_SIZE]}: $src:test -> $dst (second registry emptied before every run)"
hf "slipway-copy" "$COPY_RUNS" 0 -N --prepare "'$REG2_DIR/ctl.sh' restart" -- "'$BIN' image copy $src:test $dst:copy"
record "slipway-copy"
check "slipway-copy" "$dst" copy "${DIGEST[$COPY_SIZE]}"
hf "skopeo-copy" "$COPY_RUNS" 0 -N --prepare "'$REG2_DIR/ctl.sh' restart" -- \
    "${SKOPEO[*]} docker://$src:test docker://$dst:skopeo"
record "skopeo-copy"
check "skopeo-copy" "$dst" skopeo "${DIGEST[$COPY_SIZE]}"

say "peak RSS of one more copy each (/usr/bin/time -f %M)"
"$REG2_DIR/ctl.sh" restart || die "could not restart the second registry"
/usr/bin/time -f %M -o "$WORK/slipway-copy.rss" "$BIN" image copy "$src:test" "$dst:copy" \
    >"$WORK/slipway-copy.out" 2>&1 ||
    { cat "$WORK/slipway-copy.out" >&2; die "slipway image copy failed"; }
put "rss_kb:slipway-copy" "$(tail -n 1 "$WORK/slipway-copy.rss")"
put "copy_report" "$(tail -n 1 "$WORK/slipway-copy.out" | sed 's/^[^(]*(//; s/)$//')"
check "slipway-copy-rss-run" "$dst" copy "${DIGEST[$COPY_SIZE]}"
"$REG2_DIR/ctl.sh" restart || die "could not restart the second registry"
/usr/bin/time -f %M -o "$WORK/skopeo-copy.rss" "${SKOPEO[@]}" "docker://$src:test" "docker://$dst:skopeo" \
    >"$WORK/skopeo-copy.out" 2>&1 ||
    { cat "$WORK/skopeo-copy.out" >&2; die "skopeo copy failed"; }
put "rss_kb:skopeo-copy" "$(tail -n 1 "$WORK/skopeo-copy.rss")"
"$REG2_DIR/ctl.sh" stop

# --- 4. N retags through the library --------------------------------------------------------
src=${REPO[1m]}
say "$RETAGS retags through the library: one tag() with $RETAGS tags (b*), then $RETAGS one-tag calls (r*)"
sync
"$RETAG_BENCH" "$src:test" "$RETAGS" >"$WORK/retag_bench.out" 2>&1 ||
    { cat "$WORK/retag_bench.out" >&2; die "retag_bench failed"; }
for mode in batch calls; do
    line=$(grep "^$mode retags=" "$WORK/retag_bench.out") || die "retag_bench printed no $mode result"
    for field in ${line#"$mode "}; do put "retag_$mode:${field%%=*}" "${field#*=}"; done
done
check "retag-bench-b$((RETAGS - 1))" "$src" "b$((RETAGS - 1))" "${DIGEST[1m]}"
check "retag-bench-r$((RETAGS - 1))" "$src" "r$((RETAGS - 1))" "${DIGEST[1m]}"

# --- report ---------------------------------------------------------------------------------
LOAD=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
REGISTRY_VERSION=$(docker-registry --version 2>/dev/null | awk '{print $NF}' | head -n 1)
HEADER1="slipway registry benchmark: $REGISTRY (distribution ${REGISTRY_VERSION:-?})"
HEADER1+=", repositories bench/img-{1m,100m,1g}-$RUN_ID"
HEADER2="$(nproc) cores, load $LOAD; hyperfine $(hyperfine --version | awk '{print $2}'), $(skopeo --version)"
HEADER2+=", docker $(docker version --format '{{.Server.Version}}')"
ELAPSED=$(($(date +%s) - T0))
"$PY" - "$RESULTS" "$HEADER1" "$HEADER2" "$ELAPSED" "$WARMUP" "$BUDGET_TAG_MS" "$BUDGET_TAG_GROWTH" \
    "$BUDGET_VS_SKOPEO" "$BUDGET_RETAGS_S" "$BUDGET_COPY_RSS_MB" "$RETAGS" "$ROUNDS" <<'EOF'
import sys
path, head1, head2, elapsed, warmup = sys.argv[1:6]
rounds = int(sys.argv[12])
b_tag_ms, b_growth, b_vs_skopeo, b_retags_s, b_rss_mb = map(float, sys.argv[6:11])
retags = int(sys.argv[11])
r = {}
for line in open(path):
    key, _, value = line.rstrip("\n").partition(" ")
    r[key] = value
sizes, human = ["1m", "100m", "1g"], {"1m": "1 MiB", "100m": "100 MiB", "1g": "1 GiB"}
med = lambda name: float(r["median_ms:" + name])
runs = lambda name: r["runs:" + name]

print(head1)
print(head2)
print("images (one random layer on the base): " + "; ".join(
    "%s built in %.1f s, pushed in %.1f s" % (human[s], int(r["build_s:" + s]) / 1e3, int(r["push_s:" + s]) / 1e3)
    for s in sizes))
print()
fmt = "%-46s %10s %10s %10s   %s"
print(fmt % ("retag :test -> :rc, median ms per call", *[human[s] for s in sizes], "runs"))
rows = [("slipway image tag", "slipway-tag", " in %d rounds, %s warm-up each" % (rounds, warmup)),
        ("skopeo copy (same repository)", "skopeo-tag", " in %d rounds, %s warm-up each" % (rounds, warmup)),
        ("docker pull + tag + push (image not local)", "docker-tag", "")]
for label, key, suffix in rows:
    print(fmt % (label, *["%.1f" % med("%s-%s" % (key, s)) for s in sizes],
                 "/".join(runs("%s-%s" % (key, s)) for s in sizes) + suffix))
for label, key in [("ratio skopeo / slipway", "skopeo-tag"), ("ratio docker / slipway", "docker-tag")]:
    print(fmt % (label, *["%.1fx" % (med("%s-%s" % (key, s)) / med("slipway-tag-" + s)) for s in sizes], ""))
print()
copy_s, skopeo_s = med("slipway-copy") / 1e3, med("skopeo-copy") / 1e3
rss_mb, skopeo_rss_mb = int(r["rss_kb:slipway-copy"]) / 1024, int(r["rss_kb:skopeo-copy"]) / 1024
print("cross-registry copy, 1 GiB (median of %s runs, target emptied each run):" % runs("slipway-copy"))
print("  slipway image copy  %7.2f s  %6.1f MB/s  peak RSS %6.1f MB   (%s)"
      % (copy_s, 1024 / copy_s, rss_mb, r.get("copy_report", "?")))
print("  skopeo copy         %7.2f s  %6.1f MB/s  peak RSS %6.1f MB" % (skopeo_s, 1024 / skopeo_s, skopeo_rss_mb))
print("  slipway / skopeo    %7.2f" % (copy_s / skopeo_s))
total_s, parallel = float(r["retag_batch:total_s"]), r["retag_batch:parallel"]
print("%d retags through the library, 1 MiB image:" % retags)
print("  one tag() with %d tags (1 GET, PUTs %s at a time)   %6.2f s total, %.2f ms per tag"
      % (retags, parallel, total_s, total_s * 1e3 / retags))
calls_s = float(r["retag_calls:total_s"])
print("  %d tag() calls one after the other (GET + PUT each) %6.2f s total, median %.2f ms, p90 %.2f ms, max %.1f ms"
      % (retags, calls_s, float(r["retag_calls:median_ms"]), float(r["retag_calls:p90_ms"]),
         float(r["retag_calls:max_ms"])))
print()

failed, counted = [], []
bfmt = "%-58s %14s  %s"
def budget(label, value, ok):
    print(bfmt % (label, value, "PASS" if ok else "FAIL"))
    counted.append(label)
    if not ok:
        failed.append(label)
print(bfmt % ("budget", "measured", "result"))
for s in sizes:
    m = med("slipway-tag-" + s)
    budget("slipway image tag median <= %g ms, %s" % (b_tag_ms, human[s]), "%.1f ms" % m, m <= b_tag_ms)
g = med("slipway-tag-1g") / med("slipway-tag-1m")
budget("slipway image tag 1 GiB / 1 MiB <= %g" % b_growth, "%.2f" % g, g <= b_growth)
for s in sizes:
    q = med("skopeo-tag-" + s) / med("slipway-tag-" + s)
    budget("skopeo copy / slipway image tag >= %gx, %s" % (b_vs_skopeo, human[s]), "%.1fx" % q, q >= b_vs_skopeo)
budget("%d retags through the library (one tag() call) <= %g s" % (retags, b_retags_s), "%.2f s" % total_s, total_s <= b_retags_s)
budget("slipway image copy 1 GiB median <= skopeo copy median", "%.2f / %.2f s" % (copy_s, skopeo_s),
       copy_s <= skopeo_s)
budget("slipway image copy 1 GiB peak RSS <= %g MB" % b_rss_mb, "%.1f MB" % rss_mb, rss_mb <= b_rss_mb)
checks = {k[len("check:"):]: v for k, v in r.items() if k.startswith("check:")}
bad = {k: v for k, v in checks.items() if v != "ok"}
budget("digests: every :rc == :test, copies, b%d and r%d == source" % (retags - 1, retags - 1),
       "%d/%d" % (len(checks) - len(bad), len(checks)), not bad)
for k, v in bad.items():
    print("  %s: found %s" % (k, v))
print()
print("result: " + ("FAIL (%d of %d: %s)" % (len(failed), len(counted), "; ".join(failed)) if failed
                    else "PASS, every budget met")
      + "; run time %d s" % int(elapsed))
sys.exit(1 if failed else 0)
EOF
