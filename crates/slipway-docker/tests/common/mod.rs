//! Shared helpers for the integration tests: they talk to the machine's real dockerd and registry
//! (`scripts/setup` starts both and imports `slipway/busybox:latest`).
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_docker::{BuildSpec, Docker, pack_context};

pub const BASE: &str = "slipway/busybox:latest";
pub const REGISTRY: &str = "127.0.0.1:5555";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or concurrent run) uses: `slipway-docker-test/<what>-<pid>-<n>`.
pub fn unique(what: &str) -> String {
    format!("slipway-docker-test/{what}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub async fn docker() -> Docker {
    Docker::connect(None).await.expect("dockerd must be running (scripts/setup)")
}

/// Removes the images it was given when dropped, even when the test panicked (through the docker CLI, which
/// needs no runtime).
#[derive(Default)]
pub struct Cleanup {
    images: Vec<String>,
    intermediate: Vec<String>,
}

impl Cleanup {
    pub fn image(&mut self, image: impl Into<String>) -> String {
        let image = image.into();
        self.images.push(image.clone());
        image
    }

    /// The step images a failed build left behind (` ---> id` after "Removing intermediate container"); removed
    /// without force, so an image something else uses (the base image) is never touched.
    pub fn failed_build(&mut self, lines: &[String]) {
        for pair in lines.windows(2) {
            if pair[0].starts_with("Removing intermediate container")
                && let Some(id) = pair[1].trim().strip_prefix("---> ")
            {
                self.intermediate.push(id.to_string());
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for image in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", image]).output();
        }
        // The daemon may still be removing the failed step's container, which holds its parent image: retry.
        for id in self.intermediate.iter().rev() {
            for _ in 0..20 {
                match Command::new("docker").args(["rmi", id]).output() {
                    Ok(out) if out.status.success() => break,
                    Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No such image") => break,
                    _ => std::thread::sleep(Duration::from_millis(250)),
                }
            }
        }
    }
}

/// Writes `files` (path → content) into a fresh temp dir.
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, content) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// A build spec for `dir` with network none, no cache (a test must see its steps run) and a short timeout.
pub fn spec(dir: &Path, dockerfile: &Path, tag: &str) -> BuildSpec {
    let archive = pack_context(dir, dir, dockerfile).unwrap();
    let mut spec = BuildSpec::new(archive, tag);
    spec.network_mode = Some("none".to_string());
    spec.timeout = Duration::from_secs(60);
    spec.no_cache = true;
    spec
}

/// Builds `dockerfile` (and `files`) as `tag`, registering it for cleanup.
pub async fn build(docker: &Docker, cleanup: &mut Cleanup, tag: &str, dockerfile: &str) -> String {
    let dir = context(&[("Dockerfile", dockerfile)]);
    let spec = spec(dir.path(), &dir.path().join("Dockerfile"), &cleanup.image(tag));
    let mut lines = Vec::new();
    let built = docker.build(&spec, &mut |l: &str| lines.push(l.to_string())).await;
    built.unwrap_or_else(|e| panic!("build of {tag} failed: {e}\n{}", lines.join("\n"))).id
}

/// A log sink collecting lines, shareable with the test after the call.
pub fn collector() -> (Arc<Mutex<Vec<String>>>, impl FnMut(&str) + Send) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    (lines, move |l: &str| sink.lock().unwrap().push(l.to_string()))
}

/// Labels of an image, as the daemon reports them.
pub async fn labels(docker: &Docker, image: &str) -> BTreeMap<String, String> {
    docker.image_config(image).await.unwrap().labels
}

/// Containers (any state) created from `image`.
pub async fn containers_of(docker: &Docker, image: &str) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptions;
    let filters = std::collections::HashMap::from([("ancestor".to_string(), vec![image.to_string()])]);
    let options = ListContainersOptions { all: true, filters: Some(filters), ..Default::default() };
    let list = docker.api().list_containers(Some(options)).await.unwrap();
    list.into_iter().filter_map(|c| c.id).collect()
}
