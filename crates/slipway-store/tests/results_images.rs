//! Test results, findings, images and their QA state, tag history and promotions.

#![allow(clippy::unwrap_used)]

mod common;

use common::{build, on_both, project};
use slipway_store::{
    NewFinding, NewImage, NewPromotion, NewTagEvent, NewTestResult, QaState, Severity, StageKind, StoreError,
    TestResult,
};

#[tokio::test]
async fn test_results_and_findings_come_back_in_recording_order() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        for (name, result) in [("starts", TestResult::Passed), ("port 8080", TestResult::Failed)] {
            let row = NewTestResult {
                build_id: b.id,
                name: name.into(),
                result,
                duration_ms: 1500,
                output: format!("{name} output\n"),
            };
            store.record_test_result(&row).await.unwrap();
        }
        let results = store.test_results(b.id).await.unwrap();
        let summary: Vec<(&str, TestResult)> = results.iter().map(|r| (r.name.as_str(), r.result)).collect();
        assert_eq!(summary, [("starts", TestResult::Passed), ("port 8080", TestResult::Failed)]);
        assert_eq!((results[1].duration_ms, results[1].output.as_str()), (1500, "port 8080 output\n"));

        let finding = NewFinding {
            build_id: b.id,
            stage: StageKind::Lint,
            severity: Severity::Warning,
            code: "latest-base".into(),
            line: Some(1),
            message: "FROM uses :latest".into(),
        };
        store.record_finding(&finding).await.unwrap();
        let scan = NewFinding { stage: StageKind::Scan, severity: Severity::Error, line: None, ..finding.clone() };
        store.record_finding(&scan).await.unwrap();
        let found = store.findings(b.id).await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].stage, found[0].severity, found[0].line), (StageKind::Lint, Severity::Warning, Some(1)));
        assert_eq!((found[1].stage, found[1].severity, found[1].line), (StageKind::Scan, Severity::Error, None));
        assert_eq!(found[0].message, "FROM uses :latest");
        assert!(store.findings(b.id + 1).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_image_is_one_row_per_digest_that_moves_to_the_newest_build() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let (b1, b2) = (build(&store, &p, &[]).await, build(&store, &p, &[]).await);
        let new = NewImage {
            project_id: p.id,
            build_id: b1.id,
            repository: "127.0.0.1:5555/app/p".into(),
            digest: "sha256:1111".into(),
            qa_state: QaState::Built,
        };
        let first = store.record_image(&new).await.unwrap();
        assert_eq!((first.build_id, first.qa_state), (b1.id, QaState::Built));
        store.set_image_state(first.id, QaState::Passed).await.unwrap();
        assert_eq!(store.image_of_build(b1.id).await.unwrap().unwrap().qa_state, QaState::Passed);

        let again = store.record_image(&NewImage { build_id: b2.id, ..new.clone() }).await.unwrap();
        assert_eq!(again.id, first.id, "same repository and digest, same row");
        assert_eq!((again.build_id, again.qa_state), (b2.id, QaState::Built));
        assert_eq!(again.created_at, first.created_at);
        assert_eq!(store.image_of_build(b2.id).await.unwrap().map(|i| i.id), Some(first.id));
        assert_eq!(store.image_of_build(b1.id).await.unwrap(), None);

        let other = store.record_image(&NewImage { digest: "sha256:2222".into(), ..new }).await.unwrap();
        assert_ne!(other.id, first.id);
        let err = store.set_image_state(other.id + 10, QaState::Revoked).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { entity: "image", .. }), "{err}");
    })
    .await;
}

