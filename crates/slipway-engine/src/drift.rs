//! Drift: whether the registry serves what Slipway recorded, and putting it back when it does not.
//!
//! **Check.** Every tag the tag history records as current (its last move; a removal holds nothing) in the
//! repository of every recorded project is read from the registry (`HEAD` of its manifest) and compared:
//! - the registry serves another digest: [`Drift::Moved`], pushed over outside Slipway;
//! - the registry has no such tag: [`Drift::Deleted`], deleted outside Slipway;
//! - an active project's desired tag (the release tag, `latest`) holds, as recorded and as served, a digest
//!   other than the project's stable image ([`Store::stable_image`]): [`Drift::NotStable`];
//! - the registry could not be asked (unreachable, refused, 5xx after its retries): [`Outcome::Unchecked`],
//!   which is never drift, never a deleted tag, and never repaired. Once the registry cannot be reached at
//!   all, the remaining tags are not asked (each would wait for the same retries) and are unchecked too.
//!
//! Each check stores its result per tag (replacing the previous one), so every server, the project page and
//! `/metrics` show the same drift, whoever ran it.
//!
//! **Repair.** Each drifting tag gets the digest it should hold ([`TagCheck::wanted`]: the recorded digest,
//! or for a release tag the stable one) written back by manifest (no layer moves), after the tag is read
//! again: a tag that changed since the check, or that cannot be read, is left as it is. Each repair is
//! recorded in the tag history, `by` saying it is a repair and what it found, with the digest it found as the
//! previous digest.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use slipway_registry::{RegistryClient, RegistryError};
use slipway_store::{NewTagDrift, NewTagEvent, Store, StoreError, TagState};

use crate::promote::{registry_reference, tag_digest};
use crate::repository_lock::{LockError, RepositoryLock};
use crate::spec::ProjectSpec;

/// How a tag differs from what Slipway recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The registry serves `found`, not the recorded digest: pushed over outside Slipway.
    Moved { found: String },
    /// The registry has no such tag: deleted outside Slipway.
    Deleted,
    /// A release tag that holds (as recorded and as served) a digest other than the stable one.
    NotStable { stable: String },
}

/// What the check found for one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    InStep,
    Drift(Drift),
    /// The registry could not be asked: nothing is known, nothing is repaired.
    Unchecked {
        error: String,
    },
}

/// One tag, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCheck {
    /// `REGISTRY/app/job`.
    pub repository: String,
    pub tag: String,
    /// The digest Slipway recorded the tag holds.
    pub recorded: String,
    /// The project's stable digest, when the tag is an active project's release tag and it has one.
    pub stable: Option<String>,
    pub outcome: Outcome,
}

/// What one check found, tag by tag, in the repositories it covered.
#[derive(Debug, Clone, Default)]
pub struct DriftReport {
    pub repositories: Vec<String>,
    pub checks: Vec<TagCheck>,
}

impl DriftReport {
    pub fn drifting(&self) -> impl Iterator<Item = &TagCheck> {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Drift(_)))
    }

    pub fn unchecked(&self) -> impl Iterator<Item = &TagCheck> {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Unchecked { .. }))
    }

    pub fn in_step(&self) -> usize {
        self.checks.iter().filter(|c| c.outcome == Outcome::InStep).count()
    }
}

/// The outcome for a tag recorded at `recorded`, whose project's stable digest is `stable` (release tags
/// only), when the registry answered `served`.
fn judge(recorded: &str, stable: Option<&str>, served: Result<Option<&str>, &str>) -> Outcome {
    match served {
        Err(error) => Outcome::Unchecked { error: error.to_string() },
        Ok(None) => Outcome::Drift(Drift::Deleted),
        Ok(Some(found)) if found != recorded => Outcome::Drift(Drift::Moved { found: found.to_string() }),
        Ok(Some(_)) => match stable.filter(|stable| *stable != recorded) {
            Some(stable) => Outcome::Drift(Drift::NotStable { stable: stable.to_string() }),
            None => Outcome::InStep,
        },
    }
}

impl TagCheck {
    /// `REGISTRY/app/job:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The digest the tag should hold, which a repair writes: the stable digest for a release tag, else the
    /// recorded one.
    pub fn wanted(&self) -> &str {
        self.stable.as_deref().unwrap_or(&self.recorded)
    }

