//! Slipway's OCI distribution client. It knows registries, repositories, manifests and blobs, nothing of
//! projects or builds.
//!
//! Promotion is [`RegistryClient::tag`]: the manifest of the exact digest read once, written under new tags,
//! no layer moved. [`RegistryClient::copy`] crosses repositories (mount) and registries (streamed, bounded
//! parallelism). [`RegistryClient::untag`] removes one tag and never another. [`RegistryClient::attach`] and
//! [`RegistryClient::referrers`] carry reports with the image, with the tag-schema fallback.

mod auth;
mod blobs;
mod client;
mod copy;
mod digest;
mod error;
mod inspect;
mod manifest;
mod manifests;
pub mod media;
mod mirror;
pub mod notifications;
mod reference;
mod referrers;
mod retry;
mod stats;
mod tags;

pub use auth::{Credentials, docker_config_credentials};
pub use blobs::BlobCopy;
pub use client::{ClientConfig, RegistryClient, http_client};
pub use copy::CopyReport;
pub use digest::{Digest, DigestError};
pub use error::{ErrorCode, RegistryError};
pub use inspect::{ImageInfo, PlatformInfo};
pub use manifest::{Contents, Descriptor, Manifest, Platform};
pub use manifests::{Resolved, Tagged};
pub use mirror::{MirrorEntry, MirrorOutcome, MirrorSource, MirrorStep};
pub use reference::{Reference, ReferenceError, Repository, Target};
pub use referrers::{Artifact, fallback_tag};
pub use retry::RetryPolicy;
pub use stats::{ErrorCount, registry_error_counts};
pub use tags::Untagged;
