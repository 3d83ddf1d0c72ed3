//! The server's index: read from its source when the server starts, then again whenever the source
//! changes (looked at on an interval, and at once on a push to an index repository). Each version is applied
//! to the store as a difference (see `slipway_engine::reload`) and its invalid entries replace those shown
//! on the dashboard.

use std::sync::Arc;
use std::time::Duration;

use slipway_engine::{ReloadReport, Trigger, plan_builds, reload_index};
use slipway_index::Index;
use slipway_store::Store;
use slipway_web::{IndexProblem, IndexProblems};
use tokio::sync::{Notify, watch};

use super::index_source::{IndexSource, LoadedIndex};

/// A server's index source and what it last applied.
pub struct IndexReloader {
    pub source: IndexSource,
    pub store: Store,
    pub problems: IndexProblems,
    /// The version last applied; none before the first.
    applied: Option<String>,
}

impl IndexReloader {
    pub fn new(source: IndexSource, store: Store, problems: IndexProblems) -> IndexReloader {
        IndexReloader { source, store, problems, applied: None }
    }

    /// Loads and applies the index unless its version is the one applied last. `None`: nothing changed.
    pub async fn reload(&mut self) -> anyhow::Result<Option<ReloadReport>> {
        let source = self.source.clone();
        if self.applied.is_some() {
            let version = blocking(move || source.version()).await?;
            if self.applied.as_ref() == Some(&version) {
                return Ok(None);
            }
        }
        let source = self.source.clone();
        let loaded: LoadedIndex = blocking(move || source.load()).await?;
        let plan = plan_builds(&loaded.index, &[])?;
        let report = reload_index(&self.store, &loaded.index, &plan).await?;
        self.problems.set(problems_of(&loaded.index));
        self.applied = Some(loaded.version);
        Ok(Some(report))
    }

    /// Reloads every `interval`, and at once when `pushed` is notified, until `stop`.
    pub async fn run(mut self, interval: Duration, pushed: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = pushed.notified() => {}
                _ = stop.changed() => return,
            }
            match self.reload().await {
                Ok(Some(report)) => log_report(&self.source, &report),
                Ok(None) => {}
                Err(err) => tracing::warn!(
                    index.source = %self.source.describe(),
                    error = format!("{err:#}"),
                    "the index could not be reloaded; the projects stay as they were, trying again next round"
                ),
            }
        }
    }
}

/// One line a reload is summed up in.
pub fn summary(report: &ReloadReport) -> String {
    format!(
        "{} new (first build queued), {} changed (rebuild queued), {} unchanged, {} removed (deactivated), {} kept as they were because their entry or file has errors",
        report.count(&Trigger::FirstBuild),
        report.count(&Trigger::IndexChanged),
        report.unchanged,
        report.deactivated.len(),
        report.kept.len()
    )
}

fn log_report(source: &IndexSource, report: &ReloadReport) {
    tracing::info!(index.source = %source.describe(), "index reloaded: {}", summary(report));
    for (trigger, requested) in &report.requested {
        tracing::info!(project.image = %requested.image, build.number = requested.build.number, "{}: build asked", trigger.cause());
    }
    for image in &report.deactivated {
        tracing::info!(project.image = %image, "removed from the index: deactivated, its history and tags kept");
    }
    for image in &report.kept {
        tracing::warn!(project.image = %image, "its index entry or file has errors: kept as it was");
    }
}

/// The index's errors as the dashboard and the API show them.
pub fn problems_of(index: &Index) -> Vec<IndexProblem> {
    index
        .errors()
        .map(|d| IndexProblem {
            file: d.file.display().to_string(),
            line: d.line,
            column: d.column,
            code: d.code.to_string(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        })
        .collect()
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| anyhow::anyhow!("reading the index stopped: {e}"))?
}
