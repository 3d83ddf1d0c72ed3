//! `slipway image …`: registry operations by reference (`host[:port]/name[:tag|@digest]`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use slipway_registry::{Reference, RegistryClient, Repository, Untagged};

use crate::config::Config;

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Write the manifest SRC points at under new tags in the same repository (no layer moves).
    Tag(TagArgs),
    /// Copy an image to another repository (blobs mounted) or registry (blobs streamed).
    Copy(CopyArgs),
    /// Remove one tag and nothing else; a digest reference deletes the manifest (refused while tags point at
    /// it, unless --force).
    Untag(UntagArgs),
    /// List a repository's tags.
    Tags(TagsArgs),
    /// Digest, media type, size, platforms, labels and attached artifacts of an image.
    Inspect(InspectArgs),
}

#[derive(Args)]
pub struct TagArgs {
    source: String,
    #[arg(required = true)]
    tags: Vec<String>,
}

#[derive(Args)]
pub struct CopyArgs {
    source: String,
    target: String,
}

#[derive(Args)]
pub struct UntagArgs {
    reference: String,
    /// Delete by digest even though tags point at it (they go too).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct TagsArgs {
    repository: String,
}

#[derive(Args)]
pub struct InspectArgs {
    reference: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(command: ImageCommand, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let client = RegistryClient::new(config.client_config()?)?;
    // A copy streams several blobs at once and gains from threads; the other commands are two or three requests,
    // where starting worker threads would cost more than the requests.
    let mut runtime = match command {
        ImageCommand::Copy(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = runtime.enable_all().build().context("starting the runtime")?;
    runtime.block_on(async {
        match command {
            ImageCommand::Tag(args) => {
                let source = reference(&args.source)?;
                let tagged = client.tag(&source, &args.tags).await?;
                for tag in &tagged.tags {
                    writeln!(out, "{}:{tag} -> {}", source.repository(), tagged.digest)?;
                }
            }
            ImageCommand::Copy(args) => {
                let (source, target) = (reference(&args.source)?, reference(&args.target)?);
                let report = client.copy(&source, &target).await?;
                let digest = report.digest.as_ref().map(ToString::to_string).unwrap_or_default();
                writeln!(
                    out,
                    "{target} -> {digest} ({} manifest(s); blobs: {} present, {} mounted, {} streamed, {} bytes)",
                    report.manifests,
                    report.blobs_present,
                    report.blobs_mounted,
                    report.blobs_streamed,
                    report.bytes_streamed
                )?;
            }
            ImageCommand::Untag(args) => {
                let target = reference(&args.reference)?;
                match client.untag(&target, args.force).await? {
                    Untagged::Tag | Untagged::Tombstone => writeln!(out, "untagged {target}")?,
                    Untagged::Manifest { removed_tags } if removed_tags.is_empty() => {
                        writeln!(out, "deleted {target}")?
                    }
                    Untagged::Manifest { removed_tags } => {
                        writeln!(out, "deleted {target} and its tags {}", removed_tags.join(", "))?;
                    }
                }
            }
            ImageCommand::Tags(args) => {
                let repository: Repository = args.repository.parse()?;
                let mut tags = client.list_tags(&repository).await?;
                tags.sort();
                for tag in tags {
                    writeln!(out, "{tag}")?;
                }
            }
            ImageCommand::Inspect(args) => {
                let info = client.inspect(&reference(&args.reference)?).await?;
                match args.format {
                    Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&info)?)?,
                    Format::Text => {
                        writeln!(out, "reference:  {}", info.reference)?;
                        writeln!(out, "digest:     {}", info.digest)?;
                        writeln!(out, "media type: {}", info.media_type)?;
                        writeln!(out, "size:       {} bytes", info.size)?;
                        for platform in &info.platforms {
                            let variant = platform.variant.as_deref().map(|v| format!("/{v}")).unwrap_or_default();
                            writeln!(
                                out,
                                "platform:   {}/{}{variant} {}",
                                platform.os, platform.architecture, platform.digest
                            )?;
                        }
                        for (key, value) in &info.labels {
                            writeln!(out, "label:      {key}={value}")?;
                        }
                        for referrer in &info.referrers {
                            let kind = referrer.artifact_type.as_deref().unwrap_or("?");
                            writeln!(out, "referrer:   {kind} {}", referrer.digest)?;
                        }
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn reference(text: &str) -> anyhow::Result<Reference> {
    text.parse().with_context(|| format!("invalid image reference `{text}`"))
}
