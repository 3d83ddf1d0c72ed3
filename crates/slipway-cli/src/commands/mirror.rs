//! `slipway mirror --config FILE [--dry-run]`: copy images or whole repositories between registries,
//! idempotently (a second run copies nothing and says so).
//!
//! ```toml
//! [[mirror]]
//! from = "127.0.0.1:5555/demo/web"          # a repository: every tag
//! to = "registry.example.org/mirror/web"
//!
//! [[mirror]]
//! from = "127.0.0.1:5555/demo/base:latest"  # one image
//! to = "registry.example.org/mirror/base:stable"
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use slipway_registry::{MirrorEntry, MirrorSource, Reference, RegistryClient, Repository};

use crate::config::Config;

#[derive(Args)]
pub struct MirrorArgs {
    /// The mirror list (TOML, `[[mirror]]` entries with `from` and `to`).
    #[arg(long = "config", value_name = "FILE")]
    list: PathBuf,
    /// Print what would be copied, copy nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorFile {
    mirror: Vec<MirrorLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MirrorLine {
    from: String,
    to: String,
}

pub fn run(args: &MirrorArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.list).with_context(|| format!("cannot read {}", args.list.display()))?;
    let file: MirrorFile =
        toml::from_str(&text).with_context(|| format!("invalid mirror list {}", args.list.display()))?;
    let entries = file
        .mirror
        .iter()
        .enumerate()
        .map(|(n, line)| entry(line).with_context(|| format!("{}: [[mirror]] #{}", args.list.display(), n + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client = RegistryClient::new(config.client_config()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        let plan = client.mirror_plan(&entries).await?;
        if args.dry_run {
            for step in &plan {
                let action = if step.up_to_date { "up to date" } else { "would copy" };
                writeln!(out, "{action}: {} -> {} ({})", step.source, step.target, step.digest)?;
            }
            let pending = plan.iter().filter(|s| !s.up_to_date).count();
            writeln!(out, "dry run: {pending} to copy, {} up to date", plan.len() - pending)?;
            return Ok(ExitCode::SUCCESS);
        }
        let outcome = client.mirror(plan).await?;
        for (step, report) in &outcome.copied {
            writeln!(
                out,
                "copied: {} -> {} ({}, {} bytes streamed)",
                step.source, step.target, step.digest, report.bytes_streamed
            )?;
        }
        if outcome.copied.is_empty() {
            writeln!(out, "nothing to copy: all {} image(s) up to date", outcome.up_to_date.len())?;
        } else {
            writeln!(out, "mirror: {} copied, {} up to date", outcome.copied.len(), outcome.up_to_date.len())?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `from` with a tag or digest is one image; without, a whole repository (then `to` is a repository too).
fn entry(line: &MirrorLine) -> anyhow::Result<MirrorEntry> {
    match line.from.parse::<Reference>() {
        Ok(image) => {
            let target: Reference = line.to.parse().context("`to` of an image must name a tag: host/name:tag")?;
            let to_tag = target.tag().map(str::to_string);
            Ok(MirrorEntry { from: MirrorSource::Image(image), to: target.repository().clone(), to_tag })
        }
        Err(_) => {
            let repository: Repository = line.from.parse().context("invalid `from`")?;
            let to: Repository = line.to.parse().context("`to` of a repository must be a repository: host/name")?;
            Ok(MirrorEntry { from: MirrorSource::Repository(repository), to, to_tag: None })
        }
    }
}
