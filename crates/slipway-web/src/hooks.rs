//! Push webhooks from GitHub, GitLab and Gitea: a verified push to a branch that projects build from queues
//! them at once (cause "branch B moved to C"), without waiting for the next poll.
//!
//! Verification, with the secret given to `slipway serve --webhook-secret`:
//! - GitHub: `X-Hub-Signature-256: sha256=HEX`, HMAC-SHA256 of the body;
//! - Gitea: `X-Gitea-Signature: HEX`, the same HMAC;
//! - GitLab: `X-Gitlab-Token: SECRET`.
//!
//! A push to the branch of the index repository (when the index comes from git) reloads the index at once.
//!
//! A push is matched to projects by repository URL (any of the clone URLs the payload names, compared
//! without scheme credentials, a trailing `.git` or `/`, and case in the host) and by branch.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use slipway_engine::{ProjectGraph, Trigger, constant_time_eq, hmac_sha256_hex, request_in};

use crate::error::{ApiError, WebError};
use crate::state::AppState;

/// A commit id of zeros: the branch was deleted.
const DELETED: &str = "0000000000000000000000000000000000000000";

#[derive(Debug, Serialize)]
pub(crate) struct Queued {
    image: String,
    build: i64,
    /// It joined a build already queued.
    merged: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct HookAnswer {
    /// What was done, in words.
    message: String,
    queued: Vec<Queued>,
}

/// The parts of a push event the three forges share (each names its clone URLs differently).
#[derive(Debug, Default, Deserialize)]
struct Push {
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    repository: Option<serde_json::Value>,
    /// GitLab's.
    #[serde(default)]
    project: Option<serde_json::Value>,
}

impl Push {
    /// Every URL the payload gives for the repository.
    fn urls(&self) -> Vec<String> {
        const KEYS: [&str; 8] =
            ["clone_url", "git_url", "ssh_url", "html_url", "url", "git_http_url", "git_ssh_url", "homepage"];
        let mut urls = Vec::new();
        for object in [&self.repository, &self.project].into_iter().flatten() {
            for key in KEYS {
                if let Some(url) = object.get(key).and_then(serde_json::Value::as_str) {
                    urls.push(url.to_string());
                }
            }
        }
        urls
    }
}

/// `POST /hooks/{forge}`.
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(forge): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<HookAnswer>), ApiError> {
    let Some(secret) = state.config().webhook_secret.clone() else {
        return Err(WebError::NotFound("webhooks are off: start slipway serve with --webhook-secret".into()).into());
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let (verified, event) = match forge.as_str() {
        "github" => (
            verify_hmac(&secret, &body, header("x-hub-signature-256").strip_prefix("sha256=")),
            header("x-github-event"),
        ),
        "gitea" => (verify_hmac(&secret, &body, Some(&header("x-gitea-signature"))), header("x-gitea-event")),
        "gitlab" => {
            (constant_time_eq(header("x-gitlab-token").as_bytes(), secret.as_bytes()), header("x-gitlab-event"))
        }
        other => {
            return Err(WebError::NotFound(format!("no webhook for `{other}`: use github, gitlab or gitea")).into());
        }
    };
    if !verified {
        return Err(WebError::Unauthorized(format!("the {forge} signature does not match the webhook secret")).into());
    }
    let answer = |message: String| (StatusCode::OK, Json(HookAnswer { message, queued: Vec::new() }));
    if !matches!(event.as_str(), "push" | "Push Hook") {
        return Ok(answer(format!("`{event}` events are not acted on; only pushes")));
    }
    let push: Push = serde_json::from_slice(&body)
        .map_err(|e| WebError::BadRequest(format!("the push payload is not the JSON expected: {e}")))?;
    let Some(branch) = push.reference.strip_prefix("refs/heads/") else {
        return Ok(answer(format!("`{}` is not a branch; nothing to build", push.reference)));
    };
    if push.after == DELETED || push.after.is_empty() {
        return Ok(answer(format!("branch {branch} was deleted; nothing to build")));
    }
    let urls: Vec<String> = push.urls().iter().map(|u| same_repository(u)).collect();
    // A push to the index repository reloads the index (the reload queues what changed).
    let index_pushed = state
        .config()
        .index_repository
        .as_ref()
        .filter(|index| index.branch == branch && urls.contains(&same_repository(&index.url)));
    let index_note = index_pushed.map(|index| {
        index.pushed.notify_one();
        tracing::info!(forge, branch, commit = %push.after, "push to the index repository: reloading the index");
        format!("the index repository moved to {}: the index is reloaded", push.after)
    });
    let store = state.store();
    let matching: Vec<i64> = store
        .project_sources()
        .await?
        .into_iter()
        .filter(|(_, url, project_branch)| project_branch == branch && urls.contains(&same_repository(url)))
        .map(|(id, _, _)| id)
        .collect();
    if matching.is_empty() {
        return Ok(match index_note {
            Some(message) => (StatusCode::ACCEPTED, Json(HookAnswer { message, queued: Vec::new() })),
            None => answer(format!("no project builds branch {branch} of this repository")),
        });
    }
    let graph = ProjectGraph::new(store.project_graph().await?);
    let trigger = Trigger::BranchMoved { branch: branch.to_string(), commit: push.after.clone() };
    let mut queued = Vec::new();
    for project in matching {
        let requested = request_in(store, &graph, project, &trigger, Vec::new()).await?;
        queued.push(Queued { image: requested.image, build: requested.build.number, merged: requested.merged });
    }
    state.dashboard_changed();
    tracing::info!(forge, branch, commit = %push.after, builds = queued.len(), "push received");
    let mut message = format!("{} build(s) asked for: {}", queued.len(), trigger.cause());
    if let Some(note) = index_note {
        message = format!("{note}; {message}");
    }
    Ok((StatusCode::ACCEPTED, Json(HookAnswer { message, queued })))
}

/// A repository URL reduced to what identifies it: no credentials, no trailing `/` or `.git`, host lowercased.
fn same_repository(url: &str) -> String {
    let redacted = url.trim().trim_end_matches('/');
    let redacted = redacted.strip_suffix(".git").unwrap_or(redacted);
    let (scheme, rest) = redacted.split_once("://").unwrap_or(("", redacted));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    format!("{scheme}://{}/{path}", host.to_ascii_lowercase())
}

fn verify_hmac(secret: &str, body: &[u8], signature: Option<&str>) -> bool {
    let Some(signature) = signature.filter(|s| !s.is_empty()) else { return false };
    constant_time_eq(hmac_sha256_hex(secret.as_bytes(), body).as_bytes(), signature.to_ascii_lowercase().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_case_insensitively() {
        assert!(verify_hmac(
            "Jefe",
            b"what do ya want for nothing?",
            Some("5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843")
        ));
        assert!(!verify_hmac(
            "Jefe",
            b"what do ya want for nothing!",
            Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        ));
        assert!(!verify_hmac("Jefe", b"x", None));
    }

    #[test]
    fn repositories_compare_without_credentials_suffix_or_host_case() {
        assert_eq!(
            same_repository("https://user:pw@GitHub.com/org/app.git"),
            same_repository("https://github.com/org/app/")
        );
        assert_ne!(same_repository("https://github.com/org/app"), same_repository("https://github.com/org/App"));
        assert_ne!(same_repository("git://127.0.0.1:9418/web"), same_repository("git://127.0.0.1:9418/webx"));
    }
}
