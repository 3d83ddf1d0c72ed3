//! What the web side reads and writes: log byte offsets, ranges and tails; tokens and sessions; canceling;
//! the dashboard's set-based reads.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{build, on_both, project};
use slipway_store::{BuildState, HeadMove, NewImage, QaState, StageKind, StageState, Tier};

#[tokio::test]
async fn log_chunks_know_their_byte_offsets() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let stage = store.start_stage(b.id, StageKind::Build).await.unwrap();
        assert_eq!(store.log_size(stage.id).await.unwrap().bytes, 0);
        for text in ["héllo\n", "two\nlines\n", "end\n"] {
            store.append_log(stage.id, text).await.unwrap();
        }
        let size = store.log_size(stage.id).await.unwrap();
        assert_eq!((size.bytes, size.chunks), (7 + 10 + 4, 3));
        let from = store.log_chunks_from_byte(stage.id, 8, 10).await.unwrap();
        assert_eq!(from.iter().map(|c| (c.seq, c.start_byte)).collect::<Vec<_>>(), [(1, 7), (2, 17)]);
        assert!(store.log_chunks_from_byte(stage.id, 21, 10).await.unwrap().is_empty());
        let tail = store.log_tail(stage.id, 2).await.unwrap();
        assert_eq!(tail.iter().map(|c| c.text.as_str()).collect::<String>(), "two\nlines\nend\n");
        assert_eq!(store.stage(stage.id).await.unwrap().kind, StageKind::Build);
    })
    .await;
}

#[tokio::test]
async fn tokens_and_sessions_are_kept_by_hash_and_end_with_revocation() {
    on_both(|store| async move {
        let token = store.create_token("alice", "hash-a").await.unwrap();
        assert!(store.create_token("alice", "hash-b").await.is_err(), "names are unique");
        assert_eq!(store.use_token("hash-a").await.unwrap().unwrap().name, "alice");
        assert!(store.use_token("hash-x").await.unwrap().is_none());
        assert!(store.tokens().await.unwrap()[0].last_used_at.is_some());
        let expires = Utc::now() + chrono::TimeDelta::hours(1);
        let session = store.create_session(&token, "cookie-hash", "csrf", expires).await.unwrap();
        assert!(!format!("{session:?}").contains("csrf\""), "the CSRF value stays out of Debug");
        assert_eq!(store.session("cookie-hash").await.unwrap().unwrap().token_name, "alice");
        let past = Utc::now() - chrono::TimeDelta::seconds(1);
        store.create_session(&token, "old-cookie", "c", past).await.unwrap();
        assert!(store.session("old-cookie").await.unwrap().is_none(), "expired");
        assert!(store.revoke_token("alice").await.unwrap());
        assert!(!store.revoke_token("alice").await.unwrap());
        assert!(store.use_token("hash-a").await.unwrap().is_none());
        assert!(store.session("cookie-hash").await.unwrap().is_none(), "its sessions ended");
    })
    .await;
}

#[tokio::test]
async fn canceling_stops_a_build_and_skips_its_children() {
    on_both(|store| async move {
        let parent = project(&store, "parent").await;
        let child = project(&store, "child").await;
        let pb = build(&store, &parent, &[]).await;
        let cb = build(&store, &child, &[&pb]).await;
        let job = store.claim("w1", Duration::from_secs(60)).await.unwrap().unwrap();
        assert_eq!(job.build_id, pb.id);
        let stage = store.start_stage(pb.id, StageKind::Build).await.unwrap();
        assert!(store.cancel_build(pb.id, "alice").await.unwrap());
        let canceled = store.build(pb.id).await.unwrap();
        assert_eq!((canceled.state, canceled.error.as_deref()), (BuildState::Canceled, Some("canceled by alice")));
        assert_eq!(store.stages(pb.id).await.unwrap()[0].state, StageState::Errored);
        assert_eq!(store.build(cb.id).await.unwrap().state, BuildState::Skipped);
        assert!(!store.heartbeat(job.job_id, "w1", Duration::from_secs(60)).await.unwrap(), "the worker stops");
        assert!(!store.cancel_build(pb.id, "alice").await.unwrap(), "already ended");
        assert!(store.claim("w2", Duration::from_secs(60)).await.unwrap().is_none());
        let _ = stage;
    })
    .await;
}

#[tokio::test]
async fn dashboard_reads() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b1 = build(&store, &p, &[]).await;
        let b2 = build(&store, &p, &[]).await;
        store.start_stage(b2.id, StageKind::Checkout).await.unwrap();
        store.start_stage(b2.id, StageKind::Build).await.unwrap();
        let reached = store.stages_reached(&[b1.id, b2.id]).await.unwrap();
        assert_eq!(reached.get(&b2.id).map(|r| r.kind), Some(StageKind::Build));
        assert!(!reached.contains_key(&b1.id));
        for (b, state, digest) in [(&b1, QaState::Released, "sha256:aa"), (&b2, QaState::Rc, "sha256:bb")] {
            let image = NewImage {
                project_id: p.id,
                build_id: b.id,
                repository: "r/p".into(),
                digest: digest.into(),
                qa_state: state,
            };
            store.record_image(&image).await.unwrap();
        }
        // Released means the release head names it, as every promotion records.
        let head = HeadMove {
            project_id: p.id,
            tier: Tier::Release,
            build_id: b1.id,
            build_number: b1.number,
            digest: "sha256:aa",
            by: "test",
            forced: false,
        };
        store.move_head(&head).await.unwrap();
        let mut tiers: Vec<(QaState, String)> = store
            .tier_images(&[QaState::Rc, QaState::Released])
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.qa_state, t.digest))
            .collect();
        tiers.sort();
        assert_eq!(tiers, [(QaState::Rc, "sha256:bb".to_string()), (QaState::Released, "sha256:aa".to_string())]);
        assert_eq!(store.build_by_number(p.id, 2).await.unwrap().id, b2.id);
        assert!(store.build_by_number(p.id, 9).await.is_err());
        let counts = store.build_counts().await.unwrap();
        assert_eq!(counts.by_state, [(BuildState::Queued, 2)]);
        assert!(store.oldest_queued().await.unwrap().is_some());
        assert!(store.recently_started(10).await.unwrap().is_empty());
        assert!(store.release_latencies(10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn children_are_found_by_their_depends_on() {
    on_both(|store| async move {
        let base = project(&store, "base").await;
        for (name, parents) in [("web", vec![base.image.clone()]), ("cli", vec!["x/y:1".into(), base.image.clone()])] {
            let mut child = common::new_project(name);
            child.depends_on = parents;
            store.upsert_project(&child).await.unwrap();
        }
        // `_` is not a wildcard here: a near name is not a child.
        let mut near = common::new_project("near");
        near.depends_on = vec!["app/bas_:latest".into()];
        store.upsert_project(&near).await.unwrap();
        assert_eq!(store.children_of(&base.image).await.unwrap(), ["app/cli:latest", "app/web:latest"]);
        assert!(store.children_of("app/web:latest").await.unwrap().is_empty());
        // A changed entry changes its parents.
        let mut web = common::new_project("web");
        web.depends_on = vec!["app/cli:latest".into()];
        store.upsert_project(&web).await.unwrap();
        assert_eq!(store.children_of(&base.image).await.unwrap(), ["app/cli:latest"]);
        assert_eq!(store.children_of("app/cli:latest").await.unwrap(), ["app/web:latest"]);
    })
    .await;
}
