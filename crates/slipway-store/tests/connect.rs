//! Opening databases: SQLite files by absolute and relative URL, unsupported URLs, unreachable servers
//! (with the password left out of the message), and migrations applied twice.

#![allow(clippy::unwrap_used)]

mod common;

use slipway_store::{Backend, Store, StoreError};

#[tokio::test]
async fn sqlite_files_are_created_where_the_url_says() {
    let dir = tempfile::tempdir().unwrap();
    let url = Store::sqlite_url(dir.path());
    assert!(url.starts_with("sqlite:///"), "{url}");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(dir.path().join("slipway.db").is_file());

    // A relative URL is taken from the current directory; run it from the temp dir via an absolute detour.
    let nested = dir.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    let relative = nested.strip_prefix(std::env::current_dir().unwrap()).map(|p| p.to_path_buf());
    let url = match relative {
        Ok(rel) => Store::sqlite_url(&rel),
        // The temp dir is outside the working directory: go up with `..` segments instead.
        Err(_) => {
            let ups = std::env::current_dir().unwrap().components().count() - 1;
            let up = "../".repeat(ups);
            format!("sqlite://{up}{}", nested.join("slipway.db").display().to_string().trim_start_matches('/'))
        }
    };
    assert!(!url.starts_with("sqlite:///"), "{url}");
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    assert!(nested.join("slipway.db").is_file(), "{url}");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = Store::connect("mysql://u:secret@127.0.0.1/db").await.unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(err.to_string().contains("mysql://u:***@127.0.0.1/db"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_its_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let started = std::time::Instant::now();
    let err = Store::connect("postgres://slipway:hunter2@127.0.0.1:1/slipway").await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "fails at once, not after the pool's timeout");
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("postgres://slipway:***@127.0.0.1:1/slipway"), "{message}");
    assert!(message.contains("scripts/setup") && message.contains("Connection refused"), "{message}");
    assert!(!message.contains("hunter2") && !format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn a_sqlite_file_that_cannot_be_created_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/dir/slipway.db", dir.path().display());
    let started = std::time::Instant::now();
    let err = Store::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(err.to_string().contains("unable to open database file"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "fails at once, not after the pool's timeout");
}

#[tokio::test]
async fn a_store_never_shows_its_password() {
    // The test server trusts loopback, so it accepts any password: the store must still keep it out of sight.
    let pg = common::PgDatabase::create().await;
    let (scheme, rest) = pg.url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').expect("SLIPWAY_TEST_POSTGRES names a role");
    let role = userinfo.split(':').next().unwrap_or_default();
    let url = format!("{scheme}://{role}:hunter2@{host}");
    let store = Store::connect(&url).await.unwrap();
    assert!(!format!("{store:?}").contains("hunter2"), "{store:?}");
    assert!(store.url().contains("slipway:***@"), "{}", store.url());
    store.close().await.unwrap();
    pg.drop().await;
}

#[tokio::test]
async fn postgres_migrates_twice_without_change() {
    let pg = common::PgDatabase::create().await;
    let store = Store::connect(&pg.url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.projects().await.unwrap(), []);
    store.close().await.unwrap();
    pg.drop().await;
}

/// Several processes starting on one fresh database (a server and a CLI, say) migrate it once: the others
/// wait for the lock, then find nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_of_a_fresh_database_all_succeed() {
    async fn race(url: &str) {
        let mut stores = Vec::new();
        for _ in 0..4 {
            stores.push(Store::connect(url).await.unwrap());
        }
        let tasks: Vec<_> = stores.iter().cloned().map(|s| tokio::spawn(async move { s.migrate().await })).collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for store in stores {
            assert!(store.projects().await.unwrap().is_empty());
            store.close().await.unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    race(&Store::sqlite_url(dir.path())).await;
    let pg = common::PgDatabase::create().await;
    race(&pg.url).await;
    pg.drop().await;
}
