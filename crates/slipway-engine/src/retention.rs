//! Retention: which tags no longer serve anybody, and removing them with the safe untag (the tag only; the
//! registry's own garbage collection reclaims what no tag or manifest holds any more).
//!
//! Per repository (projects sharing one are planned together), a tag is dropped only when the digest it holds
//! is none of these:
//! - held by a release tag (any active project's desired tag in that repository);
//! - one of the last `rollback_window` released digests of its project (what `slipway rollback` goes back to);
//! - one of the newest `keep` digests of its project in its tier (staging: built, passed or failed; rc;
//!   released);
//! - revoked (kept as evidence);
//!
//! and the tag was moved there more than `older_than` ago. The desired tags of active projects are never
//! dropped. A project's index entry may set its own `keep-candidates`, `keep-days` and `rollback-window`.
//!
//! A project removed from the index keeps everything for `removed_grace` (it may come back); after that every
//! tag of it goes, its desired tag included, whatever its age, except what another project still needs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use slipway_registry::{Reference, RegistryClient};
use slipway_store::{Image, NewTagEvent, Project, QaState, Store, StoreError};

use crate::repository_lock::{LockError, RepositoryLock};
use crate::spec::ProjectSpec;

#[derive(Debug, Clone, Copy)]
pub struct RetentionPolicy {
    /// The newest digests of each project kept in each tier whatever their state.
    pub keep: usize,
    /// Tags moved more recently than this stay.
    pub older_than: TimeDelta,
    /// The last released digests of each project kept for rollback.
    pub rollback_window: usize,
    /// How long the tags of a project removed from the index are kept.
    pub removed_grace: TimeDelta,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            keep: 3,
            older_than: TimeDelta::days(14),
            rollback_window: 3,
            removed_grace: TimeDelta::days(30),
        }
    }
}

impl RetentionPolicy {
    /// This policy with the project's own settings over it.
    fn for_project(&self, spec: &ProjectSpec) -> RetentionPolicy {
        let own = spec.retention;
        RetentionPolicy {
            keep: own.keep_candidates.map_or(self.keep, |n| n as usize),
            older_than: own.keep_days.map_or(self.older_than, |d| TimeDelta::days(i64::from(d))),
            rollback_window: own.rollback_window.map_or(self.rollback_window, |n| n as usize),
            removed_grace: self.removed_grace,
        }
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
    /// Digests (and desired tags) of projects removed longer ago than the grace period, with when.
    removed_digests: BTreeMap<String, (String, DateTime<Utc>)>,
    removed_tags: BTreeMap<String, (String, DateTime<Utc>)>,
    /// How long a tag on each digest stays, by its project's policy.
    older_than: BTreeMap<String, TimeDelta>,
}

/// The QA tiers retention keeps candidates in.
fn tier(state: QaState) -> Option<usize> {
    match state {
        // A failed digest is no candidate: three failures in a row must not push out the last good one.
        QaState::Built | QaState::Passed => Some(0),
        QaState::Failed => None,
        QaState::Rc => Some(1),
        QaState::Released => Some(2),
        QaState::Revoked => None,
    }
}

impl Protected {
    fn add_project(&mut self, spec: &ProjectSpec, images: &[Image], policy: &RetentionPolicy) {
        let mut in_tier = [0usize; 3];
        for image in images {
            self.older_than.entry(image.digest.clone()).or_insert(policy.older_than);
            if image.qa_state == QaState::Revoked {
                self.digests.insert(image.digest.clone(), "revoked (kept as evidence)");
                continue;
            }
            let Some(tier) = tier(image.qa_state) else { continue };
            in_tier[tier] += 1;
            if in_tier[tier] <= policy.keep {
                self.digests.entry(image.digest.clone()).or_insert("one of the newest in its tier");
            }
        }
        let released = images.iter().filter(|i| i.qa_state == QaState::Released);
        for image in released.take(policy.rollback_window) {
            self.digests.entry(image.digest.clone()).or_insert("in the rollback window");
        }
        self.release_tags.insert(spec.desired_tag.clone());
    }

