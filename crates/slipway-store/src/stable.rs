//! Which image of a project is *stable*: the one answer to "what should the release tag hold?" and "which image
//! is stable?". Every caller (the tag check, `slipway images --state released --newest`, the dashboard, the
//! project page and the API) asks here. It is the released digest the project's release head names
//! (`release_order`): the newest build's release, unless a person rolled it back or a revoke moved it.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::Store;
use crate::entities::{image, release_head};
use crate::error::{Context, StoreError};
use crate::images::Image;
use crate::release_order::Tier;
use crate::states::QaState;

impl Store {
    /// The project's stable image; `None` before its first release (or after its only release was revoked).
    pub async fn stable_image(&self, project_id: i64) -> Result<Option<Image>, StoreError> {
        Ok(self.stable_images(Some(project_id)).await?.into_iter().next())
    }

    /// The stable image of each project (of one, if given), newest first.
    pub async fn stable_images(&self, project_id: Option<i64>) -> Result<Vec<Image>, StoreError> {
        let head = |column: release_head::Column| Expr::col((release_head::Entity, column));
        let on_head = Query::select()
            .expr(Expr::col((image::Entity, image::Column::Id)))
            .from(image::Entity)
            .inner_join(
                release_head::Entity,
                head(release_head::Column::ProjectId)
                    .equals((image::Entity, image::Column::ProjectId))
                    .and(head(release_head::Column::Digest).equals((image::Entity, image::Column::Digest)))
                    .and(head(release_head::Column::Tier).eq(Tier::Release.as_str())),
            )
            .to_owned();
        let mut query = image::Entity::find()
            .filter(image::Column::Id.in_subquery(on_head))
            .filter(image::Column::QaState.eq(QaState::Released.as_str()));
        if let Some(project_id) = project_id {
            query = query.filter(image::Column::ProjectId.eq(project_id));
        }
        let rows = query
            .order_by_desc(image::Column::CreatedAt)
            .order_by_desc(image::Column::Id)
            .all(&self.db)
            .await
            .context(|| "reading the stable images".into())?;
        rows.into_iter().map(Image::try_from).collect()
    }
}