#[tokio::test]
async fn tag_history_is_newest_first_and_filters_by_tag() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let repository = "127.0.0.1:5555/app/p";
        let moves = [("test", "sha256:1", None), ("rc", "sha256:1", None), ("test", "sha256:2", Some("sha256:1"))];
        for (tag, digest, previous) in moves {
            let event = NewTagEvent {
                registry: "127.0.0.1:5555".into(),
                repository: repository.into(),
                tag: tag.into(),
                digest: digest.into(),
                previous_digest: previous.map(Into::into),
                by: "build app/p:latest#1".into(),
                build_id: Some(b.id),
            };
            store.record_tag_event(&event).await.unwrap();
        }
        let all: Vec<(String, String)> =
            store.tag_history(repository, None, None).await.unwrap().into_iter().map(|e| (e.tag, e.digest)).collect();
        assert_eq!(
            all,
            [
                ("test".to_string(), "sha256:2".to_string()),
                ("rc".to_string(), "sha256:1".to_string()),
                ("test".to_string(), "sha256:1".to_string())
            ]
        );
        let test = store.tag_history(repository, Some("test"), None).await.unwrap();
        assert_eq!(test.len(), 2);
        assert_eq!(test[0].previous_digest.as_deref(), Some("sha256:1"));
        assert_eq!((test[0].by.as_str(), test[0].build_id), ("build app/p:latest#1", Some(b.id)));
        assert!(store.tag_history("127.0.0.1:5555/app/other", None, None).await.unwrap().is_empty());
        assert_eq!(store.tag_history(repository, None, Some(1)).await.unwrap().len(), 1);
        let current: Vec<(String, String)> =
            store.current_tags(repository).await.unwrap().into_iter().map(|e| (e.tag, e.digest)).collect();
        assert_eq!(current, [("test".to_string(), "sha256:2".to_string()), ("rc".to_string(), "sha256:1".to_string())]);
    })
    .await;
}

#[tokio::test]
async fn promotions_record_success_and_failure() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let b = build(&store, &p, &[]).await;
        let image = store
            .record_image(&NewImage {
                project_id: p.id,
                build_id: b.id,
                repository: "127.0.0.1:5555/app/p".into(),
                digest: "sha256:1".into(),
                qa_state: QaState::Passed,
            })
            .await
            .unwrap();
        let ok = NewPromotion {
            build_id: b.id,
            image_id: image.id,
            from_tier: "test".into(),
            to_tier: "rc".into(),
            succeeded: true,
            by: "build app/p:latest#1".into(),
            error: None,
        };
        store.record_promotion(&ok).await.unwrap();
        let failed = NewPromotion {
            from_tier: "rc".into(),
            to_tier: "release".into(),
            succeeded: false,
            error: Some("registry answered 503".into()),
            ..ok
        };
        store.record_promotion(&failed).await.unwrap();
        let promotions = store.promotions(b.id).await.unwrap();
        let summary: Vec<(&str, &str, bool, Option<&str>)> = promotions
            .iter()
            .map(|p| (p.from_tier.as_str(), p.to_tier.as_str(), p.succeeded, p.error.as_deref()))
            .collect();
        assert_eq!(summary, [("test", "rc", true, None), ("rc", "release", false, Some("registry answered 503"))]);
        assert_eq!(promotions[0].image_id, image.id);
    })
    .await;
}

#[tokio::test]
async fn a_revoked_digest_stays_revoked_through_rebuilds_and_state_changes() {
    on_both(|store| async move {
        let p = project(&store, "revoked").await;
        let (b1, b2) = (build(&store, &p, &[]).await, build(&store, &p, &[]).await);
        let image = |build_id| NewImage {
            project_id: p.id,
            build_id,
            repository: "127.0.0.1:5555/app/revoked".into(),
            digest: "sha256:bad".into(),
            qa_state: QaState::Built,
        };
        let first = store.record_image(&image(b1.id)).await.unwrap();
        store.revoke_image(first.id, "alice", "CVE-2026-0001").await.unwrap();
        // A rebuild that produces the same digest, then its tests passing, do not bring it back.
        let again = store.record_image(&image(b2.id)).await.unwrap();
        assert_eq!((again.id, again.build_id, again.qa_state), (first.id, b2.id, QaState::Revoked));
        store.set_image_state(first.id, QaState::Passed).await.unwrap();
        let kept = store.image_by_digest("127.0.0.1:5555/app/revoked", "sha256:bad").await.unwrap().unwrap();
        assert_eq!(kept.qa_state, QaState::Revoked);
        assert_eq!(
            (kept.revoked_by.as_deref(), kept.revoked_reason.as_deref()),
            (Some("alice"), Some("CVE-2026-0001"))
        );
        assert!(kept.revoked_at.is_some());
        assert_eq!(store.images(Some(p.id), Some(QaState::Revoked)).await.unwrap().len(), 1);
        assert!(store.images(Some(p.id), Some(QaState::Released)).await.unwrap().is_empty());
        assert!(matches!(store.set_image_state(9_999, QaState::Passed).await, Err(StoreError::NotFound { .. })));
    })
    .await;
}
