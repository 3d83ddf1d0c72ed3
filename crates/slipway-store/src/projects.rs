//! Projects: one per index entry, keyed by its image ("app-id/job-id:desired-tag").

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::Serialize;

use crate::entities::{project, project_parent};
use crate::error::{Context, StoreError, not_found, parse_list};
use crate::{Store, now};

/// A project as the index gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewProject {
    /// "app-id/job-id:desired-tag", the key.
    pub image: String,
    pub app_id: String,
    pub job_id: String,
    pub desired_tag: String,
    pub git_url: String,
    pub git_branch: String,
    pub git_path: String,
    pub target_file: String,
    pub build_context: String,
    /// Parents, each "app/job:tag".
    pub depends_on: Vec<String>,
    pub notify_email: Option<String>,
    /// The whole index entry as given.
    pub entry: serde_json::Value,
    pub index_file: String,
    pub index_line: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub id: i64,
    pub image: String,
    pub app_id: String,
    pub job_id: String,
    pub desired_tag: String,
    pub git_url: String,
    pub git_branch: String,
    pub git_path: String,
    pub target_file: String,
    pub build_context: String,
    pub depends_on: Vec<String>,
    pub notify_email: Option<String>,
    pub entry: serde_json::Value,
    pub index_file: String,
    pub index_line: i32,
    /// False once the project left the index; its builds stay.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<project::Model> for Project {
    type Error = StoreError;

    fn try_from(m: project::Model) -> Result<Self, StoreError> {
        Ok(Project {
            depends_on: parse_list("projects", "depends_on", m.id, m.depends_on)?,
            id: m.id,
            image: m.image,
            app_id: m.app_id,
            job_id: m.job_id,
            desired_tag: m.desired_tag,
            git_url: m.git_url,
            git_branch: m.git_branch,
            git_path: m.git_path,
            target_file: m.target_file,
            build_context: m.build_context,
            notify_email: m.notify_email,
            entry: m.entry,
            index_file: m.index_file,
            index_line: m.index_line,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl Store {
    /// Records `p`, or updates the project with its image, and marks it active.
    pub async fn upsert_project(&self, p: &NewProject) -> Result<Project, StoreError> {
        let now = now();
        let row = project::ActiveModel {
            id: NotSet,
            image: Set(p.image.clone()),
            app_id: Set(p.app_id.clone()),
            job_id: Set(p.job_id.clone()),
            desired_tag: Set(p.desired_tag.clone()),
            git_url: Set(p.git_url.clone()),
            git_branch: Set(p.git_branch.clone()),
            git_path: Set(p.git_path.clone()),
            target_file: Set(p.target_file.clone()),
            build_context: Set(p.build_context.clone()),
            depends_on: Set(serde_json::Value::from(p.depends_on.clone())),
            notify_email: Set(p.notify_email.clone()),
            entry: Set(p.entry.clone()),
            index_file: Set(p.index_file.clone()),
            index_line: Set(p.index_line),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        };
        use project::Column as C;
        let on_conflict = OnConflict::column(C::Image)
            .update_columns([
                C::AppId,
                C::JobId,
                C::DesiredTag,
                C::GitUrl,
                C::GitBranch,
                C::GitPath,
                C::TargetFile,
                C::BuildContext,
                C::DependsOn,
                C::NotifyEmail,
                C::Entry,
                C::IndexFile,
                C::IndexLine,
                C::Active,
                C::UpdatedAt,
            ])
            .to_owned();
        let what = || format!("recording project {}", p.image);
        let txn = self.write_txn().await.context(what)?;
        project::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(&txn).await.context(what)?;
        let stored = project::Entity::find()
            .filter(project::Column::Image.eq(&p.image))
            .one(&txn)
            .await
            .context(what)?
            .ok_or_else(|| not_found("project", &p.image))?;
        project_parent::Entity::delete_many()
            .filter(project_parent::Column::ProjectId.eq(stored.id))
            .exec(&txn)
            .await
            .context(what)?;
        let parents: BTreeSet<&String> = p.depends_on.iter().collect();
        if !parents.is_empty() {
            let rows = parents.into_iter().map(|parent| project_parent::ActiveModel {
                project_id: Set(stored.id),
                parent_image: Set(parent.clone()),
            });
            project_parent::Entity::insert_many(rows).exec_without_returning(&txn).await.context(what)?;
        }
        txn.commit().await.context(what)?;
        stored.try_into()
    }

    pub async fn project(&self, id: i64) -> Result<Project, StoreError> {
        let row = project::Entity::find_by_id(id).one(&self.db).await.context(|| format!("reading project {id}"))?;
        row.ok_or_else(|| not_found("project", &id))?.try_into()
    }

    pub async fn project_by_image(&self, image: &str) -> Result<Option<Project>, StoreError> {
        let row = project::Entity::find()
            .filter(project::Column::Image.eq(image))
            .one(&self.db)
            .await
            .context(|| format!("reading project {image}"))?;
        row.map(Project::try_from).transpose()
    }

    /// The active projects whose `depends-on` names `image`, by image.
    pub async fn children_of(&self, image: &str) -> Result<Vec<String>, StoreError> {
        let children = Query::select()
            .column(project_parent::Column::ProjectId)
            .from(project_parent::Entity)
            .and_where(Expr::col(project_parent::Column::ParentImage).eq(image))
            .to_owned();
        project::Entity::find()
            .select_only()
            .column(project::Column::Image)
            .filter(project::Column::Id.in_subquery(children))
            .filter(project::Column::Active.eq(true))
            .order_by_asc(project::Column::Image)
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| format!("finding the children of {image}"))
    }

    /// Marks the project as gone from the index: it is no longer built, shown on the dashboard or rebuilt by
    /// any trigger; its builds, logs and tags stay. `false` when it was inactive already.
    pub async fn deactivate_project(&self, id: i64) -> Result<bool, StoreError> {
        let done = project::Entity::update_many()
            .col_expr(project::Column::Active, Expr::value(false))
            .col_expr(project::Column::UpdatedAt, Expr::value(now()))
            .filter(project::Column::Id.eq(id))
            .filter(project::Column::Active.eq(true))
            .exec(&self.db)
            .await
            .context(|| format!("deactivating project {id}"))?;
        Ok(done.rows_affected > 0)
    }

    /// Every project, active or not, ordered by image.
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows = project::Entity::find()
            .order_by_asc(project::Column::Image)
            .all(&self.db)
            .await
            .context(|| "listing projects".into())?;
        rows.into_iter().map(Project::try_from).collect()
    }
}
