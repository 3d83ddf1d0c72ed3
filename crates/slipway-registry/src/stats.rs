//! Registry errors seen by this process, by registry and status, for `/metrics`. Every failed attempt counts,
//! retried or not: a registry that answers 503 three times before a success shows three.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

static ERRORS: LazyLock<Mutex<BTreeMap<(String, String), u64>>> = LazyLock::new(|| Mutex::new(BTreeMap::new()));

/// Counts one failed attempt; `status` is the HTTP status, or `None` when no answer came (`connect`).
pub(crate) fn record_error(registry: &str, status: Option<u16>) {
    let status = status.map_or_else(|| "connect".to_string(), |s| s.to_string());
    if let Ok(mut errors) = ERRORS.lock() {
        *errors.entry((registry.to_string(), status)).or_default() += 1;
    }
}

/// One registry's failed attempts with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCount {
    pub registry: String,
    /// An HTTP status, or `connect`.
    pub status: String,
    pub count: u64,
}

/// Every count so far, ordered by registry and status.
pub fn registry_error_counts() -> Vec<ErrorCount> {
    let errors = ERRORS.lock().map(|e| e.clone()).unwrap_or_default();
    errors.into_iter().map(|((registry, status), count)| ErrorCount { registry, status, count }).collect()
}
