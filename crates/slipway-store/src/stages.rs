//! Stages of a build (checkout, prebuild, lint, build, push, test, scan, deliver), one row per kind.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;

use crate::entities::stage;
use crate::error::{Context, StoreError, not_found, parse_state};
use crate::states::{StageKind, StageState};
use crate::{Store, now};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub id: i64,
    pub build_id: i64,
    pub kind: StageKind,
    pub state: StageState,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl TryFrom<stage::Model> for Stage {
    type Error = StoreError;

    fn try_from(m: stage::Model) -> Result<Self, StoreError> {
        Ok(Stage {
            kind: parse_state("stages", "kind", m.id, &m.kind)?,
            state: parse_state("stages", "state", m.id, &m.state)?,
            id: m.id,
            build_id: m.build_id,
            started_at: m.started_at,
            finished_at: m.finished_at,
            error: m.error,
        })
    }
}

impl Store {
    /// Marks the stage running, creating it or, when a retried build runs it again, restarting it in place
    /// (same id, so the earlier attempt's log stays and the new one continues after it).
    pub async fn start_stage(&self, build_id: i64, kind: StageKind) -> Result<Stage, StoreError> {
        let what = || format!("starting stage {kind} of build {build_id}");
        let now = now();
        let row = stage::ActiveModel {
            id: NotSet,
            build_id: Set(build_id),
            kind: Set(kind.as_str().to_string()),
            state: Set(StageState::Running.as_str().to_string()),
            started_at: Set(Some(now)),
            finished_at: Set(None),
            error: Set(None),
        };
        let restart = OnConflict::columns([stage::Column::BuildId, stage::Column::Kind])
            .update_columns([
                stage::Column::State,
                stage::Column::StartedAt,
                stage::Column::FinishedAt,
                stage::Column::Error,
            ])
            .to_owned();
        stage::Entity::insert(row).on_conflict(restart).exec_without_returning(&self.db).await.context(what)?;
        let stage = stage::Entity::find()
            .filter(stage::Column::BuildId.eq(build_id))
            .filter(stage::Column::Kind.eq(kind.as_str()))
            .one(&self.db)
            .await
            .context(what)?;
        stage.ok_or_else(|| not_found("stage", &format!("{kind} of build {build_id}")))?.try_into()
    }

    pub async fn finish_stage(&self, stage_id: i64, state: StageState, error: Option<&str>) -> Result<(), StoreError> {
        let result = stage::Entity::update_many()
            .col_expr(stage::Column::State, Expr::value(state.as_str()))
            .col_expr(stage::Column::Error, Expr::value(error))
            .col_expr(stage::Column::FinishedAt, Expr::value(now()))
            .filter(stage::Column::Id.eq(stage_id))
            .exec(&self.db)
            .await
            .context(|| format!("finishing stage {stage_id}"))?;
        if result.rows_affected == 0 {
            return Err(not_found("stage", &stage_id));
        }
        Ok(())
    }

    /// The stages a build has run, in pipeline order.
    pub async fn stages(&self, build_id: i64) -> Result<Vec<Stage>, StoreError> {
        let rows = stage::Entity::find()
            .filter(stage::Column::BuildId.eq(build_id))
            .all(&self.db)
            .await
            .context(|| format!("listing the stages of build {build_id}"))?;
        let mut stages = rows.into_iter().map(Stage::try_from).collect::<Result<Vec<_>, _>>()?;
        stages.sort_by_key(|s| s.kind);
        Ok(stages)
    }

    pub async fn stage(&self, id: i64) -> Result<Stage, StoreError> {
        let row = stage::Entity::find_by_id(id).one(&self.db).await.context(|| format!("reading stage {id}"))?;
        row.ok_or_else(|| not_found("stage", &id))?.try_into()
    }
}
