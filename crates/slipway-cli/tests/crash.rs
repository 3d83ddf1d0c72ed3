//! Crashes, end to end with real processes on PostgreSQL: one `slipway serve` and three `slipway worker`s build
//! an index. A worker killed with SIGKILL in the middle of a build loses nothing: once its lease lapses another
//! worker takes the build over, does not build or push the image again, keeps the log written before the
//! crash, and delivers. The server killed and started again changes nothing for the run. No build is
//! delivered twice, and every release tag holds a tested digest.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::{Child, Command, Stdio};

use scenario::{Db, Entry, Scenario, dockerfile, sql, wait_for};
use serving::{ServeGuard, address_of, serve_index_without_workers, spawn_serve};
use slipway_e2e::harness::pull_digest;

/// Stops every process however the test ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_worker_killed_mid_build_loses_nothing_and_nothing_is_delivered_twice() {
    let mut s = Scenario::with_db("crash", Db::Postgres);
    let slow_test = "#!/bin/sh\necho 'test begins'\nsleep 6\necho 'test ends'\n";
    s.repo("slow", &[("Dockerfile", &dockerfile("slow")), ("tests/run.sh", slow_test)]);
    for job in ["web", "api"] {
        s.repo(job, &[("Dockerfile", &dockerfile(job))]);
    }
    s.repo("child", &[("Dockerfile", "FROM REGISTRY/APP/web:latest\nCMD [\"cat\", \"/built\"]\n")]);
    s.project(Entry { extra: "    test-script: tests/run.sh\n", ..Entry::new("slow") });
    s.project(Entry::new("web"));
    s.project(Entry::new("api"));
    s.project(Entry { depends_on: "APP/web:latest", ..Entry::new("child") });
    let index = s.index_dir().display().to_string();
    let serve_args =
        ["serve", "--index", &index, "--no-workers", "--listen", "127.0.0.1:0", "--git-poll-interval", "1h"];
    let mut serve = spawn_serve(&mut s.command(&serve_args), Stdio::null());
    address_of(&mut serve);
    let worker = |n: usize| {
        let log = std::fs::File::create(s.data_dir().join(format!("worker-{n}.log"))).expect("a log file");
        s.command(&["worker", "--workers", "1", "--lease", "3s"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slipway worker starts")
    };
    let mut processes = Processes(vec![worker(1), worker(2), worker(3)]);
    processes.0.push(serve);

    // The slow project's image is pushed and its test runs: kill that worker.
    let slow = s.image("slow");
    let holder = wait_for(60, "slow's test stage running", || {
        let rows = sql(
            &s.database,
            &format!(
                "SELECT b.worker FROM builds b JOIN projects p ON p.id = b.project_id JOIN stages st ON \
                 st.build_id = b.id WHERE p.image = '{slow}' AND b.state = 'running' AND st.kind = 'test' AND \
                 st.state = 'running'"
            ),
        );
        rows.into_iter().next()
    });
    // Killed once its test has written a line to the store: that line must survive the crash.
    wait_for(60, "slow's test log stored", || s.logs("slow").contains("test begins").then_some(()));
    let pid: u32 = holder.split('-').rev().nth(1).and_then(|p| p.parse().ok()).expect("worker names end in PID-N");
    let killed = processes.0.iter_mut().position(|c| c.id() == pid).expect("the holder is one of our workers");
    processes.0[killed].kill().expect("SIGKILL");
    processes.0[killed].wait().expect("reaped");

    // The server dies too, and comes back.
    let server = processes.0.len() - 1;
    processes.0[server].kill().expect("SIGKILL");
    processes.0[server].wait().expect("reaped");
    let mut serve = spawn_serve(&mut s.command(&serve_args), Stdio::null());
    let serving = ServeGuard(&mut serve);
    address_of(serving.0);

    // Everything ends delivered: the slow build by another worker, after its lease lapsed.
    for job in ["slow", "web", "api", "child"] {
        let image = s.image(job);
        wait_for(90, &format!("{image} delivered"), || {
            let status = s.status().get(&image).cloned().unwrap_or_default();
            (status["state"] == "succeeded").then_some(())
        });
    }
    let builds = sql(
        &s.database,
        &format!(
            "SELECT j.attempts, b.worker FROM builds b JOIN jobs j ON j.build_id = b.id JOIN projects p ON \
             p.id = b.project_id WHERE p.image = '{slow}'"
        ),
    );
    assert_eq!(builds.len(), 1, "one build of slow: {builds:?}");
    let (attempts, finisher) = builds[0].split_once('|').expect("two columns");
    assert_eq!(attempts, "2", "claimed again once");
    assert_ne!(finisher, holder, "another worker finished it");
    let logs = s.logs("slow");
    assert!(logs.contains("[slipway] attempt 2 of this build"), "{logs}");
    assert_eq!(logs.matches("test begins").count(), 2, "the first attempt's log is kept: {logs}");
    let builds_run = sql(
        &s.database,
        &format!(
            "SELECT st.kind FROM stages st JOIN builds b ON b.id = st.build_id JOIN projects p ON p.id = b.project_id \
             WHERE p.image = '{slow}' AND st.kind IN ('build', 'push')"
        ),
    );
    assert_eq!(builds_run.len(), 2, "build and push ran once each: {builds_run:?}");
    assert!(!logs.contains("attempt 2 of this build\n[slipway] pushing"), "the image was not pushed again");

    // No build delivered twice; every release tag holds a digest that passed its tests.
    let twice = sql(
        &s.database,
        "SELECT build_id FROM promotions WHERE to_tier = 'release' AND state = 'succeeded' GROUP BY build_id HAVING count(*) > 1",
    );
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    for job in ["slow", "web", "api", "child"] {
        let digest = pull_digest(&format!("{}:latest", s.repository(job)));
        let tested = sql(
            &s.database,
            &format!("SELECT qa_state FROM images WHERE digest = '{digest}' AND repository LIKE '%/{}/{job}'", s.app),
        );
        assert_eq!(tested, ["released"], "{job}:latest holds a tested, released digest");
    }
    drop(serving);
    drop(processes);
}

#[test]
fn a_drained_worker_finishes_its_build_and_takes_no_new_one() {
    let mut s = Scenario::new("drain");
    let slow_test = "#!/bin/sh\necho 'test begins'\nsleep 3\necho 'test ends'\n";
    s.repo("slow", &[("Dockerfile", &dockerfile("slow")), ("tests/run.sh", slow_test)]);
    s.repo("next", &[("Dockerfile", &dockerfile("next"))]);
    s.project(Entry { extra: "    test-script: tests/run.sh\n", ..Entry::new("slow") });
    let mut serve = serve_index_without_workers(&s, &[], Stdio::null());
    let serving = ServeGuard(&mut serve);
    let mut worker = s
        .command(&["worker", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("slipway worker starts");
    let (slow, next) = (s.image("slow"), s.image("next"));
    wait_for(60, "slow's test running", || s.logs("slow").contains("test begins").then_some(()));
    Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().expect("kill runs");
    // Asked for after the signal: the draining worker must leave it.
    s.project(Entry::new("next"));
    s.index_dir();
    wait_for(30, "next queued", || {
        (s.status().get(&next).cloned().unwrap_or_default()["state"] == "queued").then_some(())
    });
    let ended = worker.wait().expect("the worker exits");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut worker.stdout.take().expect("stdout"), &mut said).expect("its output");
    drop(serving);
    assert!(ended.success(), "{said}");
    assert!(said.contains("draining") && said.contains("drained"), "{said}");
    assert_eq!(s.status().get(&slow).cloned().unwrap_or_default()["state"], "succeeded", "its build finished");
    assert_eq!(s.status().get(&next).cloned().unwrap_or_default()["state"], "queued", "no new one taken");
}
