//! Slipway's configuration: `slipway.toml` (from `--settings`, `SLIPWAY_CONFIG`, or the current directory),
//! every key optional. Later parts of the pipeline add their sections here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_FILE: &str = "slipway.toml";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub index: IndexConfig,
    pub registry: RegistryConfig,
    pub pipeline: PipelineConfig,
    /// Credentials and transport per registry host (`host[:port]`).
    pub registries: BTreeMap<String, RegistryAccess>,
    /// What `slipway serve` does with the registry's notifications (see `--registry-event-secret`).
    pub registry_events: RegistryEventsConfig,
    /// What `slipway gc` and the scheduled retention run keep; an index entry may set its own.
    pub retention: RetentionConfig,
    /// Values of the build secrets an index entry names in `build-secrets` (`RUN --mount=type=secret,id=NAME`).
    pub build_secrets: BTreeMap<String, SecretValue>,
}

/// A build secret's value: written here, or read from an environment variable or a file when the worker
/// starts, so the configuration file need not hold it.
#[derive(Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretValue {
    Value(String),
    Env { env: String },
    File { file: PathBuf },
}

impl fmt::Debug for SecretValue {
    /// Never the value itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::Value(_) => f.write_str("SecretValue(****)"),
            SecretValue::Env { env } => write!(f, "SecretValue(env {env})"),
            SecretValue::File { file } => write!(f, "SecretValue(file {})", file.display()),
        }
    }
}

impl SecretValue {
    pub fn read(&self, name: &str) -> anyhow::Result<String> {
        match self {
            SecretValue::Value(value) => Ok(value.clone()),
            SecretValue::Env { env } => std::env::var(env)
                .with_context(|| format!("build_secrets.{name}: the environment variable {env} is not set")),
            SecretValue::File { file } => std::fs::read_to_string(file)
                .map(|text| text.trim_end_matches('\n').to_string())
                .with_context(|| format!("build_secrets.{name}: cannot read {}", file.display())),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// The newest digests of each project kept in each tier (staging, rc, released).
    pub keep: usize,
    /// Staging and identity tags moved more recently than this stay (`14d`).
    pub older_than: String,
    /// The last released digests of each project kept for rollback.
    pub rollback_window: usize,
    /// How long a project removed from the index keeps its tags (`30d`).
    pub removed_grace: String,
    /// How often `slipway serve` runs retention (`1d`); `0s`, the default, never: removing tags is opted into.
    pub interval: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            keep: 3,
            older_than: "14d".into(),
            rollback_window: 3,
            removed_grace: "30d".into(),
            interval: "0s".into(),
        }
    }
}

impl RetentionConfig {
    pub fn policy(&self) -> anyhow::Result<slipway_engine::RetentionPolicy> {
        Ok(slipway_engine::RetentionPolicy {
            keep: self.keep,
            older_than: time_delta("retention.older_than", &self.older_than)?,
            rollback_window: self.rollback_window,
            removed_grace: time_delta("retention.removed_grace", &self.removed_grace)?,
        })
    }

    /// `None` when scheduled runs are off.
    pub fn interval(&self) -> anyhow::Result<Option<std::time::Duration>> {
        let interval =
            crate::duration::parse_duration(&self.interval).map_err(|e| anyhow::anyhow!("retention.interval: {e}"))?;
        Ok(Some(interval).filter(|i| !i.is_zero()))
    }
}

fn time_delta(key: &str, text: &str) -> anyhow::Result<chrono::TimeDelta> {
    let duration = crate::duration::parse_duration(text).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    chrono::TimeDelta::from_std(duration).map_err(|_| anyhow::anyhow!("{key}: `{text}` is too long"))
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryEventsConfig {
    /// Checked in order; every rule that matches a push acts on it.
    pub rules: Vec<slipway_engine::EventRule>,
}

/// How to reach one registry. The password comes from the environment (`password_env`) or the file;
/// `Debug` never shows it.
#[derive(Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryAccess {
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
    /// Plain HTTP for a registry that is not on loopback.
    pub insecure: bool,
    /// At most this many pushes and promotions to it at once from one worker process (default: no limit
    /// beyond the number of workers).
    pub max_concurrent: Option<usize>,
    /// Repositories (`*` matches any run of characters, e.g. `shared/*`) every project may build on with these
    /// credentials; otherwise only its own and its `depends-on` parents.
    pub pull_for: Vec<String>,
}

impl fmt::Debug for RegistryAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAccess")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("insecure", &self.insecure)
            .field("max_concurrent", &self.max_concurrent)
            .field("pull_for", &self.pull_for)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// A directory holding `index.d/`, a directory of index files, or one file.
    pub path: PathBuf,
    /// Read the index from this git repository instead of `path`.
    pub git_url: Option<String>,
    pub git_branch: String,
    /// Where the index is inside that repository (`index.d/` under it, or the index files).
    pub git_path: PathBuf,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { path: PathBuf::from("index"), git_url: None, git_branch: "main".into(), git_path: PathBuf::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// `host[:port]` images are pushed to and promoted in.
    pub address: String,
    /// A docker `config.json` whose `auths` are used too (default: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`, when present). Entries under `[registries]` take precedence.
    pub docker_config: Option<PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig { address: "127.0.0.1:5555".to_string(), docker_config: None }
    }
}

