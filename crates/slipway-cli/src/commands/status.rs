//! `slipway status [--format json]`: each project's last build, its state, the failing stage, the error
//! and where its log is.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;
use slipway_store::{Build, Project, Store};

use super::pipeline::{PipelineArgs, runtime};
use crate::config::Config;

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// One project in `status --format json`; the field names are a contract.
#[derive(Serialize)]
pub struct ProjectStatus {
    pub image: String,
    pub build: Option<i64>,
    pub state: String,
    /// Why the build runs: every trigger it carries.
    pub causes: Vec<String>,
    pub failed_stage: Option<String>,
    pub error: Option<String>,
    pub digest: Option<String>,
    pub commit: Option<String>,
    /// The command that prints the build's log.
    pub log: Option<String>,
    /// Why a queued build cannot start yet: `waiting for build #7 of this project`.
    pub waiting: Option<String>,
}

#[derive(Serialize)]
struct Status {
    projects: Vec<ProjectStatus>,
}

pub fn run(args: &StatusArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let projects = runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        statuses(&store).await
    })?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &Status { projects })?;
            writeln!(out)?;
        }
        Format::Text => {
            if projects.is_empty() {
                writeln!(out, "no projects yet: `slipway run` builds the index")?;
            }
            for p in &projects {
                let build = p.build.map(|n| format!("#{n}")).unwrap_or_else(|| "-".into());
                write!(out, "{:<40} {:<6} {:<10}", p.image, build, p.state)?;
                if let Some(digest) = &p.digest {
                    write!(out, " {digest}")?;
                }
                writeln!(out)?;
                if !p.causes.is_empty() {
                    writeln!(out, "    because: {}", p.causes.join("; "))?;
                }
                if let Some(waiting) = &p.waiting {
                    writeln!(out, "    {waiting}")?;
                }
                if let (Some(stage), Some(error)) = (&p.failed_stage, &p.error) {
                    writeln!(out, "    {stage}: {error}")?;
                }
                if let Some(log) = p.log.as_ref().filter(|_| p.failed_stage.is_some()) {
                    writeln!(out, "    log: {log}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn statuses(store: &Store) -> anyhow::Result<Vec<ProjectStatus>> {
    let last = store.last_builds().await?;
    let ids: Vec<i64> = last.iter().filter_map(|(_, build)| build.as_ref().map(|b| b.id)).collect();
    let mut waits = store.waits(&ids).await?;
    Ok(last
        .into_iter()
        .map(|(project, build)| {
            let mut status = status_of(&project, build.as_ref());
            status.waiting = build.and_then(|b| waits.remove(&b.id));
            status
        })
        .collect())
}

pub fn status_of(project: &Project, build: Option<&Build>) -> ProjectStatus {
    ProjectStatus {
        image: project.image.clone(),
        build: build.map(|b| b.number),
        state: build.map_or_else(|| "never built".into(), |b| b.state.as_str().to_string()),
        causes: build.map(|b| b.causes.clone()).unwrap_or_default(),
        failed_stage: build.and_then(|b| b.failed_stage.map(|s| s.as_str().to_string())),
        error: build.and_then(|b| b.error.clone()),
        digest: build.and_then(|b| b.digest.clone()),
        commit: build.and_then(|b| b.commit.clone()),
        log: build.map(|b| {
            let stage = b.failed_stage.map(|s| format!(" --stage {}", s.as_str())).unwrap_or_default();
            format!("slipway logs {} --build {}{stage}", project.image, b.number)
        }),
        waiting: None,
    }
}
