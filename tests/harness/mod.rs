//! Test harness for the registry client's integration tests: real CNCF registries (distribution 2.8, the
//! Debian `docker-registry` binary) started per test, a real token server, and image helpers that go
//! through the real Docker daemon. Nothing is pulled from the internet and every byte stays on 127.0.0.1.
//!
//! # How to use it
//!
//! ```ignore
//! use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, unique_name};
//!
//! #[test]
//! fn promotes_a_digest() {
//!     // A private registry for this test: free port, fresh storage, deletes enabled. Dropping it kills the
//!     // process and removes its files. Auth::None, Auth::htpasswd(user, password) or Auth::token(user, password).
//!     let registry = Registry::start(Auth::token("alice", "secret"));
//!
//!     // A local image with one layer of 1 MiB of random bytes, under a name unique to this process and call.
//!     let mut tags = LocalTags::new(); // removes the local tags it is given when dropped
//!     let name = unique_name("promote"); // "slipway-test/promote-<pid>-<n>"
//!     let local = tags.add(format!("{name}:built"));
//!     build_image(&local, 1 << 20);
//!
//!     // Push it (docker login first when the registry has credentials); returns "sha256:…".
//!     let digest = registry.push(&local, &format!("{name}:test"));
//!     tags.add(registry.reference(&format!("{name}:test")));
//!
//!     // … run the client under test against registry.url() with registry.credentials() …
//!
//!     // Prove the result with the real Docker: pull it and compare digests.
//!     assert_eq!(registry.pull_digest(&format!("{name}:rc")), digest);
//!     // Token mode: what did the client ask the token server for?
//!     assert!(registry.token_requests().iter().any(|r| r.asks(&name, "push")));
//! }
//! ```
//!
//! - [`Registry::shared`] is the address of the registry `scripts/setup` runs (127.0.0.1:5555, or
//!   `SLIPWAY_REGISTRY_PORT`); it starts nothing. Use it with the free functions [`push`] and [`pull_digest`]
//!   (anonymous, the default Docker config).
//! - A [`Registry`] keeps its own Docker client config (`docker --config`), so logins of parallel tests never
//!   race on `~/.docker/config.json`; use [`Registry::push`], [`Registry::pull_digest`] and
//!   [`Registry::docker_login`] with it.
//! - Everything here is synchronous and safe to call from `#[tokio::test]` (it blocks the test's thread for
//!   the 15–50 ms a registry takes to start). The token server runs on its own thread and runtime.
//! - Token mode: the registry trusts a self-signed P-256 certificate made with the `openssl` CLI; the token
//!   server signs ES256 JWTs with it (certificate in the header's `x5c`). HTTP Basic with the configured
//!   user gets every action it asks for; anonymous requests get only `pull` (and no catalog); a wrong
//!   password gets 401. Every request is recorded: [`Registry::token_requests`].
//! - Failures panic with what failed, the command's output or the registry's log, and what to do. A registry
//!   whose test process died without dropping it is killed by the next harness run ([`Registry::start`]
//!   reaps registries whose owning process is gone).

mod docker;
mod git;
mod registry;
mod smtp;
mod token;

pub use docker::{LocalTags, build_image, pull_digest, push, remove_local, unique_name};
pub use git::{GitServer, RepoFile};
pub use registry::{Auth, Registry, free_port};
pub use smtp::{SmtpSink, assert_mail_has, read_mails, wait_for_mails};
pub use token::{Access, ISSUER, SERVICE, TokenRequest, TokenServer};
