//! Slipway's configuration: `slipway.toml` (from `--config`, `SLIPWAY_CONFIG`, or the current directory),
//! every key optional. Later parts of the pipeline add their sections here.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_FILE: &str = "slipway.toml";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub index: IndexConfig,
    pub registry: RegistryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// A directory holding `index.d/`, a directory of index files, or one file.
    pub path: PathBuf,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { path: PathBuf::from("index") }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// `host[:port]` images are pushed to and promoted in.
    pub address: String,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig { address: "127.0.0.1:5555".to_string() }
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
        Ok(config)
    }
}
