//! `slipway worker [--workers N] [--until-idle]`: builds what the database's queue holds, with the local Docker
//! daemon, beside (or instead of) the workers of `slipway serve`. Ctrl-C or SIGTERM stops taking builds; a
//! build still running is left to be resumed by the next worker.

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
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &WorkerArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let local = Pool::connect(config, &args.pipeline).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (workers, mut pool) = local.start(config, &args.pipeline, args.workers, &stop_rx, args.until_idle);
        let (store, registry) = (&local.store, &local.registry);
        writeln!(out, "{workers} worker(s) building for {registry} from {}", store.url())?;
        out.flush()?;
        let all_done = async {
            while let Some(result) = pool.join_next().await {
                result.context("a worker stopped")??;
            }
            anyhow::Ok(())
        };
        tokio::select! {
            result = all_done => result?,
            () = shutdown_signal() => {
                let _ = stop_tx.send(true);
                writeln!(out, "stopping: running builds are left to be resumed by the next worker")?;
            }
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}
