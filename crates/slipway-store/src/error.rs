//! What can go wrong in the store, with the object it concerned.

use sea_orm::DbErr;

use crate::states::ParseStateError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database URL `{url}` is not supported: use sqlite:///abs/path.db, sqlite://rel.db or postgres://user@host:port/db"
    )]
    UnsupportedUrl { url: String },

    #[error(
        "cannot open the database {url}: {source}; check the URL and that the server runs (PostgreSQL here: `bash scripts/setup`)"
    )]
    Connect { url: String, source: Box<dyn std::error::Error + Send + Sync> },

    #[error("cannot bring the schema of {url} up to date: {source}")]
    Migrate { url: String, source: DbErr },

    /// A query failed; `what` names the operation and its object ("claiming a job for worker w1").
    #[error("{what}: {source}")]
    Query { what: String, source: DbErr },

    #[error("{entity} {key} does not exist")]
    NotFound { entity: &'static str, key: String },

    /// The job is no longer leased to this worker: its lease lapsed and another worker holds it, or it finished.
    #[error(
        "job {job_id} is no longer leased to worker `{worker}` (state {state}, held by {holder}); stop working on it"
    )]
    LeaseLost { job_id: i64, worker: String, state: String, holder: String },

    /// The caller passed a value the store refuses (a lease out of range, `max_attempts` below 1, ...).
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    /// The database holds a value this version cannot read (a state written by a newer Slipway, say).
    #[error("{table}.{column} of row {id} holds a value this version cannot read: {source}")]
    Corrupt { table: &'static str, column: &'static str, id: i64, source: ParseStateError },

    /// The same, in a table keyed by name rather than by id (`tag_drift` by repository and tag).
    #[error("{table}.{column} of {key} holds a value this version cannot read: {source}")]
    CorruptKeyed { table: &'static str, column: &'static str, key: String, source: ParseStateError },

    #[error("{table}.{column} of row {id} is not the JSON this version expects: {source}")]
    BadJson { table: &'static str, column: &'static str, id: i64, source: serde_json::Error },
}

/// Adds "what was being done" to a sea-orm error.
pub(crate) trait Context<T> {
    /// `what` is built only on failure.
    fn context(self, what: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, DbErr> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Query { what: what(), source })
    }
}

pub(crate) fn not_found(entity: &'static str, key: &dyn std::fmt::Display) -> StoreError {
    StoreError::NotFound { entity, key: key.to_string() }
}

/// Parses a stored state word; a word this version does not know is [`StoreError::Corrupt`].
pub(crate) fn parse_state<T>(table: &'static str, column: &'static str, id: i64, value: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr<Err = ParseStateError>,
{
    value.parse().map_err(|source| StoreError::Corrupt { table, column, id, source })
}

/// Reads a stored JSON list of strings.
pub(crate) fn parse_list(
    table: &'static str,
    column: &'static str,
    id: i64,
    value: serde_json::Value,
) -> Result<Vec<String>, StoreError> {
    serde_json::from_value(value).map_err(|source| StoreError::BadJson { table, column, id, source })
}
