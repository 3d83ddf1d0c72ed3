//! `slipway`: the command line of the Slipway container-image pipeline.

mod commands;
mod config;
mod duration;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes: 0 success, 1 the input has errors or the registry refused, 2 usage, configuration or I/O
/// errors (clap uses 2 too).
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(name = "slipway", version, about = "Container-image pipeline: index → build → test → deliver")]
struct Cli {
    /// Slipway's configuration file (default: ./slipway.toml when present). Not `--config`: that is the
    /// mirror list of `slipway mirror --config FILE`.
    #[arg(long = "settings", value_name = "FILE", global = true, env = "SLIPWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check, show and plan the project index.
    #[command(subcommand)]
    Index(commands::index::IndexCommand),
    /// Tag, copy, untag, list and inspect images in OCI registries.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Copy images or whole repositories from one registry to another, idempotently.
    Mirror(commands::mirror::MirrorArgs),
    /// Build, test and deliver the index's projects now, parents first.
    Run(commands::run::RunArgs),
    /// Queue a manual build of a project (a running `slipway serve` builds it).
    Build(commands::build::BuildArgs),
    /// Each digest's QA state, build and tags; `--state released --newest` is what is stable.
    Images(commands::lifecycle::ImagesArgs),
    /// Revoke a digest: its tags removed, the release tag back to the previous good release.
    Revoke(commands::lifecycle::RevokeArgs),
    /// Release a build waiting at rc (`promotion: manual`), the newest by default.
    Promote(commands::lifecycle::PromoteArgs),
    /// Remove the tags no release, rollback or recent build needs (--dry-run prints the plan).
    Gc(commands::lifecycle::GcArgs),
    /// Re-point the release tag to the previous released digest (or --to one).
    Rollback(commands::lifecycle::RollbackArgs),
    /// Whether the registry serves every tag as Slipway recorded it (`tags check [--repair]`).
    #[command(subcommand)]
    Tags(commands::tags::TagsCommand),
    /// Each project's last build: state, failing stage, error, digest and where its log is.
    Status(commands::status::StatusArgs),
    /// A build's stage logs.
    Logs(commands::logs::LogsArgs),
    /// The database.
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// The web UI and JSON API, with a local worker pool unless --no-workers.
    Serve(Box<commands::serve::ServeArgs>),
    /// Build what the database's queue holds (beside or instead of `slipway serve`'s workers).
    Worker(commands::worker::WorkerArgs),
    /// API tokens for writes and for signing in to the UI.
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    // A registry operation that fails is the operation's failure (1); configuration and I/O errors are 2.
    let operation_failed = matches!(cli.command, Command::Image(_) | Command::Mirror(_));
    let outcome = config::Config::load(cli.config.as_deref()).and_then(|config| match cli.command {
        Command::Index(command) => commands::index::run(command, &config, &mut out),
        Command::Image(command) => commands::image::run(command, &config, &mut out),
        Command::Mirror(args) => commands::mirror::run(&args, &config, &mut out),
        Command::Run(args) => commands::run::run(&args, &config, &mut out),
        Command::Build(args) => commands::build::run(&args, &config, &mut out),
        Command::Images(args) => commands::lifecycle::images(&args, &config, &mut out),
        Command::Revoke(args) => commands::lifecycle::revoke(&args, &config, &mut out),
        Command::Rollback(args) => commands::lifecycle::rollback(&args, &config, &mut out),
        Command::Promote(args) => commands::lifecycle::promote(&args, &config, &mut out),
        Command::Gc(args) => commands::lifecycle::gc(&args, &config, &mut out),
        Command::Tags(command) => commands::tags::run(command, &config, &mut out),
        Command::Status(args) => commands::status::run(&args, &config, &mut out),
        Command::Logs(args) => commands::logs::run(&args, &config, &mut out),
        Command::Db(command) => commands::db::run(command, &config, &mut out),
        Command::Serve(args) => commands::serve::run(&args, &config, &mut out),
        Command::Worker(args) => commands::worker::run(&args, &config, &mut out),
        Command::Token(command) => commands::token::run(command, &config, &mut out),
    });
    let outcome = outcome.and_then(|code| out.flush().map(|()| code).map_err(anyhow::Error::from));
    match outcome {
        Ok(code) => code,
        // `slipway index show | head`: the reader has what it wanted; stop quietly.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("slipway: error: {err:#}");
            let is_registry =
                err.chain().any(|cause| cause.downcast_ref::<slipway_registry::RegistryError>().is_some());
            ExitCode::from(if operation_failed && is_registry { EXIT_INVALID } else { EXIT_USAGE })
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks option clashes only when a command is parsed; check every subcommand at once.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
