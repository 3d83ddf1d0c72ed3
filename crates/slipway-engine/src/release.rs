//! Releasing a build by hand: the digest its `rc` tag was given is written under its release tags (the
//! action behind `promotion: manual`, the UI's button and `POST /api/v1/builds/{id}/promote`).

use slipway_index::ImageRef;
use slipway_registry::{Reference, RegistryClient};
use slipway_store::{BuildState, NewTagEvent, QaState, Store, StoreError};

use slipway_store::Requested;

use crate::promote::{MovedTag, PromoteError, Promotion, current_digest, promote};
use crate::spec::ProjectSpec;
use crate::tags::{TagInputs, build_tags};

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The build cannot be released; `reason` says why and what to do.
    #[error("build {image}#{number} cannot be released: {reason}")]
    NotReleasable { image: String, number: i64, reason: String },
    #[error(transparent)]
    Promote(#[from] PromoteError),
    /// A set release failed at `failed`; every tag it had moved was put back.
    #[error(
        "releasing {failed} failed, so the whole set was undone ({restored} tag(s) put back{}): {source}",
        if not_restored.is_empty() { String::new() } else { format!("; NOT put back: {}", not_restored.join(", ")) }
    )]
    SetFailed { failed: String, restored: usize, not_restored: Vec<String>, source: Box<ReleaseError> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a release moved.
#[derive(Debug, Clone)]
pub struct Released {
    pub repository: String,
    pub digest: String,
    pub tags: Vec<MovedTag>,
    /// The builds its first release queued down the graph.
    pub cascade: Vec<Requested>,
}

/// Writes the rc digest of build `build_id` under its release tags in `registry`, for `by`. A build older than
/// the one whose digest the desired tag holds is refused unless `force`: a release never replaces a newer one
/// by accident (`slipway rollback` is the way back).
pub async fn release_build(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    build_id: i64,
    by: &str,
    force: bool,
) -> Result<Released, ReleaseError> {
    let prepared = prepare(store, client, registry, build_id, force).await?;
    release(store, client, registry, &prepared, by).await
}

/// A build checked for release: what moves where.
struct Prepared {
    build_id: i64,
    image_id: i64,
    repository: String,
    digest: String,
    tags: Vec<String>,
    /// Each tag's digest before (none: the tag did not exist).
    before: Vec<Option<String>>,
}

async fn prepare(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    build_id: i64,
    force: bool,
) -> Result<Prepared, ReleaseError> {
    let build = store.build(build_id).await?;
    let project = store.project(build.project_id).await?;
    let refuse =
        |reason: String| ReleaseError::NotReleasable { image: project.image.clone(), number: build.number, reason };
    if build.state != BuildState::Succeeded {
        return Err(refuse(format!("it {}; only a build that passed its tests is released", build.state)));
    }
    let image = store.image_of_build(build.id).await?.ok_or_else(|| refuse("it recorded no image".into()))?;
    match image.qa_state {
        QaState::Rc | QaState::Released => {}
        QaState::Revoked => return Err(refuse(format!("{} was revoked", image.digest))),
        other => return Err(refuse(format!("its image is {other}, not rc"))),
    }
    let spec = ProjectSpec::of(&project)
        .map_err(|e| refuse(format!("its stored project entry is unreadable ({e}); run the index again")))?;
    let image_ref: ImageRef =
        spec.image.parse().map_err(|e| refuse(format!("its image name {} is invalid: {e}", spec.image)))?;
    let commit = build.commit.clone().ok_or_else(|| refuse("it recorded no commit".into()))?;
    let semver: Vec<String> = build.semver_tag.iter().cloned().collect();
    let tags = build_tags(&TagInputs {
        image: &image_ref,
        shared_repository: spec.shared_repository,
        branch: &spec.git_branch,
        commit: &commit,
        semver_tags: &semver,
        build_number: build.number,
    });
    let repository = spec.repository_in(registry);
    if !force
        && let Some(held) = current_digest(client, &repository, &spec.desired_tag).await
        && held != image.digest
        && let Some(newer) = store.image_by_digest(&repository, &held).await?
        && newer.project_id == project.id
    {
        let holder = store.build(newer.build_id).await?;
        if holder.number > build.number {
            return Err(refuse(format!(
                "the newer build #{} is released under :{}; force it (--force) to put an older one back",
                holder.number, spec.desired_tag
            )));
        }
    }
    let mut before = Vec::with_capacity(tags.release.len());
    for tag in &tags.release {
        before.push(current_digest(client, &repository, tag).await);
    }
    Ok(Prepared { build_id, image_id: image.id, repository, digest: image.digest, tags: tags.release, before })
}

async fn release(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    p: &Prepared,
    by: &str,
) -> Result<Released, ReleaseError> {
    let promoted = promote(
        store,
        client,
        &Promotion {
            registry,
            repository: &p.repository,
            digest: &p.digest,
            tags: &p.tags,
            from_tier: "rc",
            to_tier: "release",
            build_id: p.build_id,
            by,
            qa_state: QaState::Released,
        },
    )
    .await?;
    Ok(Released {
        repository: p.repository.clone(),
        digest: p.digest.clone(),
        tags: promoted.moved,
        cascade: promoted.cascade,
    })
}

/// Releases `build_ids` as one: every release tag moves, or, when one fails, every tag already moved is put
/// back where it was (or removed, if it did not exist), the images go back to rc and the builds their release
/// queued are canceled. All are checked before anything moves.
pub async fn release_set(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    build_ids: &[i64],
    by: &str,
    force: bool,
) -> Result<Vec<Released>, ReleaseError> {
    let mut prepared = Vec::with_capacity(build_ids.len());
    for id in build_ids {
        prepared.push(prepare(store, client, registry, *id, force).await?);
    }
    let mut released: Vec<Released> = Vec::with_capacity(prepared.len());
    for (n, p) in prepared.iter().enumerate() {
        match release(store, client, registry, p, by).await {
            Ok(done) => released.push(done),
            Err(err) => {
                let undone = format!("restored by {by}: the set release failed");
                let (mut restored, mut not_restored) = (0, Vec::new());
                // The failing one may have moved some of its tags before it failed: put those back too.
                for (q, done) in prepared[..=n].iter().zip(released.iter().map(Some).chain(std::iter::once(None))) {
                    restored += restore(store, client, registry, q, &undone, &mut not_restored).await?;
                    if let Some(done) = done {
                        for queued in &done.cascade {
                            store.cancel_build(queued.build.id, &undone).await?;
                        }
                    }
                    store.set_image_state(q.image_id, QaState::Rc).await?;
                }
                return Err(ReleaseError::SetFailed {
                    failed: p.repository.clone(),
                    restored,
                    not_restored,
                    source: Box::new(err),
                });
            }
        }
    }
    Ok(released)
}

/// Puts `p`'s tags back to what they held before, adding those that could not be to `failed`; how many were
/// put back.
async fn restore(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    p: &Prepared,
    by: &str,
    failed: &mut Vec<String>,
) -> Result<usize, StoreError> {
    let mut restored = 0;
    for (tag, before) in p.tags.iter().zip(&p.before) {
        let now = current_digest(client, &p.repository, tag).await;
        if now.as_deref() == before.as_deref() {
            continue;
        }
        let done = match before {
            Some(digest) => match format!("{}@{digest}", p.repository).parse::<Reference>() {
                Ok(source) => client.tag(&source, std::slice::from_ref(tag)).await.map(drop),
                Err(_) => continue,
            },
            None => match format!("{}:{tag}", p.repository).parse::<Reference>() {
                Ok(tagged) => client.untag(&tagged, false).await.map(drop),
                Err(_) => continue,
            },
        };
        if let Err(err) = done {
            failed.push(format!("{}:{tag} ({err})", p.repository));
            continue;
        }
        let event = NewTagEvent {
            registry: registry.to_string(),
            repository: p.repository.clone(),
            tag: tag.clone(),
            digest: before.clone().unwrap_or_default(),
            previous_digest: now,
            by: by.to_string(),
            build_id: None,
        };
        store.record_tag_event(&event).await?;
        restored += 1;
    }
    Ok(restored)
}
