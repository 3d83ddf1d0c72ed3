//! How a worker runs builds: where it delivers, where it keeps its files, and the limits it puts on the
//! code it runs.

use std::path::PathBuf;
use std::time::Duration;

use slipway_docker::Limits;

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
}

impl WorkerSettings {
    pub fn new(name: impl Into<String>, registry: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        WorkerSettings {
            name: name.into(),
            registry: registry.into(),
            data_dir: data_dir.into(),
            build_network: Some("none".into()),
            build_timeout: Duration::from_secs(30 * 60),
            prebuild_image: "slipway/busybox:latest".into(),
            prebuild_timeout: Duration::from_secs(10 * 60),
            busybox_image: "slipway/busybox:latest".into(),
            test_timeout: Duration::from_secs(10 * 60),
            limits: Limits::default(),
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            max_attempts: 3,
        }
    }

    pub fn mirrors_dir(&self) -> PathBuf {
        self.data_dir.join("git")
    }

    pub fn work_dir(&self, build_id: i64) -> PathBuf {
        self.data_dir.join("work").join(format!("build-{build_id}"))
    }
}
