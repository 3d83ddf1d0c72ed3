//! The newest tested build wins, end to end with real processes, Docker, git and the registry, on SQLite and
//! on PostgreSQL: build #1 (commit A, a slow test) is running on one of two workers when commit B is pushed and
//! build #2 asked for. #2 waits for #1 (and says so), then runs; `:rc`, `:latest` and the store's stable digest
//! all end on B. `status`, the API and the build page say why #2 waits.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::Stdio;

use scenario::{Db, Entry, Scenario, dockerfile, wait_for};
use serving::{ServeGuard, address_of, http_with, spawn_serve};
use slipway_e2e::harness::pull_digest;

/// The test sleeps as many seconds as the file `sleep` of the checkout says.
const SLEEPY_TEST: &str =
    "#!/bin/sh\necho \"testing for $(cat /slipway/src/sleep) s\"\nsleep \"$(cat /slipway/src/sleep)\"\n";

fn the_newest_request_is_delivered_last(db: Db) {
    let mut s = Scenario::with_db("order", db);
    s.repo("race", &[("Dockerfile", &dockerfile("A")), ("tests/run.sh", SLEEPY_TEST), ("sleep", "12")]);
    s.project(Entry { extra: "    test-script: tests/run.sh\n", ..Entry::new("race") });
    let index = s.index_dir().display().to_string();
    let args = [
        "serve",
        "--index",
        &index,
        "--workers",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--git-poll-interval",
        "1h",
        "--index-poll-interval",
        "1h",
    ];
    let log = std::fs::File::create(s.data_dir().join("serve.log")).expect("a log file");
    let mut serve = spawn_serve(&mut s.command(&args), Stdio::from(log));
    let address = address_of(&mut serve);
    let _serving = ServeGuard(&mut serve);
    let image = s.image("race");

    // Build #1 (commit A) is in its slow test when commit B lands and build #2 is asked for.
    wait_for(90, "build #1 testing", || {
        let logs = s.slipway(&["logs", &image, "--build", "1", "--stage", "test"]);
        String::from_utf8_lossy(&logs.stdout).contains("testing for 12 s").then_some(())
    });
    s.repo("race", &[("Dockerfile", &dockerfile("B")), ("tests/run.sh", SLEEPY_TEST), ("sleep", "1")]);
    let asked = s.slipway(&["build", &image, "--by", "tester"]);
    assert!(asked.status.success(), "{}", String::from_utf8_lossy(&asked.stderr));

    // #2 waits for #1, and says why, in `status` and the API.
    let waiting = s.status()[&image].clone();
    assert_eq!(waiting["build"], 2, "{waiting:#}");
    assert_eq!(waiting["state"], "queued", "#2 does not start beside #1: {waiting:#}");
    assert_eq!(waiting["waiting"], "waiting for build #1 of this project", "{waiting:#}");
    let builds = builds_of(&address, &s.app);
    let second = builds.iter().find(|b| b["number"] == 2).expect("build #2");
    let answer = http_with(&address, "GET", &format!("/api/v1/builds/{}", second["id"]), &[], "");
    assert!(answer.contains("waiting for build #1 of this project"), "the API says why: {answer}");
    let page = http_with(&address, "GET", &format!("/projects/{}/race/latest/builds/2", s.app), &[], "");
    assert!(page.contains("waiting for build #1 of this project"), "the build page says why: {page}");

    let done = wait_for(120, "build #2 succeeded", || {
        let status = s.status()[&image].clone();
        (status["build"] == 2 && status["state"] == "succeeded").then_some(status)
    });
    let b = done["digest"].as_str().expect("#2's digest").to_string();
    let builds = builds_of(&address, &s.app);
    let first = builds.iter().find(|b| b["number"] == 1).expect("build #1");
    let second = builds.iter().find(|b| b["number"] == 2).expect("build #2");
    assert_eq!(first["state"], "succeeded", "{first:#}");
    assert_ne!(first["digest"], second["digest"], "A and B are different images");
    let (ended, started) = (time(&first["finished_at"]), time(&second["started_at"]));
    assert!(started >= ended, "#2 started ({started}) after #1 ended ({ended})");
    assert!(
        started - ended < chrono::TimeDelta::milliseconds(1_500),
        "#2 started within a moment of #1's end: {}",
        started - ended
    );

    let repository = s.repository("race");
    assert_eq!(pull_digest(&format!("{repository}:latest")), b, ":latest is B");
    assert_eq!(pull_digest(&format!("{repository}:rc")), b, ":rc is B");
    let stable = s.slipway(&["images", "--project", &image, "--state", "released", "--newest", "--format", "json"]);
    let stable: serde_json::Value = serde_json::from_slice(&stable.stdout).expect("JSON");
    assert_eq!(stable["images"][0]["digest"], b.as_str(), "the store's stable digest is B: {stable:#}");
}

/// The builds of the scenario's project, from the API.
fn builds_of(address: &str, app: &str) -> Vec<serde_json::Value> {
    let answer = http_with(address, "GET", &format!("/api/v1/projects/{app}/race/latest/builds"), &[], "");
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    // Connection: close without chunking on this route; a chunked body starts with its size line.
    let json = body.find('[').map(|at| &body[at..body.rfind(']').map_or(body.len(), |end| end + 1)]).unwrap_or("[]");
    serde_json::from_str(json).unwrap_or_else(|e| panic!("builds are JSON ({e}): {answer}"))
}

fn time(value: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    value.as_str().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("a time: {value}"))
}

#[test]
fn the_newest_request_is_delivered_last_on_sqlite() {
    the_newest_request_is_delivered_last(Db::Sqlite);
}

#[test]
fn the_newest_request_is_delivered_last_on_postgres() {
    the_newest_request_is_delivered_last(Db::Postgres);
}