    fn add_removed(&mut self, project: &Project, spec: &ProjectSpec, images: &[Image]) {
        let since = (project.image.clone(), project.updated_at);
        for image in images {
            if image.qa_state == QaState::Revoked {
                self.digests.insert(image.digest.clone(), "revoked (kept as evidence)");
            } else {
                self.removed_digests.insert(image.digest.clone(), since.clone());
            }
        }
        self.removed_tags.insert(spec.desired_tag.clone(), since);
    }
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
            let images = store.images(Some(project.id), None).await?;
            // Within the grace period a removed project is kept as it was: it may come back.
            if !project.active && now - project.updated_at > policy.removed_grace {
                protected.add_removed(project, spec, &images);
            } else {
                protected.add_project(spec, &images, &policy.for_project(spec));
            }
        }
        let tags = store.current_tags(&repository).await?;
        for event in &tags {
            if protected.release_tags.contains(&event.tag) {
                protected.digests.insert(event.digest.clone(), "held by a release tag");
            }
        }
        for event in tags {
            let removed = protected
                .removed_tags
                .get(&event.tag)
                .or_else(|| protected.removed_digests.get(&event.digest))
                .filter(|_| !protected.release_tags.contains(&event.tag))
                .filter(|_| !protected.digests.contains_key(&event.digest));
            if let Some((image, since)) = removed {
                let days = (now - *since).num_days();
                let why = format!("{image} left the index {days} day(s) ago, past the grace period");
                plan.drop.push(TagToDrop { repository: repository.clone(), tag: event.tag, digest: event.digest, why });
                continue;
            }
            let older_than = protected.older_than.get(&event.digest).copied().unwrap_or(policy.older_than);
            let keep = protected.release_tags.contains(&event.tag)
                || protected.digests.contains_key(&event.digest)
                || now - event.at < older_than;
            if keep {
                plan.kept += 1;
                continue;
            }
            let age = (now - event.at).num_days();
            let state = store.image_by_digest(&repository, &event.digest).await?.map(|i| i.qa_state.to_string());
            let why = format!(
                "{} digest, tagged {age} day(s) ago, not among the newest of its tier, not in the rollback window",
                state.as_deref().unwrap_or("unknown"),
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
        // Under the repository's lock: no promotion can move the tag between the check and the removal.
        let lock = match RepositoryLock::acquire(store, &drop.repository).await {
            Ok(lock) => lock,
            Err(LockError::Store(err)) => return Err(err),
            Err(busy) => {
                report.failures.push((drop, busy.to_string()));
                continue;
            }
        };
        let removed = remove_if_unmoved(client, &reference, &drop.digest).await;
        lock.release().await;
        match removed {
            Ok(true) => {}
            Ok(false) => continue,
            Err(why) => {
                report.failures.push((drop, why));
                continue;
            }
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

/// The name the scheduled run is claimed under (once per interval across servers).
const SCHEDULED: &str = "retention";

/// The scheduled retention run: when `interval` has passed since the last run (by any server), plans and
/// carries out `policy` and says what it removed; `None` when it was not this server's turn.
pub async fn retention_round(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    policy: &RetentionPolicy,
    interval: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Option<GcReport>, StoreError> {
    if !store.claim_periodic_run(SCHEDULED, now, interval).await? {
        return Ok(None);
    }
    let plan = plan_gc(store, registry, policy, now).await?;
    run_gc(store, client, registry, plan, "the scheduled retention run").await.map(Some)
}

/// Removes `reference` if it still names `digest`: `Ok(false)` when it is gone already, an error (kept) when it
/// moved since the plan was made (a build re-pointed it: then it is not ours to drop) or the registry failed.
async fn remove_if_unmoved(client: &RegistryClient, reference: &Reference, digest: &str) -> Result<bool, String> {
    match client.head_manifest(reference).await {
        Ok(Some(now)) if now.digest.as_str() == digest => {}
        Ok(Some(now)) => return Err(format!("it moved to {} since the plan was made; kept", now.digest)),
        Ok(None) => return Ok(false),
        Err(err) => return Err(err.to_string()),
    }
    client.untag(reference, false).await.map(|_| true).map_err(|err| err.to_string())
}
