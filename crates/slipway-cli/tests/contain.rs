//! Builds contained end to end, on the real Docker daemon: a prebuild script that swaps the build context for a
//! link to the host's `/etc` or the Dockerfile for a FIFO, and an `ADD <url>` under a build without network,
//! each fail only their own build, quickly, saying what is wrong and what to do, while a normal project beside
//! them is delivered; no host file reaches a log or the registry, and the URL is never asked for (an entry with
//! `build-network: default` may ADD it); a step that floods its log and a fork bomb stop only their own builds.
//! Credentials
//! are scoped: a project cannot build on another project's private image on a registry Slipway logs in to,
//! unless it declares it as a parent or `pull_for` allows it.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scenario::{Entry, Scenario, dockerfile};
use slipway_e2e::harness::{Auth, Registry};

/// A loopback HTTP server that records whether anyone asked it anything.
fn recording_server() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let asked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&asked);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            flag.store(true, Ordering::SeqCst);
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = std::io::Write::write_all(&mut stream, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
        }
    });
    (port, asked)
}

#[test]
fn prebuild_swaps_and_add_urls_fail_only_their_own_builds() {
    let (port, asked) = recording_server();
    let mut s = Scenario::new("contain");
    s.repo("normal", &[("Dockerfile", &dockerfile("normal"))]);
    s.project(Entry::new("normal"));
    // The context starts as a directory inside the checkout; the prebuild makes it a link to the host's /etc.
    s.repo(
        "etclink",
        &[
            ("Dockerfile", "FROM slipway/busybox:latest\nCOPY . /stolen\n"),
            ("ctx/app.txt", "app\n"),
            ("prep.sh", "#!/bin/sh\nrm -rf ctx && ln -s /etc ctx\n"),
        ],
    );
    let etclink = "    build-context: ctx\n    prebuild-script: prep.sh\n    prebuild-context: /\n";
    s.project(Entry { extra: etclink, ..Entry::new("etclink") });
    // The Dockerfile becomes a FIFO: reading it would never end.
    s.repo(
        "fifo",
        &[("Dockerfile", &dockerfile("fifo")), ("prep.sh", "#!/bin/sh\nrm Dockerfile && mkfifo Dockerfile\n")],
    );
    s.project(Entry { extra: "    prebuild-script: prep.sh\n    prebuild-context: /\n", ..Entry::new("fifo") });
    let add = format!("FROM slipway/busybox:latest\nADD --chown=1:1 \\\n    http://127.0.0.1:{port}/file /file\n");
    s.repo("addurl", &[("Dockerfile", &add)]);
    s.project(Entry::new("addurl"));
    // The index entry's build-network allows it (the daemon fetches ADD URLs itself, here over loopback).
    let (allowed_port, allowed_asked) = recording_server();
    let add = format!("FROM slipway/busybox:latest\nADD http://127.0.0.1:{allowed_port}/file /file\n");
    s.repo("addallowed", &[("Dockerfile", &add)]);
    s.project(Entry { extra: "    build-network: default\n", ..Entry::new("addallowed") });
    // A step that floods the log, and a fork bomb: each stops its own build; the bomb stays inside its step's
    // process limit (the build timeout ends it) and the host keeps working.
    s.repo("flood", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN yes\n")]);
    s.project(Entry::new("flood"));
    s.repo("forkbomb", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN b() { b | b & }; b; sleep 600\n")]);
    s.project(Entry::new("forkbomb"));
    let config = "[pipeline]\nbuild_timeout_s = 20\nbuild_pids = 64\n";
    std::fs::write(s.data_dir().join("slipway.toml"), config).expect("the configuration is written");

    let started = Instant::now();
    let run = s.run();
    let took = started.elapsed();
    assert!(!run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
    assert!(took < Duration::from_secs(120), "no build hung: {took:?}");

    s.expect("normal", "succeeded");
    s.expect("addallowed", "succeeded");
    assert!(allowed_asked.load(Ordering::SeqCst), "with build-network: default the URL was fetched");
    for (job, stage, wants) in [
        ("etclink", "prebuild", &["build-context `/ctx` is a symlink to /etc, outside the checkout"][..]),
        ("fifo", "prebuild", &["target-file `/Dockerfile` is a FIFO, not a regular file"]),
        ("addurl", "build", &["/Dockerfile:2: ADD http://127.0.0.1:", "`build-network: default`"]),
        ("flood", "build", &["[2/2] RUN yes printed more than BuildKit keeps of one step"]),
        ("forkbomb", "build", &["the build was stopped after", "(the build timeout) during [2/2] RUN b()"]),
    ] {
        let status = s.expect(job, "failed");
        assert_eq!(status["failed_stage"], stage, "{job}: {status:#}");
        assert!(status["digest"].is_null(), "{job}: nothing was pushed: {status:#}");
        let error = status["error"].as_str().unwrap_or_default();
        for want in wants {
            assert!(error.contains(want), "{job}: `{want}` in {error}");
        }
        let logs = s.logs(job);
        assert!(!logs.contains("root:x:0:0") && !logs.contains("stolen"), "{job}: no host file in the log: {logs}");
    }
    assert!(!asked.load(Ordering::SeqCst), "the ADD URL was never asked for");
    assert!(
        s.logs("forkbomb").contains("[slipway] each build step is limited to 64 processes"),
        "{}",
        s.logs("forkbomb")
    );
    assert!(std::process::Command::new("true").status().is_ok_and(|st| st.success()), "the host can still fork");
    let tags = s.slipway(&["image", "tags", &s.repository("etclink")]);
    assert!(!String::from_utf8_lossy(&tags.stdout).contains("test"), "no image of etclink in the registry");
}

#[test]
fn a_project_builds_on_another_projects_private_image_only_when_allowed() {
    const PASSWORD: &str = "contain-Secret-5e21";
    let registry = Registry::start(Auth::htpasswd("bot", PASSWORD));
    let mut s = Scenario::new("creds");
    s.registry = registry.address();
    let config = format!("[registries.\"{}\"]\nusername = \"bot\"\npassword = \"{PASSWORD}\"\n", registry.address());
    std::fs::write(s.data_dir().join("slipway.toml"), &config).expect("the configuration is written");
    s.repo("private", &[("Dockerfile", &dockerfile("private"))]);
    s.project(Entry::new("private"));
    let on_private = "FROM REGISTRY/APP/private:latest\nRUN echo on-private > /on\n";
    s.repo("thief", &[("Dockerfile", on_private)]);
    s.project(Entry::new("thief"));
    s.repo("child", &[("Dockerfile", on_private)]);
    s.project(Entry { depends_on: "APP/private:latest", ..Entry::new("child") });
    let run = s.run();
    assert!(!run.status.success(), "{}", String::from_utf8_lossy(&run.stdout));
    s.expect("private", "succeeded");
    s.expect("child", "succeeded");
    let thief = s.expect("thief", "failed");
    assert_eq!(thief["failed_stage"], "build", "{thief:#}");
    let error = thief["error"].as_str().unwrap_or_default();
    for want in [
        format!("/Dockerfile:1: FROM {}/{}/private:latest", registry.address(), s.app),
        "belongs to another project".to_string(),
        "`depends-on`".to_string(),
        format!("pull_for = [\"{}/private\"]", s.app),
    ] {
        assert!(error.contains(&want), "`{want}` in {error}");
    }
    assert!(!s.logs("thief").contains(PASSWORD));

    // Allowed for every project through pull_for, it builds.
    let allowed = format!("{config}pull_for = [\"{}/priv*\"]\n", s.app);
    std::fs::write(s.data_dir().join("slipway.toml"), allowed).expect("the configuration is written");
    let index = s.index_dir().display().to_string();
    let thief_image = s.image("thief");
    let again = s.slipway(&["run", "--index", &index, "--only", &thief_image]);
    assert!(again.status.success(), "{}\n{}", String::from_utf8_lossy(&again.stdout), s.logs("thief"));
    s.expect("thief", "succeeded");
}
