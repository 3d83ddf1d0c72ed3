//! Per-repository locks with a lease: taken by one conditional upsert (`lock.sql`), renewed by the holder,
//! released by it, and taken over by anyone once the lease lapses (a holder that died frees it by itself).

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};

use crate::entities::repository_lock as entity;
use crate::error::{Context, StoreError};
use crate::{Store, now};

/// What an attempt to take a lock found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAttempt {
    Taken,
    /// Someone else holds it, until its lease lapses.
    Held {
        holder: String,
    },
}

impl Store {
    /// Takes (or renews, for its holder) the lock of `repository` for `lease`.
    pub async fn try_lock_repository(
        &self,
        repository: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<LockAttempt, StoreError> {
        let what = || format!("locking {repository} for {holder}");
        let now = now();
        let until = crate::queue::lease_end(now, lease)?;
        let statement = Statement::from_sql_and_values(
            self.db_backend(),
            include_str!("lock.sql"),
            [repository.into(), holder.into(), until.into(), now.into()],
        );
        if self.db.execute_raw(statement).await.context(what)?.rows_affected() == 1 {
            return Ok(LockAttempt::Taken);
        }
        let row = entity::Entity::find_by_id(repository.to_string()).one(&self.db).await.context(what)?;
        Ok(LockAttempt::Held { holder: row.map(|r| r.holder).unwrap_or_else(|| "nobody (just released)".into()) })
    }

    /// Releases the lock of `repository` if `holder` has it.
    pub async fn unlock_repository(&self, repository: &str, holder: &str) -> Result<(), StoreError> {
        entity::Entity::delete_many()
            .filter(entity::Column::Repository.eq(repository))
            .filter(entity::Column::Holder.eq(holder))
            .exec(&self.db)
            .await
            .context(|| format!("unlocking {repository} for {holder}"))?;
        Ok(())
    }
}
