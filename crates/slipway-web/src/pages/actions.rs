//! The pages' buttons, from a signed-in session with the form's CSRF value: the build page's
//! `POST …/builds/{n}/{rebuild|cancel|promote}` and the project page's `POST …/{revoke|rollback}`. The answer
//! is a redirect (303) to the page that shows the result.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde::Deserialize;

use crate::actions::{Action, perform, revoke_digest, roll_back};
use crate::auth::Caller;
use crate::error::{PageError, WebError};
use crate::state::AppState;
use crate::views::{build_url, find_project, project_url};

#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: Option<String>,
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag, number, action)): Path<(String, String, String, i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Redirect, PageError> {
    let by = caller.form_writer(form.csrf.as_deref())?.to_string();
    let project = find_project(&state, &app, &job, &tag).await?;
    let build = state.store().build_by_number(project.id, number).await?;
    let done = perform(&state, Action::parse(&action)?, &project, &build, &by).await?;
    Ok(Redirect::to(&build_url(&project, done.number)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageForm {
    #[serde(default)]
    csrf: Option<String>,
    /// The digest to revoke, or to roll back to (empty: the previous release).
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// The project page's `revoke` and `rollback` buttons.
pub(crate) async fn submit_image(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag, action)): Path<(String, String, String, String)>,
    Form(form): Form<ImageForm>,
) -> Result<Redirect, PageError> {
    let by = format!("{} (web)", caller.form_writer(form.csrf.as_deref())?);
    let project = find_project(&state, &app, &job, &tag).await?;
    let digest = form.digest.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let reason = form.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    match action.as_str() {
        "revoke" => {
            let digest = digest.ok_or_else(|| WebError::BadRequest("say which digest to revoke".into()))?;
            revoke_digest(&state, &project, digest, reason.unwrap_or_default(), &by).await?;
        }
        "rollback" => {
            roll_back(&state, &project, digest, reason, &by).await?;
        }
        other => return Err(WebError::NotFound(format!("no action `{other}`: revoke or rollback")).into()),
    }
    Ok(Redirect::to(&project_url(&project)))
}
