#!/usr/bin/env bash
# Benchmark one project's whole pipeline, `slipway run`, against the same work done by a shell script:
# git clone, docker build, docker push, docker run of the user test, and two skopeo copies (test -> rc ->
# latest). The project is the demo's `hello` (FROM the demo base; a user test script), served by a git
# daemon of its own. Cold: slipway with an empty data dir (no git mirror, new database), the script with an
# empty clone dir, and for both the image's own layers removed from Docker first, so both build them. Rebuild:
# the same commit again, with slipway's mirror and both sides' Docker layer cache warm. Also times
# `slipway`'s checkout of the unchanged cached repository (the checkout stage's duration).
# See bench/README.md.
#
# Environment: BENCH_DIR (keep the work dir), RUNS (7 per method and mode), REGISTRY (127.0.0.1:5555),
# SKIP_BUILD=1 (use the existing release binary).
# Exit status: 0 when every budget is met, 1 when one is missed, 2 when the benchmark could not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REGISTRY=${REGISTRY:-127.0.0.1:5555}
RUNS=${RUNS:-7}
BUDGET_COLD_RATIO=1.15   # slipway cold <= 1.15 x the script cold
BUDGET_CHECKOUT_MS=100   # checkout of an unchanged cached repository
BUDGET_CACHE_RATIO=1.15  # slipway's BuildKit build stage <= 1.15 x DOCKER_BUILDKIT=1 docker build, cache mount warm
# (and slipway's rebuild of an unchanged commit < the script's)

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 2; }

