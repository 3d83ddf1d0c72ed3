//! Jobs whose lease lapsed as many times as they may be attempted: the worker was lost each time, so the build
//! errors instead of being claimed again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::builds::project_image;
use crate::entities::{build, job, stage};
use crate::error::{Context, StoreError, not_found};
use crate::queue::skip::{skip_dependents, skip_reason};
use crate::states::{BuildState, JobState, StageState};

/// Fails every such job, errors its build (naming the stage that was running) and skips the builds waiting on
/// it, inside the claimer's transaction.
pub(super) async fn fail_lapsed_jobs(txn: &DatabaseTransaction, now: DateTime<Utc>) -> Result<(), StoreError> {
    let what = || "failing jobs whose lease lapsed too often".to_string();
    let lapsed = job::Entity::find()
        .filter(job::Column::State.eq(JobState::Running.as_str()))
        .filter(job::Column::LeaseUntil.lt(now))
        .filter(Expr::col(job::Column::Attempts).gte(Expr::col(job::Column::MaxAttempts)))
        .all(txn)
        .await
        .context(what)?;
    for lapsed_job in lapsed {
        let n = lapsed_job.attempts;
        let error = format!("worker lost: the build's lease lapsed {n} time{}", if n == 1 { "" } else { "s" });
        // Re-checked here: on PostgreSQL another claimer may have failed it first.
        let updated = job::Entity::update_many()
            .col_expr(job::Column::State, Expr::value(JobState::Failed.as_str()))
            .col_expr(job::Column::LastError, Expr::value(error.clone()))
            .col_expr(job::Column::UpdatedAt, Expr::value(now))
            .filter(job::Column::Id.eq(lapsed_job.id))
            .filter(job::Column::State.eq(JobState::Running.as_str()))
            .filter(job::Column::LeaseUntil.lt(now))
            .exec(txn)
            .await
            .context(what)?;
        if updated.rows_affected == 0 {
            continue;
        }
        let build_id = lapsed_job.build_id;
        let running = stage::Entity::find()
            .filter(stage::Column::BuildId.eq(build_id))
            .filter(stage::Column::State.eq(StageState::Running.as_str()))
            .order_by_desc(stage::Column::StartedAt)
            .order_by_desc(stage::Column::Id)
            .one(txn)
            .await
            .context(what)?;
        stage::Entity::update_many()
            .col_expr(stage::Column::State, Expr::value(StageState::Errored.as_str()))
            .col_expr(stage::Column::Error, Expr::value(error.clone()))
            .col_expr(stage::Column::FinishedAt, Expr::value(now))
            .filter(stage::Column::BuildId.eq(build_id))
            .filter(stage::Column::State.eq(StageState::Running.as_str()))
            .exec(txn)
            .await
            .context(what)?;
        build::Entity::update_many()
            .col_expr(build::Column::State, Expr::value(BuildState::Errored.as_str()))
            .col_expr(build::Column::FailedStage, Expr::value(running.map(|s| s.kind)))
            .col_expr(build::Column::Error, Expr::value(error))
            .col_expr(build::Column::FinishedAt, Expr::value(now))
            .filter(build::Column::Id.eq(build_id))
            .exec(txn)
            .await
            .context(what)?;
        let build = build::Entity::find_by_id(build_id).one(txn).await.context(what)?;
        let build = build.ok_or_else(|| not_found("build", &build_id))?;
        let image = project_image(txn, build.project_id).await?;
        let skipped =
            skip_dependents(txn, build_id, skip_reason(&image, build.number, BuildState::Errored), now).await?;
        tracing::warn!(
            job.id = lapsed_job.id,
            build.id = build_id,
            attempts = n,
            skipped = skipped.len(),
            "worker lost"
        );
    }
    Ok(())
}
