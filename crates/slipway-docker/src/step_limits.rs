//! Process and CPU limits on build steps. Docker 20.10's BuildKit takes neither per build (it ignores the
//! cgroup parent and the memory of a build request) and runs every `RUN` in a cgroup of its own under
//! `docker/buildkit`. So, on the daemon's own host, Slipway limits that parent (a ceiling for all steps at once,
//! in place before any step starts: a fork bomb cannot take the host's process table), and gives each step's
//! cgroup the per-step limits as soon as it appears.
//!
//! cgroup v1 (`/sys/fs/cgroup/<controller>/docker/buildkit`) and v2 (`/sys/fs/cgroup/docker/buildkit`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often new step cgroups are looked for.
const POLL: Duration = Duration::from_millis(25);
/// All steps together may use this many times one step's share.
const PARENT_FACTOR: i64 = 4;
const CPU_PERIOD_US: i64 = 100_000;

/// The limits of one build step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLimits {
    pub pids: i64,
    /// In billionths of a CPU.
    pub nano_cpus: i64,
    /// Memory without swap; none: unlimited.
    pub memory_bytes: Option<i64>,
}

/// One controller's directory for BuildKit's steps, and the files that hold the limits there.
#[derive(Debug, Clone)]
struct Controller {
    dir: PathBuf,
    files: Vec<(&'static str, String, String)>,
}

/// Applies the limits while alive; dropping it stops watching for new steps.
pub(crate) struct Applied {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Applied {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StepLimits {
    /// Limits the parent now, then every new step cgroup, until the guard is dropped. `Err` says why the
    /// limits cannot be applied here (a remote daemon, no cgroup access).
    pub(crate) fn apply(&self, endpoint: &str) -> Result<Applied, String> {
        if !endpoint.starts_with("unix://") {
            return Err(format!("the daemon at {endpoint} is on another host"));
        }
        let controllers = self.controllers(Path::new("/sys/fs/cgroup"))?;
        for controller in &controllers {
            std::fs::create_dir_all(&controller.dir)
                .map_err(|e| format!("cannot create {}: {e}", controller.dir.display()))?;
            for (file, parent, _) in &controller.files {
                write(&controller.dir.join(file), parent)?;
            }
        }
        let task = tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            loop {
                for controller in &controllers {
                    limit_new_steps(controller, &mut seen);
                }
                tokio::time::sleep(POLL).await;
            }
        });
        Ok(Applied { task })
    }

    /// The controllers and the values to write (parent, each step), for a cgroup v1 or v2 tree at `root`.
    fn controllers(&self, root: &Path) -> Result<Vec<Controller>, String> {
        let quota = self.nano_cpus.saturating_mul(CPU_PERIOD_US) / 1_000_000_000;
        let pids = |n: i64| n.to_string();
        if root.join("pids").is_dir() {
            let mut controllers = vec![
                Controller {
                    dir: root.join("pids/docker/buildkit"),
                    files: vec![("pids.max", pids(self.pids * PARENT_FACTOR), pids(self.pids))],
                },
                Controller {
                    dir: root.join("cpu/docker/buildkit"),
                    files: vec![
                        ("cpu.cfs_period_us", CPU_PERIOD_US.to_string(), CPU_PERIOD_US.to_string()),
                        ("cpu.cfs_quota_us", (quota * PARENT_FACTOR).to_string(), quota.to_string()),
                    ],
                },
            ];
            if let Some(memory) = self.memory_bytes {
                controllers.push(Controller {
                    dir: root.join("memory/docker/buildkit"),
                    files: vec![("memory.limit_in_bytes", (memory * PARENT_FACTOR).to_string(), memory.to_string())],
                });
            }
            Ok(controllers)
        } else if root.join("cgroup.controllers").is_file() {
            let mut files = vec![
                ("pids.max", pids(self.pids * PARENT_FACTOR), pids(self.pids)),
                ("cpu.max", format!("{} {CPU_PERIOD_US}", quota * PARENT_FACTOR), format!("{quota} {CPU_PERIOD_US}")),
            ];
            if let Some(memory) = self.memory_bytes {
                files.push(("memory.max", (memory * PARENT_FACTOR).to_string(), memory.to_string()));
                files.push(("memory.swap.max", "0".to_string(), "0".to_string()));
            }
            Ok(vec![Controller { dir: root.join("docker/buildkit"), files }])
        } else {
            Err(format!("no cgroup tree at {}", root.display()))
        }
    }
}

/// Gives each step cgroup not seen before its limits.
fn limit_new_steps(controller: &Controller, seen: &mut std::collections::HashSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(&controller.dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || seen.contains(&path) {
            continue;
        }
        for (file, _, step) in &controller.files {
            if let Err(err) = write(&path.join(file), step) {
                tracing::debug!(error = %err, "a build step's cgroup went before its limits were set");
            }
        }
        seen.insert(path);
    }
    // Steps that ended leave their directory; forget them so the set stays small.
    seen.retain(|path| path.exists());
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("cannot write {value} to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_trees_get_parent_and_step_values() {
        let limits = StepLimits { pids: 256, nano_cpus: 1_500_000_000, memory_bytes: Some(1 << 30) };
        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir(v1.path().join("pids")).unwrap();
        let controllers = limits.controllers(v1.path()).unwrap();
        assert_eq!(controllers.len(), 3);
        assert_eq!(controllers[0].files, [("pids.max", "1024".to_string(), "256".to_string())]);
        assert_eq!(controllers[1].files[1], ("cpu.cfs_quota_us", "600000".to_string(), "150000".to_string()));

        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "cpu pids memory").unwrap();
        let controllers = limits.controllers(v2.path()).unwrap();
        assert_eq!(controllers[0].dir, v2.path().join("docker/buildkit"));
        assert!(controllers[0].files.contains(&("cpu.max", "600000 100000".to_string(), "150000 100000".to_string())));

        let none = tempfile::tempdir().unwrap();
        assert!(limits.controllers(none.path()).is_err());
    }

    #[tokio::test]
    async fn new_step_directories_get_the_step_values() {
        let root = tempfile::tempdir().unwrap();
        let controller = Controller {
            dir: root.path().to_path_buf(),
            files: vec![("pids.max", "1024".to_string(), "256".to_string())],
        };
        std::fs::create_dir(root.path().join("step1")).unwrap();
        let mut seen = std::collections::HashSet::new();
        limit_new_steps(&controller, &mut seen);
        assert_eq!(std::fs::read_to_string(root.path().join("step1/pids.max")).unwrap(), "256");
        std::fs::write(root.path().join("step1/pids.max"), "max").unwrap();
        limit_new_steps(&controller, &mut seen);
        assert_eq!(std::fs::read_to_string(root.path().join("step1/pids.max")).unwrap(), "max", "written once");
    }
}
