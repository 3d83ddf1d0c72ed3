//! After release: revoking a digest nobody may pull any more, and rolling a project's release tag back.
//!
//! - **Revoke** marks the digest revoked in the store first (so no promotion can move a tag to it meanwhile),
//!   then, for every tag the registry has on it: the desired tag (the floating release tag, `latest`) is
//!   re-pointed to the newest earlier released digest that is not revoked, or removed when there is none;
//!   every other tag (`test`, `rc`, the identity and semver tags, which name this very build) is removed with
//!   the safe untag (the manifest itself stays, as evidence). The move is recorded as a promotion to
//!   `revoked`, which the event webhooks send.
//! - **Rollback** re-points the desired tag to the previous released digest (the newest one it held before
//!   that is still released), or to a named digest of the project that passed its tests.

use slipway_registry::{Digest, Reference, RegistryClient, Repository};
use slipway_store::{HeadMove, Image, NewPromotion, NewTagEvent, QaState, Store, StoreError, Tier};

use crate::promote::{PromoteError, Promotion, current_digest, promote};
use crate::repository_lock::{LockError, RepositoryLock};
use crate::spec::ProjectSpec;

/// How far back the release tag's history is searched for a digest to go back to.
const HISTORY: u64 = 200;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("no project `{0}` in the database; `slipway images` lists the projects' images")]
    UnknownProject(String),
    #[error("{repository} has no image {digest} that Slipway built; `slipway images --project {image}` lists them")]
    UnknownDigest { image: String, repository: String, digest: String },
    #[error("`{0}` is not a digest (sha256:…)")]
    BadDigest(String),
    #[error("{digest} is revoked ({reason}); a revoked digest is never released again")]
    Revoked { digest: String, reason: String },
    #[error("{digest} is {state}; only a digest that passed its tests is released")]
    NotTested { digest: String, state: QaState },
    #[error("{image} has no earlier released digest to roll back to; name one with --to")]
    NothingToRollBackTo { image: String },
    #[error("the stored entry of {image} is unreadable ({reason}); run the index again")]
    Entry { image: String, reason: String },
    #[error("`{reference}` is not a valid image reference: {reason}")]
    BadReference { reference: String, reason: String },
    #[error("{what}: {source}")]
    Registry { what: String, source: Box<slipway_registry::RegistryError> },
    #[error(transparent)]
    Promote(Box<PromoteError>),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PromoteError> for LifecycleError {
    fn from(err: PromoteError) -> Self {
        LifecycleError::Promote(Box::new(err))
    }
}

/// A tag a revoke or rollback changed: it now points at `digest`, or is gone (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagChange {
    pub tag: String,
    pub digest: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Revocation {
    pub repository: String,
    pub digest: String,
    pub changes: Vec<TagChange>,
}

#[derive(Debug, Clone)]
pub struct Rollback {
    pub repository: String,
    pub tag: String,
    /// What the tag held before, if anything.
    pub from: Option<String>,
    pub to: String,
}

/// The repository in `registry` of the project behind `image` (`app/job:tag`), and its desired tag.
struct Target {
    project_id: i64,
    repository: String,
    desired: String,
}

async fn target(store: &Store, registry: &str, image: &str) -> Result<Target, LifecycleError> {
    let project =
        store.project_by_image(image).await?.ok_or_else(|| LifecycleError::UnknownProject(image.to_string()))?;
    let spec = ProjectSpec::of(&project)
        .map_err(|e| LifecycleError::Entry { image: image.to_string(), reason: e.to_string() })?;
    Ok(Target { project_id: project.id, repository: spec.repository_in(registry), desired: spec.desired_tag })
}

fn registry_error(what: String) -> impl FnOnce(slipway_registry::RegistryError) -> LifecycleError {
    move |source| LifecycleError::Registry { what, source: Box::new(source) }
}

fn reference(text: &str) -> Result<Reference, LifecycleError> {
    text.parse().map_err(|e: slipway_registry::ReferenceError| LifecycleError::BadReference {
        reference: text.to_string(),
        reason: e.to_string(),
    })
}

/// The newest digest the desired tag held that is still released, other than `not`.
async fn previous_release(store: &Store, t: &Target, not: Option<&str>) -> Result<Option<Image>, StoreError> {
    let mut seen: Vec<String> = Vec::new();
    for event in store.tag_history(&t.repository, Some(&t.desired), Some(HISTORY)).await? {
        if event.digest.is_empty() || Some(event.digest.as_str()) == not || seen.contains(&event.digest) {
            continue;
        }
        seen.push(event.digest.clone());
        if let Some(image) = store.image_by_digest(&t.repository, &event.digest).await?
            && image.qa_state == QaState::Released
        {
            return Ok(Some(image));
        }
    }
    Ok(None)
}

