//! Mail about ended builds, sent to a real SMTP sink (Debian's aiosmtpd, writing a Maildir) from a real store,
//! and the signed event webhooks, posted to a real HTTP receiver.

#![allow(clippy::unwrap_used)]

#[path = "../../slipway-store/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{new_project, on_both};
use slipway_e2e::harness::{SmtpSink, assert_mail_has, read_mails, wait_for_mails};
use slipway_engine::{Mailer, notify_round};
use slipway_store::{BuildOutcome, BuildState, NewBuild, StageKind, StageState, Store};

/// Runs one build of `project` to `state`; a failure is at the test stage with `log`.
async fn ended_build(store: &Store, project: i64, state: BuildState, log: &str) {
    let new = NewBuild {
        project_id: project,
        causes: vec!["manual: asked by alice".into()],
        parents: vec![],
        priority: 0,
        max_attempts: 1,
        source_image: None,
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
    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let maildir = sink.maildir.clone();
    on_both(move |store| {
        let url = url.clone();
        let maildir = maildir.clone();
        async move {
            let before = read_mails(&maildir).len();
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

            let mails = wait_for_mails(&maildir, before + 2);
            assert_eq!(mails.len(), before + 2);
            let failure = mails.iter().find(|m| m.contains("#1 failed at test")).expect("the failure mail");
            assert_mail_has(
                failure,
                &[
                    "To: dev@example.org",
                    "Subject: [slipway] app/mailed:latest #1 failed at test",
                    "Why it ran: manual: asked by alice",
                    "Error: tests/run.sh exited with exit code 1",
                    "    FAIL: expected 2, got 3",
                    "http://ui.example/projects/app/mailed/latest/builds/1/logs/test",
                ],
            );
            assert!(!failure.contains('\u{1b}'), "no terminal codes in mail");
        }
    })
    .await;
    assert_eq!(wait_for_mails(&sink.maildir, 4).len(), 4, "two mails per backend");
}

#[tokio::test]
async fn each_address_gets_one_weekly_digest_of_all_its_images() {
    use chrono::{TimeZone, Utc};
    use slipway_engine::digest_round;

    let sink = SmtpSink::start();
    let url = sink.url.clone();
    let maildir = sink.maildir.clone();
    on_both(move |store| {
        let (url, maildir) = (url.clone(), maildir.clone());
        async move {
            let before = read_mails(&maildir).len();
            let add = |name: &'static str, email: &'static str, notify_on: &'static str| {
                let mut p = new_project(name);
                p.notify_email = Some(email.into());
                p.entry = serde_json::json!({ "notify_on": notify_on });
                let store = store.clone();
                async move { store.upsert_project(&p).await.unwrap().id }
            };
            let web = add("web", "web-team@example.org, ops@example.org", "always").await;
            let db = add("db", "ops@example.org", "failure").await;
            add("fresh", "ops@example.org", "failure").await;
            add("muted", "ops@example.org", "never").await;
            ended_build(&store, web, BuildState::Succeeded, "ok\n").await;
            ended_build(&store, db, BuildState::Failed, "FAIL\n").await;
            let mailer = Mailer::new(&url, "Slipway <slipway@example.org>").unwrap();
            let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();

            // The first round only starts counting: nothing is mailed for a week already under way.
            let first = digest_round(&store, &mailer, "http://ui.example", at(3, 12)).await.unwrap();
            assert_eq!(first.started, ["ops@example.org", "web-team@example.org"]);
            assert!(first.sent.is_empty());
            // Monday 06:00 is still last week's; 07:00 starts the next, mailed once.
            let early = digest_round(&store, &mailer, "http://ui.example", at(7, 6)).await.unwrap();
            assert!(early.sent.is_empty(), "{:?}", early.sent);
            let due = digest_round(&store, &mailer, "http://ui.example", at(7, 7)).await.unwrap();
            assert!(due.failures.is_empty(), "{:?}", due.failures);
            let subjects: Vec<(&str, &str)> = due.sent.iter().map(|(a, s)| (a.as_str(), s.as_str())).collect();
            assert_eq!(
                subjects,
                [
                    ("ops@example.org", "[slipway] weekly: 3 image(s), 1 failing"),
                    ("web-team@example.org", "[slipway] weekly: 1 image(s), all well")
                ]
            );
            assert!(digest_round(&store, &mailer, "http://ui.example", at(9, 7)).await.unwrap().sent.is_empty());

            let mails = wait_for_mails(&maildir, before + 2);
            assert_eq!(mails.len(), before + 2);
            let ops = mails.iter().find(|m| m.contains("To: ops@example.org")).expect("the ops digest");
            let failing = ops.find("app/db:latest").expect("db listed");
            for (later, part) in [
                (ops.find("app/fresh:latest"), "fresh listed after the failing db"),
                (ops.find("app/web:latest"), "web listed after the failing db"),
            ] {
                assert!(later.is_some_and(|at| at > failing), "{part}:\n{ops}");
            }
            assert_mail_has(
                ops,
                &[
                    "#1 failed at test",
                    "why it ran: manual: asked by alice",
                    "not built yet",
                    "http://ui.example/projects/app/db/latest/builds/1",
                ],
            );
            assert!(!ops.contains("app/muted:latest"), "notify-on: never is left out");
        }
    })
    .await;
    assert_eq!(wait_for_mails(&sink.maildir, 4).len(), 4, "two digests per backend");
}

