//! Reloading a changed index against a real store (SQLite and PostgreSQL): new projects get their first
//! build, changed entries are rebuilt, removed projects are deactivated with their history kept, and an
//! invalid entry or a broken file deactivates nothing.

#![allow(clippy::unwrap_used)]

#[path = "../../slipway-store/tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::on_both;
use slipway_engine::{ReloadReport, Trigger, plan_builds, reload_index};
use slipway_index::Index;
use slipway_store::{BuildState, Store};

fn entry(job: &str, branch: &str, depends_on: &[&str]) -> String {
    format!(
        "  - id: 1
    app-id: demo
    job-id: {job}
    git-url: git://127.0.0.1/{job}
    git-branch: {branch}
    git-path: /
    target-file: Dockerfile
    desired-tag: latest
    notify-email: team@example.com
    depends-on: [{}]
",
        depends_on.join(", ")
    )
}

fn other(valid: bool) -> String {
    let text = "Projects:\n  - id: 1\n    app-id: other\n    job-id: tool\n    git-url: git://127.0.0.1/tool\n    git-branch: main\n    git-path: /\n    target-file: Dockerfile\n    desired-tag: latest\n    notify-email: team@example.com\n    depends-on: []\n";
    if valid { text.to_string() } else { format!("{text}  - [unclosed\n") }
}

async fn apply(store: &Store, demo: &[String], other_file: &str) -> ReloadReport {
    let files = [
        ("index.d/demo.yaml".into(), format!("Projects:\n{}", demo.concat())),
        ("index.d/other.yaml".into(), other_file.to_string()),
    ];
    let index = Index::from_texts(files);
    let plan = plan_builds(&index, &[]).unwrap();
    reload_index(store, &index, &plan).await.unwrap()
}

fn images(report: &ReloadReport, trigger: &Trigger) -> Vec<String> {
    let mut images: Vec<String> =
        report.requested.iter().filter(|(t, _)| t == trigger).map(|(_, r)| r.image.clone()).collect();
    images.sort();
    images
}

async fn causes(store: &Store, image: &str) -> Vec<Vec<String>> {
    let project = store.project_by_image(image).await.unwrap().unwrap();
    store.builds_of(project.id, 10).await.unwrap().into_iter().rev().map(|b| b.causes).collect()
}

#[tokio::test]
async fn a_reload_applies_only_the_difference() {
    on_both(|store| async move {
        let base = entry("base", "main", &[]);
        let child = entry("child", "main", &["demo/base:latest"]);
        let solo = entry("solo", "main", &[]);

        let first = apply(&store, &[base.clone(), child.clone(), solo.clone()], &other(true)).await;
        assert_eq!(
            images(&first, &Trigger::FirstBuild),
            ["demo/base:latest", "demo/child:latest", "demo/solo:latest", "other/tool:latest"]
        );
        // Every build but the child's can start: it waits for its parent's.
        let (_, child_build) = first.requested.iter().find(|(_, r)| r.image == "demo/child:latest").unwrap();
        let mut claimed = Vec::new();
        while let Some(job) = store.claim(&format!("w{}", claimed.len()), Duration::from_secs(60)).await.unwrap() {
            claimed.push(job.build_id);
        }
        assert_eq!(claimed.len(), 3);
        assert!(!claimed.contains(&child_build.build.id));

        let again = apply(&store, &[base.clone(), child.clone(), solo.clone()], &other(true)).await;
        assert!(again.requested.is_empty(), "nothing changed: {:?}", again.requested);
        assert_eq!(again.unchanged, 4);

        // child moves to another branch, solo leaves, fresh arrives, and other.yaml gets a syntax error.
        let fresh = entry("fresh", "main", &[]);
        let changed = entry("child", "stable", &["demo/base:latest"]);
        let second = apply(&store, &[base.clone(), changed.clone(), fresh.clone()], &other(false)).await;
        assert_eq!(images(&second, &Trigger::IndexChanged), ["demo/child:latest"]);
        assert_eq!(images(&second, &Trigger::FirstBuild), ["demo/fresh:latest"]);
        assert_eq!(second.deactivated, ["demo/solo:latest"]);
        assert_eq!(second.unchanged, 2, "base, and other/tool: it is read before the syntax error");
        let (_, rebuilt) = second.requested.iter().find(|(_, r)| r.image == "demo/child:latest").unwrap();
        assert!(rebuilt.merged, "the child's first build was still queued: the change joins it");
        assert_eq!(causes(&store, "demo/child:latest").await, [vec!["first build", "index entry changed"]]);
        assert_eq!(
            store.project_by_image("demo/child:latest").await.unwrap().unwrap().git_branch,
            "stable",
            "the new entry is what is built"
        );
        // other/tool is still read from other.yaml before the syntax error; solo is gone but kept.
        let solo_project = store.project_by_image("demo/solo:latest").await.unwrap().unwrap();
        assert!(!solo_project.active);
        let solo_builds = store.builds_of(solo_project.id, 10).await.unwrap();
        assert_eq!(solo_builds.len(), 1, "its history is kept");
        assert_eq!(solo_builds[0].state, BuildState::Canceled, "its unfinished build is stopped");
        assert!(store.project_graph().await.unwrap().iter().all(|p| p.image != "demo/solo:latest"));

        // base's entry becomes invalid (an unknown field), and the whole of other.yaml unreadable: nothing
        // is deactivated; child, which needs base, is kept too.
        let broken_base = base.replace("    git-branch: main\n", "    gti-branch: main\n");
        let broken_other = "Projects:\n  - id: 1\n    app-id: [unclosed\n";
        let third = apply(&store, &[broken_base, changed.clone(), fresh.clone()], broken_other).await;
        assert!(third.deactivated.is_empty(), "{:?}", third.deactivated);
        assert!(third.kept.contains(&"demo/base:latest".to_string()), "{:?}", third.kept);
        assert!(third.kept.contains(&"other/tool:latest".to_string()), "{:?}", third.kept);
        assert!(store.project_by_image("demo/base:latest").await.unwrap().unwrap().active);

        // solo comes back: it was built before, so it is a changed entry, not a first build.
        let fourth = apply(&store, &[base, changed, fresh, solo], &other(true)).await;
        assert_eq!(images(&fourth, &Trigger::IndexChanged), ["demo/solo:latest"]);
        assert!(store.project_by_image("demo/solo:latest").await.unwrap().unwrap().active);
        assert!(fourth.deactivated.is_empty());
    })
    .await;
}
