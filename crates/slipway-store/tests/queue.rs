//! The job queue: claim order, racing claimers, leases that lapse, attempts that run out, parents that gate
//! and children that are skipped.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{build, build_with, on_both, project};
use slipway_store::{BuildOutcome, BuildState, NewBuild, QueueCounts, StageKind, StageState, Store, StoreError};
use tokio::sync::Barrier;

const LEASE: Duration = Duration::from_secs(60);
const SHORT_LEASE: Duration = Duration::from_millis(2);

fn outcome(state: BuildState) -> BuildOutcome {
    let failed_stage = (state != BuildState::Succeeded).then_some(StageKind::Build);
    BuildOutcome { state, failed_stage, error: failed_stage.map(|_| "the Dockerfile's RUN exited with 2".into()) }
}

/// Waits out a short lease: the one place these tests sleep, because a lease is time.
async fn lapse() {
    tokio::time::sleep(SHORT_LEASE * 3).await;
}

#[tokio::test]
async fn claims_the_highest_priority_then_the_oldest() {
    on_both(|store| async move {
        let (a, b, c) = (project(&store, "a").await, project(&store, "b").await, project(&store, "c").await);
        let low = build_with(&store, &a, &[], 0, 3).await;
        let high_old = build_with(&store, &b, &[], 10, 3).await;
        let high_new = build_with(&store, &c, &[], 10, 3).await;
        let mut order = vec![];
        while let Some(job) = store.claim("w1", LEASE).await.unwrap() {
            assert_eq!(job.attempt, 1);
            order.push(job.build_id);
        }
        assert_eq!(order, [high_old.id, high_new.id, low.id]);
        let claimed = store.build(high_old.id).await.unwrap();
        assert_eq!(claimed.state, BuildState::Running);
        assert_eq!(claimed.worker.as_deref(), Some("w1"));
        assert!(claimed.started_at.is_some());
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts { queued: 0, running: 3 });
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claimers_never_take_one_job_twice() {
    on_both(|store| async move {
        const JOBS: usize = 40;
        const CLAIMERS: usize = 8;
        let mut builds = BTreeSet::new();
        for n in 0..JOBS {
            let p = project(&store, &format!("p{n}")).await;
            builds.insert(build(&store, &p, &[]).await.id);
        }
        let barrier = Arc::new(Barrier::new(CLAIMERS));
        let claimers = (0..CLAIMERS).map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = vec![];
                while let Some(job) = store.claim(&format!("w{i}"), LEASE).await.unwrap() {
                    mine.push(job.build_id);
                }
                mine
            })
        });
        let mut claimed = vec![];
        for claimer in claimers.collect::<Vec<_>>() {
            claimed.extend(claimer.await.unwrap());
        }
        let unique: BTreeSet<i64> = claimed.iter().copied().collect();
        assert_eq!(claimed.len(), JOBS, "a job was claimed twice: {claimed:?}");
        assert_eq!(unique, builds);
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts { queued: 0, running: JOBS as u64 });
    })
    .await;
}

#[tokio::test]
async fn a_lapsed_lease_is_claimed_again_and_the_old_holder_is_told() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let first = store.claim("w1", SHORT_LEASE).await.unwrap().unwrap();
        assert_eq!(first.attempt, 1);
        assert!(store.heartbeat(first.job_id, "w1", SHORT_LEASE).await.unwrap());
        lapse().await;
        let second = store.claim("w2", LEASE).await.unwrap().unwrap();
        assert_eq!((second.job_id, second.build_id, second.attempt), (first.job_id, b.id, 2));
        assert!(store.claim("w3", LEASE).await.unwrap().is_none(), "a live lease is not claimed");

        assert!(!store.heartbeat(first.job_id, "w1", LEASE).await.unwrap(), "w1 lost the lease");
        assert!(store.heartbeat(second.job_id, "w2", LEASE).await.unwrap());
        let err = store.finish_build(first.job_id, "w1", &outcome(BuildState::Succeeded)).await.unwrap_err();
        assert!(matches!(&err, StoreError::LeaseLost { holder, .. } if holder == "w2"), "{err}");
        assert_eq!(store.build(b.id).await.unwrap().state, BuildState::Running);
        assert_eq!(store.build(b.id).await.unwrap().worker.as_deref(), Some("w2"));

        store.finish_build(second.job_id, "w2", &outcome(BuildState::Succeeded)).await.unwrap();
        let done = store.build(b.id).await.unwrap();
        assert_eq!(done.state, BuildState::Succeeded);
        assert!(done.finished_at.is_some());
        assert!(!store.heartbeat(second.job_id, "w2", LEASE).await.unwrap(), "a finished job has no lease");
        let again = store.finish_build(second.job_id, "w2", &outcome(BuildState::Succeeded)).await.unwrap_err();
        assert!(matches!(again, StoreError::LeaseLost { .. }), "{again}");
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts::default());
    })
    .await;
}

