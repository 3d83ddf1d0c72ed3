//! `/projects/{app}/{job}/{tag}/builds/{n}`: cause, commit, the stage timeline, lint warnings, tests, scan
//! results and promotions. On a failed build the failing stage is opened first with the end of its log, error
//! lines highlighted; a running stage's log grows live (SSE) where JavaScript runs.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use slipway_store::{BuildState, Project, Severity, StageKind};

use super::Chrome;
use crate::auth::Caller;
use crate::error::{PageError, WebError};
use crate::logs::tail;
use crate::render::{LogLine, duration, time};
use crate::state::AppState;
use crate::views::{BuildView, build_url, find_project, project_url, went_wrong};

#[derive(Template)]
#[template(path = "build.html")]
struct BuildPage {
    chrome: Chrome,
    view: BuildView,
    project_url: String,
    build_url: String,
    /// The stage shown open, with the end of its log.
    focus: Option<Focus>,
    failed: bool,
    running: bool,
    releasable: bool,
}

struct Focus {
    kind: StageKind,
    error: Option<String>,
    lines: Vec<LogLine>,
    cut: bool,
    live: bool,
}

impl BuildPage {
    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time(*at)
    }

    fn took(&self, ms: &Option<i64>) -> String {
        ms.map(duration).unwrap_or_default()
    }

    fn ms(&self, ms: &i64) -> String {
        duration(*ms)
    }

    fn is_warning(&self, severity: &Severity) -> bool {
        *severity != Severity::Info
    }
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag, number)): Path<(String, String, String, i64)>,
) -> Result<Html<String>, PageError> {
    caller.may_read(&state)?;
    let project = find_project(&state, &app, &job, &tag).await?;
    let build = state.store().build_by_number(project.id, number).await?;
    let view = crate::views::build_view(&state, &project, build).await?;
    let page = build_page(&state, &caller, &project, view).await?;
    Ok(Html(page.render().map_err(|e| WebError::internal(&e))?))
}

async fn build_page(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    view: BuildView,
) -> Result<BuildPage, WebError> {
    let mut focus = None;
    if let Some(kind) = view.focus
        && let Some(stage) = view.stages.iter().find(|s| s.stage.kind == kind)
    {
        let (lines, cut) = tail(state.store(), stage.stage.id).await?;
        let live = stage.stage.finished_at.is_none() && !view.build.state.is_finished();
        focus = Some(Focus { kind, error: stage.stage.error.clone(), lines, cut, live });
    }
    let failed = went_wrong(view.build.state);
    let running = !view.build.state.is_finished();
    let releasable = view.build.state == BuildState::Succeeded && view.qa_state == Some(slipway_store::QaState::Rc);
    Ok(BuildPage {
        chrome: Chrome::of(caller),
        project_url: project_url(project),
        build_url: build_url(project, view.build.number),
        view,
        focus,
        failed,
        running,
        releasable,
    })
}
