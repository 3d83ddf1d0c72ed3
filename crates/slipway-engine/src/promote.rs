//! The one way tags move to a tested digest, and the release order it keeps. Every path calls [`promote`]:
//! the deliver stage (`rc`, then the release tags), the UI's and API's release, `slipway promote`, set
//! releases, rollback, and the delivery of an image pushed elsewhere (registry events).
//!
//! **One release order per project.** Holding the repository's lock ([`RepositoryLock`]) from start to end:
//! 1. the project's head for the tier moves to this build by a compare-and-set on the build number
//!    ([`Store::move_head`]): when a newer build already holds it, nothing moves and the promotion is
//!    [`PromoteError::Superseded`]; a person's rollback or `--force` is `forced` and recorded as such;
//! 2. the manifest of `repository@digest` is written under each tag (no layer moves, nothing is re-resolved);
//!    if the registry fails, the head is put back;
//! 3. every move is recorded with the digest the tag held before, with the promotion and the image's state.
//!
//! The lock orders the registry's writes as the heads were granted; the compare-and-set keeps the store right
//! even if a lock's lease lapsed under a stalled holder.

use slipway_registry::{Reference, RegistryClient, RegistryError};
use slipway_store::{
    HeadMove, HeadOutcome, NewPromotion, NewTagEvent, QaState, ReleaseHead, Requested, Store, StoreError, Tier,
};

use crate::cascade::queue_cascade;
use crate::repository_lock::{LockError, RepositoryLock};

/// One promotion of one image.
#[derive(Debug, Clone)]
pub struct Promotion<'a> {
    /// The registry as configured (`127.0.0.1:5555`), kept in the tag history.
    pub registry: &'a str,
    /// `REGISTRY/app/job`.
    pub repository: &'a str,
    pub digest: &'a str,
    pub tags: &'a [String],
    /// Where the image comes from, for the record: `test`, `rc`, or its QA state for a rollback.
    pub from_tier: &'a str,
    pub tier: Tier,
    pub build_id: i64,
    /// Who or what asked: `build demo/web:latest#3`, `token alice`, `rollback by alice: …`.
    pub by: &'a str,
    /// The image's QA state once the tags moved.
    pub qa_state: QaState,
    /// A person moves the tier back on purpose (rollback, `--force`): the build order is not checked.
    pub forced: bool,
}

/// What a promotion did.
#[derive(Debug, Clone)]
pub struct Promoted {
    pub moved: Vec<MovedTag>,
    /// The builds a first release of this digest queued down the graph (see [`crate::cascade`]).
    pub cascade: Vec<Requested>,
    /// The tier's head before this promotion, to undo it with (a set release that fails later).
    pub previous_head: Option<ReleaseHead>,
    /// The project whose head moved.
    pub project_id: i64,
}