/// Revokes `digest` of project `image` for `by`, with `reason`.
pub async fn revoke(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    image: &str,
    digest: &str,
    by: &str,
    reason: &str,
) -> Result<Revocation, LifecycleError> {
    let t = target(store, registry, image).await?;
    digest.parse::<Digest>().map_err(|_| LifecycleError::BadDigest(digest.to_string()))?;
    let unknown = || LifecycleError::UnknownDigest {
        image: image.to_string(),
        repository: t.repository.clone(),
        digest: digest.to_string(),
    };
    let revoked = store.image_by_digest(&t.repository, digest).await?.ok_or_else(unknown)?;
    let who = format!("revoke by {by}: {reason}");
    if revoked.qa_state != QaState::Revoked {
        store.revoke_image(revoked.id, by, reason).await?;
        let promotion = NewPromotion {
            build_id: revoked.build_id,
            image_id: revoked.id,
            from_tier: revoked.qa_state.as_str().to_string(),
            to_tier: QaState::Revoked.as_str().to_string(),
            succeeded: true,
            by: who.clone(),
            error: None,
        };
        store.record_promotion(&promotion).await?;
    }
    let lock = RepositoryLock::acquire(store, &t.repository).await?;
    let result = revoke_locked(store, client, registry, &t, digest, &who).await;
    lock.release().await;
    let changes = result?;
    Ok(Revocation { repository: t.repository, digest: digest.to_string(), changes })
}

/// Revoke's registry work and the heads that follow it, under the repository's lock.
async fn revoke_locked(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    t: &Target,
    digest: &str,
    who: &str,
) -> Result<Vec<TagChange>, LifecycleError> {
    let parsed: Digest = digest.parse().map_err(|_| LifecycleError::BadDigest(digest.to_string()))?;
    let repository: Repository = t.repository.parse().map_err(|e: slipway_registry::ReferenceError| {
        LifecycleError::BadReference { reference: t.repository.clone(), reason: e.to_string() }
    })?;
    let tags = client
        .tags_of(&repository, &parsed)
        .await
        .map_err(registry_error(format!("listing the tags of {}@{digest}", t.repository)))?;
    let replacement = previous_release(store, t, Some(digest)).await?;
    let mut changes = Vec::new();
    for tag in tags {
        let now = match replacement.as_ref().filter(|_| tag == t.desired) {
            Some(good) => {
                let source = reference(&format!("{}@{}", t.repository, good.digest))?;
                client
                    .tag(&source, std::slice::from_ref(&tag))
                    .await
                    .map_err(registry_error(format!("re-pointing {}:{tag} to {}", t.repository, good.digest)))?;
                Some(good.digest.clone())
            }
            None => {
                let tagged = reference(&format!("{}:{tag}", t.repository))?;
                client
                    .untag(&tagged, false)
                    .await
                    .map_err(registry_error(format!("removing {}:{tag}", t.repository)))?;
                None
            }
        };
        let event = NewTagEvent {
            registry: registry.to_string(),
            repository: t.repository.clone(),
            tag: tag.clone(),
            digest: now.clone().unwrap_or_default(),
            previous_digest: Some(digest.to_string()),
            by: who.to_string(),
            build_id: None,
        };
        store.record_tag_event(&event).await?;
        changes.push(TagChange { tag, digest: now });
    }
    // The heads follow the tags: the release falls back to the replacement, and the revoked rc is gone.
    let released = store.release_head(t.project_id, Tier::Release).await?;
    if released.is_some_and(|head| head.digest == digest) {
        match &replacement {
            Some(good) => {
                let build = store.build(good.build_id).await?;
                let head = HeadMove {
                    project_id: t.project_id,
                    tier: Tier::Release,
                    build_id: build.id,
                    build_number: build.number,
                    digest: &good.digest,
                    by: who,
                    forced: true,
                };
                store.move_head(&head).await?;
            }
            None => {
                store.clear_head(t.project_id, Tier::Release, digest).await?;
            }
        }
    }
    store.clear_head(t.project_id, Tier::Rc, digest).await?;
    Ok(changes)
}

/// Re-points the desired tag of project `image` to `to`, or to the previous released digest, for `by`.
pub async fn rollback(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    image: &str,
    to: Option<&str>,
    by: &str,
    reason: Option<&str>,
) -> Result<Rollback, LifecycleError> {
    let t = target(store, registry, image).await?;
    let current = current_digest(client, &t.repository, &t.desired).await;
    let chosen = match to {
        Some(digest) => {
            let found =
                store.image_by_digest(&t.repository, digest).await?.ok_or_else(|| LifecycleError::UnknownDigest {
                    image: image.to_string(),
                    repository: t.repository.clone(),
                    digest: digest.to_string(),
                })?;
            match found.qa_state {
                QaState::Revoked => {
                    return Err(LifecycleError::Revoked {
                        digest: found.digest,
                        reason: found.revoked_reason.unwrap_or_default(),
                    });
                }
                QaState::Passed | QaState::Rc | QaState::Released => found,
                state => return Err(LifecycleError::NotTested { digest: found.digest, state }),
            }
        }
        None => previous_release(store, &t, current.as_deref())
            .await?
            .ok_or_else(|| LifecycleError::NothingToRollBackTo { image: image.to_string() })?,
    };
    let who = match reason {
        Some(reason) => format!("rollback by {by}: {reason}"),
        None => format!("rollback by {by}"),
    };
    // A deliberate move back: forced past the release order, and recorded as a rollback.
    promote(
        store,
        client,
        &Promotion {
            registry,
            repository: &t.repository,
            digest: &chosen.digest,
            tags: std::slice::from_ref(&t.desired),
            from_tier: chosen.qa_state.as_str(),
            tier: Tier::Release,
            build_id: chosen.build_id,
            by: &who,
            qa_state: QaState::Released,
            forced: true,
        },
    )
    .await?;
    Ok(Rollback { repository: t.repository, tag: t.desired, from: current, to: chosen.digest })
}
