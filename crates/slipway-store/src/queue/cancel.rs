//! A person stops a build: a queued one never runs, a running one is stopped by its worker at the next
//! heartbeat (the job is no longer its to hold, so it drops the build and its containers are removed).

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::builds::project_image;
use crate::entities::{build, job, stage};
use crate::error::{Context, StoreError, not_found};
use crate::queue::skip::{skip_dependents, skip_reason};
use crate::states::{BuildState, JobState, StageState};
use crate::{Store, now};

impl Store {
    /// Cancels build `build_id` for `by` (a token name, say). Its running stages end errored, and the builds
    /// waiting on it are skipped. `false` when it had already finished (nothing changes).
    pub async fn cancel_build(&self, build_id: i64, by: &str) -> Result<bool, StoreError> {
        let what = || format!("canceling build {build_id}");
        let now = now();
        let txn = self.write_txn().await.context(what)?;
        let found = build::Entity::find_by_id(build_id).lock_exclusive().one(&txn).await.context(what)?;
        let found = found.ok_or_else(|| not_found("build", &build_id))?;
        let state: BuildState = crate::error::parse_state("builds", "state", found.id, &found.state)?;
        if state.is_finished() {
            return Ok(false);
        }
        let reason = format!("canceled by {by}");
        job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(JobState::Done.as_str()))
            .col_expr(job::Column::LastError, Expr::value(reason.clone()))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::BuildId.eq(build_id))
            .filter(job::Column::State.is_in([JobState::Queued.as_str(), JobState::Running.as_str()]))
            .exec(&txn)
            .await
            .context(what)?;
        stage::Entity::update_many()
            .col_expr(stage::Column::State, Expr::value(StageState::Errored.as_str()))
            .col_expr(stage::Column::Error, Expr::value(reason.clone()))
            .col_expr(stage::Column::FinishedAt, Expr::value(now))
            .filter(stage::Column::BuildId.eq(build_id))
            .filter(stage::Column::State.is_in([StageState::Running.as_str(), StageState::Pending.as_str()]))
            .exec(&txn)
            .await
            .context(what)?;
        build::Entity::update_many()
            .col_expr(build::Column::State, Expr::value(BuildState::Canceled.as_str()))
            .col_expr(build::Column::Error, Expr::value(reason))
            .col_expr(build::Column::FinishedAt, Expr::value(now))
            .filter(build::Column::Id.eq(build_id))
            .exec(&txn)
            .await
            .context(what)?;
        let image = project_image(&txn, found.project_id).await?;
        skip_dependents(&txn, build_id, skip_reason(&image, found.number, BuildState::Canceled), now).await?;
        txn.commit().await.context(what)?;
        Ok(true)
    }
}
