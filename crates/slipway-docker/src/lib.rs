//! Everything Slipway does with Docker, through bollard against a local or remote dockerd (API ≥ 1.41), or
//! Podman's Docker-compatible API ([`Docker::engine`] says which).
//!
//! - [`pack_context`] tars a build context honouring `.dockerignore` (Docker's rules, not git's) into a temp file.
//! - [`Docker::build`] builds it with the classic builder, [`Docker::push`] pushes one tag and returns its digest.
//! - [`Docker::run`] runs a command in a locked-down sandbox; [`Docker::predefined_tests`] checks that an image
//!   starts, listens on the ports it exposes and turns healthy.
//! - [`lint`] gives advisory Dockerfile warnings without Docker.
//!
//! **Logs.** Every long operation takes `log: &mut (dyn FnMut(&str) + Send)` and calls it once per line, as the
//! line arrives (without its trailing newline), so a caller can append it to a database without this crate ever
//! holding a whole log (to write asynchronously, send each line into a bounded channel from the callback).
//! Lines Slipway itself adds start with `[slipway] `.
//!
//! **Cancellation.** Dropping a future returned here cancels the operation: sandbox containers are removed in
//! the background (see `container.rs`), and a dropped build request makes the daemon kill and remove the running
//! step's container, so a cancelled stage leaves nothing running.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod build;
mod client;
mod container;
mod context;
mod dockerignore;
mod engine;
mod error;
mod health_exec;
mod inspect;
mod lint;
mod log;
mod predefined;
mod probes;
mod pull;
mod push;
mod run;
mod sandbox;
mod supervise;

pub use build::{BuildError, BuildSpec, BuiltImage};
pub use client::Docker;
pub use context::{ContextArchive, ContextError, pack_context};
pub use dockerignore::{DockerIgnore, PatternError};
pub use engine::{Engine, EngineKind};
pub use error::DockerError;
pub use inspect::{Healthcheck, ImageConfig};
pub use lint::{LintWarning, base_images, lint};
pub use predefined::{PredefinedOptions, TestOutcome};
pub use pull::PullError;
pub use push::{PushError, RegistryAuth};
pub use run::RunOutcome;
pub use sandbox::{Bind, Limits, Network, SANDBOX_LABEL, SandboxSpec};
pub use supervise::StopReason;
