//! Moving tags to a tested digest: the manifest of `repository@digest` is written under each tag (no layer
//! moves, nothing is re-resolved), and every move is recorded with the digest the tag held before, the
//! promotion itself, and the image's new QA state. The deliver stage and the release action both use it.

use slipway_registry::{Reference, RegistryClient};
use slipway_store::{NewPromotion, NewTagEvent, QaState, Requested, Store, StoreError};

use crate::cascade::queue_cascade;

/// One promotion of one image.
#[derive(Debug, Clone)]
pub struct Promotion<'a> {
    /// The registry as configured (`127.0.0.1:5555`), kept in the tag history.
    pub registry: &'a str,
    /// `REGISTRY/app/job`.
    pub repository: &'a str,
    pub digest: &'a str,
    pub tags: &'a [String],
    pub from_tier: &'a str,
    pub to_tier: &'a str,
    pub build_id: i64,
    /// Who or what asked: `build demo/web:latest#3`, `token alice`.
    pub by: &'a str,
    /// The image's QA state once the tags moved.
    pub qa_state: QaState,
}

/// What a promotion did.
#[derive(Debug, Clone)]
pub struct Promoted {
    pub moved: Vec<MovedTag>,
    /// The builds a first release of this digest queued down the graph (see [`crate::cascade`]).
    pub cascade: Vec<Requested>,
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
    Registry { digest: String, tags: String, source: slipway_registry::RegistryError },
    #[error("{digest} was revoked ({reason}); a revoked digest is never promoted again")]
    Revoked { digest: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes `p.digest` under `p.tags` and records it. A registry failure is recorded as a failed promotion
/// before it is returned. The first release of a digest queues the cascade of its project's descendants,
/// before the image is marked released, so a promotion retried after a failure here cascades again.
pub async fn promote(store: &Store, client: &RegistryClient, p: &Promotion<'_>) -> Result<Promoted, PromoteError> {
    let reference = format!("{}@{}", p.repository, p.digest);
    let source: Reference = reference.parse().map_err(|e: slipway_registry::ReferenceError| {
        PromoteError::InvalidReference { reference: reference.clone(), reason: e.to_string() }
    })?;
    let mut previous = Vec::with_capacity(p.tags.len());
    for tag in p.tags {
        previous.push(current_digest(client, p.repository, tag).await);
    }
    let image = store.image_of_build(p.build_id).await?;
    if let Some(revoked) = image.as_ref().filter(|i| i.qa_state == QaState::Revoked) {
        return Err(PromoteError::Revoked {
            digest: revoked.digest.clone(),
            reason: revoked.revoked_reason.clone().unwrap_or_default(),
        });
    }
    let result = client.tag(&source, p.tags).await;
    if let Some(image) = &image {
        let promotion = NewPromotion {
            build_id: p.build_id,
            image_id: image.id,
            from_tier: p.from_tier.into(),
            to_tier: p.to_tier.into(),
            succeeded: result.is_ok(),
            by: p.by.into(),
            error: result.as_ref().err().map(ToString::to_string),
        };
        store.record_promotion(&promotion).await?;
    }
    result.map_err(|source| PromoteError::Registry {
        digest: p.digest.to_string(),
        tags: p.tags.join(", "),
        source,
    })?;
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
    if let Some(image) = image {
        if p.qa_state == QaState::Released && image.qa_state != QaState::Released {
            let project = store.project(image.project_id).await?;
            cascade = queue_cascade(store, &project.image, p.build_id, p.digest).await?;
        }
        store.set_image_state(image.id, p.qa_state).await?;
    }
    Ok(Promoted { moved, cascade })
}

/// The digest `repository:tag` points to now, if any; unknown when the registry cannot say.
pub async fn current_digest(client: &RegistryClient, repository: &str, tag: &str) -> Option<String> {
    let reference = format!("{repository}:{tag}").parse::<Reference>().ok()?;
    let resolved = client.head_manifest(&reference).await.ok()??;
    Some(resolved.digest.to_string())
}
