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

impl Store {
    /// Records how the build of job `job_id` ended. Only the lease holder may: anyone else gets
    /// [`StoreError::LeaseLost`]. The job becomes `done` (`failed` when the build errored).
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
