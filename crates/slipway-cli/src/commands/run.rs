//! `slipway run [--index PATH] [--only IMAGE]... [--docker URL]`: build, test and deliver the index's projects now, with a
//! local pool of workers. Parents build before their children; a child whose parent failed is skipped with
//! that reason. Exit 1 when any build did not succeed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use slipway_docker::{Builder, Docker};
use slipway_engine::{enqueue_plan, plan_builds};
use slipway_registry::RegistryClient;
use slipway_store::{BuildState, Store};
use slipway_workers::{Worker, WorkerExit, WorkerSettings, run_worker};
use tokio::sync::watch;

use super::index::{load, report_errors_on_stderr};
use super::pipeline::PipelineArgs;
use super::status::status_of;
use crate::config::Config;

#[derive(Args)]
pub struct RunArgs {
    /// The index: a directory holding index.d/, a directory of index files, or one file (default: [index] path).
    #[arg(long)]
    index: Option<PathBuf>,
    /// Build only this project (`app-id/job-id:desired-tag`); repeat for several.
    #[arg(long = "only", value_name = "IMAGE")]
    only: Vec<String>,
    /// Builds run at once (default: [pipeline] workers).
    #[arg(long)]
    workers: Option<usize>,
    /// The container engine: dockerd or Podman's Docker-compatible API, `unix:///path`, `tcp://host:port`
    /// (default: DOCKER_HOST or the local socket).
    #[arg(long, env = "SLIPWAY_DOCKER", value_name = "URL")]
    docker: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &RunArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (path, index) = load(args.index.as_deref(), config)?;
    report_errors_on_stderr(&index);
    let plan = plan_builds(&index, &args.only)?;
    if plan.builds.is_empty() {
        writeln!(out, "nothing to build: {} has no valid project", path.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let local = Pool::connect(config, &args.pipeline, args.docker.as_deref()).await?;
        let (store, registry) = (&local.store, &local.registry);
        let queued = enqueue_plan(store, &plan, "slipway run", 3).await?;
        writeln!(
            out,
            "queued {} build(s) from {}, delivering to {registry}, building with {}",
            queued.len(),
            path.display(),
            local.docker.engine()
        )?;
        out.flush()?;

        let (stop_tx, stop_rx) = watch::channel(false);
        let (_, mut pool) = local.start(config, &args.pipeline, args.workers, &stop_rx, true)?;
        let ids: Vec<i64> = queued.iter().map(|q| q.build.id).collect();
        let progress = report_progress(store, &ids, out);
        tokio::select! {
            result = progress => result?,
            _ = tokio::signal::ctrl_c() => {
                let _ = stop_tx.send(true);
                anyhow::bail!("interrupted: running builds were left to be resumed by the next run or worker");
            }
        }
        let _ = stop_tx.send(true);
        while let Some(result) = pool.join_next().await {
            result.context("a worker stopped")??;
        }
        let mut failed = 0;
        for id in &ids {
            let build = store.build(*id).await?;
            if build.state != BuildState::Succeeded {
                failed += 1;
            }
        }
        writeln!(out, "{} succeeded, {failed} did not; `slipway status` shows the details", ids.len() - failed)?;
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(crate::EXIT_INVALID) })
    })
}

/// What a local pool of workers builds with: the database, the registry and the Docker daemon.
pub(crate) struct Pool {
    pub store: Store,
    pub registry: String,
    pub docker: Docker,
    pub client: RegistryClient,
    /// How long a claimed build is held without a heartbeat before another worker may take it.
    pub lease: Option<Duration>,
}

pub(crate) type Workers = tokio::task::JoinSet<Result<WorkerExit, slipway_store::StoreError>>;

impl Pool {
    /// Connects to the database, the registry and the Docker daemon at `docker` (default: `DOCKER_HOST` or the
    /// local socket).
    pub(crate) async fn connect(
        config: &Config,
        pipeline: &PipelineArgs,
        docker: Option<&str>,
    ) -> anyhow::Result<Pool> {
        Ok(Pool {
            store: pipeline.store(config).await?,
            registry: pipeline.registry(config),
            docker: Docker::connect(docker).await.context("Docker is needed to build: is dockerd running?")?,
            client: RegistryClient::new(config.client_config()?)?,
            lease: None,
        })
    }