    /// What the registry serves as far as the check knows: `None` when the tag is gone or unknown.
    pub fn served(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::InStep | Outcome::Drift(Drift::NotStable { .. }) => Some(&self.recorded),
            Outcome::Drift(Drift::Moved { found }) => Some(found),
            Outcome::Drift(Drift::Deleted) | Outcome::Unchecked { .. } => None,
        }
    }

    /// What differs: what Slipway recorded and what the registry serves.
    pub fn problem(&self) -> String {
        let recorded = &self.recorded;
        match &self.outcome {
            Outcome::InStep => format!("in step: {recorded}"),
            Outcome::Drift(Drift::Moved { found }) => {
                format!("pushed over outside Slipway: Slipway recorded {recorded}, the registry serves {found}")
            }
            Outcome::Drift(Drift::Deleted) => {
                format!("deleted outside Slipway: Slipway recorded {recorded}, the registry serves nothing")
            }
            Outcome::Drift(Drift::NotStable { stable }) => format!(
                "not the stable digest: Slipway recorded and the registry serves {recorded}, the stable digest is {stable}"
            ),
            Outcome::Unchecked { error } => format!("could not check (Slipway recorded {recorded}): {error}"),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        let wanted = self.wanted();
        let repair = "`slipway tags check --repair`";
        match &self.outcome {
            Outcome::InStep => "nothing to do".to_string(),
            Outcome::Drift(Drift::NotStable { .. }) => format!(
                "{repair} moves it to the stable digest, the release Slipway made last (to go back on purpose, use \
                 `slipway rollback`, which moves the stable digest too)"
            ),
            Outcome::Drift(_) if wanted != self.recorded => {
                format!("{repair} writes the stable digest {wanted} under it")
            }
            Outcome::Drift(Drift::Deleted) => format!("{repair} tags {wanted} again"),
            Outcome::Drift(_) => format!("{repair} puts {wanted} back"),
            Outcome::Unchecked { .. } => "nothing was changed; check again once the registry answers".to_string(),
        }
    }

    /// The outcome as the word stored and shown (`in_step`, `moved`, `deleted`, `not_stable`, `unchecked`).
    pub fn state(&self) -> TagState {
        match &self.outcome {
            Outcome::InStep => TagState::InStep,
            Outcome::Drift(Drift::Moved { .. }) => TagState::Moved,
            Outcome::Drift(Drift::Deleted) => TagState::Deleted,
            Outcome::Drift(Drift::NotStable { .. }) => TagState::NotStable,
            Outcome::Unchecked { .. } => TagState::Unchecked,
        }
    }

    /// Why the registry could not be asked, when it could not.
    pub fn error(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Unchecked { error } => Some(error),
            _ => None,
        }
    }

    /// The row the store keeps.
    fn to_row(&self) -> NewTagDrift {
        let found = match &self.outcome {
            Outcome::Drift(Drift::Moved { found }) => Some(found.clone()),
            _ => None,
        };
        NewTagDrift {
            repository: self.repository.clone(),
            tag: self.tag.clone(),
            state: self.state(),
            recorded: self.recorded.clone(),
            found,
            stable: self.stable.clone(),
            error: self.error().map(str::to_string),
        }
    }

    /// A stored result, as the check made it.
    pub fn from_row(row: &NewTagDrift) -> TagCheck {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        let outcome = match row.state {
            TagState::InStep => Outcome::InStep,
            TagState::Moved => Outcome::Drift(Drift::Moved { found: text(&row.found) }),
            TagState::Deleted => Outcome::Drift(Drift::Deleted),
            TagState::NotStable => Outcome::Drift(Drift::NotStable { stable: text(&row.stable) }),
            TagState::Unchecked => Outcome::Unchecked { error: text(&row.error) },
        };
        TagCheck {
            repository: row.repository.clone(),
            tag: row.tag.clone(),
            recorded: row.recorded.clone(),
            stable: row.stable.clone(),
            outcome,
        }
    }
}

/// Each repository of `registry` Slipway delivers to, with the release tags of its active projects and each
/// one's stable digest.
async fn release_tags(store: &Store, registry: &str) -> Result<BTreeMap<String, ReleaseTags>, StoreError> {
    let stable: BTreeMap<i64, String> =
        store.stable_images(None).await?.into_iter().map(|image| (image.project_id, image.digest)).collect();
    let mut repositories: BTreeMap<String, ReleaseTags> = BTreeMap::new();
    for project in store.projects().await? {
        // An entry that cannot be read names no repository: there is nothing to compare.
        let Ok(spec) = ProjectSpec::of(&project) else { continue };
        let release = repositories.entry(spec.repository_in(registry)).or_default();
        if project.active {
            release.insert(spec.desired_tag, stable.get(&project.id).cloned());
        }
    }
    Ok(repositories)
}

/// Release tag → the stable digest of its project, if it has one.
type ReleaseTags = BTreeMap<String, Option<String>>;

