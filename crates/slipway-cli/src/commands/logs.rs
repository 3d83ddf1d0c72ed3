//! `slipway logs IMAGE [--build N] [--stage STAGE]`: a build's stage logs as they were recorded.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::pipeline::{PipelineArgs, runtime};
use crate::config::Config;

#[derive(Args)]
pub struct LogsArgs {
    /// The project, `app-id/job-id:desired-tag`.
    image: String,
    /// The build number (default: the last build).
    #[arg(long)]
    build: Option<i64>,
    /// Only this stage (checkout, prebuild, lint, build, push, test, scan, deliver).
    #[arg(long)]
    stage: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &LogsArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let project = store
            .project_by_image(&args.image)
            .await?
            .with_context(|| format!("no project `{}` has been built; `slipway status` lists them", args.image))?;
        let builds = store.builds_of(project.id, u64::MAX).await?;
        let build = match args.build {
            Some(number) => builds.iter().find(|b| b.number == number),
            None => builds.first(),
        }
        .with_context(|| {
            format!("{} has no build {}", args.image, args.build.map(|n| format!("#{n}")).unwrap_or_default())
        })?;
        let stages = store.stages(build.id).await?;
        if let Some(wanted) = &args.stage
            && !stages.iter().any(|s| s.kind.as_str() == wanted)
        {
            let ran: Vec<&str> = stages.iter().map(|s| s.kind.as_str()).collect();
            anyhow::bail!(
                "build #{} of {} has no stage `{wanted}`; it ran: {}",
                build.number,
                args.image,
                ran.join(", ")
            );
        }
        for stage in stages.iter().filter(|s| args.stage.as_deref().is_none_or(|w| s.kind.as_str() == w)) {
            writeln!(out, "==> {} #{} {} ({})", args.image, build.number, stage.kind.as_str(), stage.state.as_str())?;
            write!(out, "{}", store.log_text(stage.id).await?)?;
        }
        Ok(ExitCode::SUCCESS)
    })
}
