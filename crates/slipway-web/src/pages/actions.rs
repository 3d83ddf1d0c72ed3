//! The build page's buttons: `POST …/builds/{n}/{rebuild|cancel|promote}` from a signed-in session, with
//! the form's CSRF value. The answer is a redirect (303) to the page that shows the result.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde::Deserialize;

use crate::actions::{Action, perform};
use crate::auth::Caller;
use crate::error::PageError;
use crate::state::AppState;
use crate::views::{build_url, find_project};

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
