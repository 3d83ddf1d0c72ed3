//! When each project's schedule comes round next.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Set};

use crate::Store;
use crate::entities::schedule;
use crate::error::{Context, StoreError};

impl Store {
    /// Every project's next scheduled build, for the projects that have one recorded.
    pub async fn schedule_times(&self) -> Result<HashMap<i64, DateTime<Utc>>, StoreError> {
        let rows = schedule::Entity::find().all(&self.db).await.context(|| "reading the schedules".into())?;
        Ok(rows.into_iter().map(|row| (row.project_id, row.next_at)).collect())
    }

    /// Records when `project_id`'s schedule comes round next.
    pub async fn set_schedule_time(&self, project_id: i64, next_at: DateTime<Utc>) -> Result<(), StoreError> {
        let row = schedule::ActiveModel { project_id: Set(project_id), next_at: Set(next_at) };
        schedule::Entity::insert(row)
            .on_conflict(
                OnConflict::column(schedule::Column::ProjectId).update_column(schedule::Column::NextAt).to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .context(|| format!("recording the next scheduled build of project {project_id}"))?;
        Ok(())
    }
}
