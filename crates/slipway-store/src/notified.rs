//! Which ended builds the notifier has handled: each is claimed once (at most one mail per build, even with
//! several servers) before anything is sent; likewise for the event webhooks, each build's end and each
//! promotion, and each address's weekly digest.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::entities::{build, mail_digest, promotion};
use crate::error::{Context, StoreError};
use crate::states::BuildState;
use crate::{Build, Promotion, Store, now};

impl Store {
    /// Ended builds the notifier has not handled yet, oldest first.
    pub async fn builds_to_notify(&self, limit: u64) -> Result<Vec<Build>, StoreError> {
        self.unhandled_builds(build::Column::NotifiedAt, limit).await
    }

    /// Claims build `id` for notifying; `false` when another notifier has.
    pub async fn mark_notified(&self, id: i64) -> Result<bool, StoreError> {
        self.claim_build(build::Column::NotifiedAt, id).await
    }

    /// Ended builds not yet sent to the event webhooks, oldest first.
    pub async fn builds_to_announce(&self, limit: u64) -> Result<Vec<Build>, StoreError> {
        self.unhandled_builds(build::Column::AnnouncedAt, limit).await
    }

    /// Claims build `id` for the event webhooks; `false` when another server has.
    pub async fn mark_build_announced(&self, id: i64) -> Result<bool, StoreError> {
        self.claim_build(build::Column::AnnouncedAt, id).await
    }

    /// Promotions not yet sent to the event webhooks, oldest first.
    pub async fn promotions_to_announce(&self, limit: u64) -> Result<Vec<Promotion>, StoreError> {
        let rows = promotion::Entity::find()
            .filter(promotion::Column::AnnouncedAt.is_null())
            .order_by_asc(promotion::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| "listing the promotions to announce".into())?;
        Ok(rows.into_iter().map(Promotion::from).collect())
    }

    /// Claims promotion `id` for the event webhooks; `false` when another server has.
    pub async fn mark_promotion_announced(&self, id: i64) -> Result<bool, StoreError> {
        let result = promotion::Entity::update_many()
            .col_expr(promotion::Column::AnnouncedAt, Expr::value(now()))
            .filter(promotion::Column::Id.eq(id))
            .filter(promotion::Column::AnnouncedAt.is_null())
            .exec(&self.db)
            .await
            .context(|| format!("marking promotion {id} announced"))?;
        Ok(result.rows_affected == 1)
    }

    /// Ended builds whose `handled` time is not set, oldest first.
    async fn unhandled_builds(&self, handled: build::Column, limit: u64) -> Result<Vec<Build>, StoreError> {
        let ended =
            [BuildState::Succeeded, BuildState::Failed, BuildState::Errored, BuildState::Skipped, BuildState::Canceled];
        let rows = build::Entity::find()
            .filter(handled.is_null())
            .filter(build::Column::State.is_in(ended.iter().map(|s| s.as_str())))
            .order_by_asc(build::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| "listing the ended builds to handle".into())?;
        rows.into_iter().map(Build::try_from).collect()
    }

    /// Sets build `id`'s `handled` time unless it is set; `false` when it was.
    async fn claim_build(&self, handled: build::Column, id: i64) -> Result<bool, StoreError> {
        let result = build::Entity::update_many()
            .col_expr(handled, Expr::value(now()))
            .filter(build::Column::Id.eq(id))
            .filter(handled.is_null())
            .exec(&self.db)
            .await
            .context(|| format!("marking build {id} handled"))?;
        Ok(result.rows_affected == 1)
    }

    /// The newest build of the project that ended before `before` (a build number), for "fixed" mail.
    pub async fn previous_ended_build(&self, project_id: i64, before: i64) -> Result<Option<Build>, StoreError> {
        let row = build::Entity::find()
            .filter(build::Column::ProjectId.eq(project_id))
            .filter(build::Column::Number.lt(before))
            .filter(build::Column::FinishedAt.is_not_null())
            .order_by_desc(build::Column::Number)
            .one(&self.db)
            .await
            .context(|| format!("reading the build of project {project_id} before #{before}"))?;
        row.map(Build::try_from).transpose()
    }

    /// Claims `address`'s digest for the period that began at `period`: `Claimed` once per period (send it),
    /// `First` the first time the address is seen (nothing is sent for a period already under way),
    /// `AlreadySent` otherwise.
    pub async fn claim_digest(&self, address: &str, period: DateTime<Utc>) -> Result<DigestClaim, StoreError> {
        let what = || format!("claiming the weekly digest of {address}");
        let txn = self.write_txn().await.context(what)?;
        let sent = mail_digest::Entity::find_by_id(address.to_string()).one(&txn).await.context(what)?;
        let claim = match sent {
            Some(row) if row.sent_at >= period => return Ok(DigestClaim::AlreadySent),
            Some(_) => {
                mail_digest::Entity::update_many()
                    .col_expr(mail_digest::Column::SentAt, Expr::value(period))
                    .filter(mail_digest::Column::Address.eq(address))
                    .exec(&txn)
                    .await
                    .context(what)?;
                DigestClaim::Claimed
            }
            None => {
                let row = mail_digest::ActiveModel { address: Set(address.to_string()), sent_at: Set(period) };
                mail_digest::Entity::insert(row).exec_without_returning(&txn).await.context(what)?;
                DigestClaim::First
            }
        };
        txn.commit().await.context(what)?;
        Ok(claim)
    }
}

/// What [`Store::claim_digest`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestClaim {
    Claimed,
    First,
    AlreadySent,
}
