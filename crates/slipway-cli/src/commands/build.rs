//! `slipway build IMAGE [--by NAME]`: asks for a build of a project the database knows (recorded by
//! `slipway serve` or `slipway run`), cause "manual: asked by NAME". A running `slipway serve` (or any
//! worker on the same database) builds it; while one is queued already, the request joins it.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use slipway_engine::{Trigger, request};

use super::pipeline::{PipelineArgs, project_named, runtime};
use crate::config::Config;

#[derive(Args)]
pub struct BuildArgs {
    /// The project, `app-id/job-id:desired-tag` (e.g. `demo/web:latest`).
    image: String,
    /// Who asks, recorded in the cause (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &BuildArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let project = project_named(&store, &args.image).await?;
        anyhow::ensure!(
            project.active,
            "`{}` left the index; its history is kept, but it is no longer built",
            project.image
        );
        let by = args.by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
        let trigger = Trigger::Manual { by };
        let requested = request(&store, project.id, &trigger, Vec::new()).await?;
        if requested.merged {
            writeln!(
                out,
                "{} build #{} was already queued; \"{}\" was added to its causes",
                project.image,
                requested.build.number,
                trigger.cause()
            )?;
        } else {
            writeln!(out, "{} build #{} queued ({})", project.image, requested.build.number, trigger.cause())?;
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}
