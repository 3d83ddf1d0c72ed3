//! Applying an index to the store as a difference: what a server does when it starts and whenever its index
//! source (a directory or a git branch) changes.
//!
//! - a project new to the store, or never built, gets its first build (cause "first build");
//! - a project whose entry changed (any field a build reads) is rebuilt (cause "index entry changed"), and so
//!   is one that comes back to the index after it left;
//! - a project gone from the index is deactivated: no trigger rebuilds it any more and its unfinished builds
//!   are canceled, while its history and its tags stay (tags are retention's business);
//! - an entry that is invalid now keeps the project as it was stored, and so does every project recorded
//!   from a file that has errors (a syntax error can hide entries that are still meant): a typo never
//!   deactivates anything, and the valid entries are applied all the same.

use std::collections::{BTreeSet, HashMap};

use slipway_index::Index;
use slipway_store::{Requested, Store, StoreError};

use crate::cascade::ProjectGraph;
use crate::plan::BuildPlan;
use crate::spec::ProjectSpec;
use crate::triggers::{Trigger, request_in};

/// Who cancels the builds of a project that left the index.
const REMOVED_BY: &str = "the index (the project was removed from it)";

/// What a reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Builds asked for, with their cause ("first build" or "index entry changed").
    pub requested: Vec<(Trigger, Requested)>,
    /// Projects whose entry is as it was.
    pub unchanged: usize,
    /// Projects deactivated because they left the index, by image.
    pub deactivated: Vec<String>,
    /// Projects kept as stored because their entry or file has errors now, by image.
    pub kept: Vec<String>,
}

impl ReloadReport {
    pub fn count(&self, trigger: &Trigger) -> usize {
        self.requested.iter().filter(|(t, _)| t == trigger).count()
    }
}

/// Applies `plan` (of `index`, every valid project) to the store.
pub async fn reload_index(store: &Store, index: &Index, plan: &BuildPlan<'_>) -> Result<ReloadReport, StoreError> {
    let stored: HashMap<String, slipway_store::Project> =
        store.projects().await?.into_iter().map(|p| (p.image.clone(), p)).collect();
    let mut report = ReloadReport::default();

    // Record every changed entry first, so the graph the builds are asked on is the new one.
    let built: BTreeSet<i64> =
        store.last_builds().await?.into_iter().filter(|(_, b)| b.is_some()).map(|(p, _)| p.id).collect();
    let mut wanted: Vec<(i64, Trigger)> = Vec::new();
    let mut in_index: BTreeSet<String> = BTreeSet::new();
    for planned in &plan.builds {
        let Some(project) = &planned.entry.project else { continue };
        let spec = ProjectSpec::new(project, planned.shared_repository);
        let record = spec.record(project, &planned.entry.origin);
        in_index.insert(record.image.clone());
        let before = stored.get(&record.image);
        let same_entry = before.is_some_and(|b| b.active && b.entry == record.entry);
        let id = match before {
            Some(b) if same_entry && b.index_file == record.index_file && b.index_line == record.index_line => b.id,
            _ => store.upsert_project(&record).await?.id,
        };
        // `built` holds the projects that were active; one coming back is looked up.
        let ever_built =
            built.contains(&id) || (before.is_some_and(|b| !b.active) && !store.builds_of(id, 1).await?.is_empty());
        if !ever_built {
            wanted.push((id, Trigger::FirstBuild));
        } else if same_entry {
            report.unchanged += 1;
        } else {
            wanted.push((id, Trigger::IndexChanged));
        }
    }

    // Builds in plan order (parents first), each waiting for its ancestors' unfinished builds.
    if !wanted.is_empty() {
        let graph = ProjectGraph::new(store.project_graph().await?);
        for (project_id, trigger) in wanted {
            let requested = request_in(store, &graph, project_id, &trigger, Vec::new()).await?;
            report.requested.push((trigger, requested));
        }
    }

    let invalid_now: BTreeSet<String> = index
        .entries
        .iter()
        .filter(|e| e.project.is_none())
        .filter_map(|e| e.image.as_ref().map(|i| i.key()))
        .collect();
    let files_with_errors: BTreeSet<String> = index.errors().map(|d| d.file.display().to_string()).collect();
    for project in stored.values().filter(|p| p.active && !in_index.contains(&p.image)) {
        if invalid_now.contains(&project.image) || files_with_errors.contains(&project.index_file) {
            report.kept.push(project.image.clone());
            continue;
        }
        for build in store.unfinished_builds(&[project.id]).await? {
            store.cancel_build(build.id, REMOVED_BY).await?;
        }
        if store.deactivate_project(project.id).await? {
            report.deactivated.push(project.image.clone());
        }
    }
    report.deactivated.sort();
    report.kept.sort();
    Ok(report)
}
