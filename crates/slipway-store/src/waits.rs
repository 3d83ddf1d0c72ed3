//! Why a queued build waits: what `slipway status`, the build page and the API say of it. The reasons are the
//! claim's conditions (`queue/claim.sql`) read back: another build of the project running, a parent not yet
//! succeeded, a retry's delay.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{FromQueryResult, Statement, Value};

use crate::error::{Context, StoreError};
use crate::{Store, now};

const RUNNING_SIBLING: &str = "SELECT mine.id AS waiting, other.number AS number \
    FROM builds mine JOIN builds other ON other.project_id = mine.project_id AND other.state = 'running' \
    WHERE mine.state = 'queued' AND mine.id IN (IDS)";

const UNFINISHED_PARENT: &str = "SELECT mine.id AS waiting, parent.number AS number, p.image AS image \
    FROM builds mine \
    JOIN build_parents bp ON bp.build_id = mine.id \
    JOIN builds parent ON parent.id = bp.parent_build_id \
    JOIN projects p ON p.id = parent.project_id \
    WHERE mine.state = 'queued' AND parent.state <> 'succeeded' AND mine.id IN (IDS)";

const DELAYED: &str = "SELECT build_id AS waiting, not_before FROM jobs \
    WHERE state = 'queued' AND not_before > $1 AND build_id IN (IDS)";

#[derive(FromQueryResult)]
struct Sibling {
    waiting: i64,
    number: i64,
}

#[derive(FromQueryResult)]
struct Parent {
    waiting: i64,
    number: i64,
    image: String,
}

#[derive(FromQueryResult)]
struct Delayed {
    waiting: i64,
    not_before: DateTime<Utc>,
}

impl Store {
    /// For each of `build_ids` that is queued and cannot start yet, why: `waiting for build #7 of this project`,
    /// `waiting for parent demo/base:latest build #12`, `retry in 8 s`.
    pub async fn waits(&self, build_ids: &[i64]) -> Result<HashMap<i64, String>, StoreError> {
        let what = || format!("reading why {} build(s) wait", build_ids.len());
        let mut reasons: HashMap<i64, Vec<String>> = HashMap::new();
        let now = now();
        for ids in build_ids.chunks(1_000) {
            // $1 is the time; the ids follow.
            let list: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 2)).collect();
            let statement = |sql: &str| {
                let mut values: Vec<Value> = vec![now.into()];
                values.extend(ids.iter().map(|id| Value::from(*id)));
                Statement::from_sql_and_values(self.db_backend(), sql.replace("IDS", &list.join(", ")), values)
            };
            // PostgreSQL refuses a bind parameter that no statement uses: the first two name $1 in a condition
            // that always holds.
            let always = |sql: &str| format!("{sql} AND $1 IS NOT NULL");
            for row in
                Sibling::find_by_statement(statement(&always(RUNNING_SIBLING))).all(&self.db).await.context(what)?
            {
                reasons
                    .entry(row.waiting)
                    .or_default()
                    .push(format!("waiting for build #{} of this project", row.number));
            }
            for row in
                Parent::find_by_statement(statement(&always(UNFINISHED_PARENT))).all(&self.db).await.context(what)?
            {
                let reason = format!("waiting for parent {} build #{}", row.image, row.number);
                reasons.entry(row.waiting).or_default().push(reason);
            }
            for row in Delayed::find_by_statement(statement(DELAYED)).all(&self.db).await.context(what)? {
                let seconds = Ord::max((row.not_before - now).num_seconds(), 1);
                reasons.entry(row.waiting).or_default().push(format!("retry in {seconds} s"));
            }
        }
        Ok(reasons.into_iter().map(|(id, why)| (id, why.join("; "))).collect())
    }

    /// Why build `build_id` waits, if it is queued and cannot start yet.
    pub async fn wait_reason(&self, build_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.waits(&[build_id]).await?.remove(&build_id))
    }
}
