//! The release order's two records (the rules that use them are the engine's `release` module):
//! - each project's **head** per tier (`rc`, `release`): the build its tags were last moved to. A head moves
//!   forward in build order only, by one compare-and-set statement (`move_head.sql`), unless a person forces it
//!   (rollback, `--force`, revoke), so two processes racing can never move it back;
//! - a **lock** per repository (`lock.rs`), held while the tags are written, so the registry receives the
//!   moves in the order the heads granted them.

mod lock;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde::Serialize;

use crate::entities::release_head;
use crate::error::{Context, StoreError};
use crate::{Store, now};

pub use lock::LockAttempt;

/// A tier whose tags move in release order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// `rc`: passed its tests.
    Rc,
    /// The release tags: the desired tag, `vX.Y.Z` and the identity tag.
    Release,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Rc => "rc",
            Tier::Release => "release",
        }
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a project's tags of one tier point, as far as Slipway moved them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseHead {
    pub project_id: i64,
    pub tier: Tier,
    pub build_id: i64,
    pub build_number: i64,
    pub digest: String,
    /// Who or what moved it: `build demo/web:latest#3`, `rollback by alice: …`.
    pub by: String,
    pub moved_at: DateTime<Utc>,
}

/// A move of a head to a build.
#[derive(Debug, Clone, Copy)]
pub struct HeadMove<'a> {
    pub project_id: i64,
    pub tier: Tier,
    pub build_id: i64,
    pub build_number: i64,
    pub digest: &'a str,
    pub by: &'a str,
    /// A person's deliberate move back (rollback, `--force`, revoke): the build order is not checked.
    pub forced: bool,
}

/// What a move of a head did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadOutcome {
    /// The head now names the build; it named `previous` before.
    Moved { previous: Option<ReleaseHead> },
    /// A newer build holds the head: nothing changed.
    Refused { newer: ReleaseHead },
}

impl Store {
    /// Moves a head forward (or anywhere, when forced) in one statement; see [`HeadOutcome`].
    pub async fn move_head(&self, m: &HeadMove<'_>) -> Result<HeadOutcome, StoreError> {
        let what = || format!("moving the {} head of project {} to build {}", m.tier, m.project_id, m.build_id);
        let txn = self.write_txn().await.context(what)?;
        let previous = head_in(&txn, m.project_id, m.tier).await?;
        let statement = Statement::from_sql_and_values(
            self.db_backend(),
            include_str!("move_head.sql"),
            [
                m.project_id.into(),
                m.tier.as_str().into(),
                m.build_id.into(),
                m.build_number.into(),
                m.digest.into(),
                m.by.into(),
                now().into(),
                m.forced.into(),
            ],
        );
        let moved = txn.execute_raw(statement).await.context(what)?.rows_affected() == 1;
        let outcome = if moved {
            HeadOutcome::Moved { previous }
        } else {
            // Refused: the row exists and is newer; read it as the statement saw it.
            let newer = head_in(&txn, m.project_id, m.tier).await?;
            let newer = newer.ok_or_else(|| StoreError::Invalid {
                what: "release head",
                reason: format!("the {} head of project {} was refused but is gone", m.tier, m.project_id),
            })?;
            HeadOutcome::Refused { newer }
        };
        txn.commit().await.context(what)?;
        Ok(outcome)
    }

    /// Puts a head back to `previous` (or removes it) if build `build_id` still holds it: undoing a move whose
    /// tags could not be written. `false` when another move came in between (it is left alone).
    pub async fn restore_head(
        &self,
        project_id: i64,
        tier: Tier,
        build_id: i64,
        previous: Option<&ReleaseHead>,
    ) -> Result<bool, StoreError> {
        let what = || format!("putting the {tier} head of project {project_id} back");
        let txn = self.write_txn().await.context(what)?;
        let held = release_head::Entity::find()
            .filter(release_head::Column::ProjectId.eq(project_id))
            .filter(release_head::Column::Tier.eq(tier.as_str()))
            .filter(release_head::Column::BuildId.eq(build_id));
        let restored = match previous {
            None => {
                release_head::Entity::delete_many()
                    .filter(release_head::Column::ProjectId.eq(project_id))
                    .filter(release_head::Column::Tier.eq(tier.as_str()))
                    .filter(release_head::Column::BuildId.eq(build_id))
                    .exec(&txn)
                    .await
                    .context(what)?
                    .rows_affected
            }
            Some(before) => {
                if held.one(&txn).await.context(what)?.is_none() {
                    0
                } else {
                    let statement = Statement::from_sql_and_values(
                        self.db_backend(),
                        include_str!("move_head.sql"),
                        [
                            project_id.into(),
                            tier.as_str().into(),
                            before.build_id.into(),
                            before.build_number.into(),
                            before.digest.clone().into(),
                            before.by.clone().into(),
                            before.moved_at.into(),
                            true.into(),
                        ],
                    );
                    txn.execute_raw(statement).await.context(what)?.rows_affected()
                }
            }
        };
        txn.commit().await.context(what)?;
        Ok(restored == 1)
    }

    /// Removes a project's head in `tier` if it names `digest` (a revoked digest with nothing to go back to).
    pub async fn clear_head(&self, project_id: i64, tier: Tier, digest: &str) -> Result<bool, StoreError> {
        let removed = release_head::Entity::delete_many()
            .filter(release_head::Column::ProjectId.eq(project_id))
            .filter(release_head::Column::Tier.eq(tier.as_str()))
            .filter(release_head::Column::Digest.eq(digest))
            .exec(&self.db)
            .await
            .context(|| format!("clearing the {tier} head of project {project_id}"))?;
        Ok(removed.rows_affected == 1)
    }

    /// The build a project's tags of `tier` were last moved to, if any.
    pub async fn release_head(&self, project_id: i64, tier: Tier) -> Result<Option<ReleaseHead>, StoreError> {
        head_in(&self.db, project_id, tier).await
    }
}

async fn head_in(db: &impl ConnectionTrait, project_id: i64, tier: Tier) -> Result<Option<ReleaseHead>, StoreError> {
    let row = release_head::Entity::find()
        .filter(release_head::Column::ProjectId.eq(project_id))
        .filter(release_head::Column::Tier.eq(tier.as_str()))
        .one(db)
        .await
        .context(|| format!("reading the {tier} head of project {project_id}"))?;
    Ok(row.map(|row| ReleaseHead {
        project_id: row.project_id,
        tier,
        build_id: row.build_id,
        build_number: row.build_number,
        digest: row.digest,
        by: row.by,
        moved_at: row.moved_at,
    }))
}
