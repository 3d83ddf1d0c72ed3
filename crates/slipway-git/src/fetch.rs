//! Fetching one branch into a mirror: list the remote's refs, stop early when the mirror already has the
//! branch tip and its tags, otherwise download just that branch (depth 1 where the transport allows) and
//! the tags that point at its tip.

use std::cell::Cell;
use std::time::{Duration, Instant};

use git2::{
    AutotagOption, Direction, ErrorClass, FetchOptions, Oid, Remote, RemoteCallbacks, RemoteConnection,
    RemoteUpdateFlags, Repository,
};

use crate::GitError;
use crate::refs::Advertised;

/// What to fetch, and until when.
pub(crate) struct Target<'a> {
    pub url: &'a str,
    /// The URL with its password redacted, for messages.
    pub shown: &'a str,
    pub branch: &'a str,
    pub shallow: bool,
    pub deadline: Instant,
    pub timeout: Duration,
}

impl Target<'_> {
    pub fn timeout_error(&self) -> GitError {
        GitError::Timeout { url: self.shown.to_string(), after: self.timeout }
    }
}

/// The branch tip now in the mirror.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub tip: Oid,
    /// The mirror's branch pointed elsewhere (or nowhere) before.
    pub changed: bool,
    /// Names of the remote's tags that point at `tip`.
    pub tags: Vec<String>,
}

/// A failed fetch: the remote's fault (reported as is) or damage in the mirror (worth a fresh clone).
#[derive(Debug)]
pub(crate) enum FetchError {
    Remote(GitError),
    Mirror(git2::Error),
}

/// Fetches `target`'s branch into `repo`, reporting a few progress lines.
pub(crate) fn fetch(
    repo: &Repository,
    target: &Target<'_>,
    progress: &mut dyn FnMut(&str),
) -> Result<Fetched, FetchError> {
    let watch = Watch { deadline: target.deadline, expired: Cell::new(false), auth_asked: Cell::new(false) };
    if !watch.alive() {
        return Err(FetchError::Remote(target.timeout_error()));
    }
    let mut remote =
        repo.remote_anonymous(target.url).map_err(|e| FetchError::Remote(watch.error(target, &e, false)))?;
    let mut connection = remote
        .connect_auth(Direction::Fetch, Some(watch.callbacks()), None)
        .map_err(|e| FetchError::Remote(watch.error(target, &e, false)))?;
    let (advertised, tip) = branch_tip(&connection, target, &watch).map_err(FetchError::Remote)?;
    let tags = advertised.tags_at(tip);
    let branch_ref = format!("refs/heads/{}", target.branch);
    let before = repo.refname_to_id(&branch_ref).ok();
    let up_to_date = before == Some(tip)
        && repo.find_commit(tip).is_ok()
        && tags.iter().all(|tag| repo.refname_to_id(&format!("refs/tags/{}", tag.name)).ok() == Some(tag.target));

    if up_to_date {
        progress(&format!("branch {} is unchanged at {}", target.branch, short(tip)));
    } else {
        let mut specs = vec![format!("+{branch_ref}:{branch_ref}")];
        specs.extend(tags.iter().map(|tag| format!("+refs/tags/{0}:refs/tags/{0}", tag.name)));
        let mut options = FetchOptions::new();
        options.remote_callbacks(watch.callbacks()).download_tags(AutotagOption::None).update_fetchhead(false);
        if target.shallow {
            options.depth(1);
        }
        let remote = connection.remote();
        remote.download(&specs, Some(&mut options)).map_err(|e| {
            if is_mirror_damage(&e) { FetchError::Mirror(e) } else { FetchError::Remote(watch.error(target, &e, true)) }
        })?;
        let stats = remote.stats();
        progress(&format!("received {} objects, {}", stats.received_objects(), bytes(stats.received_bytes())));
        remote
            .update_tips(None, RemoteUpdateFlags::empty(), AutotagOption::None, Some("slipway: fetch"))
            .map_err(FetchError::Mirror)?;
        let after = repo.refname_to_id(&branch_ref).map_err(FetchError::Mirror)?;
        if after != tip {
            let message = format!("{branch_ref} is at {after} after fetching {tip}");
            return Err(FetchError::Mirror(git2::Error::new(
                git2::ErrorCode::GenericError,
                ErrorClass::Reference,
                message,
            )));
        }
    }
    repo.find_commit(tip).map_err(FetchError::Mirror)?;
    Ok(Fetched { tip, changed: before != Some(tip), tags: tags.into_iter().map(|tag| tag.name).collect() })
}

