//! What every handler shares: the store, the configuration, the readiness probes and small caches.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use slipway_registry::RegistryClient;
use slipway_store::Store;
use tokio::sync::watch;

use crate::views::ProjectRow;

/// A readiness check, e.g. "Docker answers a ping": `Err` says what is wrong.
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// An invalid index entry, shown on the dashboard rather than hidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexProblem {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

/// The invalid entries of the index the server last loaded, replaced at each reload.
#[derive(Clone, Default)]
pub struct IndexProblems(Arc<RwLock<Arc<Vec<IndexProblem>>>>);

impl IndexProblems {
    pub fn new(problems: Vec<IndexProblem>) -> IndexProblems {
        IndexProblems(Arc::new(RwLock::new(Arc::new(problems))))
    }

    pub fn get(&self) -> Arc<Vec<IndexProblem>> {
        self.0.read().map(|p| Arc::clone(&p)).unwrap_or_default()
    }

    pub fn set(&self, problems: Vec<IndexProblem>) {
        if let Ok(mut current) = self.0.write() {
            *current = Arc::new(problems);
        }
    }
}

/// Where the index comes from when it is a git repository: a verified push to its branch asks the server to
/// reload it at once.
#[derive(Clone)]
pub struct IndexRepository {
    pub url: String,
    pub branch: String,
    pub pushed: Arc<tokio::sync::Notify>,
}

/// How the server behaves.
#[derive(Clone)]
pub struct WebConfig {
    /// The registry projects are delivered to (`127.0.0.1:5555`): repositories are `REGISTRY/app/job`.
    pub registry: String,
    /// Reading needs a login or a token too (by default reading is open).
    pub read_requires_login: bool,
    /// Mark the session cookie `Secure` (serve behind HTTPS).
    pub secure_cookies: bool,
    /// How long a login lasts.
    pub session_lifetime: Duration,
    pub index_problems: IndexProblems,
    pub index_repository: Option<IndexRepository>,
    /// The secret push webhooks are signed with; without it `/hooks/…` answers 404.
    pub webhook_secret: Option<String>,
    /// Registry notifications and their rules; without them `/hooks/registry` answers 404.
    pub registry_events: Option<crate::RegistryEvents>,
    /// Named checks for `/readyz` beside the database's (Docker, say).
    pub probes: Vec<(String, Probe)>,
}

impl WebConfig {
    pub fn new(registry: impl Into<String>) -> WebConfig {
        WebConfig {
            registry: registry.into(),
            read_requires_login: false,
            secure_cookies: false,
            session_lifetime: Duration::from_secs(12 * 3600),
            index_problems: IndexProblems::default(),
            index_repository: None,
            webhook_secret: None,
            registry_events: None,
            probes: Vec::new(),
        }
    }
}

/// The dashboard's rows are computed at most once a second, however many people look.
pub(crate) const DASHBOARD_TTL: Duration = Duration::from_secs(1);
/// Rows up to this old are still answered while they are recomputed in the background.
pub(crate) const DASHBOARD_STALE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: WebConfig,
    /// For the release action; without it the action answers 503.
    pub(crate) registry: Option<RegistryClient>,
    pub(crate) dashboard: Mutex<Option<(Instant, Arc<Vec<ProjectRow>>)>>,
    /// Held by the one task that recomputes the dashboard.
    pub(crate) refreshing: Arc<tokio::sync::Mutex<()>>,
    pub(crate) stop: watch::Sender<bool>,
}

impl AppState {
    pub fn new(store: Store, config: WebConfig, registry: Option<RegistryClient>) -> AppState {
        let (stop, _) = watch::channel(false);
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                registry,
                dashboard: Mutex::new(None),
                refreshing: Arc::new(tokio::sync::Mutex::new(())),
                stop,
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// Ends every open log stream (graceful shutdown waits for open responses).
    pub fn stop_streams(&self) {
        let _ = self.inner.stop.send(true);
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Forgets the cached dashboard (after an action changed a build).
    pub(crate) fn dashboard_changed(&self) {
        if let Ok(mut cached) = self.inner.dashboard.lock() {
            *cached = None;
        }
    }
}
