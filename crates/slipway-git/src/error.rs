//! What can go wrong in a checkout, each error naming the repository (password redacted) and what to do.

use std::path::PathBuf;
use std::time::Duration;

/// A failed checkout. Every `url` field is already redacted (`https://user:***@host/…`).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// Connection refused, DNS failure, an unsupported URL, or a server without this repository.
    #[error(
        "could not reach {url}: {message}; check git-url in the index (is the address right, and does the server have this repository?)"
    )]
    Unreachable { url: String, message: String },

    /// The server asked for credentials; only public repositories are supported for now.
    #[error(
        "{url} asks for credentials; private repositories are not supported yet, so make the repository public or point git-url at a public mirror"
    )]
    AuthRequired { url: String },

    /// The repository has no such branch.
    #[error("branch `{branch}` not found in {url}; it has: {}; fix git-branch in the index", list(available))]
    BranchNotFound { url: String, branch: String, available: Vec<String> },

    /// The fetch (or the wait for another checkout of the same repository) passed its deadline.
    #[error(
        "fetching {url} did not finish within {after:?}; the server is slow or the repository is large, try again later"
    )]
    Timeout { url: String, after: Duration },

    /// The connection was made but the transfer failed part-way.
    #[error("fetching {url} failed: {message}; try again, and check the server if it keeps failing")]
    Fetch { url: String, message: String },

    /// The cached mirror could not be created or updated, even after cloning it afresh.
    #[error("the mirror of {url} at {} failed: {message}; check free space and permissions under the mirror root", path.display())]
    Mirror { url: String, path: PathBuf, message: String },

    /// The commit's tree could not be written into the checkout directory.
    #[error("could not write the checkout at {}: {message}", path.display())]
    Checkout { path: PathBuf, message: String },

    /// A filesystem operation on the mirror root or the checkout directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GitError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> GitError {
        GitError::Io { path: path.into(), source }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "no branches".to_string() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_not_found_lists_branches() {
        let err = GitError::BranchNotFound {
            url: "git://h/r".into(),
            branch: "mian".into(),
            available: vec!["dev".into(), "main".into()],
        };
        assert_eq!(
            err.to_string(),
            "branch `mian` not found in git://h/r; it has: dev, main; fix git-branch in the index"
        );
        let empty = GitError::BranchNotFound { url: "git://h/r".into(), branch: "main".into(), available: vec![] };
        assert!(empty.to_string().contains("it has: no branches"));
    }
}
