//! Checkouts through one cached bare mirror per repository, with git2 (libgit2).
//!
//! [`MirrorCache::checkout`] fetches one branch of a repository into its mirror under the cache root
//! (cloning it the first time), then writes the branch's tree into a directory: files, exec bits and
//! symlinks, no `.git`. Over git://, http(s):// and ssh the fetch is shallow (depth 1); libgit2's local
//! transport (`file://`, plain paths) cannot fetch shallow, so those mirrors hold full history. A branch
//! that has not moved since the last checkout is not downloaded again: the remote's ref list is compared
//! with the mirror first.
//!
//! Mirrors are safe to share between threads and processes on one host: each has a lock file, taken
//! around the whole checkout. A clone is built beside the mirror and renamed into place, and a mirror that
//! fails to open or fetch because its files are damaged is removed and cloned again; so is one that has
//! gathered too many pack files (nothing repacks a mirror).
//!
//! The API is blocking; callers on an async runtime wrap it in `spawn_blocking`.
//!
//! Known limit: the timeout is enforced whenever libgit2 reports progress and while waiting for the lock.
//! A server that accepts the connection and then sends nothing at all is not cut off by it, because
//! libgit2's socket timeouts are only settable through `unsafe` globals, which this workspace forbids.

mod checkout;
mod error;
mod fetch;
mod head;
mod lock;
mod mirror;
mod refs;
mod semver;
mod url;
mod write_tree;

pub use checkout::{Checkout, CheckoutRequest, MirrorCache, MirrorUse};
pub use error::GitError;
pub use head::branch_head;
pub use url::redact;