#[tokio::test]
async fn a_build_whose_lease_lapses_max_attempts_times_errors_as_worker_lost() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let c = project(&store, "c").await;
        let b = build_with(&store, &p, &[], 0, 2).await;
        let child = build(&store, &c, &[&b]).await;

        let first = store.claim("w1", SHORT_LEASE).await.unwrap().unwrap();
        store.start_stage(b.id, StageKind::Checkout).await.unwrap();
        lapse().await;
        let second = store.claim("w2", SHORT_LEASE).await.unwrap().unwrap();
        assert_eq!((second.job_id, second.attempt), (first.job_id, 2));
        let checkout = store.start_stage(b.id, StageKind::Checkout).await.unwrap();
        store.finish_stage(checkout.id, StageState::Succeeded, None).await.unwrap();
        store.start_stage(b.id, StageKind::Build).await.unwrap();
        lapse().await;

        assert!(store.claim("w3", LEASE).await.unwrap().is_none(), "no third attempt, and the child is skipped");
        let lost = store.build(b.id).await.unwrap();
        assert_eq!(lost.state, BuildState::Errored);
        assert_eq!(lost.error.as_deref(), Some("worker lost: the build's lease lapsed 2 times"));
        assert_eq!(lost.failed_stage, Some(StageKind::Build));
        assert!(lost.finished_at.is_some());
        let stages = store.stages(b.id).await.unwrap();
        assert_eq!(
            stages.iter().map(|s| (s.kind, s.state)).collect::<Vec<_>>(),
            [(StageKind::Checkout, StageState::Succeeded), (StageKind::Build, StageState::Errored)]
        );
        let child = store.build(child.id).await.unwrap();
        assert_eq!(child.state, BuildState::Skipped);
        assert_eq!(child.error.as_deref(), Some("parent app/p:latest build #1 errored"));
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts::default());
        let err = store.finish_build(second.job_id, "w2", &outcome(BuildState::Succeeded)).await.unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { ref state, .. } if state == "failed"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn one_attempt_lapsed_is_one_time() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build_with(&store, &p, &[], 0, 1).await;
        store.claim("w1", SHORT_LEASE).await.unwrap().unwrap();
        lapse().await;
        assert!(store.claim("w2", LEASE).await.unwrap().is_none());
        let lost = store.build(b.id).await.unwrap();
        assert_eq!(lost.error.as_deref(), Some("worker lost: the build's lease lapsed 1 time"));
        assert_eq!(lost.failed_stage, None, "no stage was running");
    })
    .await;
}

#[tokio::test]
async fn a_child_waits_until_its_parents_succeed() {
    on_both(|store| async move {
        let (a, b, c) = (project(&store, "a").await, project(&store, "b").await, project(&store, "c").await);
        let pa = build(&store, &a, &[]).await;
        let pb = build(&store, &b, &[]).await;
        // The child outranks its parents, yet waits for both.
        let child = build_with(&store, &c, &[&pa, &pb], 100, 3).await;

        let ja = store.claim("w", LEASE).await.unwrap().unwrap();
        let jb = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(BTreeSet::from([ja.build_id, jb.build_id]), BTreeSet::from([pa.id, pb.id]));
        assert!(store.claim("w", LEASE).await.unwrap().is_none(), "parents still running");
        store.finish_build(ja.job_id, "w", &outcome(BuildState::Succeeded)).await.unwrap();
        assert!(store.claim("w", LEASE).await.unwrap().is_none(), "one parent still running");
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts { queued: 1, running: 1 });
        store.finish_build(jb.job_id, "w", &outcome(BuildState::Succeeded)).await.unwrap();
        let jc = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(jc.build_id, child.id);
    })
    .await;
}

