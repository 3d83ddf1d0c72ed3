//! Faults end to end: the registry down during a promotion (a clear failure, tags as they were, and the
//! promotion goes through once the registry is back), and four worker processes sharing one SQLite file (never
//! "database is locked").

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::Stdio;
use std::time::{Duration, Instant};

use scenario::{Entry, Scenario, dockerfile};
use serving::{ServeGuard, serve_index_without_workers};
use slipway_e2e::harness::{Auth, Registry, pull_digest};

#[test]
fn a_promotion_while_the_registry_is_down_fails_clearly_changes_nothing_and_succeeds_later() {
    let mut registry = Registry::start(Auth::None);
    let mut s = Scenario::new("outage");
    s.registry = registry.address();
    s.repo("web", &[("Dockerfile", &dockerfile("web"))]);
    s.project(Entry { extra: "    promotion: manual\n", ..Entry::new("web") });
    assert!(s.run().status.success());
    let rc = pull_digest(&format!("{}:rc", s.repository("web")));

    registry.stop();
    let started = Instant::now();
    let refused = s.slipway(&["promote", &s.image("web")]);
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(!refused.status.success(), "a promotion cannot succeed without the registry");
    assert!(said.contains(&registry.address()), "the error names the registry: {said}");
    assert!(took < Duration::from_secs(60), "it gives up in bounded time, after its retries: {took:?}");

    registry.restart();
    let tags = s.slipway(&["image", "tags", &s.repository("web")]);
    let tags = String::from_utf8_lossy(&tags.stdout).to_string();
    assert!(!tags.lines().any(|t| t.trim() == "latest"), "no release tag was written: {tags}");
    assert_eq!(pull_digest(&format!("{}:rc", s.repository("web"))), rc, "rc is where it was");
    let images = s.slipway(&["images", "--project", &s.image("web"), "--format", "json"]);
    let images: serde_json::Value = serde_json::from_slice(&images.stdout).expect("JSON");
    assert_eq!(images["images"][0]["state"], "rc", "the store agrees: still a candidate");

    let promoted = s.slipway(&["promote", &s.image("web")]);
    assert!(promoted.status.success(), "{}", String::from_utf8_lossy(&promoted.stderr));
    assert_eq!(pull_digest(&format!("{}:latest", s.repository("web"))), rc, "released once the registry is back");
}

#[test]
fn four_workers_share_one_sqlite_file_without_lock_errors() {
    let mut s = Scenario::new("sqlite4");
    let jobs: Vec<String> = (1..=8).map(|n| format!("p{n}")).collect();
    for job in &jobs {
        s.repo(job, &[("Dockerfile", &dockerfile(job))]);
        s.project(Entry::new(job));
    }
    // The server records the index and queues every first build; it keeps polling beside the workers.
    let mut serve = serve_index_without_workers(&s, &[], Stdio::null());
    let serving = ServeGuard(&mut serve);
    let started = Instant::now();
    while s.status().values().filter(|p| p["state"] == "queued").count() < jobs.len() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server queued them: {:?}", s.status());
        std::thread::sleep(Duration::from_millis(200));
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            s.command(&["worker", "--workers", "1", "--until-idle"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("slipway worker starts")
        })
        .collect();
    let mut said = String::new();
    for worker in workers {
        let out = worker.wait_with_output().expect("the worker ends");
        said.push_str(&String::from_utf8_lossy(&out.stdout));
        said.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{said}");
    }
    drop(serving);
    assert!(!said.to_lowercase().contains("locked"), "no lock errors: {said}");
    for job in &jobs {
        s.expect(job, "succeeded");
    }
    let logs = s.logs("p1");
    assert!(!logs.to_lowercase().contains("database is locked"), "{logs}");
}
