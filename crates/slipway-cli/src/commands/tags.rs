//! `slipway tags check [--repair] [--format text|json] [--by NAME]`: whether the registry serves every tag as
//! Slipway recorded it (see `slipway_engine::drift`), one line per difference with what to do; `--repair`
//! puts the digests back. Exit 0 in step, 1 on drift (with `--repair`: drift left unrepaired), 2 when some
//! tag could not be checked (and no drift was found) or on usage and configuration errors.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use slipway_engine::{DriftReport, Repair, TagCheck};
use slipway_registry::RegistryClient;

use super::lifecycle::{Format, who};
use super::pipeline::{PipelineArgs, runtime};
use crate::config::Config;
use crate::{EXIT_INVALID, EXIT_USAGE};

#[derive(Subcommand)]
pub enum TagsCommand {
    /// Compare every tag Slipway records as current with what the registry serves (exit 1 on drift).
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Put the recorded digest back (for a release tag: the stable one) under each drifting tag, recorded in
    /// the tag history as a repair. A tag that could not be read is never repaired.
    #[arg(long)]
    repair: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Who repairs, recorded in the tag history (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(command: TagsCommand, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let TagsCommand::Check(args) = command;
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let client = RegistryClient::new(config.client_config()?)?;
        let registry = args.pipeline.registry(config);
        let mut report = slipway_engine::check_tags(&store, &client, &registry).await?;
        let found = report.clone();
        let repairs = if args.repair {
            slipway_engine::repair_tags(&store, &client, &registry, &mut report, &who(args.by.as_ref())).await?
        } else {
            Vec::new()
        };
        match args.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&as_json(&found, &repairs))?)?,
            Format::Text => write_text(out, &found, &repairs)?,
        }
        store.close().await?;
        // What is left once the repairs are done.
        Ok(if report.drifting().next().is_some() {
            ExitCode::from(EXIT_INVALID)
        } else if report.unchecked().next().is_some() {
            ExitCode::from(EXIT_USAGE)
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn write_text(out: &mut dyn Write, found: &DriftReport, repairs: &[Repair]) -> std::io::Result<()> {
    for check in found.drifting().chain(found.unchecked()) {
        writeln!(out, "{}: {}; {}", check.reference(), check.problem(), check.hint())?;
    }
    for repair in repairs {
        let reference = format!("{}:{}", repair.repository, repair.tag);
        match &repair.result {
            Ok(()) => {
                let was = repair.found.as_deref().unwrap_or("no tag");
                writeln!(out, "repaired {reference}: now {} (was {was})", repair.digest)?;
            }
            Err(err) => writeln!(out, "not repaired {reference}: {err}")?,
        }
    }
    let drifting = found.drifting().count();
    let unchecked = found.unchecked().count();
    writeln!(
        out,
        "{} tag(s) in {} repositor{} checked: {} in step, {drifting} drifting, {unchecked} could not be checked{}",
        found.checks.len(),
        found.repositories.len(),
        if found.repositories.len() == 1 { "y" } else { "ies" },
        found.in_step(),
        if repairs.is_empty() {
            String::new()
        } else {
            format!("; {} repaired", repairs.iter().filter(|r| r.result.is_ok()).count())
        }
    )
}

fn check_json(check: &TagCheck) -> serde_json::Value {
    json!({
        "repository": check.repository,
        "tag": check.tag,
        "kind": check.state().as_str(),
        "recorded": check.recorded,
        "served": check.served(),
        "stable": check.stable,
        "wanted": check.wanted(),
        "error": check.error(),
        "problem": check.problem(),
        "hint": check.hint(),
    })
}

/// `{"checked", "in_step", "drift": [...], "unchecked": [...], "repairs": [...]}`.
fn as_json(found: &DriftReport, repairs: &[Repair]) -> serde_json::Value {
    let repairs: Vec<serde_json::Value> = repairs
        .iter()
        .map(|r| {
            json!({
                "repository": r.repository,
                "tag": r.tag,
                "digest": r.digest,
                "found": r.found,
                "repaired": r.result.is_ok(),
                "error": r.result.as_ref().err().map(ToString::to_string),
            })
        })
        .collect();
    json!({
        "repositories": found.repositories,
        "checked": found.checks.len(),
        "in_step": found.in_step(),
        "drift": found.drifting().map(check_json).collect::<Vec<_>>(),
        "unchecked": found.unchecked().map(check_json).collect::<Vec<_>>(),
        "repairs": repairs,
    })
}
