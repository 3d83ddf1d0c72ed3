//! Opening the database (SQLite file or PostgreSQL), applying the schema, and the transactions writers use.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use slipway_migrations::{Migrator, MigratorTrait};

use crate::error::{Context, StoreError};

/// How long a writer waits for SQLite's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening the database may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per process: readers (the web UI, log streams) and a few writers at once.
const POOL_SIZE: u32 = 8;

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Slipway's database: projects, builds, stages, logs, images, tag history and the job queue.
/// Cloning is cheap (a pool handle).
#[derive(Clone)]
pub struct Store {
    pub(crate) db: DatabaseConnection,
    /// The URL with any password replaced, for messages.
    url: Arc<str>,
    backend: Backend,
    migration_lock: MigrationLock,
}

/// What keeps two processes from migrating one database at once (the loser would fail half-way with "table
/// already exists"): a `flock` on a file beside a SQLite database, a session advisory lock on PostgreSQL.
#[derive(Clone)]
enum MigrationLock {
    /// An in-memory SQLite database: one process only.
    None,
    File(PathBuf),
    Postgres(Box<PgConnectOptions>),
}

/// Held while migrating; released when dropped (the file closed, the session ended).
enum HeldLock {
    None,
    File(#[allow(dead_code)] std::fs::File),
    Postgres(PgConnection),
}

/// The key of PostgreSQL's advisory lock for migrations ("slipway" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0073_6c69_7077_6179;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).field("backend", &self.backend).finish()
    }
}

impl Store {
    /// Opens `url`: `sqlite:///abs/path.db` or `sqlite://rel.db` (created if missing; WAL, a 5 s busy
    /// timeout, foreign keys on), or `postgres://user[:password]@host:port/db`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let redacted = redact_url(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl { url: redacted });
        };
        // The pool retries a refused connection until it times out and then reports only "pool timed out":
        // one plain connection first surfaces the cause (refused, no such database, unwritable directory).
        preflight(url, backend).await.map_err(|source| StoreError::Connect { url: redacted.clone(), source })?;
        let mut options = ConnectOptions::new(url);
        options.sqlx_logging(false).connect_timeout(CONNECT_TIMEOUT);
        // An in-memory SQLite database lives in one connection; a second one would be another database.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        options.max_connections(if in_memory { 1 } else { POOL_SIZE });
        if backend == Backend::Sqlite {
            options.map_sqlx_sqlite_opts(sqlite_options);
        }
        let db = Database::connect(options)
            .await
            .map_err(|source| StoreError::Connect { url: redacted.clone(), source: source.into() })?;
        let migration_lock = migration_lock(url, backend, in_memory)
            .map_err(|source| StoreError::Connect { url: redacted.clone(), source })?;
        Ok(Store { db, url: redacted.into(), backend, migration_lock })
    }

    /// The default database in a data dir: `sqlite://<data_dir>/slipway.db`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("slipway.db").display())
    }

    /// Applies the migrations the database lacks.
    /// Another process migrating the same database is waited for.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let failed = |source| StoreError::Migrate { url: self.url.to_string(), source };
        let held = self
            .lock_migrations()
            .await
            .map_err(|e| failed(DbErr::Custom(format!("taking the migration lock: {e}"))))?;
        let migrated = Migrator::up(&self.db, None).await.map_err(failed);
        if let HeldLock::Postgres(connection) = held {
            let _ = connection.close().await;
        }
        migrated
    }

    async fn lock_migrations(&self) -> Result<HeldLock, BoxError> {
        match &self.migration_lock {
            MigrationLock::None => Ok(HeldLock::None),
            MigrationLock::File(path) => {
                let file = std::fs::File::options().create(true).truncate(false).write(true).open(path)?;
                let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file)).await??;
                Ok(HeldLock::File(file))
            }
            MigrationLock::Postgres(options) => {
                let mut connection = options.connect().await?;
                sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK_KEY)
                    .execute(&mut connection)
                    .await?;
                Ok(HeldLock::Postgres(connection))
            }
        }
    }

    /// Closes the pool once the connections in use are returned; every clone of this store stops working.
    /// For a graceful shutdown (and before dropping a database).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.db.close_by_ref().await.context(|| format!("closing the connections to {}", self.url))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn db_backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// A transaction for read-then-write work. On SQLite it takes the write lock at BEGIN (`BEGIN IMMEDIATE`):
    /// a deferred transaction that reads first and writes later fails with "database is locked" instead of
    /// waiting when another writer got in between.
    pub(crate) async fn write_txn(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        self.db.begin_with_options(options).await
    }
}

