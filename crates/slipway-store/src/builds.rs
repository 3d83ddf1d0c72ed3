//! Builds: one trigger of one project, numbered 1, 2, 3… per project. Creating a build queues its job in the
//! same transaction.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::entities::{build, build_parent, job, project};
use crate::error::{Context, StoreError, not_found, parse_list, parse_state};
use crate::queue::skip::skip_reason;
use crate::states::{BuildState, JobState, StageKind};
use crate::{Project, Store, now};

/// A build to queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewBuild {
    pub project_id: i64,
    /// Why it was triggered, e.g. `["manual run"]`.
    pub causes: Vec<String>,
    /// Builds that must succeed before this one may be claimed.
    pub parents: Vec<i64>,
    /// Higher runs first.
    pub priority: i32,
    /// How many times a worker may take the build before a lapsed lease fails it.
    pub max_attempts: i32,
    /// `REGISTRY/name@sha256:…`: an image built elsewhere to test and deliver instead of building one.
    pub source_image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Build {
    pub id: i64,
    pub project_id: i64,
    /// 1, 2, 3… within the project.
    pub number: i64,
    pub causes: Vec<String>,
    pub state: BuildState,
    pub commit: Option<String>,
    pub commit_subject: Option<String>,
    pub semver_tag: Option<String>,
    pub failed_stage: Option<StageKind>,
    /// Why the build did not succeed, in words a maintainer understands.
    pub error: Option<String>,
    /// The digest pushed as `:test`.
    pub digest: Option<String>,
    pub worker: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The image built elsewhere that this build tests and delivers (no checkout build, no push).
    pub source_image: Option<String>,
}

impl TryFrom<build::Model> for Build {
    type Error = StoreError;

    fn try_from(m: build::Model) -> Result<Self, StoreError> {
        let failed_stage =
            m.failed_stage.as_deref().map(|s| parse_state("builds", "failed_stage", m.id, s)).transpose()?;
        Ok(Build {
            causes: parse_list("builds", "causes", m.id, m.causes)?,
            state: parse_state("builds", "state", m.id, &m.state)?,
            failed_stage,
            id: m.id,
            project_id: m.project_id,
            number: m.number,
            commit: m.commit,
            commit_subject: m.commit_subject,
            semver_tag: m.semver_tag,
            error: m.error,
            digest: m.digest,
            worker: m.worker,
            created_at: m.created_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
            source_image: m.source_image,
        })
    }
}

impl Store {
    /// Records a build with the next number of its project and queues its job. A parent that already ended
    /// without success makes the build `skipped` at once, so it never waits for nothing.
    pub async fn create_build(&self, b: &NewBuild) -> Result<Build, StoreError> {
        let what = || format!("queuing a build of project {}", b.project_id);
        let txn = self.write_txn().await.context(what)?;
        let row = insert_build(&txn, b).await?;
        txn.commit().await.context(what)?;
        row.try_into()
    }

    pub async fn build(&self, id: i64) -> Result<Build, StoreError> {
        let row = build::Entity::find_by_id(id).one(&self.db).await.context(|| format!("reading build {id}"))?;
        row.ok_or_else(|| not_found("build", &id))?.try_into()
    }

    /// The newest `limit` builds of a project, newest first.
    pub async fn builds_of(&self, project_id: i64, limit: u64) -> Result<Vec<Build>, StoreError> {
        let rows = build::Entity::find()
            .filter(build::Column::ProjectId.eq(project_id))
            .order_by_desc(build::Column::Number)
            .limit(limit.min(i64::MAX as u64))
            .all(&self.db)
            .await
            .context(|| format!("listing the builds of project {project_id}"))?;
        rows.into_iter().map(Build::try_from).collect()
    }

    /// Every active project, ordered by image, with its newest build if it has one.
    pub async fn last_builds(&self) -> Result<Vec<(Project, Option<Build>)>, StoreError> {
        let what = || "listing the last build of every project".to_string();
        let projects = project::Entity::find()
            .filter(project::Column::Active.eq(true))
            .order_by_asc(project::Column::Image)
            .all(&self.db)
            .await
            .context(what)?;
        let newest = Query::select()
            .expr(Func::max(Expr::col(build::Column::Id)))
            .from(build::Entity)
            .group_by_col(build::Column::ProjectId)
            .to_owned();
        let builds =
            build::Entity::find().filter(build::Column::Id.in_subquery(newest)).all(&self.db).await.context(what)?;
        let mut by_project: HashMap<i64, build::Model> = builds.into_iter().map(|b| (b.project_id, b)).collect();
        projects
            .into_iter()
            .map(|p| {
                let build = by_project.remove(&p.id).map(Build::try_from).transpose()?;
                Ok((Project::try_from(p)?, build))
            })
            .collect()
    }

    /// Records which worker runs the build; `started_at` keeps the first start.
    pub async fn set_build_started(&self, id: i64, worker: &str) -> Result<(), StoreError> {
        let started = Func::coalesce([Expr::col(build::Column::StartedAt), Expr::value(now())]);
        self.update_build(id, "recording the start of", |u| {
            u.col_expr(build::Column::Worker, Expr::value(worker)).col_expr(build::Column::StartedAt, started.into())
        })
        .await
    }

