//! `slipway token create NAME`, `slipway token list`, `slipway token revoke NAME`: API tokens for writes
//! (and for signing in to the UI). A token is printed once; only its SHA-256 is stored.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::pipeline::{PipelineArgs, runtime};
use crate::config::Config;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it cannot be shown again).
    Create {
        /// Who or what uses it: it is recorded as the author of what the token does.
        name: String,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// The tokens, with when they were last used.
    List {
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Revoke a token and end its sessions.
    Revoke {
        name: String,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

pub fn run(command: TokenCommand, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        match command {
            TokenCommand::Create { name, pipeline } => {
                let name = name.trim().to_string();
                anyhow::ensure!(
                    !name.is_empty() && name.len() <= 100 && !name.chars().any(char::is_control),
                    "a token name is 1 to 100 printable characters"
                );
                let store = pipeline.store(config).await?;
                let secret =
                    slipway_web::new_secret().map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
                store.create_token(&name, &slipway_web::hash_secret(&secret)).await.context("creating the token")?;
                writeln!(out, "{secret}")?;
                eprintln!("slipway: token `{name}` created; keep it now, it is not shown again");
            }
            TokenCommand::List { pipeline } => {
                let store = pipeline.store(config).await?;
                for token in store.tokens().await? {
                    let used = token.last_used_at.map_or_else(|| "never used".into(), |at| format!("last used {at}"));
                    let revoked = token.revoked_at.map(|at| format!(", revoked {at}")).unwrap_or_default();
                    writeln!(out, "{:<24} created {}, {used}{revoked}", token.name, token.created_at)?;
                }
            }
            TokenCommand::Revoke { name, pipeline } => {
                let store = pipeline.store(config).await?;
                anyhow::ensure!(store.revoke_token(&name).await?, "no live token named `{name}`");
                writeln!(out, "token `{name}` revoked")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
