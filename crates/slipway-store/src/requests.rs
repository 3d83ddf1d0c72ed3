//! Triggers meeting a build that is already waiting: every trigger of a project asks for a build, and while one
//! is queued the requests merge into it (its causes, the highest priority, every parent to wait for) instead of
//! queuing a build each. A build already running does not absorb them: it may have checked out an older commit.

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::Serialize;

use crate::builds::insert_build;
use crate::entities::{build, build_parent, job, project, project_parent};
use crate::error::{Context, StoreError, not_found, parse_list, parse_state};
use crate::states::{BuildState, JobState};
use crate::{Build, NewBuild, Store};

/// What a request did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requested {
    /// The project's image, `app/job:tag`.
    pub image: String,
    pub build: Build,
    /// It joined a build that was already queued.
    pub merged: bool,
}

/// An active project and the images it builds on, for planning cascades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectNode {
    pub id: i64,
    pub image: String,
    pub parents: Vec<String>,
}

impl Store {
    /// Queues a build of `b.project_id`, or adds `b`'s causes, priority and parents to the build of that
    /// project that is already queued.
    pub async fn request_build(&self, b: &NewBuild) -> Result<Requested, StoreError> {
        let what = || format!("asking for a build of project {}", b.project_id);
        let txn = self.write_txn().await.context(what)?;
        // Locking the project makes concurrent requests of one project take turns on PostgreSQL.
        let locked = project::Entity::find_by_id(b.project_id).lock_exclusive().one(&txn).await.context(what)?;
        let image = locked.ok_or_else(|| not_found("project", &b.project_id))?.image;
        // A build of the source and the delivery of an image pushed elsewhere do different work: each merges
        // only with its own kind, and a newer push replaces the image a queued delivery takes.
        let same_kind = match &b.source_image {
            None => build::Column::SourceImage.is_null(),
            Some(_) => build::Column::SourceImage.is_not_null(),
        };
        let waiting = build::Entity::find()
            .filter(build::Column::ProjectId.eq(b.project_id))
            .filter(build::Column::State.eq(BuildState::Queued.as_str()))
            .filter(same_kind)
            .order_by_desc(build::Column::Id)
            .one(&txn)
            .await
            .context(what)?;
        // A build waiting to be retried keeps what its earlier attempt did (the commit, the pushed image): a new
        // request must not change what it delivers, so it gets a build of its own.
        let waiting = match waiting {
            Some(build) => {
                let job =
                    job::Entity::find().filter(job::Column::BuildId.eq(build.id)).one(&txn).await.context(what)?;
                job.is_none_or(|job| job.attempts == 0).then_some(build)
            }
            None => None,
        };
        let Some(waiting) = waiting else {
            let row = insert_build(&txn, b).await?;
            txn.commit().await.context(what)?;
            return Ok(Requested { image, build: row.try_into()?, merged: false });
        };

        let mut causes = parse_list("builds", "causes", waiting.id, waiting.causes.clone())?;
        for cause in &b.causes {
            if !causes.contains(cause) {
                causes.push(cause.clone());
            }
        }
        let mut update =
            build::Entity::update_many().col_expr(build::Column::Causes, Expr::value(serde_json::Value::from(causes)));
        if let Some(source) = &b.source_image {
            update = update.col_expr(build::Column::SourceImage, Expr::value(source.clone()));
        }
        update.filter(build::Column::Id.eq(waiting.id)).exec(&txn).await.context(what)?;
        job::Entity::update_many()
            .col_expr(job::Column::Priority, Expr::value(b.priority))
            .filter(job::Column::BuildId.eq(waiting.id))
            .filter(job::Column::State.eq(JobState::Queued.as_str()))
            .filter(job::Column::Priority.lt(b.priority))
            .exec(&txn)
            .await
            .context(what)?;

        // New parents are waited for only while they have not ended: a parent that ended already gives its
        // children nothing to wait for, and one that failed would otherwise skip a build other causes want.
        let known: BTreeSet<i64> = build_parent::Entity::find()
            .filter(build_parent::Column::BuildId.eq(waiting.id))
            .all(&txn)
            .await
            .context(what)?
            .into_iter()
            .map(|edge| edge.parent_build_id)
            .collect();
        let candidates: BTreeSet<i64> =
            b.parents.iter().copied().filter(|p| *p != waiting.id && !known.contains(p)).collect();
        let mut unfinished = Vec::new();
        if !candidates.is_empty() {
            for parent in build::Entity::find()
                .filter(build::Column::Id.is_in(candidates.iter().copied()))
                .all(&txn)
                .await
                .context(what)?
            {
                let state: BuildState = parse_state("builds", "state", parent.id, &parent.state)?;
                if !state.is_finished() {
                    unfinished.push(parent.id);
                }
            }
        }
        if !unfinished.is_empty() {
            let edges = unfinished
                .iter()
                .map(|parent| build_parent::ActiveModel { build_id: Set(waiting.id), parent_build_id: Set(*parent) });
            build_parent::Entity::insert_many(edges).exec_without_returning(&txn).await.context(what)?;
        }
        let merged = build::Entity::find_by_id(waiting.id).one(&txn).await.context(what)?;
        txn.commit().await.context(what)?;
        let merged = merged.ok_or_else(|| not_found("build", &waiting.id))?;
        Ok(Requested { image, build: merged.try_into()?, merged: true })
    }