if [[ -n "${BENCH_DIR:-}" ]]; then WORK=$BENCH_DIR; mkdir -p "$WORK"; KEEP=1; else WORK=$(mktemp -d); KEEP=0; fi
GIT_PID=
cleanup() {
    local rc=$?
    set +e
    [[ -n "$GIT_PID" ]] && kill "$GIT_PID" 2>/dev/null
    [[ -n "${APP:-}" ]] && docker rmi -f "$REGISTRY/$APP/hello:test" "$REGISTRY/$APP/hello-script:test" \
        "$REGISTRY/$APP/cachebench:test" "$REGISTRY/$APP/cachebench-script:test" >/dev/null 2>&1
    [[ $KEEP == 1 ]] || rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT

for tool in hyperfine docker skopeo git python3 curl; do command -v "$tool" >/dev/null || die "$tool is required"; done
docker info >/dev/null 2>&1 || die "dockerd does not answer (scripts/setup starts it)"
curl -fsS -o /dev/null "http://$REGISTRY/v2/" || die "no registry at $REGISTRY (scripts/setup starts it)"

BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/slipway
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    say "building the release binary"
    (cd "$ROOT" && cargo build --release --locked -q -p slipway-cli) || die "the release build failed"
fi

# --- the project's repository, on a git daemon of its own ---------------------------------------
APP=bench$$
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/git" "$WORK/src"
cp -a "$ROOT/demo/repos/hello/." "$WORK/src/"
sed -i "s/^job-id: .*/job-id: hello/" "$WORK/src/cccp.yml"
# A step of its own right after FROM, so no image outside this run (the demo's hello, an earlier run) shares
# the layers and serves the "cold" builds from cache.
python3 - "$WORK/src/Dockerfile" "$APP" <<'PY'
import sys
path, app = sys.argv[1:3]
lines = open(path).read().splitlines()
at = next(i for i, l in enumerate(lines) if l.startswith("FROM "))
lines.insert(at + 1, "LABEL io.slipway.bench=%s" % app)
open(path, "w").write("\n".join(lines) + "\n")
PY
(cd "$WORK/src" && git init -q -b main && git add -A &&
    git -c user.name=bench -c user.email=bench@example.org commit -q -m bench)
git clone -q --bare "$WORK/src" "$WORK/git/hello"
"$(git --exec-path)/git-daemon" --reuseaddr --export-all --base-path="$WORK/git" --listen=127.0.0.1 --port="$PORT" "$WORK/git" 2>/dev/null &
GIT_PID=$!
for _ in $(seq 50); do git ls-remote "git://127.0.0.1:$PORT/hello" >/dev/null 2>&1 && break; sleep 0.1; done

# The parent image must be in the registry: the demo delivers it.
if ! curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REGISTRY/v2/demo/base/manifests/latest"; then
    say "demo/base:latest is not in $REGISTRY: building it with slipway run --only demo/base:latest"
    "$BIN" run --index "$ROOT/index" --only demo/base:latest --registry "$REGISTRY" --data-dir "$WORK/demo-data" >&2 ||
        die "could not deliver demo/base:latest"
fi

mkdir -p "$WORK/index/index.d"
cat >"$WORK/index/index.d/$APP.yaml" <<YAML
Projects:
  - id: 1
    app-id: $APP
    job-id: hello
    git-url: git://127.0.0.1:$PORT/hello
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: bench@example.org
    depends-on: demo/base:latest
YAML

SCRIPT_REPO=$REGISTRY/$APP/hello-script
cat >"$WORK/script.sh" <<SH
#!/usr/bin/env bash
# What a pipeline without slipway does for one project.
set -euo pipefail
rm -rf "$WORK/clone"
git clone -q --depth 1 -b main git://127.0.0.1:$PORT/hello "$WORK/clone"
docker build -q -t $SCRIPT_REPO:test "$WORK/clone" >/dev/null
docker push -q $SCRIPT_REPO:test >/dev/null
docker run --rm --network none -v "$WORK/clone:/src:ro" --entrypoint /bin/sh $SCRIPT_REPO:test /src/tests/test.sh >/dev/null
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$SCRIPT_REPO:test docker://$SCRIPT_REPO:rc
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://$SCRIPT_REPO:rc docker://$SCRIPT_REPO:latest
SH
chmod +x "$WORK/script.sh"

SLIPWAY_RUN="$BIN run --index $WORK/index --registry $REGISTRY --data-dir $WORK/data --workers 1"
# Cold: the images' own layers go (the base stays, as on any worker), and slipway's data dir.
FORGET="docker rmi -f $SCRIPT_REPO:test $REGISTRY/$APP/hello:test >/dev/null 2>&1; rm -rf $WORK/data $WORK/clone; true"

say "cold: $RUNS runs each (layers and caches removed before every run)"
hyperfine --runs "$RUNS" --style none --prepare "$FORGET" --export-json "$WORK/cold.json" \
    -n script "$WORK/script.sh" -n slipway "$SLIPWAY_RUN >/dev/null" >"$WORK/cold.log" 2>&1 ||
    { tail -20 "$WORK/cold.log" >&2; die "a cold run failed"; }
say "rebuild of the unchanged commit: $RUNS runs each (mirror and layer cache warm)"
hyperfine --runs "$RUNS" --warmup 1 --style none --export-json "$WORK/warm.json" \
    -n script "$WORK/script.sh" -n slipway "$SLIPWAY_RUN >/dev/null" >"$WORK/warm.log" 2>&1 ||
    { tail -20 "$WORK/warm.log" >&2; die "a rebuild failed"; }

# --- BuildKit: a cache mount, rebuilt after a source change ---------------------------------------
# The first RUN stands for a dependency download: slow the first time, then served from its cache mount. A
# source change invalidates the COPY and that RUN, so only the cache mount keeps the rebuild fast. The script
# builds with `DOCKER_BUILDKIT=1 docker build` (the 20.10 CLI); slipway's figure is its build stage.
mkdir -p "$WORK/cb-src"
cat >"$WORK/cb-src/Dockerfile" <<DOCKERFILE
FROM slipway/busybox:latest
LABEL io.slipway.bench=$APP-cache
COPY src.txt /src/src.txt
RUN --mount=type=cache,target=/deps sh -c '[ -f /deps/ready ] || { sleep 3; date > /deps/ready; }; cp /deps/ready /src/deps && cat /src/src.txt'
CMD ["true"]
DOCKERFILE
printf 'job-id: cachebench\n' >"$WORK/cb-src/cccp.yml"
echo 0 >"$WORK/cb-src/src.txt"
(cd "$WORK/cb-src" && git init -q -b main && git add -A &&
    git -c user.name=bench -c user.email=bench@example.org commit -q -m bench)
git clone -q --bare "$WORK/cb-src" "$WORK/git/cachebench"
(cd "$WORK/cb-src" && git remote add origin "$WORK/git/cachebench")
cat >>"$WORK/index/index.d/$APP.yaml" <<YAML
  - id: 2
    app-id: $APP
    job-id: cachebench
    git-url: git://127.0.0.1:$PORT/cachebench
    git-branch: main
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: bench@example.org
YAML
cat >"$WORK/change.sh" <<SH
#!/usr/bin/env bash
# A new commit that changes the source.
set -euo pipefail
cd "$WORK/cb-src"
date +%s%N >src.txt
git -c user.name=bench -c user.email=bench@example.org commit -q -am change
git push -q origin main
SH
chmod +x "$WORK/change.sh"
CB_RUN="$BIN run --index $WORK/index --registry $REGISTRY --data-dir $WORK/cb-data --workers 1 --only $APP/cachebench:latest"
say "BuildKit: a cache mount, rebuilt after a source change: $RUNS runs each"
hyperfine --runs "$RUNS" --warmup 1 --style none --prepare "$WORK/change.sh" --export-json "$WORK/cache.json" \
    -n script "DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t $REGISTRY/$APP/cachebench-script:test $WORK/cb-src >/dev/null" \
    >"$WORK/cache-script.log" 2>&1 || { tail -20 "$WORK/cache-script.log" >&2; die "a docker build failed"; }
"$WORK/change.sh"; $CB_RUN >/dev/null 2>&1 || die "slipway's first cache build failed"
for _ in $(seq "$RUNS"); do
    "$WORK/change.sh"
    $CB_RUN >/dev/null 2>"$WORK/cache-slipway.log" || { tail -20 "$WORK/cache-slipway.log" >&2; die "a slipway cache build failed"; }
done
CACHE_BUILD_S=$(python3 - "$WORK/cb-data/slipway.db" <<'PY'
import sqlite3, sys, statistics
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""select (julianday(finished_at) - julianday(started_at)) * 86400 from stages
                     where kind = 'build' and state = 'succeeded' order by id""").fetchall()
warm = [r[0] for r in rows[1:]]  # the first filled the cache mount
print("%.3f" % statistics.median(warm) if warm else "nan")
PY
)

# The checkout stage of the warm runs, from slipway's own records.
"$BIN" status --format json --data-dir "$WORK/data" >"$WORK/status.json"
CHECKOUT_MS=$(python3 - "$WORK/data/slipway.db" <<'PY'
import sqlite3, sys, statistics
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""select (julianday(finished_at) - julianday(started_at)) * 86400000 from stages
                     where kind = 'checkout' and state = 'succeeded' order by id""").fetchall()
warm = [r[0] for r in rows[1:]]  # the first checkout of this data dir cloned the mirror
print("%.1f" % statistics.median(warm) if warm else "nan")
PY
)

