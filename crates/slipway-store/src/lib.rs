//! Slipway's store: projects, builds, stages, logs, images, tag history, promotions and the job queue, on
//! SQLite (the default, one file) or PostgreSQL (for many processes and hosts), through sea-orm.
//!
//! The hierarchy is Project → [`Build`] (one trigger of one project, numbered per project) → [`Stage`] →
//! [`LogChunk`]. A build's queue row is its *job*: [`Store::create_build`] queues it in the same transaction.
//!
//! # The queue
//! - [`Store::claim`] leases the highest-priority, oldest job that is queued, or running with a lapsed lease
//!   (claimed again, `attempts + 1`), and whose build's parents have all succeeded. It is one short transaction
//!   that commits before any work: `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` on
//!   PostgreSQL, the same statement inside `BEGIN IMMEDIATE` on SQLite. Before it, jobs whose lease lapsed
//!   `max_attempts` times are failed and their build errors with "worker lost: …".
//! - [`Store::heartbeat`] renews the lease (every lease/3, say); `false` tells the worker to stop.
//! - [`Store::finish_build`] (the lease holder only, else [`StoreError::LeaseLost`]) records the outcome and,
//!   when the build did not succeed, skips every queued build that waits on it, transitively, in the same
//!   transaction, so children never wait for nothing.
//!
//! Times are written by the store (`Utc::now()`, microseconds), never by database defaults, so that SQLite's
//! text timestamps share one format and compare in time order; hosts that share a database need synchronised
//! clocks, as leases compare the claimer's clock with the heartbeat writer's.

mod access;
mod base_images;
mod builds;
mod connect;
mod entities;
mod error;
mod images;
mod logs;
mod notified;
mod overview;
mod periodic;
mod projects;
mod queue;
mod registry_events;
mod release_order;
mod requests;
mod results;
mod schedules;
mod stable;
mod stages;
mod states;
mod tag_drift;
mod waits;

use chrono::{DateTime, SubsecRound, Utc};

pub use access::{ApiToken, Session};
pub use base_images::BaseImage;
pub use builds::{Build, NewBuild};
pub use connect::{Backend, Store, redact_url};
pub use error::StoreError;
pub use images::{Image, NewImage, NewPromotion, NewTagEvent, Promotion, TagEvent};
pub use logs::{LogChunk, LogSize};
pub use notified::DigestClaim;
pub use overview::{BuildCounts, StageReached, TierImage};
pub use projects::{NewProject, Project};
pub use queue::{BuildOutcome, ClaimedJob, QueueCounts};
pub use registry_events::{EventClaim, NewRegistryEvent, RegistryEvent};
pub use release_order::{HeadMove, HeadOutcome, LockAttempt, ReleaseHead, Tier};
pub use requests::{ProjectNode, Requested};
pub use results::{Finding, ImageEvidence, NewFinding, NewTestResult, TestResultRow};
pub use stages::Stage;
pub use states::{BuildState, JobState, ParseStateError, QaState, Severity, StageKind, StageState, TestResult};
pub use tag_drift::{NewTagDrift, TagDrift, TagState};

/// Now, to the microsecond PostgreSQL keeps, so a value reads back as it was written on both backends.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
