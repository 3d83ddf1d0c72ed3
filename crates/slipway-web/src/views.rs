//! What pages and the API show, assembled once from the store so both always agree.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use slipway_engine::{Outcome, TagCheck};
use slipway_store::{
    Build, BuildState, Finding, Image, Project, Promotion, QaState, Stage, StageKind, StageState, TagEvent, TagState,
    TestResultRow,
};

use crate::error::WebError;
use crate::state::{AppState, DASHBOARD_STALE, DASHBOARD_TTL};

/// One project on the dashboard and in `GET /api/v1/projects`; the field names are a contract.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProjectRow {
    /// `app/job:tag`.
    pub(crate) image: String,
    pub(crate) app_id: String,
    pub(crate) job_id: String,
    pub(crate) desired_tag: String,
    /// The last build's state, or `never built`.
    pub(crate) state: String,
    pub(crate) build: Option<i64>,
    pub(crate) failed_stage: Option<StageKind>,
    /// The last stage the last build started.
    pub(crate) stage: Option<StageKind>,
    pub(crate) error: Option<String>,
    /// When the last build finished, started or was queued.
    pub(crate) at: Option<DateTime<Utc>>,
    /// The released digest (the newest build whose release tags were written).
    pub(crate) digest: Option<String>,
    /// The newest candidate at rc, when it is not the released one.
    pub(crate) rc_digest: Option<String>,
    pub(crate) commit: Option<String>,
    pub(crate) url: String,
    /// The parents it builds on.
    pub(crate) depends_on: Vec<String>,
}

impl ProjectRow {
    fn new(project: &Project, build: Option<&Build>, stage: Option<StageKind>, tiers: &TierMap) -> ProjectRow {
        let released = tiers.get(&(project.id, QaState::Released));
        let rc = tiers.get(&(project.id, QaState::Rc)).filter(|rc| Some(*rc) != released);
        ProjectRow {
            image: project.image.clone(),
            app_id: project.app_id.clone(),
            job_id: project.job_id.clone(),
            desired_tag: project.desired_tag.clone(),
            state: build.map_or_else(|| "never built".into(), |b| b.state.as_str().to_string()),
            build: build.map(|b| b.number),
            failed_stage: build.and_then(|b| b.failed_stage),
            stage,
            error: build.and_then(|b| b.error.clone()),
            at: build.map(|b| b.finished_at.or(b.started_at).unwrap_or(b.created_at)),
            digest: released.cloned(),
            rc_digest: rc.cloned(),
            commit: build.and_then(|b| b.commit.clone()),
            url: project_url(project),
            depends_on: project.depends_on.clone(),
        }
    }
}

type TierMap = HashMap<(i64, QaState), String>;

pub(crate) fn project_url(project: &Project) -> String {
    format!("/projects/{}/{}/{}", project.app_id, project.job_id, project.desired_tag)
}

pub(crate) fn build_url(project: &Project, number: i64) -> String {
    format!("{}/builds/{number}", project_url(project))
}

/// The cached rows and their age.
fn cached_rows(state: &AppState) -> Option<(Instant, Arc<Vec<ProjectRow>>)> {
    state.inner.dashboard.lock().ok().and_then(|cached| cached.clone())
}

/// Every project's row. Rows younger than [`DASHBOARD_TTL`] are answered as they are; older ones, up to
/// [`DASHBOARD_STALE`], are answered too while one background task recomputes them, so under load no request
/// waits for the recompute; older still (an idle server), the request waits for fresh rows.
pub(crate) async fn project_rows(state: &AppState) -> Result<Arc<Vec<ProjectRow>>, WebError> {
    if let Some((at, rows)) = cached_rows(state) {
        if at.elapsed() < DASHBOARD_TTL {
            return Ok(rows);
        }
        if at.elapsed() < DASHBOARD_STALE {
            if let Ok(guard) = state.inner.refreshing.clone().try_lock_owned() {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(err) = refresh_rows(&state).await {
                        tracing::warn!(error = ?err, "recomputing the dashboard failed; it shows the previous rows");
                    }
                    drop(guard);
                });
            }
            return Ok(rows);
        }
    }
    let _refreshing = state.inner.refreshing.lock().await;
    match cached_rows(state) {
        Some((at, rows)) if at.elapsed() < DASHBOARD_TTL => Ok(rows),
        _ => refresh_rows(state).await,
    }
}

