//! Job claims per second with 8 concurrent claimers, on SQLite and PostgreSQL (budgets: SQLite ≥ 300/s,
//! PostgreSQL ≥ 1,000/s), and that no job is ever claimed twice. The anchor, measured in the same run on the
//! same database: 8 concurrent lease renewals (`heartbeat`, one single-row UPDATE in its own transaction), the
//! cheapest write the queue makes.
//!
//! `cargo bench -p slipway-store --bench claims` (PostgreSQL from `bash scripts/setup`, or
//! `SLIPWAY_TEST_POSTGRES`). `CLAIM_JOBS` sets how many jobs are queued (default 4,000).

#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{PgDatabase, new_project};
use slipway_store::{NewBuild, Store};

const CLAIMERS: usize = 8;
const LEASE: Duration = Duration::from_secs(600);
const ANCHOR_FOR: Duration = Duration::from_secs(2);

struct Figures {
    claims: usize,
    claims_per_s: f64,
    anchor_per_s: f64,
}

async fn measure(store: Store, jobs: usize) -> Figures {
    let projects = 50;
    let mut ids = Vec::new();
    for p in 0..projects {
        let project = store.upsert_project(&new_project(&format!("p{p}"))).await.unwrap();
        ids.push(project.id);
    }
    for n in 0..jobs {
        let build = NewBuild {
            project_id: ids[n % projects],
            causes: vec!["bench".into()],
            parents: vec![],
            priority: (n % 3) as i32,
            max_attempts: 3,
            source_image: None,
        };
        store.create_build(&build).await.unwrap();
    }

    let started = Instant::now();
    let mut claimers = tokio::task::JoinSet::new();
    for c in 0..CLAIMERS {
        let store = store.clone();
        claimers.spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = store.claim(&format!("claimer-{c}"), LEASE).await.unwrap() {
                mine.push(job.job_id);
            }
            mine
        });
    }
    let mut claimed = Vec::with_capacity(jobs);
    while let Some(mine) = claimers.join_next().await {
        claimed.extend(mine.unwrap());
    }
    let took = started.elapsed();
    let distinct: HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(distinct.len(), claimed.len(), "a job was claimed twice");
    assert_eq!(claimed.len(), jobs, "every job was claimed once");

    // The anchor: each claimer renews the lease of one of its jobs as fast as it can.
    let started = Instant::now();
    let mut renewers = tokio::task::JoinSet::new();
    for (c, job) in claimed.iter().take(CLAIMERS).enumerate() {
        let (store, job) = (store.clone(), *job);
        renewers.spawn(async move {
            let mut n = 0usize;
            let worker = format!("claimer-{c}");
            while started.elapsed() < ANCHOR_FOR {
                // Whoever claimed it: renewals by another name answer false, which is the same UPDATE.
                let _ = store.heartbeat(job, &worker, LEASE).await.unwrap();
                n += 1;
            }
            n
        });
    }
    let mut renewals = 0;
    while let Some(n) = renewers.join_next().await {
        renewals += n.unwrap();
    }
    let anchor_took = started.elapsed();
    store.close().await.unwrap();
    Figures {
        claims: claimed.len(),
        claims_per_s: claimed.len() as f64 / took.as_secs_f64(),
        anchor_per_s: renewals as f64 / anchor_took.as_secs_f64(),
    }
}

fn report(backend: &str, figures: &Figures, budget: f64) -> bool {
    let ok = figures.claims_per_s >= budget;
    println!(
        "{backend:<10} {} claims by {CLAIMERS} claimers: {:>7.0} claims/s (budget ≥ {budget:.0}/s) {} | anchor: {:>7.0} \
         lease renewals/s; never the same job twice",
        figures.claims,
        figures.claims_per_s,
        if ok { "ok" } else { "OVER BUDGET" },
        figures.anchor_per_s,
    );
    ok
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let jobs: usize = std::env::var("CLAIM_JOBS").ok().and_then(|n| n.parse().ok()).unwrap_or(4000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&Store::sqlite_url(dir.path())).await.unwrap();
    sqlite.migrate().await.unwrap();
    let sqlite = measure(sqlite, jobs).await;

    let pg = PgDatabase::create().await;
    let store = Store::connect(&pg.url).await.unwrap();
    store.migrate().await.unwrap();
    let postgres = measure(store, jobs).await;
    pg.drop().await;

    let ok = report("SQLite", &sqlite, 300.0) & report("PostgreSQL", &postgres, 1000.0);
    if !ok {
        std::process::exit(1);
    }
}
