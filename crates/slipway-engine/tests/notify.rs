//! Mail about ended builds, sent to a real SMTP sink (Debian's aiosmtpd, writing a Maildir) from a real store.

#![allow(clippy::unwrap_used)]

#[path = "../../slipway-store/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{new_project, on_both};
use slipway_engine::{Mailer, notify_round};
use slipway_store::{BuildOutcome, BuildState, NewBuild, StageKind, StageState, Store};

/// An aiosmtpd sink on a free loopback port; stopped on drop.
struct Sink {
    child: Child,
    url: String,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("mail");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // Debian's python3-aiosmtpd belongs to /usr/bin/python3 (scripts/setup installs it).
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts: run scripts/setup (python3-aiosmtpd)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "aiosmtpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink { child, url: format!("smtp://127.0.0.1:{port}"), maildir, _dir: dir }
    }

    /// Every mail received so far, as text.
    fn mails(&self) -> Vec<String> {
        read_dir(&self.maildir.join("new"))
    }
}

fn read_dir(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut mails: Vec<String> =
        entries.map(|e| quoted_printable(&std::fs::read_to_string(e.unwrap().path()).unwrap())).collect();
    mails.sort();
    mails
}

/// The mail as a reader sees it: quoted-printable soft line breaks joined and `=XX` decoded.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one build of `project` to `state`; a failure is at the test stage with `log`.
async fn ended_build(store: &Store, project: i64, state: BuildState, log: &str) {
    let new = NewBuild {
        project_id: project,
        causes: vec!["manual: asked by alice".into()],
        parents: vec![],
        priority: 0,
        max_attempts: 1,
    };
    let build = store.create_build(&new).await.unwrap();
    let job = store.claim("w", Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(job.build_id, build.id);
    let stage = store.start_stage(build.id, StageKind::Test).await.unwrap();
    store.append_log(stage.id, log).await.unwrap();
    let failed = state != BuildState::Succeeded;
    let stage_state = if failed { StageState::Failed } else { StageState::Succeeded };
    let error = failed.then(|| "tests/run.sh exited with exit code 1".to_string());
    store.finish_stage(stage.id, stage_state, error.as_deref()).await.unwrap();
    let outcome = BuildOutcome { state, failed_stage: failed.then_some(StageKind::Test), error };
    store.finish_build(job.job_id, "w", &outcome).await.unwrap();
}

#[tokio::test]
async fn a_failure_is_mailed_with_its_log_then_fixed_and_nothing_twice() {
    let sink = Sink::start();
    let url = sink.url.clone();
    let maildir = sink.maildir.clone();
    on_both(move |store| {
        let url = url.clone();
        let maildir = maildir.clone();
        async move {
            let before = read_dir(&maildir.join("new")).len();
            let mut p = new_project("mailed");
            p.notify_email = Some("dev@example.org".into());
            p.entry = serde_json::json!({ "notify_on": "failure" });
            let project = store.upsert_project(&p).await.unwrap().id;
            let mut quiet = new_project("quiet");
            quiet.notify_email = Some("dev@example.org".into());
            quiet.entry = serde_json::json!({ "notify_on": "never" });
            let quiet = store.upsert_project(&quiet).await.unwrap().id;
            let mailer = Mailer::new(&url, "Slipway <slipway@example.org>").unwrap();

            ended_build(&store, project, BuildState::Failed, "step 1\n\u{1b}[31mFAIL: expected 2, got 3\u{1b}[0m\n")
                .await;
            ended_build(&store, quiet, BuildState::Failed, "no mail for me\n").await;
            let report = notify_round(&store, &mailer, "http://ui.example").await.unwrap();
            assert!(report.failures.is_empty(), "{:?}", report.failures);
            assert_eq!(report.sent.len(), 1, "{:?}", report.sent);
            ended_build(&store, project, BuildState::Succeeded, "ok\n").await;
            ended_build(&store, project, BuildState::Succeeded, "ok\n").await;
            let report = notify_round(&store, &mailer, "http://ui.example").await.unwrap();
            let subjects: Vec<&str> = report.sent.iter().map(|(_, _, s)| s.as_str()).collect();
            assert_eq!(subjects, ["[slipway] app/mailed:latest #2 fixed"], "one fixed mail, no success mail");
            assert!(notify_round(&store, &mailer, "http://ui.example").await.unwrap().sent.is_empty());

            let mails = read_dir(&maildir.join("new"));
            assert_eq!(mails.len(), before + 2);
            let failure = mails.iter().find(|m| m.contains("#1 failed at test")).expect("the failure mail");
            for part in [
                "To: dev@example.org",
                "Subject: [slipway] app/mailed:latest #1 failed at test",
                "Why it ran: manual: asked by alice",
                "Error: tests/run.sh exited with exit code 1",
                "    FAIL: expected 2, got 3",
                "http://ui.example/projects/app/mailed/latest/builds/1/logs/test",
            ] {
                assert!(failure.contains(part), "missing {part:?} in\n{failure}");
            }
            assert!(!failure.contains('\u{1b}'), "no terminal codes in mail");
        }
    })
    .await;
    assert_eq!(sink.mails().len(), 4, "two mails per backend");
}
