//! What `run`, `status`, `logs` and `db` share: where the registry, the database and the data dir are.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use slipway_store::Store;

use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct PipelineArgs {
    /// The registry images are delivered to, `host:port` (default: [registry] address).
    #[arg(long, env = "SLIPWAY_REGISTRY", value_name = "HOST:PORT")]
    pub registry: Option<String>,
    /// The database: `sqlite:///path/slipway.db` or `postgres://user@host:port/db`
    /// (default: [pipeline] database, else slipway.db in the data dir).
    #[arg(long, env = "SLIPWAY_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Git mirrors, checkouts and the default database (default: [pipeline] data_dir).
    #[arg(long, env = "SLIPWAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl PipelineArgs {
    pub fn registry(&self, config: &Config) -> String {
        self.registry.clone().unwrap_or_else(|| config.registry.address.clone())
    }

    pub fn data_dir(&self, config: &Config) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| config.pipeline.data_dir.clone())
    }

    /// Connects to the database and brings its schema up to date.
    pub async fn store(&self, config: &Config) -> anyhow::Result<Store> {
        let data_dir = self.data_dir(config);
        let url = match self.database.clone().or_else(|| config.pipeline.database.clone()) {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
                Store::sqlite_url(&data_dir)
            }
        };
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// The project `image` (`app/job:tag`) as the database has it; not there, an error naming the nearest one.
pub async fn project_named(store: &Store, image: &str) -> anyhow::Result<slipway_store::Project> {
    if let Some(project) = store.project_by_image(image).await? {
        return Ok(project);
    }
    let known: Vec<String> = store.projects().await?.into_iter().map(|p| p.image).collect();
    let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = slipway_index::did_you_mean(image, &candidates)
        .map(|h| format!("; did you mean `{h}`?"))
        .unwrap_or_else(|| "; projects are recorded when `slipway serve` or `slipway run` reads the index".into());
    anyhow::bail!("no project `{image}` in the database {}{hint}", store.url())
}

/// A current-thread runtime for commands that only talk to the database.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")
}