    /// The builds of `project_ids` that are queued or running, by id.
    pub async fn unfinished_builds(&self, project_ids: &[i64]) -> Result<Vec<Build>, StoreError> {
        let mut builds = Vec::new();
        // Bounded IN lists, as everywhere.
        for ids in project_ids.chunks(5_000) {
            let rows = build::Entity::find()
                .filter(build::Column::ProjectId.is_in(ids.iter().copied()))
                .filter(build::Column::State.is_in([BuildState::Queued.as_str(), BuildState::Running.as_str()]))
                .order_by_asc(build::Column::Id)
                .all(&self.db)
                .await
                .context(|| format!("finding the unfinished builds of {} project(s)", ids.len()))?;
            for row in rows {
                builds.push(Build::try_from(row)?);
            }
        }
        Ok(builds)
    }

    /// For each project that has one, the commit its newest build checked out (the one a branch is compared
    /// with to tell that it moved).
    pub async fn last_commits(&self) -> Result<HashMap<i64, String>, StoreError> {
        let newest = Query::select()
            .expr(Func::max(Expr::col(build::Column::Id)))
            .from(build::Entity)
            .and_where(Expr::col(build::Column::Commit).is_not_null())
            .group_by_col(build::Column::ProjectId)
            .to_owned();
        let rows: Vec<(i64, Option<String>)> = build::Entity::find()
            .select_only()
            .column(build::Column::ProjectId)
            .column(build::Column::Commit)
            .filter(build::Column::Id.in_subquery(newest))
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| "reading the last commit of every project".into())?;
        Ok(rows.into_iter().filter_map(|(project, commit)| commit.map(|c| (project, c))).collect())
    }

    /// Every active project's id, git URL and branch: what a push notification is matched against.
    pub async fn project_sources(&self) -> Result<Vec<(i64, String, String)>, StoreError> {
        project::Entity::find()
            .select_only()
            .column(project::Column::Id)
            .column(project::Column::GitUrl)
            .column(project::Column::GitBranch)
            .filter(project::Column::Active.eq(true))
            .into_tuple()
            .all(&self.db)
            .await
            .context(|| "listing the projects' git sources".into())
    }

    /// Every active project with the images it builds on: the graph a cascade is planned on.
    pub async fn project_graph(&self) -> Result<Vec<ProjectNode>, StoreError> {
        let what = || "reading the graph of projects".to_string();
        let projects: Vec<(i64, String)> = project::Entity::find()
            .select_only()
            .column(project::Column::Id)
            .column(project::Column::Image)
            .filter(project::Column::Active.eq(true))
            .order_by_asc(project::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await
            .context(what)?;
        let edges = project_parent::Entity::find()
            .order_by_asc(project_parent::Column::ProjectId)
            .all(&self.db)
            .await
            .context(what)?;
        let mut nodes: Vec<ProjectNode> =
            projects.into_iter().map(|(id, image)| ProjectNode { id, image, parents: Vec::new() }).collect();
        // Both lists are ordered by project id: one merge pass.
        let mut at = 0;
        for edge in edges {
            while at < nodes.len() && nodes[at].id < edge.project_id {
                at += 1;
            }
            if let Some(node) = nodes.get_mut(at).filter(|n| n.id == edge.project_id) {
                node.parents.push(edge.parent_image);
            }
        }
        Ok(nodes)
    }
}
