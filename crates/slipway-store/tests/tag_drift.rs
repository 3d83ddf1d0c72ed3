//! The stored results of the tag check: each check replaces the results of the repositories it covered.

#![allow(clippy::unwrap_used)]

mod common;

use common::on_both;
use slipway_store::{NewTagDrift, TagState};

fn result(repository: &str, tag: &str, state: TagState) -> NewTagDrift {
    NewTagDrift {
        repository: repository.into(),
        tag: tag.into(),
        state,
        recorded: "sha256:aa".into(),
        found: (state == TagState::Moved).then(|| "sha256:bb".into()),
        stable: None,
        error: (state == TagState::Unchecked).then(|| "connection refused".into()),
    }
}

#[tokio::test]
async fn a_check_replaces_the_results_of_its_repositories_only() {
    on_both(|store| async move {
        let (web, api) = ("127.0.0.1:5555/app/web".to_string(), "127.0.0.1:5555/app/api".to_string());
        let first = [
            result(&web, "latest", TagState::Moved),
            result(&web, "rc", TagState::Deleted),
            result(&api, "latest", TagState::Unchecked),
        ];
        store.record_tag_drift(&[web.clone(), api.clone()], &first).await.unwrap();
        let all: Vec<NewTagDrift> = store.tag_drift(None).await.unwrap().into_iter().map(|r| r.result).collect();
        assert_eq!(all, [first[2].clone(), first[0].clone(), first[1].clone()], "by repository, then tag");

        // web checked again: its rc is gone from the record, latest in step; api keeps its last result.
        store.record_tag_drift(std::slice::from_ref(&web), &[result(&web, "latest", TagState::InStep)]).await.unwrap();
        let web_now = store.tag_drift(Some(&web)).await.unwrap();
        assert_eq!(web_now.len(), 1);
        assert_eq!((web_now[0].result.tag.as_str(), web_now[0].result.state), ("latest", TagState::InStep));
        let api_now = store.tag_drift(Some(&api)).await.unwrap();
        assert_eq!(api_now[0].result.error.as_deref(), Some("connection refused"));
        assert!(api_now[0].checked_at < web_now[0].checked_at);

        // A repository with no current tags any more: its results go.
        store.record_tag_drift(std::slice::from_ref(&api), &[]).await.unwrap();
        assert!(store.tag_drift(Some(&api)).await.unwrap().is_empty());
    })
    .await;
}
