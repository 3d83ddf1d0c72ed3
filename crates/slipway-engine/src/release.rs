//! Releasing a build by hand: the digest its `rc` tag was given is written under its release tags (the
//! action behind `promotion: manual`, the UI's button, `POST /api/v1/builds/{id}/promote` and
//! `slipway promote`), alone or as one set of several images. The release order is [`promote`]'s: a build
//! older than the released one is refused unless forced.

use slipway_index::ImageRef;
use slipway_registry::{Reference, RegistryClient};
use slipway_store::{BuildState, NewTagEvent, QaState, ReleaseHead, Store, StoreError, Tier};

use slipway_store::Requested;

use crate::promote::{MovedTag, PromoteError, Promotion, promote, tag_digest};
use crate::repository_lock::RepositoryLock;
use crate::spec::ProjectSpec;
use crate::tags::{TagInputs, build_tags};

/// How long a failed set's restore keeps trying to put its tags back while the registry does not answer.
const RESTORE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The build cannot be released; `reason` says why and what to do.
    #[error("build {image}#{number} cannot be released: {reason}")]
    NotReleasable { image: String, number: i64, reason: String },
    /// What a tag held before could not be read, so nothing was moved (a failure could not be undone).
    #[error("could not read {reference} before releasing, so nothing was moved: {source}")]
    BeforeUnknown { reference: String, source: Box<slipway_registry::RegistryError> },
    #[error(transparent)]
    Promote(#[from] PromoteError),
    /// A set release failed at `failed`; the tags it had moved were put back, but for `not_restored`.
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
    /// The release head before, to undo it with.
    previous_head: Option<ReleaseHead>,
}

/// Writes the rc digest of build `build_id` under its release tags in `registry`, for `by`. A build older than
/// the released one is refused unless `force` (recorded as forced): a release never replaces a newer one by
/// accident (`slipway rollback` is the way back).
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
    project_id: i64,
    image_id: i64,
    /// It was released before this release (a set that fails leaves it released).
    was_released: bool,
    repository: String,
    digest: String,
    tags: Vec<String>,
    /// Each tag's digest before (none: the tag did not exist), read exactly.
    before: Vec<Option<String>>,
    forced: bool,
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
    // Checked here to refuse early and clearly; `promote` checks again, atomically, when it moves the head.
    if !force
        && let Some(head) = store.release_head(project.id, Tier::Release).await?
        && head.build_number > build.number
    {
        return Err(refuse(format!(
            "the newer build #{} is released under :{} ({}); force it (--force) to put an older one back",
            head.build_number, spec.desired_tag, head.digest
        )));
    }
    let repository = spec.repository_in(registry);
    let mut before = Vec::with_capacity(tags.release.len());
    for tag in &tags.release {
        let held = tag_digest(client, &repository, tag).await.map_err(|source| ReleaseError::BeforeUnknown {
            reference: format!("{repository}:{tag}"),
            source: Box::new(source),
        })?;
        before.push(held);
    }
    Ok(Prepared {
        build_id,
        project_id: project.id,
        image_id: image.id,
        was_released: image.qa_state == QaState::Released,
        repository,
        digest: image.digest,
        tags: tags.release,
        before,
        forced: force,
    })
}

async fn release(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    p: &Prepared,
    by: &str,
) -> Result<Released, ReleaseError> {
    let by = if p.forced { format!("{by} (forced)") } else { by.to_string() };
    let promoted = promote(
        store,
        client,
        &Promotion {
            registry,
            repository: &p.repository,
            digest: &p.digest,
            tags: &p.tags,
            from_tier: "rc",
            tier: Tier::Release,
            build_id: p.build_id,
            by: &by,
            qa_state: QaState::Released,
            forced: p.forced,
        },
    )
    .await?;
    Ok(Released {
        repository: p.repository.clone(),
        digest: p.digest.clone(),
        tags: promoted.moved,
        cascade: promoted.cascade,
        previous_head: promoted.previous_head,
    })
}

