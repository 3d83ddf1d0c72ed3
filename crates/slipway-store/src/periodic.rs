//! Periodic jobs shared by every server (the scheduled retention run): each run is claimed in the database, so
//! it happens once per interval whichever servers are up.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::Store;
use crate::entities::periodic_run;
use crate::error::{Context, StoreError};

impl Store {
    /// Claims the run of job `name` at `now` when its last run was `interval` ago or more (or never); `false`
    /// when it is not due or another server claimed it.
    pub async fn claim_periodic_run(
        &self,
        name: &str,
        now: DateTime<Utc>,
        interval: TimeDelta,
    ) -> Result<bool, StoreError> {
        // To the microsecond the database keeps, so the compare-and-set below compares equal values.
        let now = now.trunc_subsecs(6);
        let what = || format!("claiming the periodic run of {name}");
        let txn = self.write_txn().await.context(what)?;
        let last = periodic_run::Entity::find_by_id(name.to_string()).one(&txn).await.context(what)?;
        let claimed = match last {
            None => {
                // Two servers may both find no row (PostgreSQL): the one whose insert lands runs.
                let row = periodic_run::ActiveModel { name: Set(name.to_string()), last_run_at: Set(now) };
                let inserted = periodic_run::Entity::insert(row)
                    .on_conflict(OnConflict::column(periodic_run::Column::Name).do_nothing().to_owned())
                    .exec_without_returning(&txn)
                    .await
                    .context(what)?;
                inserted == 1
            }
            Some(last) if now - last.last_run_at >= interval => {
                let done = periodic_run::Entity::update_many()
                    .col_expr(periodic_run::Column::LastRunAt, Expr::value(now))
                    .filter(periodic_run::Column::Name.eq(name))
                    .filter(periodic_run::Column::LastRunAt.eq(last.last_run_at))
                    .exec(&txn)
                    .await
                    .context(what)?;
                done.rows_affected == 1
            }
            Some(_) => false,
        };
        txn.commit().await.context(what)?;
        Ok(claimed)
    }
}
