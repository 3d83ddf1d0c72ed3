//! One exclusive lock per mirror, so that two checkouts of the same repository (two workers on one host,
//! or two threads) never fetch into or rebuild the mirror at once. It is an advisory `flock` on a lock
//! file beside the mirror: the kernel releases it when its holder exits, so a crash leaves no stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::GitError;

/// How often a waiting checkout tries the lock again.
const RETRY: Duration = Duration::from_millis(20);

/// Held while the mirror is used; unlocked when dropped (the file is closed).
#[derive(Debug)]
pub struct MirrorLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another holder kept it past the deadline.
    Deadline,
    Io(GitError),
}

impl MirrorLock {
    /// Waits for the lock at `path` until `deadline`, telling `progress` once if another checkout holds it.
    pub fn acquire(path: &Path, deadline: Instant, progress: &mut dyn FnMut(&str)) -> Result<MirrorLock, LockError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| LockError::Io(GitError::io(path, e)))?;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(MirrorLock { _file: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(LockError::Io(GitError::io(PathBuf::from(path), e))),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LockError::Deadline);
            }
            if !told {
                progress("waiting for another checkout of this repository to finish with the mirror");
                told = true;
            }
            thread::sleep(RETRY.min(deadline - now));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_until_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.lock");
        let mut lines = Vec::new();
        let mut progress = |line: &str| lines.push(line.to_string());
        let first = MirrorLock::acquire(&path, Instant::now(), &mut progress).unwrap();
        let second = MirrorLock::acquire(&path, Instant::now() + Duration::from_millis(60), &mut progress);
        assert!(matches!(second, Err(LockError::Deadline)));
        drop(first);
        assert!(MirrorLock::acquire(&path, Instant::now(), &mut progress).is_ok());
        assert_eq!(lines.len(), 1);
    }
}
