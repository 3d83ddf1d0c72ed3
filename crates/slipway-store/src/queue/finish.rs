//! The end of a build: its worker records the outcome, and builds waiting on a build that did not succeed are
//! skipped in the same transaction.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::builds::project_image;
use crate::entities::{build, job};
use crate::error::{Context, StoreError, not_found};
use crate::queue::BuildOutcome;
use crate::queue::skip::{skip_dependents, skip_reason};
use crate::states::{BuildState, JobState};
use crate::{Store, now};

/// How long an errored build waits before its first retry (then twice that, …).
pub const RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    /// Records how the build of job `job_id` ended. Only the lease holder may: anyone else gets
    /// [`StoreError::LeaseLost`]. The job becomes `done` (`failed` when the build errored). A build that errored
    /// with attempts left is queued again instead, claimable after [`RETRY_DELAY`] times its attempts so far,
    /// its error saying so.
    pub async fn finish_build(&self, job_id: i64, worker: &str, outcome: &BuildOutcome) -> Result<(), StoreError> {
        if !outcome.state.is_finished() {
            return Err(StoreError::Invalid {
                what: "build outcome",
                reason: format!("`{}` is not an end state", outcome.state),
            });
        }
        let what = || format!("finishing job {job_id} for worker {worker}");
        let now = now();
        let txn = self.write_txn().await.context(what)?;
        let held = job::Entity::find_by_id(job_id).lock_exclusive().one(&txn).await.context(what)?;
        let held = held.ok_or_else(|| not_found("job", &job_id))?;
        if held.state != JobState::Running.as_str() || held.worker.as_deref() != Some(worker) {
            return Err(StoreError::LeaseLost {
                job_id,
                worker: worker.to_string(),
                state: held.state,
                holder: held.worker.unwrap_or_else(|| "nobody".into()),
            });
        }
        if outcome.state == BuildState::Errored && held.attempts < held.max_attempts {
            queue_retry(&txn, &held, outcome, now).await.context(what)?;
            txn.commit().await.context(what)?;
            return Ok(());
        }
        let job_state = if outcome.state == BuildState::Errored { JobState::Failed } else { JobState::Done };
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(job_state.as_str()))
            .col_expr(job::Column::LastError, Expr::value(outcome.error.clone()))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(job_id))
            .exec(&txn)
            .await
            .context(what)?;
        build::Entity::update_many()
            .col_expr(build::Column::State, Expr::value(outcome.state.as_str()))
            .col_expr(build::Column::FailedStage, Expr::value(outcome.failed_stage.map(|s| s.as_str())))
            .col_expr(build::Column::Error, Expr::value(outcome.error.clone()))
            .col_expr(build::Column::FinishedAt, Expr::value(now))
            .filter(build::Column::Id.eq(held.build_id))
            .exec(&txn)
            .await
            .context(what)?;
        if outcome.state != BuildState::Succeeded {
            let build = build::Entity::find_by_id(held.build_id).one(&txn).await.context(what)?;
            let build = build.ok_or_else(|| not_found("build", &held.build_id))?;
            let image = project_image(&txn, build.project_id).await?;
            let reason = skip_reason(&image, build.number, outcome.state);
            skip_dependents(&txn, build.id, reason, now).await?;
        }
        txn.commit().await.context(what)?;
        Ok(())
    }
}

/// Docker, the registry or git failed, not the project: the build is queued again, claimable after
/// [`RETRY_DELAY`] times the attempts so far, its error saying so.
async fn queue_retry(
    txn: &sea_orm::DatabaseTransaction,
    held: &job::Model,
    outcome: &BuildOutcome,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), sea_orm::DbErr> {
    let delay = RETRY_DELAY * u32::try_from(held.attempts).unwrap_or(1).max(1);
    let retry_at = now + chrono::TimeDelta::from_std(delay).unwrap_or_default();
    let error = outcome.error.as_deref().unwrap_or_default();
    let (attempt, of, seconds) = (held.attempts, held.max_attempts, delay.as_secs());
    let note = format!("attempt {attempt} of {of} errored ({error}); retried after {seconds} s");
    job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Queued.as_str()))
        .col_expr(job::Column::Worker, Expr::value(Option::<String>::None))
        .col_expr(job::Column::LeaseUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(job::Column::NotBefore, Expr::value(retry_at))
        .col_expr(job::Column::LastError, Expr::value(note.clone()))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(held.id))
        .exec(txn)
        .await?;
    build::Entity::update_many()
        .col_expr(build::Column::State, Expr::value(BuildState::Queued.as_str()))
        .col_expr(build::Column::Error, Expr::value(note))
        .filter(build::Column::Id.eq(held.build_id))
        .exec(txn)
        .await?;
    Ok(())
}