/// Shared by the callbacks of one fetch: the deadline, and what made libgit2 stop.
/// The commit `target.branch` points to on the remote, read from its ref list: nothing is downloaded.
pub(crate) fn remote_tip(target: &Target<'_>) -> Result<Oid, GitError> {
    let watch = Watch { deadline: target.deadline, expired: Cell::new(false), auth_asked: Cell::new(false) };
    let mut remote = Remote::create_detached(target.url).map_err(|e| watch.error(target, &e, false))?;
    let connection = remote
        .connect_auth(Direction::Fetch, Some(watch.callbacks()), None)
        .map_err(|e| watch.error(target, &e, false))?;
    Ok(branch_tip(&connection, target, &watch)?.1)
}

/// The remote's refs and the tip of `target.branch` among them.
fn branch_tip(
    connection: &RemoteConnection<'_, '_, '_>,
    target: &Target<'_>,
    watch: &Watch,
) -> Result<(Advertised, Oid), GitError> {
    let heads = connection.list().map_err(|e| watch.error(target, &e, true))?;
    let advertised = Advertised::read(heads.iter().map(|head| (head.name(), head.oid())));
    match advertised.branch(target.branch) {
        Some(tip) => Ok((advertised, tip)),
        None => Err(GitError::BranchNotFound {
            url: target.shown.to_string(),
            branch: target.branch.to_string(),
            available: advertised.branch_names(),
        }),
    }
}

struct Watch {
    deadline: Instant,
    expired: Cell<bool>,
    auth_asked: Cell<bool>,
}

impl Watch {
    /// The deadline is checked whenever libgit2 reports progress; returning false aborts the transfer.
    fn alive(&self) -> bool {
        let alive = Instant::now() < self.deadline;
        if !alive {
            self.expired.set(true);
        }
        alive
    }

    /// Callbacks that enforce the deadline and refuse credentials once (a callback that keeps answering
    /// makes libgit2 ask forever).
    fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks
            .credentials(|_, _, _| {
                self.auth_asked.set(true);
                Err(git2::Error::from_str("the server asks for credentials, and none are configured"))
            })
            .transfer_progress(|_| self.alive())
            .sideband_progress(|_| self.alive());
        callbacks
    }

    /// Why the network part failed; `connected` tells a broken transfer from an unreachable server.
    fn error(&self, target: &Target<'_>, err: &git2::Error, connected: bool) -> GitError {
        let url = target.shown.to_string();
        if self.auth_asked.get() {
            GitError::AuthRequired { url }
        } else if self.expired.get() || Instant::now() >= self.deadline {
            target.timeout_error()
        } else if connected {
            GitError::Fetch { url, message: err.message().to_string() }
        } else {
            GitError::Unreachable { url, message: unreachable_message(err) }
        }
    }
}

/// libgit2's words, plus a hint where they are cryptic: a server that hangs up without a word (rather
/// than git daemon's "repository not exported") usually has no repository at that path.
fn unreachable_message(err: &git2::Error) -> String {
    let message = err.message().trim_end_matches('.').to_string();
    let lower = message.to_ascii_lowercase();
    if lower.contains("eof") || lower.contains("hung up") || lower.contains("unexpected end") {
        format!("{message} (the server closed the connection; it probably has no repository at this path)")
    } else {
        message
    }
}

/// Errors that come from the mirror's own files rather than from the network.
fn is_mirror_damage(err: &git2::Error) -> bool {
    matches!(
        err.class(),
        ErrorClass::Odb
            | ErrorClass::Object
            | ErrorClass::Repository
            | ErrorClass::Reference
            | ErrorClass::Zlib
            | ErrorClass::Filesystem
    )
}

pub(crate) fn short(oid: Oid) -> String {
    let mut hex = oid.to_string();
    hex.truncate(7);
    hex
}

fn bytes(count: usize) -> String {
    const KIB: f64 = 1024.0;
    let size = count as f64;
    if size < KIB {
        format!("{count} bytes")
    } else if size < KIB * KIB {
        format!("{:.1} KiB", size / KIB)
    } else {
        format!("{:.1} MiB", size / (KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes() {
        for (count, shown) in [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KiB"), (3 * 1024 * 1024, "3.0 MiB")] {
            assert_eq!(bytes(count), shown);
        }
    }
}
