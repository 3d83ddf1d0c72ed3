//! The newest tested build wins, end to end with real processes, Docker, git and the registry, on SQLite and
//! on PostgreSQL: build #1 (commit A, a slow test) is running on one of two workers when commit B is pushed and
//! build #2 asked for. #2 waits for #1 (and says so), then runs; `:rc`, `:latest` and the store's stable digest
//! all end on B. `status`, the API and the build page say why #2 waits. And two `slipway serve` processes on one
//! PostgreSQL database, asked at once to release the same build (and an older one), agree: the newest wins and
//! the release tag only ever moved forward.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::Stdio;

use scenario::{Db, Entry, Scenario, dockerfile, sql, wait_for};
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
    let builds = builds_of(&address, &s.app, "race");
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
    let builds = builds_of(&address, &s.app, "race");
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

/// The builds of project `app/job:latest`, from the API.
fn builds_of(address: &str, app: &str, job: &str) -> Vec<serde_json::Value> {
    let answer = http_with(address, "GET", &format!("/api/v1/projects/{app}/{job}/latest/builds"), &[], "");
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

#[test]
fn two_servers_racing_one_promotion_agree_on_the_newest() {
    let mut s = Scenario::with_db("servers", Db::Postgres);
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry { extra: "    promotion: manual\n", ..Entry::new("web") });
    let image = s.image("web");
    assert!(s.run().status.success(), "build #1 waits at rc");
    s.repo("web", &[("Dockerfile", &dockerfile("v2"))]);
    assert!(s.slipway(&["build", &image]).status.success());
    let worked = s.slipway(&["worker", "--until-idle", "--workers", "1"]);
    assert!(worked.status.success(), "build #2 waits at rc: {}", String::from_utf8_lossy(&worked.stderr));
    let created = s.slipway(&["token", "create", "release-manager"]);
    assert!(created.status.success());
    let token = String::from_utf8_lossy(&created.stdout).trim().to_string();

    let serve_args = ["serve", "--no-workers", "--listen", "127.0.0.1:0"];
    let mut one = spawn_serve(&mut s.command(&serve_args), Stdio::null());
    let mut two = spawn_serve(&mut s.command(&serve_args), Stdio::null());
    let (a, b) = (address_of(&mut one), address_of(&mut two));
    let (_one, _two) = (ServeGuard(&mut one), ServeGuard(&mut two));
    let builds = builds_of(&a, &s.app, "web");
    let id = |number: i64| builds.iter().find(|b| b["number"] == number).expect("the build")["id"].clone();
    let (older, newer) = (id(1), id(2));

    // Both servers release build #2 and server one build #1, all at once.
    let barrier = std::sync::Barrier::new(3);
    let auth = format!("Bearer {token}");
    let promote = |address: &str, build: &serde_json::Value| {
        barrier.wait();
        let path = format!("/api/v1/builds/{build}/promote");
        http_with(address, "POST", &path, &[("Authorization", &auth)], "")
    };
    let (released_a, released_b, older_answer) = std::thread::scope(|scope| {
        let x = scope.spawn(|| promote(&a, &newer));
        let y = scope.spawn(|| promote(&b, &newer));
        let z = scope.spawn(|| promote(&a, &older));
        (x.join().expect("one"), y.join().expect("two"), z.join().expect("older"))
    });
    assert!(released_a.starts_with("HTTP/1.1 200"), "server one releases #2: {released_a}");
    assert!(released_b.starts_with("HTTP/1.1 200"), "server two releases #2 too (the same move): {released_b}");
    assert!(
        older_answer.starts_with("HTTP/1.1 200")
            || (older_answer.starts_with("HTTP/1.1 409") && older_answer.contains("build #2")),
        "#1 is released only if it came first, else refused naming #2 (by the early check or by the head's \
         compare-and-set): {older_answer}"
    );

    let d2 = builds.iter().find(|b| b["number"] == 2).and_then(|b| b["digest"].as_str()).expect("#2's digest");
    assert_eq!(pull_digest(&format!("{}:latest", s.repository("web"))), d2, ":latest is #2");
    let stable = s.slipway(&["images", "--project", &image, "--state", "released", "--newest", "--format", "json"]);
    let stable: serde_json::Value = serde_json::from_slice(&stable.stdout).expect("JSON");
    assert_eq!(stable["images"][0]["digest"], d2, "{stable:#}");
    let moves = sql(
        &s.database,
        "SELECT b.number FROM tag_events t JOIN builds b ON b.id = t.build_id WHERE t.tag = 'latest' ORDER BY t.id",
    );
    let moves: Vec<i64> = moves.iter().map(|n| n.parse().expect("a number")).collect();
    assert!(moves.windows(2).all(|w| w[0] <= w[1]), ":latest only moved forward: {moves:?}");
    assert!(!moves.is_empty());
}
