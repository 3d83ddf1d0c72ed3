//! checkout: one branch of one repository, fetched through its cached mirror and written into a directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::{Commit, Repository};

use crate::GitError;
use crate::fetch::{Fetched, Target, short};
use crate::lock::{LockError, MirrorLock};
use crate::mirror::{self, MirrorPaths};
use crate::semver::semver_tags;
use crate::url::{redact, supports_shallow};
use crate::write_tree::{WriteError, write_tree};

/// Bare mirrors, one per repository URL, under one root directory. Cheap to share (`Arc`) between the
/// threads of a worker; the mirrors' locks also keep separate processes on one host apart.
#[derive(Debug, Clone)]
pub struct MirrorCache {
    root: PathBuf,
}

/// What to check out, and how long the fetch (and any wait for the mirror) may take.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutRequest<'a> {
    pub url: &'a str,
    pub branch: &'a str,
    /// A new or empty directory; it receives the files only, no `.git`.
    pub dest: &'a Path,
    pub timeout: Duration,
}

/// The commit that was checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// Full hex id.
    pub commit: String,
    /// The first line of the commit message.
    pub subject: String,
    /// `Name <email>`.
    pub author: String,
    /// Committer time, unix seconds.
    pub committed_at: i64,
    /// The remote's semver tags (`vX.Y.Z` or `X.Y.Z`, optional `-pre`) on the commit, highest first.
    pub semver_tags: Vec<String>,
    pub mirror: MirrorUse,
    /// The mirror holds shallow history (depth-1 fetches over git://, http(s)://, ssh).
    pub shallow: bool,
}

/// How the mirror was brought up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorUse {
    /// There was no usable mirror (none yet, or one that was damaged or had too many packs); it was cloned.
    Cloned,
    /// The existing mirror was fetched into; `changed` when the branch moved since the last checkout.
    Fetched { changed: bool },
}

impl MirrorCache {
    pub fn new(root: impl Into<PathBuf>) -> MirrorCache {
        MirrorCache { root: root.into() }
    }

    /// The bare mirror directory that `url` maps to (it may not exist yet).
    pub fn mirror_dir(&self, url: &str) -> PathBuf {
        MirrorPaths::new(&self.root, url).dir
    }

    /// Fetches `branch` of `url` into its cached mirror (cloning it the first time), then writes the
    /// branch's tree into `dest` and reports what was checked out. Blocking: run it in `spawn_blocking`.
    /// `progress` gets a few human-readable lines. `timeout` bounds the wait for the mirror's lock and
    /// the fetch, not the writing of files; after an error `dest` may hold part of the tree.
    pub fn checkout(
        &self,
        request: &CheckoutRequest<'_>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Checkout, GitError> {
        let shown = redact(request.url);
        let target = Target {
            url: request.url,
            shown: &shown,
            branch: request.branch,
            shallow: supports_shallow(request.url),
            deadline: deadline(request.timeout),
            timeout: request.timeout,
        };
        fs::create_dir_all(&self.root).map_err(|e| GitError::io(&self.root, e))?;
        let paths = MirrorPaths::new(&self.root, request.url);
        let _lock = MirrorLock::acquire(&paths.lock, target.deadline, progress).map_err(|err| match err {
            LockError::Deadline => target.timeout_error(),
            LockError::Io(err) => err,
        })?;
        let (repo, fetched, mirror) = mirror::update(&paths, &target, progress)?;
        let commit = repo.find_commit(fetched.tip).map_err(|e| mirror::mirror_error(&target, &paths.dir, &e))?;
        if let Err(err) = write_tree(&repo, commit.tree_id(), request.dest) {
            return Err(match err {
                WriteError::Other(err) => err,
                WriteError::Object(err) => {
                    // The next checkout clones afresh instead of failing the same way.
                    drop(commit);
                    drop(repo);
                    mirror::remove(&paths.dir)?;
                    GitError::Checkout {
                        path: request.dest.to_path_buf(),
                        message: format!(
                            "the mirror of {shown} is damaged ({}); it was removed, so checking out again clones it afresh",
                            err.message()
                        ),
                    }
                }
            });
        }
        let checkout = describe(&repo, &commit, &fetched, mirror);
        progress(&format!("checked out {} \"{}\"", short(fetched.tip), checkout.subject));
        Ok(checkout)
    }
}

/// Now plus `timeout`; a timeout beyond a century (`Duration::MAX`) counts as a century.
fn deadline(timeout: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(timeout.min(CENTURY)).unwrap_or(now)
}

fn describe(repo: &Repository, commit: &Commit<'_>, fetched: &Fetched, mirror: MirrorUse) -> Checkout {
    let message = String::from_utf8_lossy(commit.message_bytes());
    let subject = message.lines().map(str::trim).find(|line| !line.is_empty()).unwrap_or_default().to_string();
    let author = commit.author();
    let author =
        format!("{} <{}>", String::from_utf8_lossy(author.name_bytes()), String::from_utf8_lossy(author.email_bytes()));
    Checkout {
        commit: commit.id().to_string(),
        subject,
        author,
        committed_at: commit.time().seconds(),
        semver_tags: semver_tags(fetched.tags.iter().map(String::as_str)),
        mirror,
        shallow: repo.is_shallow(),
    }
}
