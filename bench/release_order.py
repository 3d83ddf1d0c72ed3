#!/usr/bin/env python3
"""The cost of one release order per project (see bench/README.md, "Release order").

Two runs of `slipway serve --workers 4` on a fresh SQLite database each, on real Docker, git and registry:
- with the rule: 8 projects x 2 builds. Each project's second build is asked for (a new commit, then
  `slipway build`) as soon as its first one runs, so it has to wait for it;
- the anchor: the same 16 builds with nothing to wait for: 16 projects x 1 build.
Prints both wall times (serve start to the last build's end), their ratio, and the longest time a waiting
build took to start after its project's build ended. Exit 0 when the budgets hold, 1 when one is missed.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1]
REGISTRY = os.environ.get("REGISTRY", "127.0.0.1:5555")
WORKERS = 4
RATIO_BUDGET = 1.2
START_BUDGET_S = 1.0
TEST = "#!/bin/sh\necho testing\nsleep 1\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args], cwd=cwd,
                   check=True, capture_output=True)


def commit(src, job, version):
    with open(os.path.join(src, "Dockerfile"), "w") as f:
        f.write(f"FROM slipway/busybox:latest\nRUN echo {job}-{version} > /built\nCMD [\"cat\", \"/built\"]\n")
    os.makedirs(os.path.join(src, "tests"), exist_ok=True)
    with open(os.path.join(src, "tests", "run.sh"), "w") as f:
        f.write(TEST)
    os.chmod(os.path.join(src, "tests", "run.sh"), 0o755)
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", f"{job} {version}")


class Run:
    def __init__(self, work, name, jobs):
        self.dir = os.path.join(work, name)
        self.app = f"bench{os.getpid()}{name}"
        self.jobs = jobs
        os.makedirs(os.path.join(self.dir, "index", "index.d"))
        self.git_port = free_port()
        self.git_dir = os.path.join(self.dir, "git")
        entries = []
        for n, job in enumerate(jobs):
            src = os.path.join(self.dir, "src", job)
            os.makedirs(src)
            git(src, "init", "-q", "-b", "main")
            commit(src, job, 1)
            git(src, "config", "receive.denyCurrentBranch", "updateInstead")
            os.makedirs(self.git_dir, exist_ok=True)
            subprocess.run(["git", "clone", "-q", "--bare", src, os.path.join(self.git_dir, job)], check=True)
            git(src, "remote", "add", "origin", os.path.join(self.git_dir, job))
            entries.append(
                f"  - id: {n + 1}\n    app-id: {self.app}\n    job-id: {job}\n"
                f"    git-url: git://127.0.0.1:{self.git_port}/{job}\n    git-branch: main\n    git-path: /\n"
                f"    target-file: Dockerfile\n    notify-email: bench@example.org\n    test-script: tests/run.sh\n")
        with open(os.path.join(self.dir, "index", "index.d", f"{self.app}.yaml"), "w") as f:
            f.write("Projects:\n" + "\n".join(entries))
        self.daemon = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={self.git_dir}", "--listen=127.0.0.1",
             f"--port={self.git_port}", self.git_dir], stderr=subprocess.DEVNULL)
        self.env = dict(os.environ, SLIPWAY_DATABASE=f"sqlite://{self.dir}/slipway.db", SLIPWAY_REGISTRY=REGISTRY,
                        SLIPWAY_DATA_DIR=os.path.join(self.dir, "data"))
        self.env.pop("SLIPWAY_CONFIG", None)
        time.sleep(0.3)

    def slipway(self, *args):
        return subprocess.run([BIN, *args], env=self.env, cwd=self.dir, check=True, capture_output=True, text=True)

    def builds(self):
        out = []
        for job in self.jobs:
            with urllib.request.urlopen(f"http://{self.address}/api/v1/projects/{self.app}/{job}/latest/builds") as r:
                out.extend(dict(b, job=job) for b in json.load(r))
        return out

    def run(self, second_builds):
        log = open(os.path.join(self.dir, "serve.log"), "w")
        started = time.monotonic()
        serve = subprocess.Popen(
            [BIN, "serve", "--index", os.path.join(self.dir, "index"), "--workers", str(WORKERS), "--listen",
             "127.0.0.1:0", "--git-poll-interval", "1h", "--index-poll-interval", "1h"],
            env=self.env, cwd=self.dir, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            for line in serve.stdout:
                if line.startswith("serving the UI at http://"):
                    self.address = line.split("http://", 1)[1].split("/", 1)[0]
                    break
            asked = set()
            want = len(self.jobs) * (2 if second_builds else 1)
            while True:
                builds = self.builds()
                if second_builds:
                    for b in builds:
                        if b["number"] == 1 and b["state"] == "running" and b["job"] not in asked:
                            src = os.path.join(self.dir, "src", b["job"])
                            commit(src, b["job"], 2)
                            git(src, "push", "-q", "origin", "main")
                            self.slipway("build", f"{self.app}/{b['job']}:latest", "--by", "bench")
                            asked.add(b["job"])
                ended = [b for b in builds if b["state"] not in ("queued", "running")]
                if len(ended) == want:
                    break
                if time.monotonic() - started > 600:
                    raise SystemExit("bench: the builds did not end within 10 minutes; see " + self.dir)
                time.sleep(0.2)
            failed = [f"{b['job']}#{b['number']} {b['state']}" for b in ended if b["state"] != "succeeded"]
            if failed:
                raise SystemExit(f"bench: builds did not succeed: {failed}; see {self.dir}")
            wall = max(parse(b["finished_at"]) for b in ended) - min(parse(b["created_at"]) for b in ended)
            waits = []
            for job in self.jobs:
                mine = {b["number"]: b for b in ended if b["job"] == job}
                if 2 in mine:
                    waits.append(parse(mine[2]["started_at"]) - parse(mine[1]["finished_at"]))
            return wall, waits
        finally:
            serve.terminate()
            serve.wait()
            self.daemon.terminate()


def parse(text):
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main():
    work = tempfile.mkdtemp(prefix="slipway-bench-order-")
    try:
        anchor, _ = Run(work, "anchor", [f"p{n}" for n in range(16)]).run(second_builds=False)
        ruled, waits = Run(work, "rule", [f"p{n}" for n in range(8)]).run(second_builds=True)
    finally:
        if not os.environ.get("BENCH_DIR"):
            shutil.rmtree(work, ignore_errors=True)
    ratio = ruled / anchor
    worst = max(waits) if waits else float("nan")
    print(f"16 builds on {WORKERS} workers, nothing to wait for (anchor): {anchor:6.1f} s")
    print(f"8 projects x 2 builds, one at a time per project:          {ruled:6.1f} s  ({ratio:.2f} x the anchor; "
          f"budget {RATIO_BUDGET} x)")
    print(f"a waiting build started after its project's build ended: at most {worst:.2f} s "
          f"(median {sorted(waits)[len(waits) // 2]:.2f} s; budget {START_BUDGET_S} s)")
    ok = ratio <= RATIO_BUDGET and worst <= START_BUDGET_S
    print("budgets met" if ok else "BUDGET MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
