//! Which image of a project is *stable*: the one answer to "what should the release tag hold?". Every caller
//! (the tag check, `slipway images --state released --newest`, the project page and the API) asks here, so a
//! change to how it is computed changes it everywhere at once.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::Store;
use crate::entities::image;
use crate::error::{Context, StoreError};
use crate::images::Image;
use crate::states::QaState;

impl Store {
    /// The project's stable image: today the newest image in QA state `released` (a revoked image is in state
    /// `revoked`, so never stable); `None` before its first release.
    pub async fn stable_image(&self, project_id: i64) -> Result<Option<Image>, StoreError> {
        let row = image::Entity::find()
            .filter(image::Column::ProjectId.eq(project_id))
            .filter(image::Column::QaState.eq(QaState::Released.as_str()))
            .order_by_desc(image::Column::CreatedAt)
            .order_by_desc(image::Column::Id)
            .one(&self.db)
            .await
            .context(|| format!("finding the stable image of project {project_id}"))?;
        row.map(Image::try_from).transpose()
    }
}
