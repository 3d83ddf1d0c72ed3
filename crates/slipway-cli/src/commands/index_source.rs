//! Where a server reads its index from: a directory (or one file) on this host, or a branch of a git
//! repository. Each is looked at on an interval (and a git one also when its push webhook arrives); only a
//! change is loaded and applied to the store.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sha2::{Digest, Sha256};
use slipway_git::{CheckoutRequest, MirrorCache, branch_head, redact};
use slipway_index::Index;

/// How long one look at the index repository may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub enum IndexSource {
    /// `index.d/` under it, a directory of index files, or one file.
    Directory(PathBuf),
    Git(GitIndex),
}

#[derive(Debug, Clone)]
pub struct GitIndex {
    pub url: String,
    pub branch: String,
    /// Where the index is inside the repository (`""`: its root).
    pub path: PathBuf,
    /// The mirror and the checkout live here.
    pub dir: PathBuf,
}

/// An index as read, with what tells it from the next one.
pub struct LoadedIndex {
    pub index: Index,
    /// The files' names and contents hashed, or the commit.
    pub version: String,
}

impl IndexSource {
    /// What is shown in logs: the path, or the URL (without credentials) and branch.
    pub fn describe(&self) -> String {
        match self {
            IndexSource::Directory(path) => path.display().to_string(),
            IndexSource::Git(git) => format!("{} branch {}", redact(&git.url), git.branch),
        }
    }

    /// The repository and branch pushes to which reload the index, for a git source.
    pub fn repository(&self) -> Option<(String, String)> {
        match self {
            IndexSource::Directory(_) => None,
            IndexSource::Git(git) => Some((git.url.clone(), git.branch.clone())),
        }
    }

    /// The current version, cheaply: a hash of the files for a directory, the branch's commit for git (one
    /// round trip, nothing fetched). Blocking.
    pub fn version(&self) -> anyhow::Result<String> {
        match self {
            IndexSource::Directory(path) => directory_version(path),
            IndexSource::Git(git) => branch_head(&git.url, &git.branch, GIT_TIMEOUT)
                .with_context(|| format!("cannot read branch {} of the index repository", git.branch)),
        }
    }

    /// Reads the index. Blocking.
    pub fn load(&self) -> anyhow::Result<LoadedIndex> {
        match self {
            IndexSource::Directory(path) => {
                // Versioned before reading: a change made while reading is seen at the next look.
                let version = directory_version(path)?;
                let index =
                    Index::load(path).with_context(|| format!("cannot load the index at {}", path.display()))?;
                Ok(LoadedIndex { index, version })
            }
            IndexSource::Git(git) => git.load(),
        }
    }
}

impl GitIndex {
    /// Fetches the branch and writes it to `DIR/checkout` (the same path every time, so the index files
    /// projects were recorded from keep their names), then reads the index there.
    fn load(&self) -> anyhow::Result<LoadedIndex> {
        let mirrors = MirrorCache::new(self.dir.join("mirrors"));
        let fresh = self.dir.join("checkout.new");
        let current = self.dir.join("checkout");
        remove_dir(&fresh)?;
        fs::create_dir_all(&fresh).with_context(|| format!("cannot create {}", fresh.display()))?;
        let request = CheckoutRequest { url: &self.url, branch: &self.branch, dest: &fresh, timeout: GIT_TIMEOUT };
        let checkout = mirrors
            .checkout(&request, &mut |line| tracing::debug!(index.source = %redact(&self.url), "{line}"))
            .with_context(|| format!("cannot check out branch {} of the index repository", self.branch))?;
        remove_dir(&current)?;
        fs::rename(&fresh, &current)
            .with_context(|| format!("cannot move the index checkout to {}", current.display()))?;
        let path = current.join(&self.path);
        let index = Index::load(&path).with_context(|| {
            format!(
                "cannot load the index at {} of {} (commit {})",
                self.path.display(),
                redact(&self.url),
                checkout.commit
            )
        })?;
        Ok(LoadedIndex { index, version: checkout.commit })
    }
}

fn remove_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("cannot remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// A hash of every file's path and contents under `path` (or of the one file), in a stable order.
fn directory_version(path: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    collect_files(path, &mut files).with_context(|| format!("cannot read the index at {}", path.display()))?;
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        let text = fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        hash.update(file.as_os_str().as_encoded_bytes());
        hash.update([0]);
        hash.update((text.len() as u64).to_le_bytes());
        hash.update(&text);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        collect_files(&entry.path(), files)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_version_changes_with_any_file_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let index_d = dir.path().join("index.d");
        fs::create_dir_all(&index_d).unwrap();
        fs::write(index_d.join("a.yaml"), "Projects: []\n").unwrap();
        let source = IndexSource::Directory(dir.path().to_path_buf());
        let first = source.version().unwrap();
        assert_eq!(source.version().unwrap(), first, "nothing changed");
        fs::write(index_d.join("b.yaml"), "Projects: []\n").unwrap();
        let second = source.version().unwrap();
        assert_ne!(second, first, "a file added");
        fs::write(index_d.join("b.yaml"), "Projects: [] \n").unwrap();
        assert_ne!(source.version().unwrap(), second, "a file edited");
        assert!(IndexSource::Directory(dir.path().join("missing")).version().is_err());
    }
}