/// A tag that now points to the promoted digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedTag {
    pub tag: String,
    pub previous: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("`{reference}` is not a valid image reference: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("promoting {digest} to {tags}: {source}")]
    Registry { digest: String, tags: String, source: RegistryError },
    #[error("{digest} was revoked ({reason}); a revoked digest is never promoted again")]
    Revoked { digest: String, reason: String },
    /// A newer build of the project already holds the tier: an older one never replaces it.
    #[error(
        "build #{build} is older than build #{newer_build}, which already holds {tier} ({newer_digest}, by {by}); \
         nothing moved (a person can move it back with `slipway rollback` or `slipway promote --force`)"
    )]
    Superseded { build: i64, tier: Tier, newer_build: i64, newer_digest: String, by: String },
    #[error("build {0} recorded no image; only a pushed and tested image is promoted")]
    NoImage(i64),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves `p.tags` to `p.digest` in release order (see the module's description). A refused or failed
/// promotion is recorded before it is returned. The first release of a digest queues the cascade of its
/// project's descendants, before the image is marked released, so a promotion retried after a failure here
/// cascades again.
pub async fn promote(store: &Store, client: &RegistryClient, p: &Promotion<'_>) -> Result<Promoted, PromoteError> {
    let reference = format!("{}@{}", p.repository, p.digest);
    let source: Reference = reference.parse().map_err(|e: slipway_registry::ReferenceError| {
        PromoteError::InvalidReference { reference: reference.clone(), reason: e.to_string() }
    })?;
    let image = store.image_of_build(p.build_id).await?.ok_or(PromoteError::NoImage(p.build_id))?;
    if image.qa_state == QaState::Revoked {
        return Err(PromoteError::Revoked {
            digest: image.digest.clone(),
            reason: image.revoked_reason.clone().unwrap_or_default(),
        });
    }
    let build = store.build(p.build_id).await?;
    let lock = RepositoryLock::acquire(store, p.repository).await?;
    let result = promote_locked(store, client, p, &source, &image, &build).await;
    lock.release().await;
    result
}

async fn promote_locked(
    store: &Store,
    client: &RegistryClient,
    p: &Promotion<'_>,
    source: &Reference,
    image: &slipway_store::Image,
    build: &slipway_store::Build,
) -> Result<Promoted, PromoteError> {
    let record = |error: Option<String>| NewPromotion {
        build_id: p.build_id,
        image_id: image.id,
        from_tier: p.from_tier.into(),
        to_tier: p.tier.as_str().into(),
        succeeded: error.is_none(),
        by: p.by.into(),
        error,
    };
    let head = HeadMove {
        project_id: build.project_id,
        tier: p.tier,
        build_id: build.id,
        build_number: build.number,
        digest: p.digest,
        by: p.by,
        forced: p.forced,
    };
    let previous_head = match store.move_head(&head).await? {
        HeadOutcome::Moved { previous } => previous,
        HeadOutcome::Refused { newer } => {
            let refused = PromoteError::Superseded {
                build: build.number,
                tier: p.tier,
                newer_build: newer.build_number,
                newer_digest: newer.digest,
                by: newer.by,
            };
            store.record_promotion(&record(Some(refused.to_string()))).await?;
            return Err(refused);
        }
    };
    let mut previous = Vec::with_capacity(p.tags.len());
    for tag in p.tags {
        previous.push(current_digest(client, p.repository, tag).await);
    }
    let written = client.tag(source, p.tags).await;
    store.record_promotion(&record(written.as_ref().err().map(ToString::to_string))).await?;
    if let Err(source) = written {
        store.restore_head(build.project_id, p.tier, build.id, previous_head.as_ref()).await?;
        return Err(PromoteError::Registry { digest: p.digest.to_string(), tags: p.tags.join(", "), source });
    }
    let mut moved = Vec::with_capacity(p.tags.len());
    for (tag, previous) in p.tags.iter().zip(previous) {
        let event = NewTagEvent {
            registry: p.registry.to_string(),
            repository: p.repository.to_string(),
            tag: tag.clone(),
            digest: p.digest.to_string(),
            previous_digest: previous.clone(),
            by: p.by.to_string(),
            build_id: Some(p.build_id),
        };
        store.record_tag_event(&event).await?;
        moved.push(MovedTag { tag: tag.clone(), previous });
    }
    let mut cascade = Vec::new();
    if p.qa_state == QaState::Released && image.qa_state != QaState::Released {
        let project = store.project(image.project_id).await?;
        cascade = queue_cascade(store, &project.image, p.build_id, p.digest).await?;
    }
    store.set_image_state(image.id, p.qa_state).await?;
    Ok(Promoted { moved, cascade, previous_head, project_id: build.project_id })
}

/// The digest `repository:tag` points to now: `None` when the tag does not exist, an error when the registry
/// could not say.
pub async fn tag_digest(client: &RegistryClient, repository: &str, tag: &str) -> Result<Option<String>, RegistryError> {
    let reference = registry_reference(&format!("{repository}:{tag}"))?;
    Ok(client.head_manifest(&reference).await?.map(|resolved| resolved.digest.to_string()))
}

/// `text` as a reference; a malformed one is the registry's protocol error, naming it.
pub(crate) fn registry_reference(text: &str) -> Result<Reference, RegistryError> {
    text.parse().map_err(|e: slipway_registry::ReferenceError| RegistryError::Protocol {
        registry: text.split('/').next().unwrap_or_default().to_string(),
        message: format!("`{text}` is not a valid image reference: {e}"),
    })
}

/// The digest `repository:tag` points to now, for the record: unknown (`None`) also when the registry cannot
/// say. Never decide on it; [`tag_digest`] tells the two apart.
pub async fn current_digest(client: &RegistryClient, repository: &str, tag: &str) -> Option<String> {
    tag_digest(client, repository, tag).await.ok().flatten()
}
