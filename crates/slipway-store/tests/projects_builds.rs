//! Projects and builds: upserts by image, numbering per project (also under concurrency), listings.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{build, new_project, on_both, project};
use slipway_store::{BuildState, NewBuild, StoreError};
use tokio::sync::Barrier;

#[tokio::test]
async fn upsert_updates_the_project_with_the_same_image() {
    on_both(|store| async move {
        let mut p = new_project("web");
        p.depends_on = vec!["app/base:latest".into()];
        p.notify_email = Some("ops@example.org".into());
        let first = store.upsert_project(&p).await.unwrap();
        assert_eq!(first.image, "app/web:latest");
        assert_eq!(first.depends_on, ["app/base:latest"]);
        assert_eq!(first.entry, serde_json::json!({ "job-id": "web" }));
        assert!(first.active);

        p.git_branch = "release".into();
        p.depends_on = vec![];
        p.index_line = 42;
        let second = store.upsert_project(&p).await.unwrap();
        assert_eq!(second.id, first.id);
        assert_eq!((second.git_branch.as_str(), second.index_line), ("release", 42));
        assert!(second.depends_on.is_empty());
        assert_eq!(second.created_at, first.created_at);
        assert!(second.updated_at >= first.updated_at);

        assert_eq!(store.project_by_image("app/web:latest").await.unwrap(), Some(second.clone()));
        assert_eq!(store.project(first.id).await.unwrap(), second);
        assert_eq!(store.project_by_image("app/none:latest").await.unwrap(), None);
        let err = store.project(first.id + 100).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "project", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn projects_are_listed_by_image() {
    on_both(|store| async move {
        for name in ["zeta", "alpha", "mid"] {
            project(&store, name).await;
        }
        let images: Vec<String> = store.projects().await.unwrap().into_iter().map(|p| p.image).collect();
        assert_eq!(images, ["app/alpha:latest", "app/mid:latest", "app/zeta:latest"]);
    })
    .await;
}

#[tokio::test]
async fn builds_are_numbered_per_project_and_listed_newest_first() {
    on_both(|store| async move {
        let (a, b) = (project(&store, "a").await, project(&store, "b").await);
        let a1 = build(&store, &a, &[]).await;
        let b1 = build(&store, &b, &[]).await;
        let a2 = build(&store, &a, &[&b1]).await;
        assert_eq!((a1.number, b1.number, a2.number), (1, 1, 2));
        assert_eq!(a2.state, BuildState::Queued);
        assert_eq!(a2.causes, ["manual run"]);
        assert!(a2.started_at.is_none() && a2.finished_at.is_none());

        let numbers: Vec<i64> = store.builds_of(a.id, u64::MAX).await.unwrap().iter().map(|b| b.number).collect();
        assert_eq!(numbers, [2, 1]);
        assert_eq!(store.builds_of(a.id, 1).await.unwrap(), std::slice::from_ref(&a2));
        assert_eq!(store.build(a1.id).await.unwrap(), a1);
        let err = store.build(a2.id + 100).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "build", .. }), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_builds_of_one_project_get_distinct_numbers() {
    on_both(|store| async move {
        const TASKS: usize = 8;
        const EACH: usize = 5;
        let p = project(&store, "p").await;
        let barrier = Arc::new(Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, barrier, project_id) = (store.clone(), barrier.clone(), p.id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut numbers = vec![];
                    for _ in 0..EACH {
                        let new = NewBuild {
                            project_id,
                            causes: vec![],
                            parents: vec![],
                            priority: 0,
                            max_attempts: 1,
                            source_image: None,
                        };
                        numbers.push(store.create_build(&new).await.unwrap().number);
                    }
                    numbers
                })
            })
            .collect();
        let mut all = vec![];
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (1..=(TASKS * EACH) as i64).collect::<Vec<_>>());
        assert_eq!(store.queue_counts().await.unwrap().queued, (TASKS * EACH) as u64);
    })
    .await;
}

#[tokio::test]
async fn create_build_refuses_what_cannot_be_queued() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let new = NewBuild {
            project_id: p.id,
            causes: vec![],
            parents: vec![],
            priority: 0,
            max_attempts: 0,
            source_image: None,
        };
        let err = store.create_build(&new).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { what: "max_attempts", .. }), "{err}");
        let err =
            store.create_build(&NewBuild { project_id: p.id + 9, max_attempts: 1, ..new.clone() }).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "project", .. }), "{err}");
        let err = store.create_build(&NewBuild { parents: vec![12345], max_attempts: 1, ..new }).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "parent build", ref key } if key == "12345"), "{err}");
        assert!(store.builds_of(p.id, 10).await.unwrap().is_empty(), "nothing half-written");
        assert_eq!(store.queue_counts().await.unwrap().queued, 0);
    })
    .await;
}

#[tokio::test]
async fn last_builds_lists_every_active_project_with_its_newest_build() {
    on_both(|store| async move {
        let (a, b) = (project(&store, "a").await, project(&store, "b").await);
        build(&store, &a, &[]).await;
        let a2 = build(&store, &a, &[]).await;
        let last = store.last_builds().await.unwrap();
        let summary: Vec<(String, Option<i64>)> =
            last.iter().map(|(p, b)| (p.image.clone(), b.as_ref().map(|b| b.number))).collect();
        assert_eq!(summary, [("app/a:latest".to_string(), Some(2)), ("app/b:latest".to_string(), None)]);
        assert_eq!(last[0].1.as_ref().map(|b| b.id), Some(a2.id));
        assert_eq!(last[1].0.id, b.id);
    })
    .await;
}

#[tokio::test]
async fn build_details_are_recorded() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        store.set_build_started(b.id, "w1").await.unwrap();
        let started = store.build(b.id).await.unwrap().started_at;
        store.set_build_started(b.id, "w2").await.unwrap();
        store.set_build_commit(b.id, "0123abcd", "Fix the build", Some("v1.2.3")).await.unwrap();
        store.set_build_digest(b.id, "sha256:aaaa").await.unwrap();
        let b = store.build(b.id).await.unwrap();
        assert_eq!(b.started_at, started, "the first start is kept");
        assert_eq!(b.worker.as_deref(), Some("w2"));
        assert_eq!(b.commit.as_deref(), Some("0123abcd"));
        assert_eq!(b.commit_subject.as_deref(), Some("Fix the build"));
        assert_eq!(b.semver_tag.as_deref(), Some("v1.2.3"));
        assert_eq!(b.digest.as_deref(), Some("sha256:aaaa"));
        store.set_build_commit(b.id, "4567", "Again", None).await.unwrap();
        assert_eq!(store.build(b.id).await.unwrap().semver_tag, None);
        let err = store.set_build_digest(b.id + 50, "sha256:bbbb").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "build", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn parents_are_deduplicated() {
    on_both(|store| async move {
        let (p, c) = (project(&store, "p").await, project(&store, "c").await);
        let parent = build(&store, &p, &[]).await;
        let child = build(&store, &c, &[&parent, &parent]).await;
        assert_eq!(child.state, BuildState::Queued);
        let ids: BTreeSet<i64> = store.builds_of(c.id, 10).await.unwrap().iter().map(|b| b.id).collect();
        assert_eq!(ids, BTreeSet::from([child.id]));
    })
    .await;
}
