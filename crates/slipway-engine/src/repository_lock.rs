//! The lock of one repository, held while its tags are written, across processes and hosts (it lives in the
//! store). Holding it from the head's compare-and-set to the last tag written keeps the registry's order the
//! store's order: two releases of one project can never land in the registry the other way round.
//!
//! The lock has a lease, renewed while it is held, so a holder that dies frees it within [`LEASE`]; waiting for
//! it gives up after [`WAIT`], naming the holder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use slipway_store::{LockAttempt, Store, StoreError};

/// How long a lock is ours without a renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// How long a writer waits for another one's tags before giving up.
pub const WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{repository} is locked by {holder}, which has been writing its tags for over {} s; try again later",
        WAIT.as_secs()
    )]
    Busy { repository: String, holder: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A held lock; [`RepositoryLock::release`] frees it (dropping it frees it too, in the background).
#[derive(Debug)]
pub struct RepositoryLock {
    store: Store,
    repository: String,
    holder: String,
    renewal: tokio::task::JoinHandle<()>,
    released: bool,
}

impl RepositoryLock {
    /// Waits for the lock of `repository`.
    pub async fn acquire(store: &Store, repository: &str) -> Result<RepositoryLock, LockError> {
        let holder = holder_name();
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            match store.try_lock_repository(repository, &holder, LEASE).await? {
                LockAttempt::Taken => break,
                LockAttempt::Held { holder: other } if started.elapsed() >= WAIT => {
                    return Err(LockError::Busy { repository: repository.to_string(), holder: other });
                }
                LockAttempt::Held { .. } => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
            }
        }
        let renewal = {
            let (store, repository, holder) = (store.clone(), repository.to_string(), holder.clone());
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(LEASE / 3);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if let Err(err) = store.try_lock_repository(&repository, &holder, LEASE).await {
                        tracing::warn!(repository, error = %err, "renewing the repository lock failed; retrying");
                    }
                }
            })
        };
        Ok(RepositoryLock {
            store: store.clone(),
            repository: repository.to_string(),
            holder,
            renewal,
            released: false,
        })
    }

    /// Frees the lock. A failure is logged: the lease frees it soon anyway.
    pub async fn release(mut self) {
        self.released = true;
        self.renewal.abort();
        if let Err(err) = self.store.unlock_repository(&self.repository, &self.holder).await {
            tracing::warn!(repository = self.repository, error = %err, "unlocking the repository failed; its lease frees it");
        }
    }
}

impl Drop for RepositoryLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.renewal.abort();
        let (store, repository, holder) = (self.store.clone(), self.repository.clone(), self.holder.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { store.unlock_repository(&repository, &holder).await });
        }
    }
}

/// `host:pid:n`: unique across the processes and hosts sharing a database.
fn holder_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "host".into());
    format!("{}:{}:{}", host.trim(), std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}
