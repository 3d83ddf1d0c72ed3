//! Slipway's database schema: one sea-orm migration per file, applied in file-name order by [`Migrator`].
//!
//! The same migrations run on SQLite and PostgreSQL. States are `text` columns (the store maps them to Rust
//! enums), lists and index entries are JSON, and every time is a `timestamp with time zone` written by the
//! store (never a database default, so SQLite's text timestamps all share one format and compare in order).
//! A released migration is never edited: change the schema with a new file.

// `MigrationTrait` declares `&SchemaManager` with its lifetime elided; async_trait needs the same spelling.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_init;
mod m20261122_000002_stages_and_logs;
mod m20261122_000003_images_and_tags;
mod m20261122_000004_results;
mod m20261202_000005_access_and_log_offsets;
mod m20261202_000006_project_parents;
mod m20261202_000007_schedules;
mod m20261202_000008_build_notified;
mod m20261203_000009_base_images;
mod m20261203_000010_mail_digests;
mod m20261203_000011_announced;
mod m20261203_000012_revocations;
mod m20261203_000013_registry_events;
mod m20261203_000014_periodic_runs;
mod m20261203_000015_jobs_by_lease;
mod m20261203_000016_job_retry_delay;
mod m20261203_000017_release_order;
mod m20261203_000018_tag_drift;

/// Applies the schema: `Migrator::up(&db, None)`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_init::Migration),
            Box::new(m20261122_000002_stages_and_logs::Migration),
            Box::new(m20261122_000003_images_and_tags::Migration),
            Box::new(m20261122_000004_results::Migration),
            Box::new(m20261202_000005_access_and_log_offsets::Migration),
            Box::new(m20261202_000006_project_parents::Migration),
            Box::new(m20261202_000007_schedules::Migration),
            Box::new(m20261202_000008_build_notified::Migration),
            Box::new(m20261203_000009_base_images::Migration),
            Box::new(m20261203_000010_mail_digests::Migration),
            Box::new(m20261203_000011_announced::Migration),
            Box::new(m20261203_000012_revocations::Migration),
            Box::new(m20261203_000013_registry_events::Migration),
            Box::new(m20261203_000014_periodic_runs::Migration),
            Box::new(m20261203_000015_jobs_by_lease::Migration),
            Box::new(m20261203_000016_job_retry_delay::Migration),
            Box::new(m20261203_000017_release_order::Migration),
            Box::new(m20261203_000018_tag_drift::Migration),
        ]
    }
}
