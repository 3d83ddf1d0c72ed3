//! The stable image: one definition, asked by every caller (the tag check, `slipway images --state released
//! --newest`, the dashboard, the project page and the API): the released image the release head names.

#![allow(clippy::unwrap_used)]

mod common;

use common::{build, on_both, project};
use slipway_store::{HeadMove, NewImage, QaState, Tier};

#[tokio::test]
async fn stable_is_the_released_image_of_the_release_head() {
    on_both(|store| async move {
        let p = project(&store, "p").await;
        let other = project(&store, "other").await;
        let (b1, b2, b3) = (build(&store, &p, &[]).await, build(&store, &p, &[]).await, build(&store, &p, &[]).await);
        let image = |b: &slipway_store::Build, digest: &str, qa_state| NewImage {
            project_id: p.id,
            build_id: b.id,
            repository: "127.0.0.1:5555/app/p".into(),
            digest: digest.into(),
            qa_state,
        };
        let head = |b: &slipway_store::Build, digest: &'static str, forced| HeadMove {
            project_id: p.id,
            tier: Tier::Release,
            build_id: b.id,
            build_number: b.number,
            digest,
            by: "test",
            forced,
        };
        assert_eq!(store.stable_image(p.id).await.unwrap(), None, "nothing released yet");
        store.record_image(&image(&b1, "sha256:d1", QaState::Released)).await.unwrap();
        store.move_head(&head(&b1, "sha256:d1", false)).await.unwrap();
        store.record_image(&image(&b2, "sha256:d2", QaState::Released)).await.unwrap();
        store.move_head(&head(&b2, "sha256:d2", false)).await.unwrap();
        store.record_image(&image(&b3, "sha256:d3", QaState::Rc)).await.unwrap();
        let stable =
            |store: slipway_store::Store| async move { store.stable_image(p.id).await.unwrap().map(|i| i.digest) };
        assert_eq!(stable(store.clone()).await.as_deref(), Some("sha256:d2"), "the release head's; rc is not stable");
        // A rollback moves the head back: the older release is stable again, though d2 is still released.
        store.move_head(&head(&b1, "sha256:d1", true)).await.unwrap();
        assert_eq!(stable(store.clone()).await.as_deref(), Some("sha256:d1"), "rolled back");
        let d1 = store.image_by_digest("127.0.0.1:5555/app/p", "sha256:d1").await.unwrap().unwrap();
        store.revoke_image(d1.id, "rm", "CVE").await.unwrap();
        assert_eq!(stable(store.clone()).await, None, "a revoked image is never stable");
        assert_eq!(store.stable_image(other.id).await.unwrap(), None, "per project");
        assert_eq!(store.stable_images(None).await.unwrap().len(), 0);
    })
    .await;
}
