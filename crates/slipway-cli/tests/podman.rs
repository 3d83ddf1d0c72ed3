//! The demo index on Podman: `slipway run --docker unix:///run/podman/podman.sock` builds every demo project
//! (buildah behind Podman's Docker-compatible API, the Debian one with `apt-get install`), tests each in the
//! sandbox and delivers it by digest, as it does on dockerd. One more project's user test checks, from inside,
//! that Podman enforced the sandbox (no network, read-only root, no capabilities, limits), and its HEALTHCHECK
//! is tested although Podman itself runs none here.
//!
//! It needs podman and its API service, which scripts/setup installs and starts; without podman it says so
//! and passes (a machine that never ran scripts/setup), but with podman and no service it fails.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;

use std::path::{Path, PathBuf};
use std::time::Instant;

use scenario::Scenario;
use slipway_e2e::harness::pull_digest;

/// Where scripts/setup starts Podman's API (`SLIPWAY_PODMAN_SOCKET` there and here).
fn podman_socket() -> String {
    std::env::var("SLIPWAY_PODMAN_SOCKET").unwrap_or_else(|_| "/run/podman/podman.sock".to_string())
}

fn podman_installed() -> bool {
    std::process::Command::new("podman").arg("--version").output().is_ok_and(|out| out.status.success())
}

/// The sandbox as the test script sees it; each line says what it found when it is wrong.
const SANDBOX_CHECK: &str = r#"#!/bin/sh
# Runs inside the image under test: the sandbox Slipway asked for must hold on this engine too.
set -e
fail() { echo "not sandboxed: $*" >&2; exit 1; }
first() { for f in "$@"; do [ -r "$f" ] && { cat "$f"; return; }; done; echo missing; }
[ "$(ls /sys/class/net)" = lo ] || fail "network interfaces: $(ls /sys/class/net | tr '\n' ' ')"
if touch /probe 2>/dev/null; then fail "the root file system is writable"; fi
touch /tmp/probe || fail "/tmp is not writable"
grep -Eq '^CapEff:[[:space:]]+0+$' /proc/self/status || fail "$(grep ^CapEff /proc/self/status)"
grep -Eq '^NoNewPrivs:[[:space:]]+1$' /proc/self/status || fail "no_new_privs is not set"
pids=$(first /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max)
[ "$pids" = 256 ] || fail "pids limit $pids"
memory=$(first /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max)
[ "$memory" = 536870912 ] || fail "memory limit $memory"
echo "sandboxed: lo only, read-only root, no capabilities, pids $pids, memory $memory"
"#;