/// Releases `build_ids` as one: every release tag moves, or, when one fails, the tags already moved are put
/// back where they were (or removed, when they did not exist), the images that were at rc go back to rc and
/// the builds their release queued are canceled. Everything is checked, and every tag's state read, before
/// anything moves: a tag whose state is unknown aborts the set.
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
                let deadline = std::time::Instant::now() + RESTORE_PATIENCE;
                let mut undo = Undo { restored: 0, not_restored: Vec::new(), deadline };
                // The failing one may have moved some of its tags before it failed: put those back too.
                for (q, done) in prepared[..=n].iter().zip(released.iter().map(Some).chain(std::iter::once(None))) {
                    let complete = restore(store, client, registry, q, &undone, &mut undo).await?;
                    let Some(done) = done else { continue };
                    for queued in &done.cascade {
                        store.cancel_build(queued.build.id, &undone).await?;
                    }
                    // What the registry still serves stays what the store says: a member whose tags could not
                    // all be put back stays released.
                    if complete {
                        store
                            .restore_head(q.project_id, Tier::Release, q.build_id, done.previous_head.as_ref())
                            .await?;
                        if !q.was_released {
                            store.set_image_state(q.image_id, QaState::Rc).await?;
                        }
                    }
                }
                return Err(ReleaseError::SetFailed {
                    failed: p.repository.clone(),
                    restored: undo.restored,
                    not_restored: undo.not_restored,
                    source: Box::new(err),
                });
            }
        }
    }
    Ok(released)
}

/// What undoing a set did so far.
struct Undo {
    restored: usize,
    not_restored: Vec<String>,
    /// Until when a registry that does not answer is waited for.
    deadline: std::time::Instant,
}

/// Puts back each of `p`'s tags that holds `p`'s digest now but held something else before (a tag that moved
/// again since is left to its new owner). `false` when one could not be put back (named in `undo`).
async fn restore(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    p: &Prepared,
    by: &str,
    undo: &mut Undo,
) -> Result<bool, StoreError> {
    let lock = match RepositoryLock::acquire(store, &p.repository).await {
        Ok(lock) => lock,
        Err(err) => {
            undo.not_restored.extend(p.tags.iter().map(|tag| format!("{}:{tag} ({err})", p.repository)));
            return Ok(false);
        }
    };
    let mut complete = true;
    for (tag, before) in p.tags.iter().zip(&p.before) {
        if before.as_deref() == Some(p.digest.as_str()) {
            continue;
        }
        match restore_tag(client, p, tag, before.as_deref(), undo.deadline).await {
            Ok(false) => {}
            Ok(true) => {
                let event = NewTagEvent {
                    registry: registry.to_string(),
                    repository: p.repository.clone(),
                    tag: tag.clone(),
                    digest: before.clone().unwrap_or_default(),
                    previous_digest: Some(p.digest.clone()),
                    by: by.to_string(),
                    build_id: None,
                };
                store.record_tag_event(&event).await?;
                undo.restored += 1;
            }
            Err(why) => {
                complete = false;
                undo.not_restored.push(format!("{}:{tag} ({why})", p.repository));
            }
        }
    }
    lock.release().await;
    Ok(complete)
}

/// Puts `tag` back to `before` (removes it when it did not exist) if it holds `p`'s digest now, retrying while
/// the registry does not answer, until `deadline`. `Ok(false)`: nothing to put back.
async fn restore_tag(
    client: &RegistryClient,
    p: &Prepared,
    tag: &str,
    before: Option<&str>,
    deadline: std::time::Instant,
) -> Result<bool, String> {
    loop {
        let attempt = async {
            let now = tag_digest(client, &p.repository, tag).await.map_err(|e| e.to_string())?;
            if now.as_deref() != Some(p.digest.as_str()) {
                return Ok(false);
            }
            let done = match before {
                Some(digest) => {
                    let source: Reference = format!("{}@{digest}", p.repository).parse().map_err(|e| format!("{e}"))?;
                    client.tag(&source, &[tag.to_string()]).await.map(drop)
                }
                None => {
                    let tagged: Reference = format!("{}:{tag}", p.repository).parse().map_err(|e| format!("{e}"))?;
                    client.untag(&tagged, false).await.map(drop)
                }
            };
            done.map(|()| true).map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(done) => return Ok(done),
            Err(why) if std::time::Instant::now() >= deadline => return Err(why),
            Err(_) => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
        }
    }
}