/// WAL lets readers (pages, log streams) run beside the one writer; the busy timeout makes writers queue.
fn sqlite_options(options: SqliteConnectOptions) -> SqliteConnectOptions {
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens and closes one connection, for its error.
fn migration_lock(url: &str, backend: Backend, in_memory: bool) -> Result<MigrationLock, BoxError> {
    Ok(match backend {
        Backend::Sqlite if in_memory => MigrationLock::None,
        Backend::Sqlite => {
            let file = url.parse::<SqliteConnectOptions>()?.get_filename().as_os_str().to_owned();
            let mut lock = file;
            lock.push(".migrate-lock");
            MigrationLock::File(PathBuf::from(lock))
        }
        Backend::Postgres => MigrationLock::Postgres(Box::new(url.parse::<PgConnectOptions>()?)),
    })
}

async fn preflight(url: &str, backend: Backend) -> Result<(), BoxError> {
    let timeout = |what| move |_| -> BoxError { format!("no answer within {CONNECT_TIMEOUT:?} ({what})").into() };
    match backend {
        Backend::Sqlite => {
            let options = sqlite_options(url.parse::<SqliteConnectOptions>()?);
            let connection =
                tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await.map_err(timeout("SQLite"))??;
            connection.close().await?;
        }
        Backend::Postgres => {
            let options = url.parse::<PgConnectOptions>()?;
            let connection =
                tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await.map_err(timeout("PostgreSQL"))??;
            connection.close().await?;
        }
    }
    Ok(())
}

/// `scheme://user:secret@host/db?password=secret` → `scheme://user:***@host/db?password=***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..].find(['/', '?', '#']).map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@')
            && let Some(colon) = out[rest..rest + at].find(':')
        {
            out.replace_range(rest + colon + 1..rest + at, "***");
        }
    }
    if let Some(query) = out.find('?') {
        let (head, tail) = out.split_at(query + 1);
        let params: Vec<String> = tail
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out = format!("{head}{}", params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_nothing_else() {
        let cases = [
            ("postgres://slipway@127.0.0.1:5433/slipway", "postgres://slipway@127.0.0.1:5433/slipway"),
            ("postgres://u:hunter2@db:5432/x", "postgres://u:***@db:5432/x"),
            ("postgres://u:p%40ss@db/x?sslmode=disable", "postgres://u:***@db/x?sslmode=disable"),
            ("postgres://u@db/x?password=hunter2&sslmode=require", "postgres://u@db/x?password=***&sslmode=require"),
            ("postgres://u:a:b@db/x", "postgres://u:***@db/x"),
            ("sqlite:///var/lib/slipway/slipway.db", "sqlite:///var/lib/slipway/slipway.db"),
            ("sqlite://rel.db?mode=rwc", "sqlite://rel.db?mode=rwc"),
            ("no scheme at all", "no scheme at all"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn sqlite_url_names_slipway_db_in_the_data_dir() {
        assert_eq!(Store::sqlite_url(Path::new("/var/lib/slipway")), "sqlite:///var/lib/slipway/slipway.db");
        assert_eq!(Store::sqlite_url(Path::new("data")), "sqlite://data/slipway.db");
    }
}