    /// Records the commit the build checked out, its subject line and the semver tag on it, if any.
    pub async fn set_build_commit(
        &self,
        id: i64,
        commit: &str,
        subject: &str,
        semver_tag: Option<&str>,
    ) -> Result<(), StoreError> {
        self.update_build(id, "recording the commit of", |u| {
            u.col_expr(build::Column::Commit, Expr::value(commit))
                .col_expr(build::Column::CommitSubject, Expr::value(subject))
                .col_expr(build::Column::SemverTag, Expr::value(semver_tag))
        })
        .await
    }

    /// Records the digest pushed as `:test`.
    pub async fn set_build_digest(&self, id: i64, digest: &str) -> Result<(), StoreError> {
        self.update_build(id, "recording the digest of", |u| u.col_expr(build::Column::Digest, Expr::value(digest)))
            .await
    }

    async fn update_build(
        &self,
        id: i64,
        doing: &str,
        set: impl FnOnce(sea_orm::UpdateMany<build::Entity>) -> sea_orm::UpdateMany<build::Entity>,
    ) -> Result<(), StoreError> {
        let update = set(build::Entity::update_many()).filter(build::Column::Id.eq(id));
        let result = update.exec(&self.db).await.context(|| format!("{doing} build {id}"))?;
        if result.rows_affected == 0 {
            return Err(not_found("build", &id));
        }
        Ok(())
    }
}

/// The image key of a project, for messages about its builds.
pub(crate) async fn project_image(db: &impl ConnectionTrait, project_id: i64) -> Result<String, StoreError> {
    let image: Option<String> = project::Entity::find_by_id(project_id)
        .select_only()
        .column(project::Column::Image)
        .into_tuple()
        .one(db)
        .await
        .context(|| format!("reading project {project_id}"))?;
    image.ok_or_else(|| not_found("project", &project_id))
}

/// Inserts a build with the next number of its project, its parent edges and its job, in the caller's
/// transaction (which takes the write lock first on SQLite).
pub(crate) async fn insert_build(txn: &DatabaseTransaction, b: &NewBuild) -> Result<build::Model, StoreError> {
    if b.max_attempts < 1 {
        return Err(StoreError::Invalid { what: "max_attempts", reason: format!("{} is below 1", b.max_attempts) });
    }
    let what = || format!("queuing a build of project {}", b.project_id);
    // Locking the project serialises numbering on PostgreSQL (SQLite's write lock already does).
    let project = project::Entity::find_by_id(b.project_id).lock_exclusive().one(txn).await.context(what)?;
    let project = project.ok_or_else(|| not_found("project", &b.project_id))?;
    let last: Option<Option<i64>> = build::Entity::find()
        .select_only()
        .expr(Func::max(Expr::col(build::Column::Number)))
        .filter(build::Column::ProjectId.eq(project.id))
        .into_tuple()
        .one(txn)
        .await
        .context(what)?;
    let number = last.flatten().unwrap_or(0) + 1;

    let parent_ids: BTreeSet<i64> = b.parents.iter().copied().collect();
    let parents = build::Entity::find()
        .filter(build::Column::Id.is_in(parent_ids.iter().copied()))
        .order_by_asc(build::Column::Id)
        .all(txn)
        .await
        .context(what)?;
    if let Some(missing) = parent_ids.iter().find(|id| !parents.iter().any(|p| p.id == **id)) {
        return Err(not_found("parent build", &missing));
    }
    let mut blocked_by = None;
    for parent in &parents {
        let state: BuildState = parse_state("builds", "state", parent.id, &parent.state)?;
        if state.is_finished() && state != BuildState::Succeeded {
            let image = project_image(txn, parent.project_id).await?;
            blocked_by = Some(skip_reason(&image, parent.number, state));
            break;
        }
    }

    let now = now();
    let state = if blocked_by.is_some() { BuildState::Skipped } else { BuildState::Queued };
    let row = build::ActiveModel {
        id: NotSet,
        project_id: Set(project.id),
        number: Set(number),
        causes: Set(serde_json::Value::from(b.causes.clone())),
        state: Set(state.as_str().to_string()),
        commit: Set(None),
        commit_subject: Set(None),
        semver_tag: Set(None),
        failed_stage: Set(None),
        error: Set(blocked_by.clone()),
        digest: Set(None),
        worker: Set(None),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(blocked_by.as_ref().map(|_| now)),
        notified_at: Set(None),
        announced_at: Set(None),
        source_image: Set(b.source_image.clone()),
    }
    .insert(txn)
    .await
    .context(what)?;
    if !parent_ids.is_empty() {
        let edges = parent_ids
            .iter()
            .map(|parent| build_parent::ActiveModel { build_id: Set(row.id), parent_build_id: Set(*parent) });
        build_parent::Entity::insert_many(edges).exec_without_returning(txn).await.context(what)?;
    }
    let job_state = if blocked_by.is_some() { JobState::Done } else { JobState::Queued };
    job::ActiveModel {
        id: NotSet,
        build_id: Set(row.id),
        state: Set(job_state.as_str().to_string()),
        priority: Set(b.priority),
        attempts: Set(0),
        max_attempts: Set(b.max_attempts),
        worker: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        not_before: Set(None),
    }
    .insert(txn)
    .await
    .context(what)?;
    Ok(row)
}
