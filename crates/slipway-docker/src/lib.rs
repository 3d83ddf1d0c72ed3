//! Everything Slipway does with Docker, through bollard against a local or remote dockerd (API ≥ 1.41), or
//! Podman's Docker-compatible API ([`Docker::engine`] says which).
//!
//! - [`pack_context`] tars a build context honouring `.dockerignore` (Docker's rules, not git's) into a temp file.
//! - [`Docker::build`] builds it with BuildKit (or the classic builder), [`Docker::push`] pushes one tag and returns its digest.
//! - [`Docker::run`] runs a command in a locked-down sandbox; [`Docker::predefined_tests`] checks that an image
//!   starts, listens on the ports it exposes and turns healthy.
//! - [`lint`] gives advisory Dockerfile warnings without Docker; [`image_uses`] and [`add_urls`] say which
//!   images and URLs a Dockerfile reaches for, so the worker can refuse them before a build.
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
mod buildkit;
mod cache_mounts;
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
mod reach;
mod run;
mod sandbox;
mod step_limits;
mod supervise;

pub use build::{BuildError, BuildSpec, Builder, BuiltImage, DEFAULT_LOG_CAP};
pub use cache_mounts::scope_cache_mounts;
pub use client::Docker;
pub use context::{ContextArchive, ContextError, pack_context};
pub use dockerignore::{DockerIgnore, PatternError};
pub use engine::{Engine, EngineKind};
pub use error::DockerError;
pub use inspect::{Healthcheck, ImageConfig};
pub use lint::{LintWarning, SyntaxDirective, base_images, lint, syntax_directive};
pub use predefined::{PredefinedOptions, TestOutcome};
pub use pull::PullError;
pub use push::{PushError, RegistryAuth};
pub use reach::{AddUrl, ImageUse, Via, add_urls, image_uses};
pub use run::RunOutcome;
pub use sandbox::{Bind, Limits, Network, SANDBOX_LABEL, SandboxSpec};
pub use step_limits::StepLimits;
pub use supervise::StopReason;
