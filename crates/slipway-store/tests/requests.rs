//! Build requests: triggers of a queued project merge into its waiting build; the graph cascades are planned on.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{build, new_project, on_both, project};
use slipway_store::{BuildOutcome, BuildState, NewBuild, ProjectNode};

const LEASE: Duration = Duration::from_secs(60);

fn ask(project_id: i64, cause: &str, priority: i32, parents: Vec<i64>) -> NewBuild {
    NewBuild { project_id, causes: vec![cause.into()], parents, priority, max_attempts: 3, source_image: None }
}

#[tokio::test]
async fn requests_merge_into_the_queued_build_and_not_into_a_running_one() {
    on_both(|store| async move {
        let app = project(&store, "app").await;
        let parent_project = project(&store, "base").await;
        let first = store.request_build(&ask(app.id, "schedule: weekly", 10, vec![])).await.unwrap();
        assert!(!first.merged);
        assert_eq!((first.image.as_str(), first.build.number), ("app/app:latest", 1));

        // A second trigger joins it: its cause is added once, the priority rises, the new parent is waited for.
        let parent = build(&store, &parent_project, &[]).await;
        let second = store.request_build(&ask(app.id, "branch main moved to abc", 80, vec![parent.id])).await.unwrap();
        assert!(second.merged);
        assert_eq!(second.build.id, first.build.id);
        assert_eq!(second.build.causes, ["schedule: weekly", "branch main moved to abc"]);
        let again = store.request_build(&ask(app.id, "schedule: weekly", 5, vec![parent.id])).await.unwrap();
        assert_eq!(again.build.causes.len(), 2, "a cause is not repeated");

        // The parent runs first (priority 0 < 80 would lose otherwise: the edge holds the child back).
        let claimed = store.claim("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(claimed.build_id, parent.id, "the child waits for its new parent");
        assert!(store.claim("w2", LEASE).await.unwrap().is_none());
        let done = BuildOutcome { state: BuildState::Succeeded, failed_stage: None, error: None };
        store.finish_build(claimed.job_id, "w1", &done).await.unwrap();
        let child = store.claim("w2", LEASE).await.unwrap().unwrap();
        assert_eq!(child.build_id, first.build.id);

        // Running, it takes no more causes: a new trigger queues build #2.
        let third = store.request_build(&ask(app.id, "manual: asked by alice", 100, vec![])).await.unwrap();
        assert!(!third.merged);
        assert_eq!(third.build.number, 2);
        let unfinished = store.unfinished_builds(&[app.id, parent_project.id]).await.unwrap();
        assert_eq!(unfinished.iter().map(|b| b.id).collect::<Vec<_>>(), [first.build.id, third.build.id]);
    })
    .await;
}

#[tokio::test]
async fn a_parent_that_already_ended_is_not_waited_for_by_a_merge() {
    on_both(|store| async move {
        let app = project(&store, "app").await;
        let parent_project = project(&store, "base").await;
        let parent = build(&store, &parent_project, &[]).await;
        let job = store.claim("w1", LEASE).await.unwrap().unwrap();
        let failed = BuildOutcome { state: BuildState::Failed, failed_stage: None, error: Some("no".into()) };
        store.finish_build(job.job_id, "w1", &failed).await.unwrap();
        store.request_build(&ask(app.id, "schedule: weekly", 10, vec![])).await.unwrap();
        let merged = store.request_build(&ask(app.id, "cascade", 40, vec![parent.id])).await.unwrap();
        assert_eq!(merged.build.state, BuildState::Queued, "the failed parent does not skip a build others want");
        assert_eq!(store.claim("w2", LEASE).await.unwrap().unwrap().build_id, merged.build.id);
    })
    .await;
}

#[tokio::test]
async fn the_project_graph_lists_active_projects_with_their_parents() {
    on_both(|store| async move {
        project(&store, "base").await;
        for (name, parents) in [("web", vec!["app/base:latest", "centos:7"]), ("cli", vec!["app/web:latest"])] {
            let mut p = new_project(name);
            p.depends_on = parents.into_iter().map(String::from).collect();
            store.upsert_project(&p).await.unwrap();
        }
        let graph = store.project_graph().await.unwrap();
        let view: Vec<(String, Vec<String>)> = graph
            .into_iter()
            .map(|ProjectNode { image, mut parents, .. }| {
                parents.sort();
                (image, parents)
            })
            .collect();
        assert_eq!(
            view,
            [
                ("app/base:latest".to_string(), vec![]),
                ("app/web:latest".to_string(), vec!["app/base:latest".to_string(), "centos:7".to_string()]),
                ("app/cli:latest".to_string(), vec!["app/web:latest".to_string()]),
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_pushed_image_merges_only_with_a_queued_delivery_and_replaces_its_image() {
    on_both(|store| async move {
        let app = project(&store, "app").await;
        let push = |digest: &str| NewBuild {
            source_image: Some(format!("r/incoming@{digest}")),
            ..ask(app.id, &format!("image r/incoming:v1 pushed as {digest}"), 80, vec![])
        };
        let source = store.request_build(&ask(app.id, "branch main moved to abc", 80, vec![])).await.unwrap();
        let first = store.request_build(&push("sha256:01")).await.unwrap();
        assert!(!first.merged, "a delivery of a pushed image does not join a build of the source");
        assert_ne!(first.build.id, source.build.id);
        let second = store.request_build(&push("sha256:02")).await.unwrap();
        assert!(second.merged);
        assert_eq!(second.build.id, first.build.id);
        assert_eq!(second.build.source_image.as_deref(), Some("r/incoming@sha256:02"), "the newer push wins");
        let again = store.request_build(&ask(app.id, "manual: asked by alice", 100, vec![])).await.unwrap();
        assert_eq!(again.build.id, source.build.id, "and a build of the source joins its own kind");
        assert_eq!(again.build.source_image, None);
    })
    .await;
}

#[tokio::test]
async fn registry_events_are_handled_once_and_never_out_of_order() {
    use chrono::{TimeZone, Utc};
    use slipway_store::{EventClaim, NewRegistryEvent};
    on_both(|store| async move {
        let at = |minute: u32| Utc.with_ymd_and_hms(2026, 12, 3, 6, minute, 0).unwrap();
        let event = |id: &str, digest: &str, minute: u32| NewRegistryEvent {
            event_id: id.into(),
            repository: "incoming/app".into(),
            tag: "v1".into(),
            digest: digest.into(),
            pushed_at: at(minute),
        };
        assert_eq!(store.claim_registry_event(&event("e2", "sha256:02", 2)).await.unwrap(), EventClaim::New);
        store.finish_registry_event("e2", "tagged x").await.unwrap();
        let duplicate = store.claim_registry_event(&event("e2", "sha256:02", 2)).await.unwrap();
        assert_eq!(duplicate, EventClaim::Duplicate { outcome: "tagged x".into() });
        let older = store.claim_registry_event(&event("e1", "sha256:01", 1)).await.unwrap();
        assert_eq!(older, EventClaim::Superseded { digest: "sha256:02".into(), pushed_at: at(2) });
        // A failure half-way forgets the event: the registry's retry handles it again.
        assert_eq!(store.claim_registry_event(&event("e3", "sha256:03", 3)).await.unwrap(), EventClaim::New);
        store.forget_registry_event("e3").await.unwrap();
        assert_eq!(store.claim_registry_event(&event("e3", "sha256:03", 3)).await.unwrap(), EventClaim::New);
        let listed = store.registry_events(10).await.unwrap();
        assert_eq!(listed.len(), 3);
        assert!(listed.iter().any(|e| e.event_id == "e1" && e.outcome.starts_with("ignored: older")));
    })
    .await;
}

#[tokio::test]
async fn a_periodic_run_is_claimed_once_per_interval() {
    use chrono::{TimeDelta, TimeZone, Utc};
    on_both(|store| async move {
        let at = |minute: u32| Utc.with_ymd_and_hms(2026, 12, 3, 6, minute, 0).unwrap();
        let hour = TimeDelta::hours(1);
        assert!(store.claim_periodic_run("retention", at(0), hour).await.unwrap(), "never ran: due");
        assert!(!store.claim_periodic_run("retention", at(1), hour).await.unwrap(), "ran a minute ago");
        assert!(store.claim_periodic_run("other", at(1), hour).await.unwrap(), "each job has its own");
        let later = at(0) + hour;
        assert!(store.claim_periodic_run("retention", later, hour).await.unwrap());
        assert!(!store.claim_periodic_run("retention", later, hour).await.unwrap(), "a second server: not again");
    })
    .await;
}
