//! Faults end to end: the registry down during a promotion (a clear failure, tags as they were, and the
//! promotion goes through once the registry is back), the Docker daemon killed in the middle of a build (the
//! build errors saying so and is retried once the daemon is back), the database's disk full while a build
//! writes its log (the worker stops saying so, the database stays intact, and the build resumes once there is
//! space), and four worker processes sharing one SQLite file (never "database is locked").

#[path = "pipeline/private_dockerd.rs"]
mod private_dockerd;
#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::Stdio;
use std::time::{Duration, Instant};

use private_dockerd::{PrivateDockerd, assert_host_bridge_works};
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

#[test]
fn dockerd_killed_mid_build_errors_the_build_clearly_and_it_is_retried() {
    let mut dockerd = PrivateDockerd::start();
    let mut s = Scenario::new("dockerd");
    s.repo("slow", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN sleep 4 && echo slow > /built\n")]);
    s.project(Entry::new("slow"));
    let mut serve = serve_index_without_workers(&s, &[], Stdio::null());
    let serving = ServeGuard(&mut serve);
    let log = std::fs::File::create(s.data_dir().join("worker.log")).expect("a log file");
    let mut worker = s
        .command(&["worker", "--workers", "1", "--docker", &dockerd.url()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("slipway worker starts");
    let working = ServeGuard(&mut worker);
    let image = s.image("slow");
    let started = Instant::now();
    while !s.logs("slow").contains("RUN sleep 4") {
        assert!(started.elapsed() < Duration::from_secs(60), "the build never started: {}", s.logs("slow"));
        std::thread::sleep(Duration::from_millis(100));
    }
    dockerd.kill();
    // The build errors with what happened, and waits for its retry.
    let note = loop {
        let status = s.status().get(&image).cloned().unwrap_or_default();
        let error = status["error"].as_str().unwrap_or_default().to_string();
        if status["state"] == "queued" && error.starts_with("attempt 1 of") {
            break error;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "no retry queued: {status:#}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(note.contains("Docker") && note.contains("retried after 5 s"), "{note}");
    dockerd.run();
    let done = loop {
        let status = s.status().get(&image).cloned().unwrap_or_default();
        if status["state"] == "succeeded" {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "not rebuilt after the daemon came back: {status:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(working);
    drop(serving);
    assert!(done["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{done:#}");
    assert!(s.logs("slow").contains("attempt 2 of this build"), "the same build, attempted again");
    drop(dockerd);
    assert_host_bridge_works();
}

/// A tmpfs of `size` mounted at `dir` for the test (root only, as CI runs); unmounted however the test ends.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: std::path::PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&dir).expect("the mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(mounted.success(), "mount a tmpfs (the tests run as root)");
        SmallDisk(dir)
    }

    fn grow(&self, size: &str) {
        let grown = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("mount runs");
        assert!(grown.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_database_disk_stops_the_worker_clearly_corrupts_nothing_and_the_build_resumes_after() {
    let mut s = Scenario::new("diskfull");
    let disk = SmallDisk::mount(s.data_dir().join("small"), "3m");
    s.database = format!("sqlite://{}/slipway.db", disk.0.display());
    let chatty = "#!/bin/sh\necho 'test begins'\nyes 'a line of a test log that goes on and on' | head -c 6000000\necho\necho 'test ends'\n";
    s.repo("chatty", &[("Dockerfile", &dockerfile("chatty")), ("t/run.sh", chatty)]);
    s.project(Entry { extra: "    test-script: t/run.sh\n", ..Entry::new("chatty") });
    let mut serve = serve_index_without_workers(&s, &[], Stdio::null());
    let serving = ServeGuard(&mut serve);
    let image = s.image("chatty");
    let started = Instant::now();
    while s.status().get(&image).is_none_or(|p| p["state"] != "queued") {
        assert!(started.elapsed() < Duration::from_secs(30), "queued: {:?}", s.status());
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(serving);

    let worker = ["worker", "--workers", "1", "--until-idle", "--lease", "2s"];
    let full = s.slipway(&worker);
    let said = String::from_utf8_lossy(&full.stderr).to_string();
    assert!(!full.status.success(), "the worker cannot go on with a full disk");
    assert!(said.contains("full"), "it says the disk is full: {said}");
    assert!(!said.contains("panicked"), "{said}");
    let db = disk.0.join("slipway.db");
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma integrity_check').fetchone()[0])",
        ])
        .arg(&db)
        .output()
        .expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok", "the database is intact");
    let logs_before = s.logs("chatty");
    assert!(
        logs_before.contains("test begins"),
        "what was written stays: {}",
        &logs_before[..logs_before.len().min(2000)]
    );

    // Space again: the next worker takes the build over once its lease lapsed, and delivers it.
    disk.grow("64m");
    std::thread::sleep(Duration::from_secs(3));
    let resumed = s.slipway(&worker);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let done = s.expect("chatty", "succeeded");
    assert!(done["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{done:#}");
    assert!(s.logs("chatty").contains("test ends"));
}