/// Compares every tag Slipway records as current in `registry` with what the registry serves, and stores
/// the result.
pub async fn check_tags(store: &Store, client: &RegistryClient, registry: &str) -> Result<DriftReport, StoreError> {
    let mut report = DriftReport::default();
    // Set once the registry cannot be reached: the tags after it are not asked.
    let mut unreachable: Option<String> = None;
    for (repository, release) in release_tags(store, registry).await? {
        for event in store.current_tags(&repository).await? {
            let answer = match &unreachable {
                Some(error) => Err(format!("not asked, {registry} could not be reached: {error}")),
                None => tag_digest(client, &repository, &event.tag).await.map_err(|err| {
                    if matches!(err, RegistryError::Connect { .. }) {
                        unreachable = Some(err.to_string());
                    }
                    err.to_string()
                }),
            };
            let stable = release.get(&event.tag).cloned().flatten();
            let served = answer.as_ref().map(Option::as_deref).map_err(String::as_str);
            let outcome = judge(&event.digest, stable.as_deref(), served);
            report.checks.push(TagCheck {
                repository: repository.clone(),
                tag: event.tag,
                recorded: event.digest,
                stable,
                outcome,
            });
        }
        report.repositories.push(repository);
    }
    record(store, &report).await?;
    Ok(report)
}

async fn record(store: &Store, report: &DriftReport) -> Result<(), StoreError> {
    let rows: Vec<NewTagDrift> = report.checks.iter().map(TagCheck::to_row).collect();
    store.record_tag_drift(&report.repositories, &rows).await
}

/// One tag's repair.
#[derive(Debug)]
pub struct Repair {
    pub repository: String,
    pub tag: String,
    /// The digest written (or to be written) under the tag.
    pub digest: String,
    /// What the registry served before: `None` when the tag was gone.
    pub found: Option<String>,
    pub result: Result<(), RepairError>,
}

/// Why a drifting tag was left as it is.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error("it could not be read again before the repair ({source}); left as it is")]
    Unreadable { source: Box<RegistryError> },
    #[error("it changed since the check (it now holds {}); left as it is: check again", now.as_deref().unwrap_or("nothing"))]
    Changed { now: Option<String> },
    #[error("writing {digest} under it failed: {source}")]
    Registry { digest: String, source: Box<RegistryError> },
    #[error("{reason}; left as it is")]
    Locked { reason: String },
}

/// Repairs every drifting tag of `report` for `by` (tags it could not check are left alone), marks the
/// repaired ones in step, and stores the result.
pub async fn repair_tags(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    report: &mut DriftReport,
    by: &str,
) -> Result<Vec<Repair>, StoreError> {
    let mut repairs = Vec::new();
    for check in &mut report.checks {
        if !matches!(check.outcome, Outcome::Drift(_)) {
            continue;
        }
        let found = check.served().map(str::to_string);
        // Under the repository's lock: no release moves the tag between the re-read and the write.
        let result = match RepositoryLock::acquire(store, &check.repository).await {
            Ok(lock) => {
                let result = repair_one(store, client, registry, check, by).await;
                lock.release().await;
                result?
            }
            Err(LockError::Store(err)) => return Err(err),
            Err(busy) => Err(RepairError::Locked { reason: busy.to_string() }),
        };
        if result.is_ok() {
            check.recorded = check.wanted().to_string();
            check.outcome = Outcome::InStep;
        }
        repairs.push(Repair {
            repository: check.repository.clone(),
            tag: check.tag.clone(),
            digest: check.wanted().to_string(),
            found,
            result,
        });
    }
    if !repairs.is_empty() {
        record(store, report).await?;
    }
    Ok(repairs)
}

/// Writes `check.wanted()` under the tag if it still holds what the check found, and records it. The outer
/// error is the store's (stop); the inner one this tag's (the others go on).
async fn repair_one(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    check: &TagCheck,
    by: &str,
) -> Result<Result<(), RepairError>, StoreError> {
    let found = check.served();
    let now = match tag_digest(client, &check.repository, &check.tag).await {
        Ok(now) => now,
        Err(source) => return Ok(Err(RepairError::Unreadable { source: Box::new(source) })),
    };
    if now.as_deref() != found {
        return Ok(Err(RepairError::Changed { now }));
    }
    let wanted = check.wanted();
    let written = match registry_reference(&format!("{}@{wanted}", check.repository)) {
        Ok(source) => client.tag(&source, std::slice::from_ref(&check.tag)).await.map(drop),
        Err(err) => Err(err),
    };
    if let Err(source) = written {
        return Ok(Err(RepairError::Registry { digest: wanted.to_string(), source: Box::new(source) }));
    }
    let image = store.image_by_digest(&check.repository, wanted).await?;
    let event = NewTagEvent {
        registry: registry.to_string(),
        repository: check.repository.clone(),
        tag: check.tag.clone(),
        digest: wanted.to_string(),
        previous_digest: found.map(str::to_string),
        by: format!("repair by {by} (tags check): found {}", found.unwrap_or("no tag")),
        build_id: image.map(|image| image.build_id),
    };
    store.record_tag_event(&event).await?;
    Ok(Ok(()))
}

