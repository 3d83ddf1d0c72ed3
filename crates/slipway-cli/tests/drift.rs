//! Tag drift, end to end against the real registry, Docker daemon and git daemon: `slipway tags check` names
//! a tag pushed over by hand, a tag deleted outside Slipway and a release tag that is not the stable digest
//! (exit 1); `--repair` puts each back by digest, recorded in the tag history as a repair with what it found,
//! and the next check exits 0. A registry that does not answer is "could not check": not drift, not repaired,
//! nothing changed. `slipway serve` runs the check on its interval and shows the drift on the project page
//! and in `/metrics` (`slipway_tag_drift`).

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::process::{Output, Stdio};

use scenario::{Entry, Scenario, dockerfile, wait_for};
use serving::{ServeGuard, address_of, http_with, spawn_serve};
use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, pull_digest, push, unique_name};
use slipway_store::{Store, TagEvent};

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The tag history of `repository`, newest first, read from the scenario's database.
fn history(s: &Scenario, repository: &str) -> Vec<TagEvent> {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let store = Store::connect(&s.database).await.expect("the scenario's database");
        let events = store.tag_history(repository, None, None).await.expect("the tag history");
        store.close().await.expect("closed");
        events
    })
}

/// An image Slipway never built, pushed over `reference` with the Docker CLI as a person would; its digest.
fn push_by_hand(local: &mut LocalTags, reference: &str) -> String {
    let built = local.add(format!("{}:by-hand", unique_name("drift")));
    build_image(&built, 1024);
    local.add(reference);
    push(&built, reference)
}

