//! "Branch moved" triggers: one look at each repository and branch the active projects build from, shared by
//! all of them, and a build for each project whose newest build checked out another commit. A project never
//! built, or whose builds never got as far as a checkout, is left to its first build and its retries.

use std::collections::BTreeMap;
use std::time::Duration;

use slipway_git::{GitError, branch_head};
use slipway_store::{Requested, Store, StoreError};

use crate::cascade::ProjectGraph;
use crate::triggers::{Trigger, request_in};

/// What one round of polling did.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Repository and branch pairs asked.
    pub checked: usize,
    pub requested: Vec<Requested>,
    /// Repositories that could not be asked, with why (each also stays as it was).
    pub failures: Vec<(String, GitError)>,
}

/// Asks every repository once where its branches point, and queues the projects whose branch moved.
pub async fn poll_branches(store: &Store, timeout: Duration) -> Result<PollReport, StoreError> {
    let projects = store.projects().await?;
    let last = store.last_commits().await?;
    // (url, branch) → the projects that build from it and the commit each built last.
    let mut watched: BTreeMap<(String, String), Vec<(i64, &str)>> = BTreeMap::new();
    for project in projects.iter().filter(|p| p.active) {
        if let Some(commit) = last.get(&project.id) {
            watched
                .entry((project.git_url.clone(), project.git_branch.clone()))
                .or_default()
                .push((project.id, commit));
        }
    }
    let mut report = PollReport { checked: watched.len(), ..PollReport::default() };
    let mut graph = None;
    for ((url, branch), users) in watched {
        let (asked_url, asked_branch) = (url.clone(), branch.clone());
        let head = tokio::task::spawn_blocking(move || branch_head(&asked_url, &asked_branch, timeout)).await;
        let head = match head {
            Ok(Ok(head)) => head,
            Ok(Err(err)) => {
                report.failures.push((slipway_git::redact(&url), err));
                continue;
            }
            Err(join) => {
                let err = GitError::Fetch { url: slipway_git::redact(&url), message: join.to_string() };
                report.failures.push((slipway_git::redact(&url), err));
                continue;
            }
        };
        let moved: Vec<i64> = users.iter().filter(|(_, built)| *built != head).map(|(id, _)| *id).collect();
        if moved.is_empty() {
            continue;
        }
        if graph.is_none() {
            graph = Some(ProjectGraph::new(store.project_graph().await?));
        }
        let Some(graph) = &graph else { continue };
        let trigger = Trigger::BranchMoved { branch: branch.clone(), commit: head.clone() };
        for project_id in moved {
            report.requested.push(request_in(store, graph, project_id, &trigger, Vec::new()).await?);
        }
    }
    Ok(report)
}