python3 - "$WORK/cold.json" "$WORK/warm.json" "$CHECKOUT_MS" "$BUDGET_COLD_RATIO" "$BUDGET_CHECKOUT_MS" \
    "$WORK/cache.json" "$CACHE_BUILD_S" "$BUDGET_CACHE_RATIO" <<'PY'
import json, sys
cold, warm = (json.load(open(p))["results"] for p in sys.argv[1:3])
checkout_ms, b_ratio, b_checkout = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
cache = json.load(open(sys.argv[6]))["results"]
cache_slipway, b_cache = float(sys.argv[7]), float(sys.argv[8])
med = lambda results, name: next(r["median"] for r in results if r["command"] == name)
sc, ss = med(cold, "script"), med(cold, "slipway")
wc, ws = med(warm, "script"), med(warm, "slipway")
print("pipeline of one project (demo hello: clone, build, push, user test, test -> rc -> latest), median s")
print("%-34s %10s %10s %8s" % ("", "script", "slipway", "ratio"))
print("%-34s %10.2f %10.2f %7.2fx" % ("cold (no mirror, layers removed)", sc, ss, ss / sc))
print("%-34s %10.2f %10.2f %7.2fx" % ("rebuild, unchanged commit", wc, ws, ws / wc))
print("slipway checkout of the unchanged cached repository: median %.1f ms" % checkout_ms)
cache_script = med(cache, "script")
print("%-34s %10.2f %10.2f %7.2fx" % ("BuildKit, cache mount, new source", cache_script, cache_slipway, cache_slipway / cache_script))
print("  (script: DOCKER_BUILDKIT=1 docker build; slipway: its build stage, same Dockerfile, after a new commit)")
print("slipway also lints, runs the predefined tests (start, ports), scans, and records every stage and log.")
print()
fails = []
def budget(label, value, ok):
    print("%-58s %12s  %s" % (label, value, "PASS" if ok else "FAIL"))
    if not ok: fails.append(label)
budget("slipway cold <= %gx the script" % b_ratio, "%.2fx" % (ss / sc), ss / sc <= b_ratio)
budget("slipway rebuild < the script's rebuild", "%.2f / %.2f s" % (ws, wc), ws < wc)
budget("slipway BuildKit build <= %gx docker build (cache mount)" % b_cache, "%.2fx" % (cache_slipway / cache_script),
       cache_slipway / cache_script <= b_cache)
budget("checkout of an unchanged cached repository <= %g ms" % b_checkout, "%.1f ms" % checkout_ms, checkout_ms <= b_checkout)
print()
print("result: " + ("FAIL: " + "; ".join(fails) if fails else "PASS, every budget met"))
sys.exit(1 if fails else 0)
PY
