//! The last result of the tag check per tag (see `slipway_engine::drift`): kept in the database so every
//! server, page and `/metrics` shows the same drift, whichever process ran the check.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::entities::tag_drift;
use crate::error::{Context, StoreError};
use crate::states::ParseStateError;
use crate::{Store, now};

/// What the check found for one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagState {
    /// The registry serves what Slipway recorded (and, for a release tag, the stable digest).
    InStep,
    /// The registry serves another digest: pushed over outside Slipway.
    Moved,
    /// The registry has no such tag: deleted outside Slipway.
    Deleted,
    /// A release tag that holds a digest other than the stable one.
    NotStable,
    /// The registry could not be asked; nothing is known.
    Unchecked,
}

impl TagState {
    pub const ALL: &'static [TagState] =
        &[TagState::InStep, TagState::Moved, TagState::Deleted, TagState::NotStable, TagState::Unchecked];

    /// The word stored in the database, used as the metrics label and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TagState::InStep => "in_step",
            TagState::Moved => "moved",
            TagState::Deleted => "deleted",
            TagState::NotStable => "not_stable",
            TagState::Unchecked => "unchecked",
        }
    }

    /// Whether it is drift (the registry and the store disagree), as opposed to in step or not known.
    pub fn is_drift(self) -> bool {
        matches!(self, TagState::Moved | TagState::Deleted | TagState::NotStable)
    }
}

impl fmt::Display for TagState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TagState {
    type Err = ParseStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TagState::ALL.iter().copied().find(|state| state.as_str() == s).ok_or_else(|| ParseStateError {
            kind: "tag state",
            value: s.to_string(),
            expected: "in_step moved deleted not_stable unchecked",
        })
    }
}

/// One tag's result, to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTagDrift {
    /// `REGISTRY/app/job`.
    pub repository: String,
    pub tag: String,
    pub state: TagState,
    /// The digest Slipway recorded the tag holds.
    pub recorded: String,
    /// What the registry served, when it is not the recorded digest (moved).
    pub found: Option<String>,
    /// The stable digest, for a release tag of a project that has one.
    pub stable: Option<String>,
    /// Why the registry could not be asked (unchecked).
    pub error: Option<String>,
}

/// One tag's last result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagDrift {
    #[serde(flatten)]
    pub result: NewTagDrift,
    pub checked_at: DateTime<Utc>,
}

/// Rows per INSERT: well under PostgreSQL's 65,535 bind parameters.
const BATCH: usize = 500;

impl Store {
    /// Replaces the results of `repositories` (every tag of them) with `results`, checked now.
    pub async fn record_tag_drift(&self, repositories: &[String], results: &[NewTagDrift]) -> Result<(), StoreError> {
        let what = || format!("recording the tag check of {} repositories", repositories.len());
        let txn = self.write_txn().await.context(what)?;
        for chunk in repositories.chunks(BATCH) {
            tag_drift::Entity::delete_many()
                .filter(tag_drift::Column::Repository.is_in(chunk.iter().cloned()))
                .exec(&txn)
                .await
                .context(what)?;
        }
        let checked_at = now();
        for chunk in results.chunks(BATCH) {
            let rows = chunk.iter().map(|r| tag_drift::ActiveModel {
                repository: Set(r.repository.clone()),
                tag: Set(r.tag.clone()),
                state: Set(r.state.as_str().to_string()),
                recorded: Set(r.recorded.clone()),
                found: Set(r.found.clone()),
                stable: Set(r.stable.clone()),
                error: Set(r.error.clone()),
                checked_at: Set(checked_at),
            });
            tag_drift::Entity::insert_many(rows).exec_without_returning(&txn).await.context(what)?;
        }
        txn.commit().await.context(what)
    }

    /// The last results, of one repository or of all, by repository and tag.
    pub async fn tag_drift(&self, repository: Option<&str>) -> Result<Vec<TagDrift>, StoreError> {
        let mut query = tag_drift::Entity::find();
        if let Some(repository) = repository {
            query = query.filter(tag_drift::Column::Repository.eq(repository));
        }
        let rows = query
            .order_by_asc(tag_drift::Column::Repository)
            .order_by_asc(tag_drift::Column::Tag)
            .all(&self.db)
            .await
            .context(|| format!("reading the tag check of {}", repository.unwrap_or("every repository")))?;
        rows.into_iter().map(TagDrift::try_from).collect()
    }
}

impl TryFrom<tag_drift::Model> for TagDrift {
    type Error = StoreError;

    fn try_from(m: tag_drift::Model) -> Result<TagDrift, StoreError> {
        let state = m.state.parse().map_err(|source| StoreError::CorruptKeyed {
            table: "tag_drift",
            column: "state",
            key: format!("{}:{}", m.repository, m.tag),
            source,
        })?;
        Ok(TagDrift {
            result: NewTagDrift {
                repository: m.repository,
                tag: m.tag,
                state,
                recorded: m.recorded,
                found: m.found,
                stable: m.stable,
                error: m.error,
            },
            checked_at: m.checked_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_words() {
        for state in TagState::ALL {
            assert_eq!(state.as_str().parse::<TagState>(), Ok(*state));
            assert_eq!(serde_json::to_value(state).ok(), Some(serde_json::json!(state.as_str())));
        }
        assert!("NOT_STABLE".parse::<TagState>().is_err());
        let drifting: Vec<TagState> = TagState::ALL.iter().copied().filter(|s| s.is_drift()).collect();
        assert_eq!(drifting, [TagState::Moved, TagState::Deleted, TagState::NotStable]);
    }
}
