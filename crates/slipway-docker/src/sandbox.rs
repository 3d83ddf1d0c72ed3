//! What a sandboxed container may do, and the `docker create` body that enforces it.
//!
//! Defaults are locked down: no network, a read-only root with a small `/tmp` tmpfs, all capabilities dropped,
//! `no-new-privileges`, 512 MiB without swap, 256 processes and one CPU. Loosen a field only where a test needs it.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HealthConfig, HostConfig, HostConfigLogConfig, Mount, MountType};

use crate::error::DockerError;

/// The label every sandbox container carries, so leftovers can be found (`docker ps -a --filter label=…`).
pub const SANDBOX_LABEL: &str = "io.slipway.sandbox";
/// Docker refuses memory limits under 6 MiB.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// A container to run under limits.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub image: String,
    /// Replaces the image's CMD; `None` keeps it.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's ENTRYPOINT; `None` keeps it, `Some(vec![])` clears it.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub binds: Vec<Bind>,
    pub workdir: Option<String>,
    /// `None` keeps the image's USER.
    pub user: Option<String>,
    pub limits: Limits,
    pub read_only_root: bool,
    /// Mount point → options, e.g. `("/tmp", "rw,nosuid,size=64m")`.
    pub tmpfs: Vec<(String, String)>,
    pub network: Network,
    /// From start to kill; the outcome is then [`crate::StopReason::TimedOut`].
    pub timeout: Duration,
    /// Bytes of output passed on before the container is stopped ([`crate::StopReason::LogCapReached`]).
    pub log_cap_bytes: u64,
    /// Added to [`SANDBOX_LABEL`].
    pub labels: BTreeMap<String, String>,
    pub name: Option<String>,
}

/// A host path mounted into the container. The host path must exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory, with swap set equal so none is used.
    pub memory_bytes: i64,
    pub pids: i64,
    /// CPU in billionths (1_000_000_000 = one CPU).
    pub nano_cpus: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { memory_bytes: 512 * 1024 * 1024, pids: 256, nano_cpus: 1_000_000_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// Only a loopback interface of its own.
    None,
    /// Join another container's network namespace (its loopback included), e.g. to probe its ports.
    Container(String),
    /// A Docker network by name (`bridge`, a user-defined network) for work that must download, such as a
    /// prebuild script where the operator allows it. `host` is refused: it would share the worker's network.
    Mode(String),
}

impl SandboxSpec {
    /// The locked-down defaults around `image`: its own command, 10-minute timeout, 16 MiB of log.
    pub fn new(image: impl Into<String>) -> SandboxSpec {
        SandboxSpec {
            image: image.into(),
            cmd: None,
            entrypoint: None,
            env: Vec::new(),
            binds: Vec::new(),
            workdir: None,
            user: None,
            limits: Limits::default(),
            read_only_root: true,
            tmpfs: vec![("/tmp".to_string(), "rw,nosuid,nodev,size=64m".to_string())],
            network: Network::None,
            timeout: Duration::from_secs(10 * 60),
            log_cap_bytes: 16 * 1024 * 1024,
            labels: BTreeMap::new(),
            name: None,
        }
    }