/// What an event receiver got: (event, delivery, signature, body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>;

/// A real HTTP receiver on loopback that records what it gets and answers 500 to the first try of each
/// delivery (so retries are exercised); its URL.
async fn receiver(received: Received) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let received = received.clone();
            async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                let delivery = header("x-slipway-delivery");
                let mut all = received.lock().unwrap();
                let first_try = !all.iter().any(|(_, d, _, _)| *d == delivery);
                all.push((header("x-slipway-event"), delivery, header("x-slipway-signature-256"), body));
                if first_try { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::NO_CONTENT }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/events")
}

#[tokio::test]
async fn builds_and_promotions_are_posted_signed_once_each() {
    on_both(|store| async move {
        let received: Received = Default::default();
        let url = receiver(received.clone()).await;
        let project = store.upsert_project(&new_project("hooked")).await.unwrap().id;
        ended_build(&store, project, BuildState::Failed, "FAIL\n").await;
        ended_build(&store, project, BuildState::Succeeded, "ok\n").await;
        let build = store.builds_of(project, 1).await.unwrap().remove(0);
        let image = store
            .record_image(&slipway_store::NewImage {
                project_id: project,
                build_id: build.id,
                repository: "127.0.0.1:5555/app/hooked".into(),
                digest: "sha256:00".into(),
                qa_state: slipway_store::QaState::Built,
            })
            .await
            .unwrap();
        let promotion = slipway_store::NewPromotion {
            build_id: build.id,
            image_id: image.id,
            from_tier: "test".into(),
            to_tier: "rc".into(),
            succeeded: true,
            by: "slipway".into(),
            error: None,
        };
        store.record_promotion(&promotion).await.unwrap();

        let hooks = slipway_engine::EventHooks::new(vec![url], "event-secret".into()).unwrap();
        let report = slipway_engine::announce_round(&store, &hooks, "http://ui.example").await.unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert_eq!(report.sent.len(), 3, "{:?}", report.sent);
        assert!(slipway_engine::announce_round(&store, &hooks, "http://ui.example").await.unwrap().sent.is_empty());

        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 6, "each delivery retried once after a 500");
        for (_, _, signature, body) in &got {
            let expected = format!("sha256={}", slipway_engine::hmac_sha256_hex(b"event-secret", body.as_bytes()));
            assert_eq!(signature, &expected);
        }
        let failed: serde_json::Value = serde_json::from_str(&got[0].3).unwrap();
        assert_eq!(
            (got[0].0.as_str(), failed["state"].as_str(), failed["build"].as_i64()),
            ("build", Some("failed"), Some(1))
        );
        assert_eq!(failed["failed_stage"], "test");
        assert_eq!(failed["url"], "http://ui.example/projects/app/hooked/latest/builds/1");
        let (event, _, _, body) = got.iter().find(|(e, _, _, _)| e == "promotion").unwrap();
        let promoted: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(event, "promotion");
        assert_eq!((promoted["from"].as_str(), promoted["to"].as_str()), (Some("test"), Some("rc")));
        assert_eq!(promoted["succeeded"], true);
    })
    .await;
}