    /// Starts `workers` workers (default: [pipeline] workers); they stop when `stop` turns true (or, with
    /// `until_idle`, once nothing is queued or running).
    pub(crate) fn start(
        &self,
        config: &Config,
        pipeline: &PipelineArgs,
        workers: Option<usize>,
        stop: &watch::Receiver<bool>,
        until_idle: bool,
    ) -> anyhow::Result<(usize, Workers)> {
        let workers = workers.unwrap_or(config.pipeline.workers).max(1);
        let mut pool = tokio::task::JoinSet::new();
        let registry_slots = config
            .registries
            .get(&self.registry)
            .and_then(|access| access.max_concurrent)
            .map(|slots| Arc::new(tokio::sync::Semaphore::new(slots.max(1))));
        for n in 0..workers {
            let mut settings = worker_settings(config, pipeline, &self.registry, n)?;
            settings.registry_slots = registry_slots.clone();
            if let Some(lease) = self.lease {
                settings.lease = lease;
            }
            let worker = Worker::new(self.store.clone(), self.docker.clone(), self.client.clone(), settings);
            pool.spawn(run_worker(worker, stop.clone(), until_idle));
        }
        Ok((workers, pool))
    }
}

fn worker_settings(config: &Config, args: &PipelineArgs, registry: &str, n: usize) -> anyhow::Result<WorkerSettings> {
    let name = format!("{}-{}-{n}", hostname(), std::process::id());
    let pipeline = &config.pipeline;
    let mut settings = WorkerSettings::new(name, registry, args.data_dir(config));
    settings.build_network = Some(pipeline.build_network.clone()).filter(|n| n != "default");
    settings.pull_for = config
        .registries
        .iter()
        .filter(|(_, access)| !access.pull_for.is_empty())
        .map(|(host, access)| (host.clone(), access.pull_for.clone()))
        .collect();
    settings.build_timeout = Duration::from_secs(pipeline.build_timeout_s);
    settings.build_memory_bytes =
        i64::try_from(pipeline.build_memory_mb.saturating_mul(1 << 20)).ok().filter(|bytes| *bytes > 0);
    settings.test_timeout = Duration::from_secs(pipeline.test_timeout_s);
    settings.prebuild_image = pipeline.tools_image.clone();
    settings.busybox_image = pipeline.tools_image.clone();
    settings.builder = match pipeline.builder.as_str() {
        "buildkit" => Builder::BuildKit,
        "classic" => Builder::Classic,
        other => {
            anyhow::bail!("pipeline.builder: `{other}` is not a builder; use `buildkit` (the default) or `classic`")
        }
    };
    settings.build_cache_bytes = pipeline.build_cache_mb.saturating_mul(1 << 20);
    anyhow::ensure!(
        pipeline.build_pids >= 16,
        "pipeline.build_pids: {} is too few for a build step; use 16 or more",
        pipeline.build_pids
    );
    anyhow::ensure!(
        (0.01..=1024.0).contains(&pipeline.build_cpus),
        "pipeline.build_cpus: {} is not a CPU count; use e.g. 2 or 0.5",
        pipeline.build_cpus
    );
    settings.build_pids = pipeline.build_pids;
    settings.build_nano_cpus = (pipeline.build_cpus * 1e9) as i64;
    for (name, value) in &config.build_secrets {
        settings.build_secrets.insert(name.clone(), value.read(name)?);
    }
    Ok(settings)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "local".into())
}

/// Prints each build's end as it happens, until every one has ended.
async fn report_progress(store: &Store, ids: &[i64], out: &mut dyn Write) -> anyhow::Result<()> {
    let mut reported = vec![false; ids.len()];
    loop {
        for (n, id) in ids.iter().enumerate() {
            if reported[n] {
                continue;
            }
            let build = store.build(*id).await?;
            if !build.state.is_finished() {
                continue;
            }
            reported[n] = true;
            let project = store.project(build.project_id).await?;
            let status = status_of(&project, Some(&build));
            write!(out, "{:<40} #{:<4} {}", status.image, build.number, status.state)?;
            match (&status.failed_stage, &status.error) {
                (Some(stage), Some(error)) => writeln!(out, " at {stage}: {error}")?,
                (None, Some(error)) => writeln!(out, ": {error}")?,
                _ => writeln!(out, " {}", status.digest.unwrap_or_default())?,
            }
            out.flush()?;
        }
        if reported.iter().all(|r| *r) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
