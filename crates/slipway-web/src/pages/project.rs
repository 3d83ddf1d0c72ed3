//! `/projects/{app}/{job}/{tag}`: build history, the repository's tags with their digests and history,
//! parents and children.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

use super::Chrome;
use crate::auth::Caller;
use crate::error::{PageError, WebError};
use crate::render::{elapsed, short_digest, time};
use crate::state::AppState;
use crate::views::{ProjectView, find_project, project_view};

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    chrome: Chrome,
    view: ProjectView,
}

impl ProjectPage {
    fn short(&self, digest: &str) -> String {
        short_digest(digest)
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(*at)
    }

    fn took(&self, build: &slipway_store::Build) -> String {
        elapsed(build.started_at, build.finished_at).unwrap_or_default()
    }

    /// `demo/base:latest` → its page.
    fn image_url(&self, image: &str) -> String {
        let (name, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
        format!("/projects/{name}/{tag}")
    }
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
) -> Result<Html<String>, PageError> {
    caller.may_read(&state)?;
    let project = find_project(&state, &app, &job, &tag).await?;
    let view = project_view(&state, project).await?;
    let html = ProjectPage { chrome: Chrome::of(&caller), view }.render().map_err(|e| WebError::internal(&e))?;
    Ok(Html(html))
}