    /// The create body; `healthcheck` overrides the image's (see `predefined.rs`).
    pub(crate) fn create_body(&self, healthcheck: Option<HealthConfig>) -> Result<ContainerCreateBody, DockerError> {
        self.validate()?;
        let env = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut labels: HashMap<String, String> = self.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        labels.insert(SANDBOX_LABEL.to_string(), "1".to_string());
        let (network_mode, network_disabled) = match &self.network {
            Network::None => ("none".to_string(), true),
            Network::Container(id) => (format!("container:{id}"), false),
            Network::Mode(mode) => (mode.clone(), false),
        };
        let mounts = self
            .binds
            .iter()
            .map(|b| Mount {
                target: Some(b.container.clone()),
                source: Some(b.host.to_string_lossy().into_owned()),
                typ: Some(MountType::BIND),
                read_only: Some(b.read_only),
                ..Default::default()
            })
            .collect();
        let host_config = HostConfig {
            memory: Some(self.limits.memory_bytes),
            memory_swap: Some(self.limits.memory_bytes),
            pids_limit: Some(self.limits.pids),
            nano_cpus: Some(self.limits.nano_cpus),
            network_mode: Some(network_mode),
            readonly_rootfs: Some(self.read_only_root),
            tmpfs: Some(self.tmpfs.iter().cloned().collect()),
            cap_drop: Some(vec!["ALL".to_string()]),
            security_opt: Some(vec!["no-new-privileges".to_string()]),
            mounts: Some(mounts),
            log_config: Some(log_config(self.log_cap_bytes)),
            ..Default::default()
        };
        Ok(ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: self.cmd.clone(),
            entrypoint: self.entrypoint.clone(),
            env: Some(env),
            working_dir: self.workdir.clone(),
            user: self.user.clone(),
            labels: Some(labels),
            network_disabled: Some(network_disabled),
            tty: Some(false),
            open_stdin: Some(false),
            healthcheck,
            host_config: Some(host_config),
            ..Default::default()
        })
    }

    fn validate(&self) -> Result<(), DockerError> {
        let invalid = |field, message: String| Err(DockerError::InvalidSpec { field, message });
        if self.image.trim().is_empty() {
            return invalid("sandbox image", "it is empty".to_string());
        }
        if let Some((key, _)) = self.env.iter().find(|(k, _)| k.is_empty() || k.contains('=') || k.contains('\0')) {
            return invalid("sandbox environment", format!("`{key}` is not a variable name"));
        }
        if let Some(bind) = self.binds.iter().find(|b| !b.host.is_absolute() || !b.container.starts_with('/')) {
            return invalid(
                "sandbox bind",
                format!("{} → {}: both paths must be absolute", bind.host.display(), bind.container),
            );
        }
        if let Network::Mode(mode) = &self.network
            && (mode.is_empty() || mode == "host" || mode.starts_with("container:"))
        {
            return invalid(
                "sandbox network",
                format!("`{mode}`: use Network::None, Network::Container, or a named network other than host"),
            );
        }
        let Limits { memory_bytes, pids, nano_cpus } = self.limits;
        if memory_bytes < MIN_MEMORY || pids < 1 || nano_cpus < 1 {
            return invalid(
                "sandbox limits",
                format!(
                    "memory {memory_bytes} (at least {MIN_MEMORY}), pids {pids} and nano_cpus {nano_cpus} must be positive"
                ),
            );
        }
        if self.log_cap_bytes == 0 || self.timeout.is_zero() {
            return invalid("sandbox limits", "the log cap and the timeout must be positive".to_string());
        }
        Ok(())
    }
}

/// json-file logs, rotated at a size well above the cap: the follower reads them while they are written, so
/// rotation only bounds the disk when a flood outruns it.
fn log_config(cap: u64) -> HostConfigLogConfig {
    let max_size = cap.saturating_mul(2).max(8 * 1024 * 1024);
    HostConfigLogConfig {
        typ: Some("json-file".to_string()),
        config: Some(HashMap::from([
            ("max-size".to_string(), max_size.to_string()),
            ("max-file".to_string(), "3".to_string()),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_locked_down() {
        let body = SandboxSpec::new("img").create_body(None).unwrap();
        let host = body.host_config.clone().unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(host.memory, host.memory_swap, "no swap");
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.pids_limit, Some(256));
        assert!(host.tmpfs.unwrap().contains_key("/tmp"));
        assert_eq!(body.labels.unwrap().get(SANDBOX_LABEL).map(String::as_str), Some("1"));
    }

    #[test]
    fn joining_another_container() {
        let mut spec = SandboxSpec::new("busybox");
        spec.network = Network::Container("abc".into());
        let body = spec.create_body(None).unwrap();
        assert_eq!(body.host_config.unwrap().network_mode.as_deref(), Some("container:abc"));
        assert_eq!(body.network_disabled, Some(false));
        spec.network = Network::Mode("bridge".into());
        let body = spec.create_body(None).unwrap();
        assert_eq!(body.host_config.unwrap().network_mode.as_deref(), Some("bridge"));
    }

    #[test]
    fn invalid_specs_are_refused() {
        let base = SandboxSpec::new("img");
        let mut cases: Vec<(SandboxSpec, &str)> = Vec::new();
        let mut s = base.clone();
        s.image = " ".into();
        cases.push((s, "sandbox image"));
        let mut s = base.clone();
        s.env.push(("A=B".into(), "c".into()));
        cases.push((s, "sandbox environment"));
        let mut s = base.clone();
        s.binds.push(Bind { host: "rel".into(), container: "/x".into(), read_only: true });
        cases.push((s, "sandbox bind"));
        let mut s = base.clone();
        s.limits.memory_bytes = 1024;
        cases.push((s, "sandbox limits"));
        let mut s = base.clone();
        s.timeout = Duration::ZERO;
        cases.push((s, "sandbox limits"));
        let mut s = base;
        s.network = Network::Mode("host".into());
        cases.push((s, "sandbox network"));
        for (spec, want) in cases {
            match spec.create_body(None) {
                Err(DockerError::InvalidSpec { field, .. }) => assert_eq!(field, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }
}
