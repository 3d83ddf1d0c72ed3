//! Retention: which tags no longer serve anybody, and removing them with the safe untag (the tag only; the
//! registry's own garbage collection reclaims what no tag or manifest holds any more).
//!
//! Per repository (projects sharing one are planned together), a tag is dropped only when the digest it holds
//! is none of these:
//! - held by a release tag (any project's desired tag in that repository);
//! - one of the last `rollback_window` released digests of its project (what `slipway rollback` goes back to);
//! - one of the newest `keep` digests of its project;
//! - revoked (kept as evidence);
//!
//! and the tag was moved there more than `older_than` ago. The desired tags themselves are never dropped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use slipway_registry::{Reference, RegistryClient};
use slipway_store::{NewTagEvent, Project, QaState, Store, StoreError};

use crate::spec::ProjectSpec;

#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// The newest digests of each project kept whatever their state.
    pub keep: usize,
    /// Tags moved more recently than this stay.
    pub older_than: TimeDelta,
    /// The last released digests of each project kept for rollback.
    pub rollback_window: usize,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy { keep: 3, older_than: TimeDelta::days(14), rollback_window: 3 }
    }
}

/// A tag the plan drops, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagToDrop {
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct GcPlan {
    pub drop: Vec<TagToDrop>,
    /// Tags looked at and kept.
    pub kept: usize,
}

/// What a repository's digests are protected by, from its projects.
#[derive(Default)]
struct Protected {
    release_tags: BTreeSet<String>,
    digests: BTreeMap<String, &'static str>,
}

/// Plans the tags to drop in `registry`'s repositories under `policy`, as of `now`.
pub async fn plan_gc(
    store: &Store,
    registry: &str,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<GcPlan, StoreError> {
    let mut by_repository: BTreeMap<String, Vec<(Project, ProjectSpec)>> = BTreeMap::new();
    for project in store.projects().await? {
        // An entry that cannot be read names no repository: nothing of it is touched.
        let Ok(spec) = ProjectSpec::of(&project) else { continue };
        by_repository.entry(spec.repository_in(registry)).or_default().push((project, spec));
    }
    let mut plan = GcPlan::default();
    for (repository, projects) in by_repository {
        let mut protected = Protected::default();
        for (project, spec) in &projects {
            protected.release_tags.insert(spec.desired_tag.clone());
            let images = store.images(Some(project.id), None).await?;
            for image in images.iter().take(policy.keep) {
                protected.digests.entry(image.digest.clone()).or_insert("one of the newest");
            }
            let released = images.iter().filter(|i| i.qa_state == QaState::Released);
            for image in released.take(policy.rollback_window) {
                protected.digests.entry(image.digest.clone()).or_insert("in the rollback window");
            }
            for image in images.iter().filter(|i| i.qa_state == QaState::Revoked) {
                protected.digests.insert(image.digest.clone(), "revoked (kept as evidence)");
            }
        }
        let tags = store.current_tags(&repository).await?;
        for event in &tags {
            if protected.release_tags.contains(&event.tag) {
                protected.digests.insert(event.digest.clone(), "held by a release tag");
            }
        }
        for event in tags {
            let keep = protected.release_tags.contains(&event.tag)
                || protected.digests.contains_key(&event.digest)
                || now - event.at < policy.older_than;
            if keep {
                plan.kept += 1;
                continue;
            }
            let age = (now - event.at).num_days();
            let state = store.image_by_digest(&repository, &event.digest).await?.map(|i| i.qa_state.to_string());
            let why = format!(
                "{} digest, tagged {age} day(s) ago, not among the newest {}, not released within the last {}",
                state.as_deref().unwrap_or("unknown"),
                policy.keep,
                policy.rollback_window
            );
            plan.drop.push(TagToDrop { repository: repository.clone(), tag: event.tag, digest: event.digest, why });
        }
    }
    Ok(plan)
}

/// What carrying out a plan did.
#[derive(Debug, Default)]
pub struct GcReport {
    pub removed: Vec<TagToDrop>,
    /// Tags that could not be removed, with why (the rest went on).
    pub failures: Vec<(TagToDrop, String)>,
}

/// Removes the plan's tags with the safe untag, recording each in the tag history for `by`.
pub async fn run_gc(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    plan: GcPlan,
    by: &str,
) -> Result<GcReport, StoreError> {
    let mut report = GcReport::default();
    for drop in plan.drop {
        let reference: Reference = match format!("{}:{}", drop.repository, drop.tag).parse() {
            Ok(reference) => reference,
            Err(err) => {
                report.failures.push((drop, format!("not a valid reference: {err}")));
                continue;
            }
        };
        if let Err(err) = client.untag(&reference, false).await {
            report.failures.push((drop, err.to_string()));
            continue;
        }
        let event = NewTagEvent {
            registry: registry.to_string(),
            repository: drop.repository.clone(),
            tag: drop.tag.clone(),
            digest: String::new(),
            previous_digest: Some(drop.digest.clone()),
            by: format!("gc by {by}"),
            build_id: None,
        };
        store.record_tag_event(&event).await?;
        report.removed.push(drop);
    }
    Ok(report)
}
