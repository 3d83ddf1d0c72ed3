//! Images (a digest in a repository and its QA state), the history of every tag move, and promotions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::entities::{image, promotion, tag_event};
use crate::error::{Context, StoreError, not_found, parse_state};
use crate::states::QaState;
use crate::{Store, now};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewImage {
    pub project_id: i64,
    pub build_id: i64,
    /// "host:port/app/job".
    pub repository: String,
    pub digest: String,
    pub qa_state: QaState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    pub id: i64,
    pub project_id: i64,
    /// The build that recorded the digest last.
    pub build_id: i64,
    pub repository: String,
    pub digest: String,
    pub qa_state: QaState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set once the digest is revoked: who, why and when.
    pub revoked_by: Option<String>,
    pub revoked_reason: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<image::Model> for Image {
    type Error = StoreError;

    fn try_from(m: image::Model) -> Result<Self, StoreError> {
        Ok(Image {
            qa_state: parse_state("images", "qa_state", m.id, &m.qa_state)?,
            id: m.id,
            project_id: m.project_id,
            build_id: m.build_id,
            repository: m.repository,
            digest: m.digest,
            created_at: m.created_at,
            updated_at: m.updated_at,
            revoked_by: m.revoked_by,
            revoked_reason: m.revoked_reason,
            revoked_at: m.revoked_at,
        })
    }
}

/// One move of a tag: `tag` now points at `digest`, and pointed at `previous_digest` before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTagEvent {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub previous_digest: Option<String>,
    /// Who moved it: "build app/job:tag#12", "user alice".
    pub by: String,
    pub build_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagEvent {
    pub id: i64,
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub previous_digest: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
    pub build_id: Option<i64>,
}

/// A promotion of an image from one tier to the next (`test` → `rc` → `release`), whether it worked or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPromotion {
    pub build_id: i64,
    pub image_id: i64,
    pub from_tier: String,
    pub to_tier: String,
    pub succeeded: bool,
    pub by: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    pub id: i64,
    pub build_id: i64,
    pub image_id: i64,
    pub from_tier: String,
    pub to_tier: String,
    pub succeeded: bool,
    pub at: DateTime<Utc>,
    pub by: String,
    pub error: Option<String>,
}

pub(crate) const PROMOTION_SUCCEEDED: &str = "succeeded";
const PROMOTION_FAILED: &str = "failed";

impl Store {
    /// Records a digest, or, when the repository already has it (a rebuild produced the same image), moves it
    /// to this build with the given QA state: the new build tests it again.
    pub async fn record_image(&self, i: &NewImage) -> Result<Image, StoreError> {
        let what = || format!("recording image {}@{}", i.repository, i.digest);
        let now = now();
        let row = image::ActiveModel {
            id: NotSet,
            project_id: Set(i.project_id),
            build_id: Set(i.build_id),
            repository: Set(i.repository.clone()),
            digest: Set(i.digest.clone()),
            qa_state: Set(i.qa_state.as_str().to_string()),
            created_at: Set(now),
            updated_at: Set(now),
            revoked_by: Set(None),
            revoked_reason: Set(None),
            revoked_at: Set(None),
        };
        // A revoked digest stays revoked when a rebuild produces it again.
        let state = Expr::cust(format!(
            "CASE WHEN images.qa_state = '{revoked}' THEN '{revoked}' ELSE excluded.qa_state END",
            revoked = QaState::Revoked.as_str()
        ));
        let update = OnConflict::columns([image::Column::Repository, image::Column::Digest])
            .update_columns([image::Column::ProjectId, image::Column::BuildId, image::Column::UpdatedAt])
            .value(image::Column::QaState, state)
            .to_owned();
        image::Entity::insert(row).on_conflict(update).exec_without_returning(&self.db).await.context(what)?;
        let stored = image::Entity::find()
            .filter(image::Column::Repository.eq(&i.repository))
            .filter(image::Column::Digest.eq(&i.digest))
            .one(&self.db)
            .await
            .context(what)?;
        stored.ok_or_else(|| not_found("image", &format!("{}@{}", i.repository, i.digest)))?.try_into()
    }

