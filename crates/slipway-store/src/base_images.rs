//! The external base images each project was last built on: what the base-image check compares with the
//! digest each base has now.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;

use crate::entities::{base_image, project};
use crate::error::{Context, StoreError};
use crate::{Store, now};

/// One external base of one active project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseImage {
    pub project_id: i64,
    /// As the Dockerfile's `FROM` names it.
    pub image: String,
    /// The digest the project's last build used.
    pub built_digest: String,
    /// The newest digest a rebuild was asked for (so a failing rebuild is not asked for again and again).
    pub asked_digest: Option<String>,
}

impl Store {
    /// Replaces the external bases recorded for `project_id` with `bases` (`(image, digest)`), as built now.
    pub async fn record_base_images(&self, project_id: i64, bases: &[(String, String)]) -> Result<(), StoreError> {
        let what = || format!("recording the base images of project {project_id}");
        let txn = self.write_txn().await.context(what)?;
        base_image::Entity::delete_many()
            .filter(base_image::Column::ProjectId.eq(project_id))
            .exec(&txn)
            .await
            .context(what)?;
        if !bases.is_empty() {
            let now = now();
            let rows = bases.iter().map(|(image, digest)| base_image::ActiveModel {
                project_id: Set(project_id),
                image: Set(image.clone()),
                built_digest: Set(digest.clone()),
                asked_digest: Set(None),
                updated_at: Set(now),
            });
            base_image::Entity::insert_many(rows).exec_without_returning(&txn).await.context(what)?;
        }
        txn.commit().await.context(what)
    }

    /// The external bases of every active project, by image then project.
    pub async fn base_images(&self) -> Result<Vec<BaseImage>, StoreError> {
        let active = sea_orm::sea_query::Query::select()
            .column(project::Column::Id)
            .from(project::Entity)
            .and_where(Expr::col(project::Column::Active).eq(true))
            .to_owned();
        let rows = base_image::Entity::find()
            .filter(base_image::Column::ProjectId.in_subquery(active))
            .order_by_asc(base_image::Column::Image)
            .order_by_asc(base_image::Column::ProjectId)
            .all(&self.db)
            .await
            .context(|| "reading the base images".into())?;
        Ok(rows
            .into_iter()
            .map(|r| BaseImage {
                project_id: r.project_id,
                image: r.image,
                built_digest: r.built_digest,
                asked_digest: r.asked_digest,
            })
            .collect())
    }

    /// Notes that a rebuild of `project_id` was asked for because `image` is now `digest`.
    pub async fn set_base_image_asked(&self, project_id: i64, image: &str, digest: &str) -> Result<(), StoreError> {
        base_image::Entity::update_many()
            .col_expr(base_image::Column::AskedDigest, Expr::value(digest))
            .col_expr(base_image::Column::UpdatedAt, Expr::value(now()))
            .filter(base_image::Column::ProjectId.eq(project_id))
            .filter(base_image::Column::Image.eq(image))
            .exec(&self.db)
            .await
            .context(|| format!("recording the rebuild of project {project_id} for its base {image}"))?;
        Ok(())
    }
}
