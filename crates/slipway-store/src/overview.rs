//! Read models for pages, the API and metrics: a few set-based queries instead of one query per project.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::entities::{build, image, promotion, stage};
use crate::error::{Context, StoreError, not_found, parse_state};
use crate::images::PROMOTION_SUCCEEDED;
use crate::states::{BuildState, QaState, StageKind, StageState};
use crate::{Build, Store};

/// The newest image of a project in one QA state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierImage {
    pub project_id: i64,
    pub build_id: i64,
    pub qa_state: QaState,
    pub digest: String,
    pub updated_at: DateTime<Utc>,
}

/// The stage a build reached: the last one it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageReached {
    pub kind: StageKind,
    pub state: StageState,
}

/// Builds per state, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildCounts {
    pub by_state: Vec<(BuildState, u64)>,
}

impl Store {
    /// For each build in `build_ids`, the last stage it started.
    pub async fn stages_reached(&self, build_ids: &[i64]) -> Result<HashMap<i64, StageReached>, StoreError> {
        let what = || format!("finding the stage {} build(s) reached", build_ids.len());
        let mut reached = HashMap::with_capacity(build_ids.len());
        // Bounded IN lists: SQLite allows 32,766 variables, PostgreSQL 65,535.
        for ids in build_ids.chunks(5_000) {
            let last = Query::select()
                .expr(Func::max(Expr::col(stage::Column::Id)))
                .from(stage::Entity)
                .and_where(Expr::col(stage::Column::BuildId).is_in(ids.iter().copied()))
                .group_by_col(stage::Column::BuildId)
                .to_owned();
            let rows =
                stage::Entity::find().filter(stage::Column::Id.in_subquery(last)).all(&self.db).await.context(what)?;
            for row in rows {
                let kind = parse_state("stages", "kind", row.id, &row.kind)?;
                let state = parse_state("stages", "state", row.id, &row.state)?;
                reached.insert(row.build_id, StageReached { kind, state });
            }
        }
        Ok(reached)
    }

    /// Every project's newest image in each of `states`; for `released`, its stable image (the release head's,
    /// which a rollback moves back).
    pub async fn tier_images(&self, states: &[QaState]) -> Result<Vec<TierImage>, StoreError> {
        let words: Vec<&str> = states.iter().filter(|s| **s != QaState::Released).map(|s| s.as_str()).collect();
        let newest = Query::select()
            .expr(Func::max(Expr::col(image::Column::Id)))
            .from(image::Entity)
            .and_where(Expr::col(image::Column::QaState).is_in(words.iter().copied()))
            .group_by_col(image::Column::ProjectId)
            .group_by_col(image::Column::QaState)
            .to_owned();
        let rows = image::Entity::find()
            .filter(image::Column::Id.in_subquery(newest))
            .all(&self.db)
            .await
            .context(|| format!("finding the newest {} image of every project", words.join("/")))?;
        let mut tiers = rows
            .into_iter()
            .map(|row| {
                Ok(TierImage {
                    project_id: row.project_id,
                    build_id: row.build_id,
                    qa_state: parse_state("images", "qa_state", row.id, &row.qa_state)?,
                    digest: row.digest,
                    updated_at: row.updated_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if states.contains(&QaState::Released) {
            tiers.extend(self.stable_images(None).await?.into_iter().map(|image| TierImage {
                project_id: image.project_id,
                build_id: image.build_id,
                qa_state: image.qa_state,
                digest: image.digest,
                updated_at: image.updated_at,
            }));
        }
        Ok(tiers)
    }

    /// Build `number` of a project.
    pub async fn build_by_number(&self, project_id: i64, number: i64) -> Result<Build, StoreError> {
        let row = build::Entity::find()
            .filter(build::Column::ProjectId.eq(project_id))
            .filter(build::Column::Number.eq(number))
            .one(&self.db)
            .await
            .context(|| format!("reading build #{number} of project {project_id}"))?;
        row.ok_or_else(|| not_found("build", &format!("#{number} of project {project_id}")))?.try_into()
    }

    /// How many builds are in each state.
    pub async fn build_counts(&self) -> Result<BuildCounts, StoreError> {
        let rows: Vec<(String, i64)> = build::Entity::find()
            .select_only()
            .column(build::Column::State)
            .expr(Func::count(Expr::col(build::Column::Id)))
            .group_by(build::Column::State)
            .order_by_asc(build::Column::State)
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| "counting builds by state".into())?;
        let mut counts = BuildCounts::default();
        for (state, n) in rows {
            let state = parse_state("builds", "state", 0, &state)?;
            counts.by_state.push((state, u64::try_from(n).unwrap_or(0)));
        }
        Ok(counts)
    }

    /// The newest `limit` builds that started, newest first (queue wait: `started_at - created_at`).
    pub async fn recently_started(&self, limit: u64) -> Result<Vec<Build>, StoreError> {
        let rows = build::Entity::find()
            .filter(build::Column::StartedAt.is_not_null())
            .order_by_desc(build::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| "listing recently started builds".into())?;
        rows.into_iter().map(Build::try_from).collect()
    }

    /// When the oldest build still waiting in the queue was queued.
    pub async fn oldest_queued(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = build::Entity::find()
            .filter(build::Column::State.eq(BuildState::Queued.as_str()))
            .order_by_asc(build::Column::Id)
            .one(&self.db)
            .await
            .context(|| "finding the oldest queued build".into())?;
        Ok(row.map(|b| b.created_at))
    }
}

impl Store {
    /// Seconds from a build being queued (its commit seen) to its release tags written, for the newest `limit`
    /// releases.
    pub async fn release_latencies(&self, limit: u64) -> Result<Vec<f64>, StoreError> {
        let what = || "measuring release latencies".to_string();
        let releases = promotion::Entity::find()
            .filter(promotion::Column::ToTier.eq("release"))
            .filter(promotion::Column::State.eq(PROMOTION_SUCCEEDED))
            .order_by_desc(promotion::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(what)?;
        let ids: Vec<i64> = releases.iter().map(|p| p.build_id).collect();
        let queued: HashMap<i64, DateTime<Utc>> = build::Entity::find()
            .filter(build::Column::Id.is_in(ids))
            .all(&self.db)
            .await
            .context(what)?
            .into_iter()
            .map(|b| (b.id, b.created_at))
            .collect();
        Ok(releases
            .iter()
            .filter_map(|p| queued.get(&p.build_id).map(|at| (p.at - *at).num_milliseconds() as f64 / 1000.0))
            .collect())
    }
}

impl Store {
    /// The kind and duration (ms) of the newest `limit` finished stages.
    pub async fn recent_stage_durations(&self, limit: u64) -> Result<Vec<(StageKind, i64)>, StoreError> {
        let rows = stage::Entity::find()
            .filter(stage::Column::FinishedAt.is_not_null())
            .filter(stage::Column::StartedAt.is_not_null())
            .order_by_desc(stage::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| "reading recent stage durations".into())?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = parse_state("stages", "kind", row.id, &row.kind)?;
            if let (Some(start), Some(end)) = (row.started_at, row.finished_at) {
                out.push((kind, (end - start).num_milliseconds()));
            }
        }
        Ok(out)
    }
}
