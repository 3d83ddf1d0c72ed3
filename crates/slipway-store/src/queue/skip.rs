//! Children never wait for a parent that will not succeed: when a build ends any other way, every queued build
//! that waits on it, directly or through other waiting builds, is skipped with the reason.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use crate::entities::{build, build_parent, job, project};
use crate::error::{Context, StoreError};
use crate::states::{BuildState, JobState};

/// "parent app/job:tag build #N failed" (or errored, was skipped, was canceled).
pub(crate) fn skip_reason(parent_image: &str, parent_number: i64, parent_state: BuildState) -> String {
    let what = match parent_state {
        BuildState::Failed => "failed",
        BuildState::Errored => "errored",
        BuildState::Skipped => "was skipped",
        BuildState::Canceled => "was canceled",
        BuildState::Queued => "is still queued",
        BuildState::Running => "is still running",
        BuildState::Succeeded => "succeeded",
    };
    format!("parent {parent_image} build #{parent_number} {what}")
}

/// Skips the queued descendants of build `root`, which ended without success; `root_reason` is what its
/// direct children are told. Returns the skipped build ids. Runs inside the caller's transaction.
pub(crate) async fn skip_dependents(
    txn: &DatabaseTransaction,
    root: i64,
    root_reason: String,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, StoreError> {
    let what = || format!("skipping the builds waiting on build {root}");
    let mut frontier: HashMap<i64, String> = HashMap::from([(root, root_reason)]);
    let mut skipped = Vec::new();
    while !frontier.is_empty() {
        let edges = build_parent::Entity::find()
            .filter(build_parent::Column::ParentBuildId.is_in(frontier.keys().copied()))
            .order_by_asc(build_parent::Column::BuildId)
            .order_by_asc(build_parent::Column::ParentBuildId)
            .all(txn)
            .await
            .context(what)?;
        // Each child is told about the first (lowest id) parent through which it was reached.
        let mut reasons: BTreeMap<i64, String> = BTreeMap::new();
        for edge in edges {
            if let Some(reason) = frontier.get(&edge.parent_build_id) {
                reasons.entry(edge.build_id).or_insert_with(|| reason.clone());
            }
        }
        let children = build::Entity::find()
            .filter(build::Column::Id.is_in(reasons.keys().copied()))
            .filter(build::Column::State.eq(BuildState::Queued.as_str()))
            .order_by_asc(build::Column::Id)
            .all(txn)
            .await
            .context(what)?;
        let project_ids: Vec<i64> = children.iter().map(|c| c.project_id).collect();
        let images: HashMap<i64, String> = project::Entity::find()
            .filter(project::Column::Id.is_in(project_ids))
            .all(txn)
            .await
            .context(what)?
            .into_iter()
            .map(|p| (p.id, p.image))
            .collect();
        let mut next = HashMap::new();
        for child in children {
            let Some(reason) = reasons.remove(&child.id) else { continue };
            let updated = build::Entity::update_many()
                .col_expr(build::Column::State, Expr::value(BuildState::Skipped.as_str()))
                .col_expr(build::Column::Error, Expr::value(reason))
                .col_expr(build::Column::FinishedAt, Expr::value(now))
                .filter(build::Column::Id.eq(child.id))
                .filter(build::Column::State.eq(BuildState::Queued.as_str()))
                .exec(txn)
                .await
                .context(what)?;
            if updated.rows_affected == 0 {
                continue;
            }
            job::Entity::update_many()
                .col_expr(job::Column::State, Expr::value(JobState::Done.as_str()))
                .col_expr(job::Column::UpdatedAt, Expr::value(now))
                .filter(job::Column::BuildId.eq(child.id))
                .filter(job::Column::State.eq(JobState::Queued.as_str()))
                .exec(txn)
                .await
                .context(what)?;
            let image = images.get(&child.project_id).map_or("?", String::as_str);
            next.insert(child.id, skip_reason(image, child.number, BuildState::Skipped));
            skipped.push(child.id);
        }
        frontier = next;
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_parent_and_what_became_of_it() {
        let cases = [
            (BuildState::Failed, "parent app/job:tag build #3 failed"),
            (BuildState::Errored, "parent app/job:tag build #3 errored"),
            (BuildState::Skipped, "parent app/job:tag build #3 was skipped"),
            (BuildState::Canceled, "parent app/job:tag build #3 was canceled"),
        ];
        for (state, want) in cases {
            assert_eq!(skip_reason("app/job:tag", 3, state), want);
        }
    }
}
