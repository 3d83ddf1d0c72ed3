//! `slipway worker [--database URL] [--docker URL] [--workers N] [--until-idle]`: builds what the database's
//! queue holds, with a Docker daemon, beside (or instead of) the workers of `slipway serve`, on any host that
//! reaches the database and the registry. Ctrl-C or SIGTERM drains it: running builds finish, no new one is
//! taken; a second signal stops at once, leaving running builds to be resumed by the next worker once their
//! lease lapses.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;

use super::pipeline::PipelineArgs;
use super::run::Pool;
use super::serve::shutdown_signal;
use crate::config::Config;

#[derive(Args)]
pub struct WorkerArgs {
    /// Builds run at once (default: [pipeline] workers).
    #[arg(long)]
    workers: Option<usize>,
    /// Exit once nothing is queued or running.
    #[arg(long)]
    until_idle: bool,
    /// The Docker daemon: `unix:///path`, `tcp://host:port` (default: DOCKER_HOST or the local socket).
    #[arg(long, env = "SLIPWAY_DOCKER", value_name = "URL")]
    docker: Option<String>,
    /// How long a build is held without a heartbeat before another worker takes it over (renewed every
    /// third of it).
    #[arg(long, env = "SLIPWAY_LEASE", value_name = "DURATION", default_value = "30s",
          value_parser = crate::duration::parse_duration)]
    lease: std::time::Duration,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &WorkerArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let mut local = Pool::connect(config, &args.pipeline, args.docker.as_deref()).await?;
        local.lease = Some(args.lease);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (workers, mut pool) = local.start(config, &args.pipeline, args.workers, &stop_rx, args.until_idle)?;
        let (store, registry) = (&local.store, &local.registry);
        let docker = &local.docker;
        writeln!(
            out,
            "{workers} worker(s) building for {registry} from {} with {} at {}",
            store.url(),
            docker.engine(),
            docker.endpoint()
        )?;
        out.flush()?;
        let all_done = async {
            while let Some(result) = pool.join_next().await {
                result.context("a worker stopped")??;
            }
            anyhow::Ok(())
        };
        tokio::pin!(all_done);
        tokio::select! {
            result = &mut all_done => result?,
            () = shutdown_signal() => {
                let _ = stop_tx.send(true);
                writeln!(out, "draining: running builds finish, no new one is taken (signal again to stop at once)")?;
                out.flush()?;
                tokio::select! {
                    result = &mut all_done => {
                        result?;
                        writeln!(out, "drained: every build this worker took has ended")?;
                    }
                    () = shutdown_signal() => {
                        writeln!(out, "stopping: running builds are left to be resumed by the next worker")?;
                    }
                }
            }
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}