/// The name the scheduled check is claimed under (once per interval across servers).
const SCHEDULED: &str = "tag-check";

/// The scheduled check: when `interval` has passed since the last one (by any server), checks and stores
/// the result; `None` when it was not this server's turn. It never repairs.
pub async fn tag_check_round(
    store: &Store,
    client: &RegistryClient,
    registry: &str,
    interval: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Option<DriftReport>, StoreError> {
    if !store.claim_periodic_run(SCHEDULED, now, interval).await? {
        return Ok(None);
    }
    check_tags(store, client, registry).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaa";
    const B: &str = "sha256:bbbb";
    const C: &str = "sha256:cccc";

    #[test]
    fn each_answer_of_the_registry_is_judged() {
        let moved = |found: &str| Outcome::Drift(Drift::Moved { found: found.into() });
        // (the project's stable digest, what the registry answered, the outcome) for a tag recorded at A.
        type Case<'a> = (Option<&'a str>, Result<Option<&'a str>, &'a str>, Outcome);
        let cases: [Case<'_>; 8] = [
            (None, Ok(Some(A)), Outcome::InStep),
            (None, Ok(Some(B)), moved(B)),
            (None, Ok(None), Outcome::Drift(Drift::Deleted)),
            (None, Err("503"), Outcome::Unchecked { error: "503".into() }),
            (Some(A), Ok(Some(A)), Outcome::InStep),
            (Some(B), Ok(Some(A)), Outcome::Drift(Drift::NotStable { stable: B.into() })),
            // Moved outranks not stable: the registry and the store disagree first.
            (Some(C), Ok(Some(B)), moved(B)),
            // A registry error is never drift, whatever the store says is stable.
            (Some(B), Err("refused"), Outcome::Unchecked { error: "refused".into() }),
        ];
        for (stable, served, expected) in cases {
            assert_eq!(judge(A, stable, served), expected, "stable {stable:?}, served {served:?}");
        }
    }

    fn check(stable: Option<&str>, outcome: Outcome) -> TagCheck {
        TagCheck {
            repository: "r/a/w".into(),
            tag: "latest".into(),
            recorded: A.into(),
            stable: stable.map(Into::into),
            outcome,
        }
    }

    #[test]
    fn a_repair_writes_the_recorded_digest_or_for_a_release_tag_the_stable_one() {
        let deleted = check(None, Outcome::Drift(Drift::Deleted));
        assert_eq!((deleted.wanted(), deleted.served()), (A, None));
        assert!(deleted.hint().contains(&format!("tags {A} again")), "{}", deleted.hint());
        let moved = check(None, Outcome::Drift(Drift::Moved { found: B.into() }));
        assert_eq!((moved.wanted(), moved.served()), (A, Some(B)));
        assert!(moved.problem().contains(B) && moved.hint().contains(&format!("puts {A} back")));
        let release = check(Some(C), Outcome::Drift(Drift::Moved { found: B.into() }));
        assert_eq!(release.wanted(), C);
        assert!(release.hint().contains(&format!("stable digest {C}")), "{}", release.hint());
        let unstable = check(Some(C), Outcome::Drift(Drift::NotStable { stable: C.into() }));
        assert_eq!((unstable.wanted(), unstable.served()), (C, Some(A)));
        assert!(unstable.hint().contains("slipway rollback"), "{}", unstable.hint());
        let unchecked = check(None, Outcome::Unchecked { error: "down".into() });
        assert_eq!(unchecked.served(), None);
        assert!(unchecked.problem().starts_with("could not check") && unchecked.hint().contains("nothing was changed"));
    }

    #[test]
    fn a_stored_result_reads_back_as_it_was_checked() {
        for outcome in [
            Outcome::InStep,
            Outcome::Drift(Drift::Moved { found: B.into() }),
            Outcome::Drift(Drift::Deleted),
            Outcome::Drift(Drift::NotStable { stable: C.into() }),
            Outcome::Unchecked { error: "down".into() },
        ] {
            let stable = matches!(outcome, Outcome::Drift(Drift::NotStable { .. })).then_some(C);
            let checked = check(stable, outcome);
            assert_eq!(TagCheck::from_row(&checked.to_row()), checked);
        }
    }
}