/// Puts project IMAGE's release head on its build #2 with DIGEST in the SQLite file DB (argv 1, 2, 3).
const HEAD_TO_BUILD_2: &str = "import sys, sqlite3
db = sqlite3.connect(sys.argv[1])
db.execute(\"UPDATE release_heads SET build_id = (SELECT b.id FROM builds b JOIN projects p ON p.id = b.project_id \
WHERE p.image = ?1 AND b.number = 2), build_number = 2, digest = ?2 WHERE tier = 'release' AND project_id = \
(SELECT id FROM projects WHERE image = ?1)\", (sys.argv[2], sys.argv[3]))
db.commit()
assert db.total_changes == 1, db.total_changes
";

#[test]
fn tags_check_names_each_drift_and_repair_puts_it_back() {
    let mut s = Scenario::new("drift");
    for job in ["web", "api"] {
        s.repo(job, &[("Dockerfile", &dockerfile(&format!("{job} v1")))]);
        s.project(Entry::new(job));
    }
    assert!(s.run().status.success());
    let (web, api) = (s.repository("web"), s.repository("api"));
    let released = pull_digest(&format!("{web}:latest"));
    assert_eq!(pull_digest(&format!("{web}:rc")), released);
    let api_d1 = pull_digest(&format!("{api}:latest"));
    s.repo("api", &[("Dockerfile", &dockerfile("api v2"))]);
    assert!(s.slipway(&["build", &s.image("api")]).status.success());
    let worked = s.slipway(&["worker", "--until-idle", "--workers", "1"]);
    assert!(worked.status.success(), "worker: {}", said(&worked));
    let api_d2 = pull_digest(&format!("{api}:latest"));
    assert_ne!(api_d1, api_d2);

    let clean = s.slipway(&["tags", "check"]);
    assert_eq!(clean.status.code(), Some(0), "delivered, every tag is in step: {}", said(&clean));
    assert!(said(&clean).contains(" 0 drifting, 0 could not be checked"), "{}", said(&clean));

    // (a) web:latest pushed over by hand; (b) web:rc deleted outside Slipway's records (`slipway image untag`
    // is the registry operation alone: tag only, nothing recorded); (c) api's release tag is not the stable
    // digest: rolled back to d1 (which moves the stable digest too), then the store's release head is put back
    // on d2 behind Slipway's back, as a database restored from an older backup would.
    let mut local = LocalTags::new();
    let by_hand = push_by_hand(&mut local, &format!("{web}:latest"));
    let untagged = s.slipway(&["image", "untag", &format!("{web}:rc")]);
    assert!(untagged.status.success(), "{}", said(&untagged));
    let rolled = s.slipway(&["rollback", &s.image("api"), "--reason", "drill"]);
    assert!(rolled.status.success(), "{}", said(&rolled));
    assert_eq!(pull_digest(&format!("{api}:latest")), api_d1);
    let stable =
        s.slipway(&["images", "--project", &s.image("api"), "--state", "released", "--newest", "--format", "json"]);
    let stable: serde_json::Value = serde_json::from_slice(&stable.stdout).expect("JSON");
    assert_eq!(stable["images"][0]["digest"], api_d1.as_str(), "a rollback moves the stable digest: {stable:#}");
    let database = s.database.strip_prefix("sqlite://").expect("a SQLite scenario");
    let restored = std::process::Command::new("python3")
        .args(["-c", HEAD_TO_BUILD_2, database, &s.image("api"), &api_d2])
        .output()
        .expect("python3 runs");
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));

    let drift = s.slipway(&["tags", "check"]);
    let text = said(&drift);
    assert_eq!(drift.status.code(), Some(1), "drift exits 1: {text}");
    let line = |reference: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{reference}: ")))
            .unwrap_or_else(|| panic!("no line for {reference}: {text}"))
            .to_string()
    };
    let moved = line(&format!("{web}:latest"));
    assert!(moved.contains("pushed over outside Slipway") && moved.contains(&released), "{moved}");
    assert!(moved.contains(&by_hand) && moved.contains("--repair"), "what it serves and what to do: {moved}");
    let deleted = line(&format!("{web}:rc"));
    assert!(deleted.contains("deleted outside Slipway") && deleted.contains(&released), "{deleted}");
    let unstable = line(&format!("{api}:latest"));
    assert!(unstable.contains("not the stable digest"), "{unstable}");
    assert!(unstable.contains(&api_d1) && unstable.contains(&format!("stable digest is {api_d2}")), "{unstable}");
    assert!(text.contains(" 3 drifting, 0 could not be checked"), "{text}");

    let json = s.slipway(&["tags", "check", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let mut kinds: Vec<(String, String)> = value["drift"]
        .as_array()
        .expect("drift")
        .iter()
        .map(|d| {
            (
                format!("{}:{}", d["repository"].as_str().unwrap_or(""), d["tag"].as_str().unwrap_or("")),
                d["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    kinds.sort();
    let expected = [
        (format!("{api}:latest"), "not_stable".to_string()),
        (format!("{web}:latest"), "moved".to_string()),
        (format!("{web}:rc"), "deleted".to_string()),
    ];
    assert_eq!(kinds, expected, "{value:#}");

    let repaired = s.slipway(&["tags", "check", "--repair", "--by", "ops"]);
    let text = said(&repaired);
    assert_eq!(repaired.status.code(), Some(0), "every drift repaired: {text}");
    assert!(text.contains(&format!("repaired {web}:latest: now {released} (was {by_hand})")), "{text}");
    assert!(text.contains(&format!("repaired {web}:rc: now {released} (was no tag)")), "{text}");
    assert!(text.contains("; 3 repaired"), "{text}");
    assert_eq!(pull_digest(&format!("{web}:latest")), released, "the recorded digest is back");
    assert_eq!(pull_digest(&format!("{web}:rc")), released, "the deleted tag is back");
    assert_eq!(pull_digest(&format!("{api}:latest")), api_d2, "the release tag holds the stable digest");

    let moves = history(&s, &web);
    let repair_of = |events: &[TagEvent], tag: &str| {
        events.iter().find(|e| e.tag == tag).cloned().unwrap_or_else(|| panic!("no move of {tag}: {events:#?}"))
    };
    let latest = repair_of(&moves, "latest");
    assert_eq!(latest.by, format!("repair by ops (tags check): found {by_hand}"));
    assert_eq!(
        (latest.digest.as_str(), latest.previous_digest.as_deref()),
        (released.as_str(), Some(by_hand.as_str()))
    );
    let rc = repair_of(&moves, "rc");
    assert_eq!(rc.by, "repair by ops (tags check): found no tag");
    assert_eq!((rc.digest.as_str(), rc.previous_digest.as_deref()), (released.as_str(), None));
    let api_latest = repair_of(&history(&s, &api), "latest");
    assert!(api_latest.by.starts_with("repair by ops (tags check): found "), "{api_latest:?}");
    assert_eq!(
        (api_latest.digest.as_str(), api_latest.previous_digest.as_deref()),
        (api_d2.as_str(), Some(api_d1.as_str()))
    );

    let again = s.slipway(&["tags", "check"]);
    assert_eq!(again.status.code(), Some(0), "in step after the repair: {}", said(&again));
}

#[test]
fn a_registry_that_does_not_answer_is_could_not_check_and_nothing_changes() {
    let mut registry = Registry::start(Auth::None);
    let mut s = Scenario::new("driftdown");
    s.registry = registry.address();
    s.repo("web", &[("Dockerfile", &dockerfile("web"))]);
    s.project(Entry::new("web"));
    assert!(s.run().status.success());
    let web = s.repository("web");
    let before = history(&s, &web);

    registry.stop();
    let started = std::time::Instant::now();
    let down = s.slipway(&["tags", "check", "--repair", "--format", "json"]);
    let took = started.elapsed();
    assert_eq!(down.status.code(), Some(2), "not in step, not drift: {}", said(&down));
    let value: serde_json::Value = serde_json::from_slice(&down.stdout).expect("JSON");
    assert_eq!(value["drift"], serde_json::json!([]), "a registry error is never drift: {value:#}");
    assert_eq!(value["repairs"], serde_json::json!([]), "nor repaired: {value:#}");
    let unchecked = value["unchecked"].as_array().expect("unchecked");
    assert_eq!(unchecked.len(), before.iter().map(|e| &e.tag).collect::<std::collections::BTreeSet<_>>().len());
    for tag in unchecked {
        assert!(tag["problem"].as_str().is_some_and(|p| p.starts_with("could not check")), "{tag:#}");
        assert!(tag["error"].as_str().is_some_and(|e| e.contains(&registry.address())), "names the registry: {tag:#}");
    }
    assert!(took < std::time::Duration::from_secs(30), "the first unreachable answer stops the asking: {took:?}");
    let text = s.slipway(&["tags", "check"]);
    assert!(said(&text).contains(&format!("{web}:latest: could not check")), "{}", said(&text));
    assert!(said(&text).contains("nothing was changed"), "{}", said(&text));
    assert_eq!(history(&s, &web), before, "no tag moved, nothing recorded");

    registry.restart();
    let back = s.slipway(&["tags", "check"]);
    assert_eq!(back.status.code(), Some(0), "every tag was where Slipway left it: {}", said(&back));
}

#[test]
fn serve_checks_on_its_interval_and_shows_drift_in_metrics_and_on_the_project_page() {
    let mut s = Scenario::new("driftserve");
    s.repo("web", &[("Dockerfile", &dockerfile("web"))]);
    s.project(Entry::new("web"));
    assert!(s.run().status.success());
    let web = s.repository("web");
    let released = pull_digest(&format!("{web}:latest"));
    let mut local = LocalTags::new();
    let by_hand = push_by_hand(&mut local, &format!("{web}:latest"));

    let args = ["serve", "--no-workers", "--listen", "127.0.0.1:0", "--tag-check-interval", "1s"];
    let mut serve = spawn_serve(&mut s.command(&args), Stdio::null());
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let series = format!("slipway_tag_drift{{repository=\"{web}\",kind=\"moved\"}} 1");
    let metrics = wait_for(30, "the drift in /metrics", || {
        let answer = http_with(&address, "GET", "/metrics", &[], "");
        answer.contains(&series).then_some(answer)
    });
    assert!(metrics.contains(&format!("slipway_tag_drift{{repository=\"{web}\",kind=\"deleted\"}} 0")), "{metrics}");
    assert!(metrics.contains(&format!("slipway_tag_unchecked{{repository=\"{web}\"}} 0")), "{metrics}");
    let page = http_with(&address, "GET", &format!("/projects/{}/web/latest", s.app), &[], "");
    assert!(page.contains(r#"<table id="tag-drift">"#), "{page}");
    assert!(page.contains("pushed over outside Slipway") && page.contains(&by_hand), "what differs: {page}");
    assert!(page.contains(&format!("puts {released} back")), "what to do: {page}");
    let api = http_with(&address, "GET", &format!("/api/v1/projects/{}/web/latest", s.app), &[], "");
    assert!(api.contains(r#""state":"moved""#), "the API has it too: {api}");
    drop(serving);
    assert_eq!(pull_digest(&format!("{web}:latest")), by_hand, "serve reports; it never repairs");
}