#[tokio::test]
async fn a_failed_parent_skips_its_children_and_grandchildren() {
    on_both(|store| async move {
        let (p, c, g, other) = (
            project(&store, "p").await,
            project(&store, "c").await,
            project(&store, "g").await,
            project(&store, "o").await,
        );
        let parent = build(&store, &p, &[]).await;
        let child = build(&store, &c, &[&parent]).await;
        let grandchild = build(&store, &g, &[&child]).await;
        let unrelated = build_with(&store, &other, &[], -1, 3).await;

        let job = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(job.build_id, parent.id);
        store.finish_build(job.job_id, "w", &outcome(BuildState::Failed)).await.unwrap();

        let failed = store.build(parent.id).await.unwrap();
        assert_eq!(failed.state, BuildState::Failed);
        assert_eq!(failed.failed_stage, Some(StageKind::Build));
        assert_eq!(failed.error.as_deref(), Some("the Dockerfile's RUN exited with 2"));
        let child = store.build(child.id).await.unwrap();
        assert_eq!(
            (child.state, child.error.as_deref()),
            (BuildState::Skipped, Some("parent app/p:latest build #1 failed"))
        );
        assert!(child.finished_at.is_some());
        let grandchild = store.build(grandchild.id).await.unwrap();
        assert_eq!(
            (grandchild.state, grandchild.error.as_deref()),
            (BuildState::Skipped, Some("parent app/c:latest build #1 was skipped"))
        );
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts { queued: 1, running: 0 });
        let next = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!(next.build_id, unrelated.id, "skipped builds are never claimed");
        assert!(store.claim("w", LEASE).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_build_queued_after_its_parent_failed_is_skipped_at_once() {
    on_both(|store| async move {
        let (p, c) = (project(&store, "p").await, project(&store, "c").await);
        let parent = build(&store, &p, &[]).await;
        let job = store.claim("w", LEASE).await.unwrap().unwrap();
        store.finish_build(job.job_id, "w", &outcome(BuildState::Failed)).await.unwrap();
        let late = build(&store, &c, &[&parent]).await;
        assert_eq!(late.state, BuildState::Skipped);
        assert_eq!(late.error.as_deref(), Some("parent app/p:latest build #1 failed"));
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts::default());
        assert!(store.claim("w", LEASE).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn finish_refuses_what_is_not_an_end() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        build(&store, &p, &[]).await;
        let job = store.claim("w", LEASE).await.unwrap().unwrap();
        let err = store.finish_build(job.job_id, "w", &outcome(BuildState::Running)).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { what: "build outcome", .. }), "{err}");
        let err = store.finish_build(job.job_id + 1000, "w", &outcome(BuildState::Succeeded)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "job", .. }), "{err}");
        let err = store.claim("w", Duration::MAX).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid { what: "lease", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn an_empty_queue_claims_nothing() {
    on_both(|store: Store| async move {
        assert!(store.claim("w", LEASE).await.unwrap().is_none());
        assert!(!store.heartbeat(1, "w", LEASE).await.unwrap());
        assert_eq!(store.queue_counts().await.unwrap(), QueueCounts::default());
    })
    .await;
}

#[tokio::test]
async fn an_errored_build_is_retried_after_a_delay_until_its_attempts_run_out() {
    on_both(|store| async move {
        let (p, c) = (project(&store, "p").await, project(&store, "c").await);
        let parent = build_with(&store, &p, &[], 0, 2).await;
        let child = build(&store, &c, &[&parent]).await;
        let first = store.claim("w", LEASE).await.unwrap().unwrap();
        store.finish_build(first.job_id, "w", &outcome(BuildState::Errored)).await.unwrap();
        let waiting = store.build(parent.id).await.unwrap();
        assert_eq!(waiting.state, BuildState::Queued, "queued again, not ended");
        let note = waiting.error.unwrap_or_default();
        assert!(note.starts_with("attempt 1 of 2 errored (") && note.ends_with("retried after 5 s"), "{note}");
        assert_eq!(store.build(child.id).await.unwrap().state, BuildState::Queued, "its child still waits");
        assert!(store.claim("w", LEASE).await.unwrap().is_none(), "not before the delay");

        // A new request gets a build of its own: the retry keeps what its first attempt did.
        let again = NewBuild {
            project_id: p.id,
            causes: vec!["manual: asked by ops".into()],
            parents: vec![],
            priority: 0,
            max_attempts: 2,
            source_image: None,
        };
        let separate = store.request_build(&again).await.unwrap();
        assert!(!separate.merged && separate.build.id != parent.id, "not merged into the retry");
        tokio::time::sleep(Duration::from_millis(5100)).await;
        let second = store.claim("w", LEASE).await.unwrap().unwrap();
        assert_eq!((second.job_id, second.attempt), (first.job_id, 2));
        store.finish_build(second.job_id, "w", &outcome(BuildState::Errored)).await.unwrap();
        assert_eq!(store.build(parent.id).await.unwrap().state, BuildState::Errored);
        assert_eq!(store.build(child.id).await.unwrap().state, BuildState::Skipped);
    })
    .await;
}

#[tokio::test]
async fn one_build_of_a_project_runs_at_a_time_in_the_order_asked() {
    on_both(|store| async move {
        let (p, other) = (project(&store, "p").await, project(&store, "other").await);
        let first = build(&store, &p, &[]).await;
        let second = build(&store, &p, &[]).await;
        let elsewhere = build(&store, &other, &[]).await;
        let a = store.claim("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(a.build_id, first.id);
        let b = store.claim("w2", LEASE).await.unwrap().unwrap();
        assert_eq!(b.build_id, elsewhere.id, "another project's build is not held up");
        assert!(store.claim("w3", LEASE).await.unwrap().is_none(), "the second build of p waits for the first");
        assert_eq!(
            store.wait_reason(second.id).await.unwrap().as_deref(),
            Some(format!("waiting for build #{} of this project", first.number).as_str())
        );
        store.finish_build(a.job_id, "w1", &outcome(BuildState::Succeeded)).await.unwrap();
        assert_eq!(store.wait_reason(second.id).await.unwrap(), None);
        let c = store.claim("w3", LEASE).await.unwrap().unwrap();
        assert_eq!(c.build_id, second.id, "it starts once the first ended");
    })
    .await;
}

#[tokio::test]
async fn canceling_the_running_build_lets_the_waiting_one_start_at_once() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let first = build(&store, &p, &[]).await;
        let second = build(&store, &p, &[]).await;
        assert_eq!(store.claim("w1", LEASE).await.unwrap().unwrap().build_id, first.id);
        assert!(store.claim("w2", LEASE).await.unwrap().is_none());
        assert!(store.cancel_build(first.id, "alice").await.unwrap());
        assert_eq!(store.claim("w2", LEASE).await.unwrap().unwrap().build_id, second.id);
    })
    .await;
}

#[tokio::test]
async fn a_lapsed_build_still_holds_its_project_until_it_is_taken_over() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let first = build(&store, &p, &[]).await;
        let second = build(&store, &p, &[]).await;
        store.claim("w1", SHORT_LEASE).await.unwrap().unwrap();
        lapse().await;
        let again = store.claim("w2", LEASE).await.unwrap().unwrap();
        assert_eq!(again.build_id, first.id, "the lapsed build is taken over, not overtaken");
        assert!(store.claim("w3", LEASE).await.unwrap().is_none());
        store.finish_build(again.job_id, "w2", &outcome(BuildState::Succeeded)).await.unwrap();
        assert_eq!(store.claim("w3", LEASE).await.unwrap().unwrap().build_id, second.id);
    })
    .await;
}

