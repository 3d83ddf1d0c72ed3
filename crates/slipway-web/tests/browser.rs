//! The UI in real Chromium (Debian's chromium and chromium-driver, `scripts/setup` installs them): the
//! dashboard, a click through to a failed build where the failing stage and its error line are shown, and a
//! running build's log growing live. Screenshots are kept in `target/screenshots/` as test artefacts.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::seed::{seed, state};

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_maintainer_finds_why_the_build_failed_and_watches_a_live_log() {
    let seeded = seed().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app_state = state(&seeded.store);
    let server = tokio::spawn(slipway_web::serve(listener, app_state, std::future::pending()));
    let browser = Browser::start().await.unwrap();

    browser.goto(&format!("{base}/")).await.unwrap();
    browser.wait_for_text("#projects", "demo/web:latest", Duration::from_secs(5)).await.unwrap();
    let row = browser.find("tr.project[data-state='failed']").await.unwrap();
    assert!(row.text().await.unwrap().contains("failed at build"));
    browser.screenshot(&screenshots().join("dashboard.png")).await.unwrap();

    browser.find("tr.project[data-state='failed'] a[href$='/builds/1']").await.unwrap().click().await.unwrap();
    browser.wait_for_text("#failure", "Failed at build", Duration::from_secs(5)).await.unwrap();
    let focus = browser.find("#focus").await.unwrap();
    assert_eq!(focus.attr("data-stage").await.unwrap().as_deref(), Some("build"), "the failing stage is opened first");
    let error_line = browser.find("#log .err").await.unwrap().text().await.unwrap();
    assert!(error_line.contains("ERROR: make: *** [all] Error 2"), "{error_line}");
    let alerts = browser.execute("return document.querySelectorAll('script').length", &[]).await.unwrap();
    assert_eq!(alerts, serde_json::json!(0), "no script from the log or the commit runs on the failure view");
    browser.screenshot(&screenshots().join("failure-view.png")).await.unwrap();
    browser.find("#raw-log").await.unwrap().click().await.unwrap();
    let raw = browser.wait_for_text("body", "Error 2", Duration::from_secs(5)).await.unwrap();
    assert!(raw.contains("Step 1/300"), "the full raw log");

    browser.goto(&format!("{base}/projects/demo/api/latest/builds/1")).await.unwrap();
    browser.wait_for_text("#log", "running tests/run.sh", Duration::from_secs(5)).await.unwrap();
    let written = Instant::now();
    seeded.store.append_log(seeded.running_stage, "test 1 passed: the port answers\n").await.unwrap();
    browser.wait_for_text("#log", "test 1 passed", Duration::from_secs(2)).await.unwrap();
    let shown_after = written.elapsed();
    assert!(shown_after < Duration::from_secs(1), "a line appears within a second: {shown_after:?}");
    seeded.store.finish_stage(seeded.running_stage, slipway_store::StageState::Succeeded, None).await.unwrap();
    browser.wait_for_text("#live-state", "ended", Duration::from_secs(5)).await.unwrap();
    browser.screenshot(&screenshots().join("live-log.png")).await.unwrap();
    drop(browser);
    server.abort();
}
