//! The writes people make, shared by the UI's forms and the API: rebuild, cancel, release a build's rc, and
//! revoke or roll back a project's images.

use serde::Serialize;
use slipway_engine::{LifecycleError, PromoteError, ReleaseError, Trigger, release_build, request};
use slipway_store::{Build, Project};

use crate::error::WebError;
use crate::state::AppState;

/// What an action did, for the API's answer and the page's redirect.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Done {
    pub(crate) action: &'static str,
    pub(crate) message: String,
    /// The build the reader should look at next (the new one, for a rebuild).
    pub(crate) build: i64,
    pub(crate) number: i64,
}

/// A write on a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Rebuild,
    Cancel,
    Promote,
}

impl Action {
    pub(crate) fn parse(word: &str) -> Result<Action, WebError> {
        match word {
            "rebuild" => Ok(Action::Rebuild),
            "cancel" => Ok(Action::Cancel),
            "promote" => Ok(Action::Promote),
            other => Err(WebError::NotFound(format!("no action `{other}`: rebuild, cancel or promote"))),
        }
    }
}

/// Does `action` on `build` for `by`.
pub(crate) async fn perform(
    state: &AppState,
    action: Action,
    project: &Project,
    build: &Build,
    by: &str,
) -> Result<Done, WebError> {
    match action {
        Action::Rebuild => rebuild(state, project, by).await,
        Action::Cancel => cancel(state, project, build, by).await,
        Action::Promote => promote(state, project, build, by).await,
    }
}

pub(crate) async fn rebuild(state: &AppState, project: &Project, by: &str) -> Result<Done, WebError> {
    let requested = request(state.store(), project.id, &Trigger::Manual { by: by.to_string() }, Vec::new()).await?;
    let build = requested.build;
    state.dashboard_changed();
    tracing::info!(project.image = %project.image, build.number = build.number, by, merged = requested.merged, "rebuild asked");
    let message = if requested.merged {
        format!("{} build #{} was already queued; your request was added to it", project.image, build.number)
    } else {
        format!("{} build #{} queued", project.image, build.number)
    };
    Ok(Done { action: "rebuild", message, build: build.id, number: build.number })
}

async fn cancel(state: &AppState, project: &Project, build: &Build, by: &str) -> Result<Done, WebError> {
    if !state.store().cancel_build(build.id, by).await? {
        return Err(WebError::Conflict(format!(
            "{} build #{} already ended ({}); nothing to cancel",
            project.image, build.number, build.state
        )));
    }
    state.dashboard_changed();
    tracing::info!(project.image = %project.image, build.number = build.number, by, "build canceled");
    Ok(Done {
        action: "cancel",
        message: format!("{} build #{} canceled", project.image, build.number),
        build: build.id,
        number: build.number,
    })
}

async fn promote(state: &AppState, project: &Project, build: &Build, by: &str) -> Result<Done, WebError> {
    let Some(client) = &state.inner.registry else {
        return Err(WebError::Unavailable("this server has no registry client; promote with `slipway promote`".into()));
    };
    let released =
        release_build(state.store(), client, &state.config().registry, build.id, &format!("{by} (web)"), false)
            .await
            .map_err(|err| match err {
            ReleaseError::NotReleasable { .. } | ReleaseError::Promote(PromoteError::Superseded { .. }) => {
                WebError::Conflict(err.to_string())
            }
            ReleaseError::Store(e) => WebError::from(e),
            ReleaseError::BeforeUnknown { .. } => WebError::Unavailable(err.to_string()),
            ReleaseError::Promote(e) => {
                tracing::warn!(error = %e, "a release failed");
                WebError::Unavailable(format!("the registry refused or failed: {e}"))
            }
            ReleaseError::SetFailed { .. } => WebError::Unavailable(err.to_string()),
        })?;
    state.dashboard_changed();
    let tags: Vec<&str> = released.tags.iter().map(|t| t.tag.as_str()).collect();
    tracing::info!(project.image = %project.image, build.number = build.number, by, image.digest = %released.digest, "released");
    Ok(Done {
        action: "promote",
        message: format!("{}@{} released as {}", released.repository, released.digest, tags.join(", ")),
        build: build.id,
        number: build.number,
    })
}

/// What a revoke or rollback changed.
#[derive(Debug, Serialize)]
pub(crate) struct TagsMoved {
    pub(crate) message: String,
    /// Each tag changed, with the digest it now holds (`null`: removed).
    pub(crate) tags: Vec<(String, Option<String>)>,
}

/// Revokes `digest` of `project` for `by`, with `reason` (required).
pub(crate) async fn revoke_digest(
    state: &AppState,
    project: &Project,
    digest: &str,
    reason: &str,
    by: &str,
) -> Result<TagsMoved, WebError> {
    if reason.trim().is_empty() {
        return Err(WebError::BadRequest("a revoke needs a reason".into()));
    }
    let client = registry_client(state)?;
    let registry = &state.config().registry;
    let done = slipway_engine::revoke(state.store(), client, registry, &project.image, digest, by, reason)
        .await
        .map_err(lifecycle_error)?;
    state.dashboard_changed();
    tracing::info!(project.image = %project.image, image.digest = %done.digest, by, reason, "revoked");
    let message = format!("{}@{} revoked: {reason}", done.repository, done.digest);
    Ok(TagsMoved { message, tags: done.changes.into_iter().map(|c| (c.tag, c.digest)).collect() })
}

/// Rolls `project`'s release tag back (to `to`, or the previous release) for `by`.
pub(crate) async fn roll_back(
    state: &AppState,
    project: &Project,
    to: Option<&str>,
    reason: Option<&str>,
    by: &str,
) -> Result<TagsMoved, WebError> {
    let client = registry_client(state)?;
    let registry = &state.config().registry;
    let done = slipway_engine::rollback(state.store(), client, registry, &project.image, to, by, reason)
        .await
        .map_err(lifecycle_error)?;
    state.dashboard_changed();
    tracing::info!(project.image = %project.image, image.digest = %done.to, by, "rolled back");
    let message = format!("{}:{} rolled back to {}", done.repository, done.tag, done.to);
    Ok(TagsMoved { message, tags: vec![(done.tag, Some(done.to))] })
}

fn registry_client(state: &AppState) -> Result<&slipway_registry::RegistryClient, WebError> {
    state.inner.registry.as_ref().ok_or_else(|| WebError::Unavailable("this server has no registry client".into()))
}

/// A refusal is the caller's to fix (409 or 400); a registry failure is 503.
fn lifecycle_error(err: LifecycleError) -> WebError {
    match err {
        LifecycleError::Store(e) => WebError::from(e),
        LifecycleError::UnknownDigest { .. } => WebError::NotFound(err.to_string()),
        LifecycleError::BadDigest(_) | LifecycleError::BadReference { .. } => WebError::BadRequest(err.to_string()),
        LifecycleError::Registry { .. } | LifecycleError::Lock(_) => WebError::Unavailable(err.to_string()),
        LifecycleError::Promote(promote) => match *promote {
            PromoteError::Store(e) => WebError::from(e),
            PromoteError::Registry { .. } | PromoteError::Lock(_) => WebError::Unavailable(promote.to_string()),
            other => WebError::Conflict(other.to_string()),
        },
        _ => WebError::Conflict(err.to_string()),
    }
}
