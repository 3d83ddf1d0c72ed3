//! Releasing a build by hand: the digest its `rc` tag was given is written under its release tags (the
//! action behind `promotion: manual`, the UI's button and `POST /api/v1/builds/{id}/promote`).

use slipway_index::ImageRef;
use slipway_registry::RegistryClient;
use slipway_store::{BuildState, QaState, Store, StoreError};

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
    let spec: ProjectSpec = serde_json::from_value(project.entry.clone())
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
    let repository = format!("{registry}/{}", spec.repository);
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
    let promoted = promote(
        store,
        client,
        &Promotion {
            registry,
            repository: &repository,
            digest: &image.digest,
            tags: &tags.release,
            from_tier: "rc",
            to_tier: "release",
            build_id: build.id,
            by,
            qa_state: QaState::Released,
        },
    )
    .await?;
    Ok(Released { repository, digest: image.digest, tags: promoted.moved, cascade: promoted.cascade })
}