/// Claimers race over a few projects with several builds each, finishing what they claim: a project never has
/// two builds running, and every build runs once. (Which of two queued builds of a project starts first may differ
/// on PostgreSQL, where claimers skip each other's rows; the release order decides what is delivered.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claimers_never_run_two_builds_of_one_project() {
    on_both(|store| async move {
        const PROJECTS: usize = 4;
        const BUILDS: usize = 6;
        const CLAIMERS: usize = 8;
        let mut order_asked = std::collections::BTreeMap::new();
        for n in 0..PROJECTS {
            let p = project(&store, &format!("p{n}")).await;
            let mut ids = Vec::new();
            for _ in 0..BUILDS {
                ids.push(build(&store, &p, &[]).await.id);
            }
            order_asked.insert(p.id, ids);
        }
        let running = Arc::new(std::sync::Mutex::new(BTreeSet::<i64>::new()));
        let started = Arc::new(std::sync::Mutex::new(Vec::<(i64, i64)>::new()));
        let barrier = Arc::new(Barrier::new(CLAIMERS));
        let claimers = (0..CLAIMERS).map(|i| {
            let (store, barrier, running, started) = (store.clone(), barrier.clone(), running.clone(), started.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let worker = format!("w{i}");
                loop {
                    let Some(job) = store.claim(&worker, LEASE).await.unwrap() else {
                        if store.queue_counts().await.unwrap() == QueueCounts::default() {
                            return;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    };
                    let project = store.build(job.build_id).await.unwrap().project_id;
                    assert!(running.lock().unwrap().insert(project), "two builds of project {project} running");
                    started.lock().unwrap().push((project, job.build_id));
                    tokio::task::yield_now().await;
                    running.lock().unwrap().remove(&project);
                    store.finish_build(job.job_id, &worker, &outcome(BuildState::Succeeded)).await.unwrap();
                }
            })
        });
        for claimer in claimers.collect::<Vec<_>>() {
            claimer.await.unwrap();
        }
        let started = started.lock().unwrap().clone();
        for (project, asked) in order_asked {
            let mut ran: Vec<i64> = started.iter().filter(|(p, _)| *p == project).map(|(_, b)| *b).collect();
            ran.sort_unstable();
            assert_eq!(ran, asked, "each of project {project}'s builds ran once");
        }
    })
    .await;
}
