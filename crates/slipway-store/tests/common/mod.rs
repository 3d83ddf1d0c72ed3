//! Every store test runs on both backends, each time on a database of its own: a fresh SQLite file in a
//! temporary directory, and a fresh PostgreSQL database (`slipway_test_<pid>_<n>`, dropped afterwards) on the
//! server named by `SLIPWAY_TEST_POSTGRES` (default: the one `bash scripts/setup` starts).

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use slipway_store::{Build, NewBuild, NewProject, Project, Store};

pub const DEFAULT_POSTGRES: &str = "postgres://slipway@127.0.0.1:5433/slipway";

static NEXT_DB: AtomicU64 = AtomicU64::new(0);
static SWEPT: AtomicBool = AtomicBool::new(false);

/// Runs `body` on a fresh SQLite store, then on a fresh PostgreSQL store. A failure names the backend.
pub async fn on_both<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&Store::sqlite_url(dir.path())).await.unwrap();
    store.migrate().await.unwrap();
    run("SQLite", tokio::spawn(body(store))).await;

    let pg = PgDatabase::create().await;
    let store = Store::connect(&pg.url).await.unwrap();
    store.migrate().await.unwrap();
    let outcome = tokio::spawn(body(store.clone())).await;
    store.close().await.unwrap();
    pg.drop().await;
    run("PostgreSQL", async { outcome }).await;
}

async fn run(backend: &str, task: impl Future<Output = Result<(), tokio::task::JoinError>>) {
    if let Err(err) = task.await {
        eprintln!("the test failed on {backend}");
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("the test on {backend} did not finish: {err}"),
        }
    }
}

/// A database of its own on the test server.
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin: DatabaseConnection,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let server = std::env::var("SLIPWAY_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string());
        // Store::connect names the cause (refused, unknown role…) where a bare pool only says it timed out.
        if let Err(err) = Store::connect(&server).await {
            panic!(
                "{err}\nThe store tests need PostgreSQL: run `bash scripts/setup`, or point SLIPWAY_TEST_POSTGRES at a \
                 server whose role may CREATE DATABASE."
            );
        }
        let mut options = ConnectOptions::new(&server);
        options.max_connections(1).connect_timeout(Duration::from_secs(10)).sqlx_logging(false);
        let admin = Database::connect(options).await.unwrap();
        if !SWEPT.swap(true, Ordering::SeqCst) {
            sweep_leftovers(&admin).await;
        }
        let name = format!("slipway_test_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        PgDatabase { url: with_database(&server, &name), name, admin }
    }

    /// Drops the database. FORCE ends sessions still open; PostgreSQL gives them 5 s to go, which a loaded
    /// machine can exceed, so a refusal is retried a few times.
    pub async fn drop(self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        for attempt in 1.. {
            match self.admin.execute_unprepared(&sql).await {
                Ok(_) => return,
                Err(err) if attempt < 5 => {
                    eprintln!("dropping {} (attempt {attempt}): {err}; retrying", self.name);
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(err) => panic!("cannot drop the test database {}: {err}", self.name),
            }
        }
    }
}

/// Drops the databases of test runs that were killed before they could (their process is gone).
async fn sweep_leftovers(admin: &DatabaseConnection) {
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'slipway\\_test\\_%'",
        ))
        .await
        .unwrap();
    for row in rows {
        let name: String = row.try_get("", "datname").unwrap();
        // `slipway_test_<pid>_…`: a database whose test process has ended. Other names are not ours to drop.
        let Some(pid) = name.split('_').nth(2).and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
        }
    }
}

/// `postgres://u@h:p/db?x` with `db` replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out = format!("{out}?{query}");
    }
    out
}

/// A project named `app/<name>:latest`.
pub fn new_project(name: &str) -> NewProject {
    NewProject {
        image: format!("app/{name}:latest"),
        app_id: "app".into(),
        job_id: name.into(),
        desired_tag: "latest".into(),
        git_url: format!("git://127.0.0.1:9418/{name}"),
        git_branch: "main".into(),
        git_path: "/".into(),
        target_file: "Dockerfile".into(),
        build_context: "./".into(),
        depends_on: vec![],
        notify_email: None,
        entry: serde_json::json!({ "job-id": name }),
        index_file: "index.d/app.yaml".into(),
        index_line: 1,
    }
}

pub async fn project(store: &Store, name: &str) -> Project {
    store.upsert_project(&new_project(name)).await.unwrap()
}

/// A manual build of `project` waiting on `parents`, priority 0, 3 attempts.
pub async fn build(store: &Store, project: &Project, parents: &[&Build]) -> Build {
    build_with(store, project, parents, 0, 3).await
}

pub async fn build_with(
    store: &Store,
    project: &Project,
    parents: &[&Build],
    priority: i32,
    max_attempts: i32,
) -> Build {
    let new = NewBuild {
        project_id: project.id,
        causes: vec!["manual run".into()],
        parents: parents.iter().map(|b| b.id).collect(),
        priority,
        max_attempts,
        source_image: None,
    };
    store.create_build(&new).await.unwrap()
}
