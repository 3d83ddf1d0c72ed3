//! The stable image: one definition, asked by every caller (the tag check, `slipway images --state released
//! --newest`, the project page and the API).

#![allow(clippy::unwrap_used)]

mod common;

use common::{build, on_both, project};
use slipway_store::{NewImage, QaState};

#[tokio::test]
async fn stable_is_the_newest_released_image_that_is_not_revoked() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let other = project(&store, "other").await;
        let b = build(&store, &p, &[]).await;
        let image = |digest: &str, qa_state| NewImage {
            project_id: p.id,
            build_id: b.id,
            repository: "127.0.0.1:5555/app/p".into(),
            digest: digest.into(),
            qa_state,
        };
        assert_eq!(store.stable_image(p.id).await.unwrap(), None, "nothing released yet");
        let d1 = store.record_image(&image("sha256:d1", QaState::Released)).await.unwrap();
        let d2 = store.record_image(&image("sha256:d2", QaState::Released)).await.unwrap();
        store.record_image(&image("sha256:d3", QaState::Rc)).await.unwrap();
        let stable =
            |store: slipway_store::Store| async move { store.stable_image(p.id).await.unwrap().map(|i| i.digest) };
        assert_eq!(stable(store.clone()).await.as_deref(), Some("sha256:d2"), "the newest released; rc is not stable");
        store.revoke_image(d2.id, "rm", "CVE").await.unwrap();
        assert_eq!(stable(store.clone()).await, Some(d1.digest.clone()), "a revoked image is never stable");
        assert_eq!(store.stable_image(other.id).await.unwrap(), None, "per project");
    })
    .await;
}