    /// Moves the image to `state`; a revoked image stays revoked (use [`Store::revoke_image`] to revoke).
    pub async fn set_image_state(&self, image_id: i64, state: QaState) -> Result<(), StoreError> {
        let result = image::Entity::update_many()
            .col_expr(image::Column::QaState, Expr::value(state.as_str()))
            .col_expr(image::Column::UpdatedAt, Expr::value(now()))
            .filter(image::Column::Id.eq(image_id))
            .filter(image::Column::QaState.ne(QaState::Revoked.as_str()))
            .exec(&self.db)
            .await
            .context(|| format!("setting the QA state of image {image_id} to {state}"))?;
        if result.rows_affected == 0
            && image::Entity::find_by_id(image_id)
                .one(&self.db)
                .await
                .context(|| format!("reading image {image_id}"))?
                .is_none()
        {
            return Err(not_found("image", &image_id));
        }
        Ok(())
    }

    /// Marks the image revoked by `by` for `reason`; it is kept, as evidence, and never promoted again.
    pub async fn revoke_image(&self, image_id: i64, by: &str, reason: &str) -> Result<(), StoreError> {
        let now = now();
        let result = image::Entity::update_many()
            .col_expr(image::Column::QaState, Expr::value(QaState::Revoked.as_str()))
            .col_expr(image::Column::RevokedBy, Expr::value(by))
            .col_expr(image::Column::RevokedReason, Expr::value(reason))
            .col_expr(image::Column::RevokedAt, Expr::value(now))
            .col_expr(image::Column::UpdatedAt, Expr::value(now))
            .filter(image::Column::Id.eq(image_id))
            .exec(&self.db)
            .await
            .context(|| format!("revoking image {image_id}"))?;
        if result.rows_affected == 0 {
            return Err(not_found("image", &image_id));
        }
        Ok(())
    }

    /// The images of a project (or of every project), in `state` if given, newest first.
    pub async fn images(&self, project_id: Option<i64>, state: Option<QaState>) -> Result<Vec<Image>, StoreError> {
        let mut query = image::Entity::find();
        if let Some(project_id) = project_id {
            query = query.filter(image::Column::ProjectId.eq(project_id));
        }
        if let Some(state) = state {
            query = query.filter(image::Column::QaState.eq(state.as_str()));
        }
        let rows = query
            .order_by_desc(image::Column::CreatedAt)
            .order_by_desc(image::Column::Id)
            .all(&self.db)
            .await
            .context(|| "listing images".into())?;
        rows.into_iter().map(Image::try_from).collect()
    }

    /// The image the build recorded last, if any.
    pub async fn image_of_build(&self, build_id: i64) -> Result<Option<Image>, StoreError> {
        let row = image::Entity::find()
            .filter(image::Column::BuildId.eq(build_id))
            .order_by_desc(image::Column::UpdatedAt)
            .order_by_desc(image::Column::Id)
            .one(&self.db)
            .await
            .context(|| format!("reading the image of build {build_id}"))?;
        row.map(Image::try_from).transpose()
    }

    /// The image recorded for `digest` in `repository` (by whichever build pushed it last), if any.
    pub async fn image_by_digest(&self, repository: &str, digest: &str) -> Result<Option<Image>, StoreError> {
        let row = image::Entity::find()
            .filter(image::Column::Repository.eq(repository))
            .filter(image::Column::Digest.eq(digest))
            .one(&self.db)
            .await
            .context(|| format!("reading the image {repository}@{digest}"))?;
        row.map(Image::try_from).transpose()
    }

    pub async fn record_tag_event(&self, e: &NewTagEvent) -> Result<(), StoreError> {
        tag_event::ActiveModel {
            id: NotSet,
            registry: Set(e.registry.clone()),
            repository: Set(e.repository.clone()),
            tag: Set(e.tag.clone()),
            digest: Set(e.digest.clone()),
            previous_digest: Set(e.previous_digest.clone()),
            at: Set(now()),
            by: Set(e.by.clone()),
            build_id: Set(e.build_id),
        }
        .insert(&self.db)
        .await
        .context(|| format!("recording the move of {}:{} to {}", e.repository, e.tag, e.digest))?;
        Ok(())
    }

