//! Takeover on another host, end to end: two Docker daemons of the test's own stand for two build hosts, on
//! PostgreSQL and a registry that wants credentials. Worker A, on daemon 1, pushes the image and is killed with
//! SIGKILL while its test runs; worker B, on daemon 2 (which never had the image), takes the build over once A's
//! lease lapses, pulls the pushed digest with the registry's credentials, tests it and delivers it. The image
//! was built and pushed once, and the log holds both attempts.

#[path = "pipeline/private_dockerd.rs"]
mod private_dockerd;
#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::{Child, Stdio};

use private_dockerd::{PrivateDockerd, assert_host_bridge_works};
use scenario::{Db, Entry, Scenario, dockerfile, sql, wait_for};
use serving::{ServeGuard, serve_index_without_workers};
use slipway_e2e::harness::{Auth, Registry};

const PASSWORD: &str = "takeover-Secret-5d21e0";

/// `slipway worker` on `daemon`, its log in the data dir as `worker-NAME.log`.
fn worker(s: &Scenario, daemon: &PrivateDockerd, name: &str) -> Child {
    let log = std::fs::File::create(s.data_dir().join(format!("worker-{name}.log"))).expect("a log file");
    s.command(&["worker", "--workers", "1", "--docker", &daemon.url(), "--lease", "3s"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("slipway worker starts")
}

#[test]
fn a_build_taken_over_on_another_docker_daemon_is_pulled_by_digest_tested_and_delivered() {
    let registry = Registry::start(Auth::htpasswd("bot", PASSWORD));
    let (host1, host2) = std::thread::scope(|t| {
        let one = t.spawn(PrivateDockerd::start);
        let two = t.spawn(PrivateDockerd::start);
        (one.join().expect("daemon 1"), two.join().expect("daemon 2"))
    });
    let mut s = Scenario::with_db("takeover", Db::Postgres);
    s.registry = registry.address();
    let slow_test = "#!/bin/sh\necho 'test begins'\nsleep 6\necho 'test ends'\n";
    s.repo("slow", &[("Dockerfile", &dockerfile("slow")), ("tests/run.sh", slow_test)]);
    s.project(Entry { extra: "    test-script: tests/run.sh\n", ..Entry::new("slow") });
    let config = format!("[registries.\"{}\"]\nusername = \"bot\"\npassword = \"{PASSWORD}\"\n", registry.address());
    std::fs::write(s.data_dir().join("slipway.toml"), config).expect("the configuration is written");
    let mut serve = serve_index_without_workers(&s, &[], Stdio::null());
    let serving = ServeGuard(&mut serve);

    // Worker A pushes the image and starts its slow test: killed then, as a host lost would be.
    let mut a = worker(&s, &host1, "a");
    let a = ServeGuard(&mut a);
    let image = s.image("slow");
    wait_for(60, "slow's test log stored", || s.logs("slow").contains("test begins").then_some(()));
    let pushed = s.status().get(&image).and_then(|p| p["digest"].as_str().map(str::to_string));
    let pushed = pushed.expect("the pushed digest is recorded before the test");
    a.0.kill().expect("SIGKILL");
    a.0.wait().expect("reaped");

    // Worker B, on the other daemon, takes the build over once A's lease lapses.
    let mut b = worker(&s, &host2, "b");
    let b = ServeGuard(&mut b);
    let done = wait_for(60, "slow delivered by worker B", || {
        let status = s.status().get(&image).cloned().unwrap_or_default();
        let error = status["error"].as_str().unwrap_or_default();
        let bad = matches!(status["state"].as_str(), Some("failed" | "errored")) || error.starts_with("attempt ");
        assert!(!bad, "the build taken over went wrong: {status:#}\n{}", s.logs("slow"));
        (status["state"] == "succeeded").then_some(status)
    });
    drop(b);
    drop(serving);

    let repository = s.repository("slow");
    assert_eq!(done["digest"], pushed.as_str(), "the digest pushed by A is the one tested and delivered");
    assert_eq!(registry.pull_digest(&format!("{}/slow:latest", s.app)), pushed, ":latest is the digest pushed once");
    let by_digest = format!("{repository}@{pushed}");
    let inspected = host2.docker(&["image", "inspect", "--format", "{{.Id}}", &by_digest]);
    assert!(inspected.status.success(), "daemon 2 has {by_digest}: {}", String::from_utf8_lossy(&inspected.stderr));

    let jobs = sql(
        &s.database,
        &format!(
            "SELECT j.attempts FROM jobs j JOIN builds b ON b.id = j.build_id JOIN projects p ON p.id = b.project_id \
             WHERE p.image = '{image}'"
        ),
    );
    assert_eq!(jobs, ["2"], "one build, claimed twice");
    let stages = sql(
        &s.database,
        &format!(
            "SELECT st.kind FROM stages st JOIN builds b ON b.id = st.build_id JOIN projects p ON p.id = b.project_id \
             WHERE p.image = '{image}' AND st.kind IN ('build', 'push') ORDER BY st.kind"
        ),
    );
    assert_eq!(stages, ["build", "push"], "build and push ran once each");
    let manifest_puts = registry.log().matches(&format!("\"PUT /v2/{}/slow/manifests/test ", s.app)).count();
    assert_eq!(manifest_puts, 1, "the registry got one push of the test tag");

    let logs = s.logs("slow");
    assert!(logs.contains("[slipway] attempt 2 of this build"), "{logs}");
    assert_eq!(logs.matches("test begins").count(), 2, "the test log holds both attempts: {logs}");
    assert_eq!(logs.matches("test ends").count(), 1, "A's test never ended: {logs}");
    let pull = format!(
        "[slipway] {by_digest} was pushed by an earlier attempt and this worker's Docker daemon does not have it; \
         pulling it by digest"
    );
    assert!(logs.contains(&pull), "B says it pulls the image: {logs}");

    drop(a);
    drop(host1);
    drop(host2);
    assert_host_bridge_works();
}
