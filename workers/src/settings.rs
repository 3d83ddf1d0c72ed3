//! How a worker runs builds: where it delivers, where it keeps its files, and the limits it puts on the
//! code it runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use slipway_docker::Limits;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The worker's name in the queue (`host-pid-n`).
    pub name: String,
    /// `host:port` of the registry images are delivered to.
    pub registry: String,
    /// Git mirrors (`git/`) and build checkouts (`work/`) live here.
    pub data_dir: PathBuf,
    /// Docker network mode of builds and prebuild scripts: `none` keeps them off the network.
    pub build_network: Option<String>,
    pub build_timeout: Duration,
    /// The memory a build's steps may use (no swap beyond it); none: the daemon's default, no limit.
    pub build_memory_bytes: Option<i64>,
    /// The image prebuild scripts run in.
    pub prebuild_image: String,
    pub prebuild_timeout: Duration,
    /// The image the port check runs from (needs `nc`).
    pub busybox_image: String,
    /// A user test script's time limit unless the project sets `test-timeout`.
    pub test_timeout: Duration,
    pub limits: Limits,
    /// How long a claimed job is ours without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    pub max_attempts: i32,
    /// Shared by the process's workers: at most this many pushes and promotions to the registry at once
    /// (none: no limit beyond the number of workers).
    pub registry_slots: Option<Arc<Semaphore>>,
}

impl WorkerSettings {
    pub fn new(name: impl Into<String>, registry: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        WorkerSettings {
            name: name.into(),
            registry: registry.into(),
            data_dir: data_dir.into(),
            build_network: Some("none".into()),
            build_timeout: Duration::from_secs(30 * 60),
            build_memory_bytes: Some(2047 << 20),
            prebuild_image: "slipway/busybox:latest".into(),
            prebuild_timeout: Duration::from_secs(10 * 60),
            busybox_image: "slipway/busybox:latest".into(),
            test_timeout: Duration::from_secs(10 * 60),
            limits: Limits::default(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            max_attempts: 3,
            registry_slots: None,
        }
    }

    /// The network mode of a project's build: its `build-network` when set (`default` is the engine's
    /// default, sent as no mode at all), otherwise the worker's `build_network`.
    pub fn build_network_for(&self, project: Option<&str>) -> Option<String> {
        match project {
            Some("default") => None,
            Some(mode) => Some(mode.to_string()),
            None => self.build_network.clone(),
        }
    }

    pub fn mirrors_dir(&self) -> PathBuf {
        self.data_dir.join("git")
    }

    pub fn work_dir(&self, build_id: i64) -> PathBuf {
        self.data_dir.join("work").join(format!("build-{build_id}"))
    }
}

impl WorkerSettings {
    /// Waits for a slot to talk to the registry, if they are limited; `log` hears of a wait.
    pub async fn registry_slot(&self, log: &mut (dyn FnMut(String) + Send)) -> Option<SemaphorePermit<'_>> {
        let slots = self.registry_slots.as_ref()?;
        if let Ok(permit) = slots.try_acquire() {
            return Some(permit);
        }
        log(format!(
            "[slipway] waiting for a turn: the registry {} takes a limited number of pushes at once",
            self.registry
        ));
        slots.acquire().await.ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registry_slots_are_shared_and_a_wait_is_said() {
        let mut settings = WorkerSettings::new("w", "127.0.0.1:5555", "/tmp");
        let mut said = Vec::new();
        assert!(settings.registry_slot(&mut |line| said.push(line)).await.is_none(), "no limit, no slot");
        settings.registry_slots = Some(Arc::new(Semaphore::new(1)));
        let other = settings.clone();
        let held = settings.registry_slot(&mut |line| said.push(line)).await.unwrap();
        assert!(said.is_empty());
        let waiting = tokio::spawn(async move {
            let mut lines = Vec::new();
            let slot = other.registry_slot(&mut |line| lines.push(line)).await;
            (slot.is_some(), lines)
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the second waits while the first holds the only slot");
        drop(held);
        let (got, lines) = waiting.await.unwrap();
        assert!(got);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("127.0.0.1:5555"), "{lines:?}");
    }

    #[test]
    fn a_projects_build_network_wins_over_the_workers() {
        let settings = WorkerSettings::new("w", "127.0.0.1:5555", "/tmp");
        let cases =
            [(None, Some("none")), (Some("default"), None), (Some("host"), Some("host")), (Some("none"), Some("none"))];
        for (project, want) in cases {
            assert_eq!(settings.build_network_for(project).as_deref(), want, "{project:?}");
        }
    }
}