/// Reads every project's row in four set-based queries and caches them.
async fn refresh_rows(state: &AppState) -> Result<Arc<Vec<ProjectRow>>, WebError> {
    let store = state.store();
    let last = store.last_builds().await?;
    let build_ids: Vec<i64> = last.iter().filter_map(|(_, b)| b.as_ref().map(|b| b.id)).collect();
    let reached = store.stages_reached(&build_ids).await?;
    let tiers: TierMap = store
        .tier_images(&[QaState::Rc, QaState::Released])
        .await?
        .into_iter()
        .map(|t| ((t.project_id, t.qa_state), t.digest))
        .collect();
    let rows: Vec<ProjectRow> = last
        .iter()
        .map(|(project, build)| {
            let stage = build.as_ref().and_then(|b| reached.get(&b.id)).map(|r| r.kind);
            ProjectRow::new(project, build.as_ref(), stage, &tiers)
        })
        .collect();
    let rows = Arc::new(rows);
    if let Ok(mut cached) = state.inner.dashboard.lock() {
        *cached = Some((Instant::now(), rows.clone()));
    }
    Ok(rows)
}

/// The project named by the URL's three segments.
pub(crate) async fn find_project(state: &AppState, app: &str, job: &str, tag: &str) -> Result<Project, WebError> {
    let image = format!("{app}/{job}:{tag}");
    state
        .store()
        .project_by_image(&image)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("no project {image} in the index")))
}

/// A tag of the project's repository and the digest it holds now.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TierTag {
    pub(crate) tag: String,
    pub(crate) digest: String,
    pub(crate) since: DateTime<Utc>,
    pub(crate) by: String,
}

/// A project as pages and the API show it: its stored index entry (build args among them) stays out, and a
/// password in its git URL is masked.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProjectInfo {
    pub(crate) image: String,
    pub(crate) app_id: String,
    pub(crate) job_id: String,
    pub(crate) desired_tag: String,
    pub(crate) git_url: String,
    pub(crate) git_branch: String,
    pub(crate) git_path: String,
    pub(crate) target_file: String,
    pub(crate) build_context: String,
    pub(crate) index_file: String,
    pub(crate) index_line: i32,
    pub(crate) active: bool,
    pub(crate) url: String,
}