    /// The moves of the repository's tags (of one tag, if given), newest first, at most `limit`.
    pub async fn tag_history(
        &self,
        repository: &str,
        tag: Option<&str>,
        limit: Option<u64>,
    ) -> Result<Vec<TagEvent>, StoreError> {
        let mut query = tag_event::Entity::find().filter(tag_event::Column::Repository.eq(repository));
        if let Some(tag) = tag {
            query = query.filter(tag_event::Column::Tag.eq(tag));
        }
        let rows = query
            .order_by_desc(tag_event::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| format!("reading the tag history of {repository}"))?;
        Ok(rows.into_iter().map(TagEvent::from).collect())
    }

    /// Each tag of the repository with its last move (the digest it holds as far as Slipway knows), the most
    /// recently moved first.
    pub async fn current_tags(&self, repository: &str) -> Result<Vec<TagEvent>, StoreError> {
        let last = Query::select()
            .expr(Func::max(Expr::col(tag_event::Column::Id)))
            .from(tag_event::Entity)
            .and_where(Expr::col(tag_event::Column::Repository).eq(repository))
            .group_by_col(tag_event::Column::Tag)
            .to_owned();
        // A removed tag's last move has an empty digest (a revoke untags): it holds nothing now.
        let rows = tag_event::Entity::find()
            .filter(tag_event::Column::Id.in_subquery(last))
            .filter(tag_event::Column::Digest.ne(""))
            .order_by_desc(tag_event::Column::Id)
            .all(&self.db)
            .await
            .context(|| format!("reading the current tags of {repository}"))?;
        Ok(rows.into_iter().map(TagEvent::from).collect())
    }

    pub async fn record_promotion(&self, p: &NewPromotion) -> Result<(), StoreError> {
        promotion::ActiveModel {
            id: NotSet,
            build_id: Set(p.build_id),
            image_id: Set(p.image_id),
            from_tier: Set(p.from_tier.clone()),
            to_tier: Set(p.to_tier.clone()),
            state: Set(if p.succeeded { PROMOTION_SUCCEEDED } else { PROMOTION_FAILED }.to_string()),
            at: Set(now()),
            by: Set(p.by.clone()),
            error: Set(p.error.clone()),
            announced_at: Set(None),
        }
        .insert(&self.db)
        .await
        .context(|| format!("recording the promotion {} → {} of build {}", p.from_tier, p.to_tier, p.build_id))?;
        Ok(())
    }

    /// The build's promotions in the order they happened.
    pub async fn promotions(&self, build_id: i64) -> Result<Vec<Promotion>, StoreError> {
        let rows = promotion::Entity::find()
            .filter(promotion::Column::BuildId.eq(build_id))
            .order_by_asc(promotion::Column::Id)
            .all(&self.db)
            .await
            .context(|| format!("listing the promotions of build {build_id}"))?;
        Ok(rows.into_iter().map(Promotion::from).collect())
    }
}

impl From<promotion::Model> for Promotion {
    fn from(m: promotion::Model) -> Promotion {
        Promotion {
            succeeded: m.state == PROMOTION_SUCCEEDED,
            id: m.id,
            build_id: m.build_id,
            image_id: m.image_id,
            from_tier: m.from_tier,
            to_tier: m.to_tier,
            at: m.at,
            by: m.by,
            error: m.error,
        }
    }
}

impl From<tag_event::Model> for TagEvent {
    fn from(m: tag_event::Model) -> TagEvent {
        TagEvent {
            id: m.id,
            registry: m.registry,
            repository: m.repository,
            tag: m.tag,
            digest: m.digest,
            previous_digest: m.previous_digest,
            at: m.at,
            by: m.by,
            build_id: m.build_id,
        }
    }
}
