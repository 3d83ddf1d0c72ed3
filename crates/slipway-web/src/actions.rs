//! The writes people make, shared by the UI's forms and the API: rebuild, cancel, and release a build's rc.

use serde::Serialize;
use slipway_engine::{ReleaseError, Trigger, release_build, request};
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
            ReleaseError::NotReleasable { .. } => WebError::Conflict(err.to_string()),
            ReleaseError::Store(e) => WebError::from(e),
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
