//! Where a remote branch points now, to notice that it moved: one listing of the remote's refs, nothing
//! downloaded, no mirror touched. Blocking, like the rest of the crate.

use std::time::{Duration, Instant};

use crate::GitError;
use crate::fetch::{Target, remote_tip};
use crate::url::redact;

/// The commit (full hex id) `branch` of `url` points to.
pub fn branch_head(url: &str, branch: &str, timeout: Duration) -> Result<String, GitError> {
    let shown = redact(url);
    let target = Target { url, shown: &shown, branch, shallow: false, deadline: Instant::now() + timeout, timeout };
    remote_tip(&target).map(|tip| tip.to_string())
}
