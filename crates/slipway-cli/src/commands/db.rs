//! `slipway db migrate`: bring the database's schema up to date.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::pipeline::{PipelineArgs, runtime};
use crate::config::Config;

#[derive(Subcommand)]
pub enum DbCommand {
    /// Apply the migrations the database lacks (every command that uses the database does this too).
    Migrate(PipelineArgs),
}

pub fn run(command: DbCommand, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let DbCommand::Migrate(args) = command;
    runtime()?.block_on(async {
        let store = args.store(config).await?;
        writeln!(out, "database schema up to date ({:?})", store.backend())?;
        Ok(ExitCode::SUCCESS)
    })
}
