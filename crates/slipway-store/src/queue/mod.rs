//! The job queue: workers claim a build with a lease, renew it while they work, and finish it.
//!
//! A claim is one short transaction that commits before any work starts: first it fails the jobs whose lease
//! lapsed once too often, then one `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING` leases the best job
//! (`claim.sql`). A job whose lease lapsed is claimed again with `attempts + 1`.

mod cancel;
mod expire;
mod finish;
mod project;
pub(crate) mod skip;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement};
use serde::Serialize;

use crate::entities::{build, job};
use crate::error::{Context, StoreError};
use crate::states::{BuildState, JobState, StageKind};
use crate::{Backend, Store, now};

/// A build leased to a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClaimedJob {
    pub job_id: i64,
    pub build_id: i64,
    /// 1 on the first claim, 2 when a lapsed lease was claimed again, and so on.
    pub attempt: i32,
}

/// How a build ended, as its worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildOutcome {
    pub state: BuildState,
    pub failed_stage: Option<StageKind>,
    pub error: Option<String>,
}

/// Jobs waiting and jobs leased (lapsed leases included, until they are claimed again or failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueCounts {
    pub queued: u64,
    pub running: u64,
}

/// How often a claim steps back from a project another claimer is starting, before it reports nothing to do.
const CLAIM_TRIES: usize = 4;

enum Claim {
    Taken(ClaimedJob),
    Nothing,
    /// Another claimer is starting a build of the same project.
    ProjectBusy,
}

/// The jobs a claim looks at, in turn.
const LAPSED: &str = "j.state = 'running' AND j.lease_until < $3";
const QUEUED: &str = "j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= $3)";

impl Store {
    /// Leases the next runnable build to `worker` for `lease`, or `None` when nothing may run now.
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<ClaimedJob>, StoreError> {
        // On PostgreSQL two claimers may pick two builds of one project at once; the second one to lock the
        // project sees the first running, steps back and looks again.
        for _ in 0..CLAIM_TRIES {
            match self.claim_once(worker, lease).await? {
                Claim::Taken(job) => return Ok(Some(job)),
                Claim::Nothing => return Ok(None),
                Claim::ProjectBusy => {}
            }
        }
        Ok(None)
    }

    async fn claim_once(&self, worker: &str, lease: Duration) -> Result<Claim, StoreError> {
        let now = now();
        let until = lease_end(now, lease)?;
        let what = || format!("claiming a job for worker {worker}");
        let txn = self.write_txn().await.context(what)?;
        expire::fail_lapsed_jobs(&txn, now).await?;
        let sql = match self.backend() {
            Backend::Postgres => include_str!("claim.sql").replace("/*LOCK*/", "FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => include_str!("claim.sql").to_string(),
        };
        // A build whose worker was lost goes first (it started long ago), then the queue in priority order.
        let mut row = None;
        for which in [LAPSED, QUEUED] {
            let statement = Statement::from_sql_and_values(
                self.db_backend(),
                sql.replace("/*WHICH*/", which),
                [worker.into(), until.into(), now.into()],
            );
            row = txn.query_all_raw(statement).await.context(what)?.into_iter().next();
            if row.is_some() {
                break;
            }
        }
        let Some(row) = row else {
            txn.commit().await.context(what)?;
            return Ok(Claim::Nothing);
        };
        let claimed = ClaimedJob {
            job_id: row.try_get("", "id").context(what)?,
            build_id: row.try_get("", "build_id").context(what)?,
            attempt: row.try_get("", "attempts").context(what)?,
        };
        // SQLite's writers take turns (BEGIN IMMEDIATE), so the statement saw every running build already.
        if self.backend() == Backend::Postgres
            && !project::project_is_free(&txn, claimed.build_id).await.context(what)?
        {
            txn.rollback().await.context(what)?;
            return Ok(Claim::ProjectBusy);
        }
        build::Entity::update_many()
            .col_expr(build::Column::State, Expr::value(BuildState::Running.as_str()))
            .col_expr(build::Column::Worker, Expr::value(worker))
            .col_expr(
                build::Column::StartedAt,
                Func::coalesce([Expr::col(build::Column::StartedAt), Expr::value(now)]).into(),
            )
            .filter(build::Column::Id.eq(claimed.build_id))
            .exec(&txn)
            .await
            .context(what)?;
        txn.commit().await.context(what)?;
        tracing::debug!(
            job.id = claimed.job_id,
            build.id = claimed.build_id,
            attempt = claimed.attempt,
            worker,
            "claimed"
        );
        Ok(Claim::Taken(claimed))
    }

    /// Extends the lease if `worker` still holds the job. `false` means it does not (the lease lapsed and
    /// another worker took the build, or the job ended): the worker must stop working on it.
    pub async fn heartbeat(&self, job_id: i64, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = now();
        let until = lease_end(now, lease)?;
        let result = job::Entity::update_many()
            .col_expr(job::Column::LeaseUntil, Expr::value(until))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(job_id))
            .filter(job::Column::State.eq(JobState::Running.as_str()))
            .filter(job::Column::Worker.eq(worker))
            .exec(&self.db)
            .await
            .context(|| format!("renewing the lease of job {job_id} for worker {worker}"))?;
        Ok(result.rows_affected == 1)
    }

    /// How many jobs are queued and running.
    pub async fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        let rows: Vec<(String, i64)> = job::Entity::find()
            .select_only()
            .column(job::Column::State)
            .expr(Func::count(Expr::col(job::Column::Id)))
            .filter(job::Column::State.is_in([JobState::Queued.as_str(), JobState::Running.as_str()]))
            .group_by(job::Column::State)
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| "counting queued and running jobs".into())?;
        let mut counts = QueueCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            if state == JobState::Queued.as_str() {
                counts.queued = n;
            } else {
                counts.running = n;
            }
        }
        Ok(counts)
    }
}

pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>, StoreError> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| StoreError::Invalid { what: "lease", reason: format!("{lease:?} is too long") })
}
