//! Slipway's workers: they claim builds from the store's queue, run them stage by stage (checkout,
//! prebuild, lint, build, push, test, scan, deliver) and record everything as it happens.
//!
//! A worker holds a lease on the build it runs and renews it every third of the lease; when a worker dies
//! the lease lapses and another worker claims the build again, which resumes from what was recorded.

mod failure;
mod log;
mod pool;
mod run;
mod settings;
mod stages;

use std::sync::Arc;

use slipway_docker::{Docker, RegistryAuth};
use slipway_git::MirrorCache;
use slipway_registry::RegistryClient;
use slipway_store::Store;

pub use pool::{WorkerExit, run_worker};
pub use settings::WorkerSettings;

/// Everything a worker needs, shared by its builds.
#[derive(Clone)]
pub struct Worker {
    pub store: Store,
    pub docker: Docker,
    pub registry: RegistryClient,
    pub mirrors: Arc<MirrorCache>,
    pub settings: Arc<WorkerSettings>,
}

impl Worker {
    pub fn new(store: Store, docker: Docker, registry: RegistryClient, settings: WorkerSettings) -> Self {
        let mirrors = Arc::new(MirrorCache::new(settings.mirrors_dir()));
        Worker { store, docker, registry, mirrors, settings: Arc::new(settings) }
    }

    /// What the Docker daemon presents to the registry of `image` (a reference or a repository) when it pushes
    /// or pulls: the credentials configured for that registry, if any (the daemon keeps none of its own).
    pub(crate) fn docker_auth(&self, image: &str) -> Option<RegistryAuth> {
        let host = image.split('/').next().filter(|_| slipway_oci_name::names_registry(image))?;
        let credentials = self.registry.credentials(host)?;
        Some(RegistryAuth { username: credentials.username.clone(), password: credentials.password().to_string() })
    }
}