impl From<&Project> for ProjectInfo {
    fn from(p: &Project) -> ProjectInfo {
        ProjectInfo {
            image: p.image.clone(),
            app_id: p.app_id.clone(),
            job_id: p.job_id.clone(),
            desired_tag: p.desired_tag.clone(),
            git_url: crate::render::mask_url_password(&p.git_url),
            git_branch: p.git_branch.clone(),
            git_path: p.git_path.clone(),
            target_file: p.target_file.clone(),
            build_context: p.build_context.clone(),
            index_file: p.index_file.clone(),
            index_line: p.index_line,
            active: p.active,
            url: project_url(p),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProjectView {
    #[serde(flatten)]
    pub(crate) info: ProjectInfo,
    pub(crate) repository: String,
    pub(crate) builds: Vec<Build>,
    /// Each tag's current digest, newest move first.
    pub(crate) tags: Vec<TierTag>,
    /// The newest moves of the repository's tags.
    pub(crate) tag_history: Vec<TagEvent>,
    /// The project's digests, newest first, with their QA state.
    pub(crate) images: Vec<Image>,
    /// The newest released digest that is not revoked.
    pub(crate) stable: Option<String>,
    pub(crate) parents: Vec<String>,
    pub(crate) children: Vec<String>,
    /// The last tag check of the repository.
    pub(crate) tag_check: TagCheckView,
}

/// What the last tag check found in a project's repository: when, and each tag that drifts or could not be
/// checked, with what to do.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct TagCheckView {
    /// When the check ran; none before the first.
    pub(crate) checked_at: Option<DateTime<Utc>>,
    pub(crate) in_step: usize,
    pub(crate) tags: Vec<TagDriftView>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct TagDriftView {
    pub(crate) tag: String,
    /// `moved`, `deleted`, `not_stable` or `unchecked`.
    pub(crate) state: TagState,
    pub(crate) recorded: String,
    /// What the registry serves, when known.
    pub(crate) served: Option<String>,
    pub(crate) problem: String,
    pub(crate) hint: String,
}

async fn tag_check_view(state: &AppState, repository: &str) -> Result<TagCheckView, WebError> {
    let rows = state.store().tag_drift(Some(repository)).await?;
    let mut view = TagCheckView { checked_at: rows.iter().map(|r| r.checked_at).max(), ..TagCheckView::default() };
    for row in rows {
        let check = TagCheck::from_row(&row.result);
        if check.outcome == Outcome::InStep {
            view.in_step += 1;
            continue;
        }
        view.tags.push(TagDriftView {
            tag: check.tag.clone(),
            state: check.state(),
            recorded: check.recorded.clone(),
            served: check.served().map(str::to_string),
            problem: check.problem(),
            hint: check.hint(),
        });
    }
    Ok(view)
}

/// How many builds and tag moves a project page lists.
const HISTORY: usize = 50;

pub(crate) async fn project_view(state: &AppState, project: Project) -> Result<ProjectView, WebError> {
    let store = state.store();
    let repository = format!("{}/{}/{}", state.config().registry, project.app_id, project.job_id);
    // One read after another: on a loaded server, reads in parallel cost more thread hand-offs than they save.
    let builds = store.builds_of(project.id, HISTORY as u64).await?;
    let history = store.tag_history(&repository, None, Some(HISTORY as u64)).await?;
    let current = store.current_tags(&repository).await?;
    let children = store.children_of(&project.image).await?;
    let mut images = store.images(Some(project.id), None).await?;
    images.truncate(HISTORY);
    let stable = store.stable_image(project.id).await?.map(|i| i.digest);
    let tag_check = tag_check_view(state, &repository).await?;
    let tags = current
        .into_iter()
        .map(|event| TierTag { tag: event.tag, digest: event.digest, since: event.at, by: event.by })
        .collect();
    Ok(ProjectView {
        info: ProjectInfo::from(&project),
        parents: project.depends_on.clone(),
        children,
        repository,
        builds,
        tags,
        tag_history: history,
        images,
        stable,
        tag_check,
    })
}

/// A stage with what a reader wants to know at a glance.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StageView {
    #[serde(flatten)]
    pub(crate) stage: Stage,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) log_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct BuildView {
    pub(crate) image: String,
    #[serde(flatten)]
    pub(crate) build: Build,
    pub(crate) stages: Vec<StageView>,
    /// The stage to open first: the failing one, else the running one, else the last.
    pub(crate) focus: Option<StageKind>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) tests: Vec<TestResultRow>,
    pub(crate) promotions: Vec<Promotion>,
    pub(crate) qa_state: Option<QaState>,
    /// Why a queued build cannot start yet: `waiting for build #7 of this project`.
    pub(crate) waiting: Option<String>,
}

pub(crate) async fn build_view(state: &AppState, project: &Project, build: Build) -> Result<BuildView, WebError> {
    let store = state.store();
    let stages = store.stages(build.id).await?;
    let image = store.image_of_build(build.id).await?;
    let findings = store.findings(build.id).await?;
    let tests = store.test_results(build.id).await?;
    let promotions = store.promotions(build.id).await?;
    let waiting = store.wait_reason(build.id).await?;
    let sizes = store.log_sizes(&stages.iter().map(|s| s.id).collect::<Vec<_>>()).await?;
    let stages: Vec<StageView> = stages
        .into_iter()
        .map(|stage| {
            let duration_ms =
                stage.started_at.map(|s| (stage.finished_at.unwrap_or_else(Utc::now) - s).num_milliseconds());
            let log_bytes = sizes.get(&stage.id).copied().unwrap_or(0);
            StageView { stage, duration_ms, log_bytes }
        })
        .collect();
    let focus = build
        .failed_stage
        .or_else(|| stages.iter().find(|s| s.stage.state == StageState::Running).map(|s| s.stage.kind))
        .or_else(|| {
            stages
                .iter()
                .find(|s| matches!(s.stage.state, StageState::Failed | StageState::Errored))
                .map(|s| s.stage.kind)
        })
        .or_else(|| stages.last().map(|s| s.stage.kind));
    Ok(BuildView {
        image: project.image.clone(),
        findings,
        tests,
        promotions,
        qa_state: image.map(|i| i.qa_state),
        waiting,
        focus,
        stages,
        build,
    })
}

/// Whether a build has ended badly.
pub(crate) fn went_wrong(state: BuildState) -> bool {
    matches!(state, BuildState::Failed | BuildState::Errored | BuildState::Skipped | BuildState::Canceled)
}