/// Where the pipeline keeps its state and how it runs builds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Git mirrors, checkouts and (by default) the SQLite database live here.
    pub data_dir: PathBuf,
    /// `sqlite:///path/slipway.db` or `postgres://user@host:port/db`; default: `slipway.db` in `data_dir`.
    pub database: Option<String>,
    /// Builds run at once by `slipway run`.
    pub workers: usize,
    /// Docker network mode for builds and prebuild scripts; `none` keeps them off the network.
    pub build_network: String,
    /// `buildkit` (the default: the daemon's BuildKit, through the Docker API) or `classic`.
    pub builder: String,
    /// The daemon's build cache is pruned to this size after each build, in MiB (0: never pruned).
    pub build_cache_mb: u64,
    /// Processes each build step may run, and the CPUs it may use (all steps at once: four times that).
    pub build_pids: i64,
    pub build_cpus: f64,
    pub build_timeout_s: u64,
    /// The memory each build's steps may use, in MiB (no swap beyond it): 6 to 2047 (the classic builder's range),
    /// or 0 for no limit.
    pub build_memory_mb: u64,
    /// A user test script's time limit when the project sets no `test-timeout`.
    pub test_timeout_s: u64,
    /// The image prebuild scripts run in, and the port check's image (needs `sh` and `nc`).
    pub tools_image: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            data_dir: std::env::var_os("SLIPWAY_HOME")
                .map_or_else(|| PathBuf::from("/var/lib/slipway"), PathBuf::from)
                .join("data"),
            database: None,
            workers: 2,
            build_network: "none".into(),
            builder: "buildkit".into(),
            build_cache_mb: 10 * 1024,
            build_pids: 1024,
            build_cpus: 2.0,
            build_timeout_s: 30 * 60,
            build_memory_mb: 2047,
            test_timeout_s: 10 * 60,
            tools_image: "slipway/busybox:latest".into(),
        }
    }
}

impl Config {
    /// Loads `explicit` if given (it must exist), else `slipway.toml` here if present, else the defaults.
    /// Relative paths in a file are taken from the file's directory.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Config::default()),
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read configuration {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display()))?;
        if let Some(dir) = path.parent()
            && config.index.path.is_relative()
        {
            config.index.path = dir.join(&config.index.path);
        }
        let memory = config.pipeline.build_memory_mb;
        if memory != 0 && !(6..=2047).contains(&memory) {
            anyhow::bail!(
                "{}: [pipeline] build_memory_mb = {memory}: the classic builder takes 6 to 2047 MiB (0: no limit)",
                path.display()
            );
        }
        for (host, access) in &config.registries {
            for pattern in &access.pull_for {
                let repository = pattern.replace('*', "x");
                let names_host = slipway_oci_name::names_registry(pattern);
                if pattern.is_empty() || names_host || !slipway_oci_name::is_repository_name(&repository) {
                    anyhow::bail!(
                        "{}: [registries.\"{host}\"] pull_for has `{pattern}`, which is not a repository pattern; \
                         write a repository path without the host, `*` for any part (e.g. `shared/*`)",
                        path.display()
                    );
                }
            }
        }
        if let Some(dir) = path.parent()
            && config.pipeline.data_dir.is_relative()
        {
            config.pipeline.data_dir = dir.join(&config.pipeline.data_dir);
        }
        Ok(config)
    }
}

impl Config {
    /// The registry client's settings: credentials from the docker config, then from `[registries]`.
    pub fn client_config(&self) -> anyhow::Result<slipway_registry::ClientConfig> {
        let mut client = slipway_registry::ClientConfig::default();
        let docker_config = self.registry.docker_config.clone().or_else(|| {
            let dir = std::env::var_os("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".docker")))?;
            Some(dir.join("config.json")).filter(|path| path.is_file())
        });
        if let Some(path) = docker_config {
            client.credentials.extend(slipway_registry::docker_config_credentials(&path)?);
        }
        for (host, access) in &self.registries {
            if access.insecure {
                client.insecure.insert(host.clone());
            }
            let Some(username) = &access.username else { continue };
            let password = match (&access.password, &access.password_env) {
                (Some(password), _) => password.clone(),
                (None, Some(variable)) => std::env::var(variable).with_context(|| {
                    format!("registries.\"{host}\".password_env names ${variable}, which is not set")
                })?,
                (None, None) => anyhow::bail!("registries.\"{host}\" has a username but no password or password_env"),
            };
            client.credentials.insert(host.clone(), slipway_registry::Credentials::new(username, password));
        }
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_for_patterns_are_repository_paths() {
        let dir = tempfile::tempdir().expect("a dir");
        let file = dir.path().join("slipway.toml");
        std::fs::write(&file, "[registries.\"r.example.org\"]\npull_for = [\"shared/*\", \"base\"]\n")
            .expect("written");
        let config = Config::load(Some(&file)).expect("valid");
        assert_eq!(config.registries["r.example.org"].pull_for, ["shared/*", "base"]);
        std::fs::write(&file, "[registries.\"r.example.org\"]\npull_for = [\"r.example.org/shared\"]\n")
            .expect("written");
        let err = format!("{:#}", Config::load(Some(&file)).expect_err("refused"));
        assert!(err.contains("pull_for has `r.example.org/shared`") && err.contains("shared/*"), "{err}");
    }

    #[test]
    fn registry_passwords_never_print() {
        let config: Config =
            toml::from_str("[registries.\"r.example.org\"]\nusername = \"bot\"\npassword = \"hunter2-secret\"\n")
                .expect("parses");
        let shown = format!("{config:?}");
        assert!(shown.contains("bot") && !shown.contains("hunter2"), "{shown}");
        let client = config.client_config().expect("client config");
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
