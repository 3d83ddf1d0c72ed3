//! The JSON API under `/api/v1`: what the pages show, and the actions (bearer token only). The OpenAPI
//! document at `/api/v1/openapi.json` lists exactly these routes (a test holds them together).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use slipway_store::{Build, Image, QaState};

use crate::actions::{Action, Done, TagsMoved, perform, rebuild, revoke_digest, roll_back};
use crate::auth::Caller;
use crate::error::{ApiError, WebError};
use crate::logs::{raw_api, stream_api};
use crate::pages::dashboard::Filter;
use crate::state::{AppState, IndexProblem};
use crate::views::{BuildView, ProjectRow, ProjectView, build_view, find_project, project_rows, project_view};

/// The OpenAPI document, kept beside the code that serves its routes.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/projects", get(projects))
        .route("/projects/{app}/{job}/{tag}", get(project))
        .route("/projects/{app}/{job}/{tag}/builds", get(builds))
        .route("/projects/{app}/{job}/{tag}/rebuild", post(rebuild_project))
        .route("/projects/{app}/{job}/{tag}/images", get(images))
        .route("/projects/{app}/{job}/{tag}/revoke", post(revoke))
        .route("/projects/{app}/{job}/{tag}/rollback", post(rollback))
        .route("/builds/{id}", get(build))
        .route("/builds/{id}/logs/{stage}", get(raw_api))
        .route("/builds/{id}/logs/{stage}/stream", get(stream_api))
        .route("/builds/{id}/rebuild", post(rebuild_build))
        .route("/builds/{id}/cancel", post(cancel_build))
        .route("/builds/{id}/promote", post(promote_build))
        .route("/index/problems", get(problems))
        .route("/registry-events", get(registry_events))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn projects(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<Filter>,
) -> Result<Json<Vec<ProjectRow>>, ApiError> {
    caller.may_read(&state)?;
    let rows = project_rows(&state).await?;
    Ok(Json(rows.iter().filter(|r| filter.keeps(r)).cloned().collect()))
}

async fn project(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
) -> Result<Json<ProjectView>, ApiError> {
    caller.may_read(&state)?;
    let project = find_project(&state, &app, &job, &tag).await?;
    Ok(Json(project_view(&state, project).await?))
}

async fn builds(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
) -> Result<Json<Vec<Build>>, ApiError> {
    caller.may_read(&state)?;
    let project = find_project(&state, &app, &job, &tag).await?;
    Ok(Json(state.store().builds_of(project.id, 100).await?))
}

