//! Stages and their logs: restart in place, pipeline order, gapless ordered seqs under concurrent appends.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{build, on_both, project};
use slipway_store::{StageKind, StageState, StoreError};
use tokio::sync::Barrier;

#[tokio::test]
async fn stages_are_listed_in_pipeline_order() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        for kind in [StageKind::Test, StageKind::Checkout, StageKind::Deliver, StageKind::Build] {
            let stage = store.start_stage(b.id, kind).await.unwrap();
            assert_eq!((stage.kind, stage.state, stage.build_id), (kind, StageState::Running, b.id));
            assert!(stage.started_at.is_some() && stage.finished_at.is_none());
        }
        let kinds: Vec<StageKind> = store.stages(b.id).await.unwrap().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StageKind::Checkout, StageKind::Build, StageKind::Test, StageKind::Deliver]);
        assert!(store.stages(b.id + 1).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_restarted_stage_keeps_its_id_and_its_earlier_log() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let first = store.start_stage(b.id, StageKind::Build).await.unwrap();
        store.append_log(first.id, "attempt 1\n").await.unwrap();
        store.finish_stage(first.id, StageState::Errored, Some("docker went away")).await.unwrap();
        let failed = &store.stages(b.id).await.unwrap()[0];
        assert_eq!((failed.state, failed.error.as_deref()), (StageState::Errored, Some("docker went away")));
        assert!(failed.finished_at.is_some());

        let again = store.start_stage(b.id, StageKind::Build).await.unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!((again.state, again.error.as_deref(), again.finished_at), (StageState::Running, None, None));
        assert_eq!(store.append_log(again.id, "attempt 2\n").await.unwrap(), 1);
        store.finish_stage(again.id, StageState::Succeeded, None).await.unwrap();
        assert_eq!(store.log_text(again.id).await.unwrap(), "attempt 1\nattempt 2\n");
        assert_eq!(store.stages(b.id).await.unwrap()[0].state, StageState::Succeeded);

        let err = store.finish_stage(first.id + 100, StageState::Failed, None).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "stage", .. }), "{err}");
        let err = store.append_log(first.id + 100, "x\n").await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "stage", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn log_chunks_are_paged_by_seq() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let stage = store.start_stage(b.id, StageKind::Checkout).await.unwrap();
        assert_eq!(store.log_text(stage.id).await.unwrap(), "");
        for i in 0..5 {
            assert_eq!(store.append_log(stage.id, &format!("line {i}\n")).await.unwrap(), i);
        }
        let page = store.log_chunks(stage.id, 2, 2).await.unwrap();
        assert_eq!(
            page.iter().map(|c| (c.seq, c.text.as_str())).collect::<Vec<_>>(),
            [(2, "line 2\n"), (3, "line 3\n")]
        );
        assert!(page.iter().all(|c| c.stage_id == stage.id));
        assert_eq!(store.log_chunks(stage.id, 4, u64::MAX).await.unwrap().len(), 1);
        assert!(store.log_chunks(stage.id, 5, 10).await.unwrap().is_empty());
        let other = store.start_stage(b.id, StageKind::Build).await.unwrap();
        assert_eq!(store.append_log(other.id, "own seq\n").await.unwrap(), 0, "seqs count per stage");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_get_gapless_seqs_in_each_writers_order() {
    on_both(|store| async move {
        const WRITERS: usize = 8;
        const EACH: usize = 25;
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let stage = store.start_stage(b.id, StageKind::Build).await.unwrap();
        let barrier = Arc::new(Barrier::new(WRITERS));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let mut seqs = vec![];
                    for i in 0..EACH {
                        seqs.push(store.append_log(stage.id, &format!("w{w} {i}\n")).await.unwrap());
                    }
                    seqs
                })
            })
            .collect();
        let mut all = vec![];
        for writer in writers {
            let seqs = writer.await.unwrap();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one writer's chunks stay in order: {seqs:?}");
            all.extend(seqs);
        }
        all.sort_unstable();
        assert_eq!(all, (0..(WRITERS * EACH) as i64).collect::<Vec<_>>());
        let chunks = store.log_chunks(stage.id, 0, u64::MAX).await.unwrap();
        assert_eq!(chunks.iter().map(|c| c.seq).collect::<Vec<_>>(), all);
        for w in 0..WRITERS {
            let lines: Vec<String> =
                chunks.iter().filter(|c| c.text.starts_with(&format!("w{w} "))).map(|c| c.text.clone()).collect();
            assert_eq!(lines, (0..EACH).map(|i| format!("w{w} {i}\n")).collect::<Vec<_>>());
        }
        assert_eq!(store.log_text(stage.id).await.unwrap().lines().count(), WRITERS * EACH);
    })
    .await;
}