#[test]
fn the_demo_index_is_built_tested_and_delivered_on_podman() {
    if !podman_installed() {
        eprintln!(
            "SKIPPED the_demo_index_is_built_tested_and_delivered_on_podman: podman is not installed; \
             scripts/setup installs it and starts its API at unix:///run/podman/podman.sock"
        );
        return;
    }
    let socket = podman_socket();
    assert!(
        Path::new(&socket).exists(),
        "podman is installed but its API socket {socket} is missing; run scripts/setup (it starts \
         `podman system service`)"
    );
    let s = Scenario::new("podman");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../demo/repos");
    let mut names = Vec::new();
    for dir in std::fs::read_dir(&demo).expect("demo/repos").map(|entry| entry.expect("an entry").path()) {
        let name = dir.file_name().and_then(|n| n.to_str()).expect("a repository name").to_string();
        commit_demo_repo(&s, &name, &dir);
        names.push(name);
    }
    s.repo(
        "sandbox",
        &[
            (
                "Dockerfile",
                "FROM slipway/busybox:latest\nHEALTHCHECK CMD [\"test\", \"-d\", \"/tmp\"]\nCMD [\"sleep\", \"60\"]\n",
            ),
            ("tests/sandbox.sh", SANDBOX_CHECK),
        ],
    );
    let index = write_index(&s);

    let started = Instant::now();
    let out = s.slipway(&[
        "run",
        "--index",
        &index.display().to_string(),
        "--workers",
        "2",
        "--docker",
        &format!("unix://{socket}"),
    ]);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let status = s.status();
    let logs = |image: &str| {
        let out = s.slipway(&["logs", image]);
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    };
    let all_logs = || status.keys().map(|image| logs(image)).collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "run: {stdout}\n{}\n{}", String::from_utf8_lossy(&out.stderr), all_logs());
    assert!(stdout.contains("building with Podman 4."), "{stdout}");
    eprintln!("the demo index on Podman: {} projects in {:.1} s", status.len(), took.as_secs_f64());

    names.push("sandbox".to_string());
    assert_eq!(status.len(), names.len(), "{status:#?}");
    for (image, project) in &status {
        assert_eq!(project["state"], "succeeded", "{image}: {project:#}\n{}", logs(image));
        let digest = project["digest"].as_str().expect("a digest");
        let (name, tag) = image.rsplit_once(':').expect("app/job:tag");
        let repository = format!("{}/{name}", s.registry);
        // demo/tools has `promotion: manual`: it waits at rc.
        let tiers: &[&str] = if tag == "3.10" { &["test", "rc"] } else { &["test", "rc", tag] };
        for tier in tiers {
            assert_eq!(pull_digest(&format!("{repository}:{tier}")), digest, "{image} :{tier}");
        }
        let log = logs(image);
        // Podman does not record a pushed digest on the local image; the push records it, so that the test stage
        // finds `repository@digest` at once instead of erroring and retrying.
        assert!(!log.contains("[slipway] attempt 2"), "{image}: one attempt was enough:\n{log}");
        assert!(log.contains("[slipway] engine: Podman 4."), "{image}: the build log names the engine:\n{log}");
        assert!(
            log.contains("has no BuildKit sessions; building with its Docker-compatible build API (buildah)"),
            "{image}: {log}"
        );
    }
    let web = logs(&s.image("web"));
    assert!(web.contains("test port 8080/tcp: passed"), "the port check joined the container's namespace: {web}");
    let jq = logs(&s.image("jq"));
    assert!(jq.contains("ok: demo jq 1.0 on Debian (jq-"), "apt-get installed jq on Debian: {jq}");
    let sandbox = logs(&s.image("sandbox"));
    assert!(sandbox.contains("sandboxed: lo only, read-only root, no capabilities"), "{sandbox}");
    // Podman runs no healthchecks without systemd, and its compat image inspect hides them: Slipway runs it.
    assert!(sandbox.contains("test healthcheck: passed"), "{sandbox}");
}

/// Commits `dir` (a demo repository) to the scenario's git server, its parents named in the scenario's app-id.
fn commit_demo_repo(s: &Scenario, name: &str, dir: &Path) {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    let texts: Vec<(String, String)> =
        files.into_iter().map(|(path, text)| (path, text.replace("127.0.0.1:5555/demo/", "REGISTRY/APP/"))).collect();
    let borrowed: Vec<(&str, &str)> = texts.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    s.repo(name, &borrowed);
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    for path in std::fs::read_dir(dir).expect("a demo directory").map(|entry| entry.expect("an entry").path()) {
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("under the root").display().to_string();
            files.push((relative, std::fs::read_to_string(&path).expect("a text file")));
        }
    }
}

/// The demo index with the scenario's app-id, git server and a sandbox-checking project.
fn write_index(s: &Scenario) -> PathBuf {
    let demo = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../index/index.d/demo.yaml"))
        .expect("the demo index");
    let base_url = s.git.url("base");
    let git_root = base_url.strip_suffix("base").expect("a git URL ending in the name");
    let mut text = demo
        .replace("app-id: demo", &format!("app-id: {}", s.app))
        .replace("git://127.0.0.1:9418/", git_root)
        .replace("demo/base:latest", &format!("{}/base:latest", s.app))
        .replace("demo/hello:latest", &format!("{}/hello:latest", s.app));
    text.push_str(&format!(
        "\n  - app-id: {app}\n    job-id: sandbox\n    git-url: {url}\n    git-branch: main\n    git-path: /\n    \
         target-file: Dockerfile\n    notify-email: team@example.org\n    test-script: tests/sandbox.sh\n",
        app = s.app,
        url = s.git.url("sandbox"),
    ));
    let dir = s.data_dir().join("podman-index");
    std::fs::create_dir_all(dir.join("index.d")).expect("index dir");
    std::fs::write(dir.join(format!("index.d/{}.yaml", s.app)), text).expect("index file");
    dir
}