async fn build(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<BuildView>, ApiError> {
    caller.may_read(&state)?;
    let build = state.store().build(id).await?;
    let project = state.store().project(build.project_id).await?;
    Ok(Json(build_view(&state, &project, build).await?))
}

async fn problems(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<IndexProblem>>, ApiError> {
    caller.may_read(&state)?;
    Ok(Json(state.config().index_problems.get().to_vec()))
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<u64>,
}

/// What the registry's notifications did, for whoever wonders why a push was (not) acted on.
async fn registry_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<Limit>,
) -> Result<Json<Vec<slipway_store::RegistryEvent>>, ApiError> {
    caller.may_read(&state)?;
    Ok(Json(state.store().registry_events(query.limit.unwrap_or(100).min(1000)).await?))
}

#[derive(Serialize)]
struct Answer {
    #[serde(flatten)]
    done: Done,
    url: String,
}

async fn answer(state: &AppState, done: Done) -> Result<Json<Answer>, ApiError> {
    let build = state.store().build(done.build).await?;
    let project = state.store().project(build.project_id).await?;
    Ok(Json(Answer { url: crate::views::build_url(&project, done.number), done }))
}

async fn rebuild_project(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
) -> Result<Json<Answer>, ApiError> {
    let by = caller.api_writer()?.to_string();
    let project = find_project(&state, &app, &job, &tag).await?;
    let done = rebuild(&state, &project, &by).await?;
    answer(&state, done).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImagesQuery {
    state: Option<String>,
    #[serde(default)]
    newest: bool,
}

/// The project's digests, newest first, with their QA state; `?state=released&newest=true` is the stable one.
async fn images(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
    Query(query): Query<ImagesQuery>,
) -> Result<Json<Vec<ImageAnswer>>, ApiError> {
    caller.may_read(&state)?;
    let project = find_project(&state, &app, &job, &tag).await?;
    let qa_state = match &query.state {
        Some(s) => Some(s.parse::<QaState>().map_err(|_| {
            WebError::BadRequest(format!("unknown state `{s}`: use built, passed, failed, rc, released or revoked"))
        })?),
        None => None,
    };
    let images = match (qa_state, query.newest) {
        // Stable: the store's one definition of it.
        (Some(QaState::Released), true) => state.store().stable_image(project.id).await?.into_iter().collect(),
        (_, newest) => {
            let mut images = state.store().images(Some(project.id), qa_state).await?;
            if newest {
                images.truncate(1);
            }
            images
        }
    };
    let mut answered = Vec::with_capacity(images.len());
    for image in images {
        let evidence = state.store().image_evidence(&image).await?;
        answered.push(ImageAnswer { image, evidence });
    }
    Ok(Json(answered))
}

/// A digest with what its QA state rests on.
#[derive(Serialize)]
struct ImageAnswer {
    #[serde(flatten)]
    image: Image,
    evidence: slipway_store::ImageEvidence,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RevokeRequest {
    digest: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RollbackRequest {
    to: Option<String>,
    reason: Option<String>,
}

async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<TagsMoved>, ApiError> {
    let (by, request, project) = lifecycle_call::<RevokeRequest>(&state, &caller, (app, job, tag), &body).await?;
    let by = format!("{by} (api)");
    Ok(Json(revoke_digest(&state, &project, &request.digest, &request.reason, &by).await?))
}

async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path((app, job, tag)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<TagsMoved>, ApiError> {
    let (by, request, project) = lifecycle_call::<RollbackRequest>(&state, &caller, (app, job, tag), &body).await?;
    let by = format!("{by} (api)");
    Ok(Json(roll_back(&state, &project, request.to.as_deref(), request.reason.as_deref(), &by).await?))
}

/// What a revoke or rollback needs: the writer (checked first), the request and the project.
async fn lifecycle_call<T: serde::de::DeserializeOwned>(
    state: &AppState,
    caller: &Caller,
    (app, job, tag): (String, String, String),
    body: &[u8],
) -> Result<(String, T, slipway_store::Project), WebError> {
    let by = caller.api_writer()?.to_string();
    let request = json_body(body)?;
    let project = find_project(state, &app, &job, &tag).await?;
    Ok((by, request, project))
}

/// The request's JSON body, read after the caller was found allowed to write (a stranger learns nothing of
/// what the body should be).
fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body).map_err(|e| WebError::BadRequest(format!("the body is not the JSON expected: {e}")))
}

/// The build and its project, for an action by `caller`.
async fn target(state: &AppState, id: i64) -> Result<(slipway_store::Project, Build), WebError> {
    let build = state.store().build(id).await?;
    let project = state.store().project(build.project_id).await?;
    Ok((project, build))
}

async fn act(state: &AppState, caller: &Caller, id: i64, action: Action) -> Result<Json<Answer>, ApiError> {
    let by = caller.api_writer()?.to_string();
    let (project, build) = target(state, id).await?;
    let done = perform(state, action, &project, &build, &by).await?;
    answer(state, done).await
}

async fn rebuild_build(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Answer>, ApiError> {
    act(&state, &caller, id, Action::Rebuild).await
}

async fn cancel_build(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Answer>, ApiError> {
    act(&state, &caller, id, Action::Cancel).await
}

async fn promote_build(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Answer>, ApiError> {
    act(&state, &caller, id, Action::Promote).await
}

/// Every `(method, path)` the router serves under `/api/v1`, for the OpenAPI test.
#[cfg(test)]
pub(crate) const ROUTES: &[(&str, &str)] = &[
    ("get", "/openapi.json"),
    ("get", "/projects"),
    ("get", "/projects/{app}/{job}/{tag}"),
    ("get", "/projects/{app}/{job}/{tag}/builds"),
    ("post", "/projects/{app}/{job}/{tag}/rebuild"),
    ("get", "/projects/{app}/{job}/{tag}/images"),
    ("post", "/projects/{app}/{job}/{tag}/revoke"),
    ("post", "/projects/{app}/{job}/{tag}/rollback"),
    ("get", "/builds/{id}"),
    ("get", "/builds/{id}/logs/{stage}"),
    ("get", "/builds/{id}/logs/{stage}/stream"),
    ("post", "/builds/{id}/rebuild"),
    ("post", "/builds/{id}/cancel"),
    ("post", "/builds/{id}/promote"),
    ("get", "/index/problems"),
    ("get", "/registry-events"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap_or_default();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                documented.push((method.clone(), path.clone()));
            }
        }
        documented.sort();
        let mut served: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        served.sort();
        assert_eq!(documented, served);
        assert_eq!(doc["servers"][0]["url"], "/api/v1");
    }
}
