//! Registry notifications already seen: each event is handled once by its id, and a push older than the newest
//! one handled for the same tag is not acted on, so duplicates and events arriving out of order change nothing
//! twice.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::Serialize;

use crate::entities::registry_event;
use crate::error::{Context, StoreError};
use crate::{Store, now};

/// What an event of the registry is about: a manifest pushed under a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistryEvent {
    pub event_id: String,
    /// The repository's name in the registry, `incoming/app`.
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub pushed_at: DateTime<Utc>,
}

/// Whether an event is new to Slipway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventClaim {
    /// Not seen before: handle it, then [`Store::finish_registry_event`].
    New,
    /// Seen before (the registry retried, or two servers got it): what was done then.
    Duplicate { outcome: String },
    /// A newer push of the same tag was handled already.
    Superseded { digest: String, pushed_at: DateTime<Utc> },
}

/// An event as it was handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryEvent {
    pub event_id: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub pushed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
}

/// Recorded while an event is being handled.
const HANDLING: &str = "being handled";

/// An event still "being handled" after this was abandoned by a server that stopped.
const ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

impl Store {
    /// Records `event` unless it was seen before or a newer push of its tag was; says which.
    pub async fn claim_registry_event(&self, event: &NewRegistryEvent) -> Result<EventClaim, StoreError> {
        let what = || format!("recording registry event {}", event.event_id);
        let txn = self.write_txn().await.context(what)?;
        if let Some(seen) = registry_event::Entity::find_by_id(event.event_id.clone()).one(&txn).await.context(what)? {
            // A server that died while handling it left it half-done: after a while, the next delivery takes it.
            let abandoned = seen.outcome == HANDLING && now() - seen.received_at > ABANDONED_AFTER;
            if !abandoned {
                return Ok(EventClaim::Duplicate { outcome: seen.outcome });
            }
            let taken = registry_event::Entity::update_many()
                .col_expr(registry_event::Column::ReceivedAt, Expr::value(now()))
                .filter(registry_event::Column::EventId.eq(&event.event_id))
                .filter(registry_event::Column::ReceivedAt.eq(seen.received_at))
                .exec(&txn)
                .await
                .context(what)?;
            txn.commit().await.context(what)?;
            return Ok(if taken.rows_affected == 1 {
                EventClaim::New
            } else {
                EventClaim::Duplicate { outcome: HANDLING.to_string() }
            });
        }
        let newer = registry_event::Entity::find()
            .filter(registry_event::Column::Repository.eq(&event.repository))
            .filter(registry_event::Column::Tag.eq(&event.tag))
            .filter(registry_event::Column::PushedAt.gt(event.pushed_at))
            .order_by_desc(registry_event::Column::PushedAt)
            .one(&txn)
            .await
            .context(what)?;
        let claim = match &newer {
            Some(newer) => EventClaim::Superseded { digest: newer.digest.clone(), pushed_at: newer.pushed_at },
            None => EventClaim::New,
        };
        let outcome = match &newer {
            Some(newer) => superseded_outcome(&newer.digest, newer.pushed_at),
            None => HANDLING.to_string(),
        };
        let row = registry_event::ActiveModel {
            event_id: Set(event.event_id.clone()),
            repository: Set(event.repository.clone()),
            tag: Set(event.tag.clone()),
            digest: Set(event.digest.clone()),
            pushed_at: Set(event.pushed_at),
            received_at: Set(now()),
            outcome: Set(outcome),
        };
        // Another server may have recorded it since the read (PostgreSQL): then it is that server's.
        let inserted = registry_event::Entity::insert(row)
            .on_conflict(OnConflict::column(registry_event::Column::EventId).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await
            .context(what)?;
        txn.commit().await.context(what)?;
        if inserted == 0 {
            return Ok(EventClaim::Duplicate { outcome: HANDLING.to_string() });
        }
        Ok(claim)
    }

    /// Records what handling event `event_id` did.
    pub async fn finish_registry_event(&self, event_id: &str, outcome: &str) -> Result<(), StoreError> {
        registry_event::Entity::update_many()
            .col_expr(registry_event::Column::Outcome, Expr::value(outcome.to_string()))
            .filter(registry_event::Column::EventId.eq(event_id))
            .exec(&self.db)
            .await
            .context(|| format!("recording what registry event {event_id} did"))?;
        Ok(())
    }

    /// Forgets event `event_id` after handling it failed half-way, so the registry's retry handles it again.
    pub async fn forget_registry_event(&self, event_id: &str) -> Result<(), StoreError> {
        registry_event::Entity::delete_by_id(event_id.to_string())
            .exec(&self.db)
            .await
            .context(|| format!("forgetting registry event {event_id}"))?;
        Ok(())
    }

    /// The newest events handled, newest first.
    pub async fn registry_events(&self, limit: u64) -> Result<Vec<RegistryEvent>, StoreError> {
        let rows = registry_event::Entity::find()
            .order_by_desc(registry_event::Column::ReceivedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .context(|| "listing registry events".into())?;
        Ok(rows
            .into_iter()
            .map(|r| RegistryEvent {
                event_id: r.event_id,
                repository: r.repository,
                tag: r.tag,
                digest: r.digest,
                pushed_at: r.pushed_at,
                received_at: r.received_at,
                outcome: r.outcome,
            })
            .collect())
    }
}

fn superseded_outcome(digest: &str, pushed_at: DateTime<Utc>) -> String {
    format!("ignored: older than the push of {digest} at {pushed_at}, handled already")
}
