//! What release managers ask after a release:
//! - `slipway images [--project IMAGE] [--state S] [--newest] [--format json]`: each digest's QA state (built,
//!   passed, failed, rc, released, revoked), its build and the tags it holds; "stable" is
//!   `--state released --newest`, the newest released digest that is not revoked;
//! - `slipway revoke IMAGE@DIGEST --reason TEXT`: nobody pulls it any more (see `slipway_engine::lifecycle`);
//! - `slipway rollback IMAGE [--to DIGEST]`: the release tag back to the previous released digest;
//! - `slipway promote IMAGE [--build N] [--force]`: release a build waiting at rc (`promotion: manual`);
//! - `slipway gc [--dry-run]`: remove the tags no release, rollback or recent build needs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;
use slipway_registry::RegistryClient;
use slipway_store::{Image, QaState, Store};

use super::pipeline::{PipelineArgs, project_named, runtime};
use crate::config::Config;

#[derive(Args)]
pub struct ImagesArgs {
    /// Only this project's images (`app/job:tag`).
    #[arg(long, value_name = "IMAGE")]
    project: Option<String>,
    /// Only images in this QA state: built, passed, failed, rc, released or revoked.
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// Only the newest image of each project (with --state released: the stable one).
    #[arg(long)]
    newest: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct RevokeArgs {
    /// `app/job:tag@sha256:…`: the project and the digest to revoke.
    reference: String,
    /// Why, kept with the digest and shown wherever it is listed.
    #[arg(long)]
    reason: String,
    /// Who revokes (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Args)]
pub struct RollbackArgs {
    /// The project, `app/job:tag`.
    image: String,
    /// The digest to go back to (default: the previous released one).
    #[arg(long, value_name = "DIGEST")]
    to: Option<String>,
    #[arg(long)]
    reason: Option<String>,
    /// Who rolls back (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Args)]
pub struct PromoteArgs {
    /// The project, `app/job:tag`; several are released as one set (all or none), in the order given.
    #[arg(required = true)]
    images: Vec<String>,
    /// The build to release (default: the newest one waiting at rc); with one image only.
    #[arg(long, value_name = "N")]
    build: Option<i64>,
    /// Release it even though a newer build is released.
    #[arg(long)]
    force: bool,
    /// Release the images' descendants in the index in the same set (those with a build waiting at rc),
    /// parents first.
    #[arg(long)]
    with_children: bool,
    /// Who releases (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Args)]
pub struct GcArgs {
    /// Print the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The newest digests of each project kept in each tier (default: [retention] keep, 3).
    #[arg(long)]
    keep: Option<usize>,
    /// Tags moved more recently than this stay (`14d`, `12h`, `0s`; default: [retention] older_than, 14d).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_duration)]
    older_than: Option<std::time::Duration>,
    /// The last released digests of each project kept for rollback (default: [retention] rollback_window, 3).
    #[arg(long, value_name = "K")]
    rollback_window: Option<usize>,
    /// How long a project removed from the index keeps its tags (default: [retention] removed_grace, 30d).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse_duration)]
    removed_grace: Option<std::time::Duration>,
    /// Who runs it, recorded in the tag history (default: $USER).
    #[arg(long)]
    by: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// `build #4 · tests: 3 passed · findings: 1 warning · moved to release by alice`.
fn evidence_line(evidence: &slipway_store::ImageEvidence) -> String {
    let counts = |map: &BTreeMap<String, usize>| {
        let parts: Vec<String> = map.iter().map(|(what, n)| format!("{n} {what}")).collect();
        if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
    };
    let mut line = format!(
        "build #{} · tests: {} · findings: {}",
        evidence.build,
        counts(&evidence.tests),
        counts(&evidence.findings)
    );
    if let (Some(to), Some(by)) = (&evidence.moved_to, &evidence.moved_by) {
        line.push_str(&format!(" · moved to {to} by {by}"));
    }
    line
}

pub(super) fn who(by: Option<&String>) -> String {
    by.cloned().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into())
}

pub fn images(args: &ImagesArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let state: Option<QaState> = match &args.state {
        Some(state) => Some(state.parse().map_err(|_| {
            anyhow::anyhow!("unknown state `{state}`: use built, passed, failed, rc, released or revoked")
        })?),
        None => None,
    };
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let project = match &args.project {
            Some(image) => Some(project_named(&store, image).await?),
            None => None,
        };
        let names: BTreeMap<i64, String> = store.projects().await?.into_iter().map(|p| (p.id, p.image)).collect();
        let images = match (state, args.newest) {
            (Some(QaState::Released), true) => store.stable_images(project.as_ref().map(|p| p.id)).await?,
            _ => {
                let mut images = store.images(project.as_ref().map(|p| p.id), state).await?;
                if args.newest {
                    let mut seen = std::collections::HashSet::new();
                    images.retain(|image| seen.insert(image.project_id));
                }
                images
            }
        };
        let tags = tags_by_digest(&store, &images).await?;
        let mut evidence = Vec::with_capacity(images.len());
        for image in &images {
            evidence.push(store.image_evidence(image).await?);
        }
        match args.format {
            Format::Json => {
                let rows: Vec<serde_json::Value> = images
                    .iter()
                    .zip(&evidence)
                    .map(|(image, evidence)| {
                        json!({
                            "project": names.get(&image.project_id),
                            "repository": image.repository,
                            "digest": image.digest,
                            "state": image.qa_state.as_str(),
                            "build_id": image.build_id,
                            "tags": tags.get(&(image.repository.clone(), image.digest.clone())).cloned().unwrap_or_default(),
                            "created_at": image.created_at,
                            "revoked_by": image.revoked_by,
                            "revoked_reason": image.revoked_reason,
                            "revoked_at": image.revoked_at,
                            "evidence": evidence,
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "images": rows }))?)?;
            }
            Format::Text => {
                if images.is_empty() {
                    writeln!(out, "no images match")?;
                }
                for (image, evidence) in images.iter().zip(&evidence) {
                    let project = names.get(&image.project_id).map_or("?", String::as_str);
                    let held = tags.get(&(image.repository.clone(), image.digest.clone())).cloned().unwrap_or_default();
                    writeln!(
                        out,
                        "{project:<32} {:<9} {} {}  tags: {}",
                        image.qa_state.as_str(),
                        image.digest,
                        image.created_at.format("%Y-%m-%d %H:%M"),
                        if held.is_empty() { "-".to_string() } else { held.join(", ") }
                    )?;
                    writeln!(out, "{:<32} {}", "", evidence_line(evidence))?;
                    if let Some(reason) = &image.revoked_reason {
                        writeln!(out, "{:<32} revoked by {}: {reason}", "", image.revoked_by.as_deref().unwrap_or("?"))?;
                    }
                }
            }
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The tags Slipway last moved to each digest (as its tag history records them).
async fn tags_by_digest(store: &Store, images: &[Image]) -> anyhow::Result<BTreeMap<(String, String), Vec<String>>> {
    let mut tags: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let repositories: std::collections::BTreeSet<&str> = images.iter().map(|i| i.repository.as_str()).collect();
    for repository in repositories {
        for event in store.current_tags(repository).await? {
            tags.entry((repository.to_string(), event.digest)).or_default().push(event.tag);
        }
    }
    for held in tags.values_mut() {
        held.sort();
    }
    Ok(tags)
}

pub fn revoke(args: &RevokeArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let (image, digest) = args
        .reference
        .split_once('@')
        .with_context(|| format!("`{}` names no digest: write app/job:tag@sha256:…", args.reference))?;
    anyhow::ensure!(!args.reason.trim().is_empty(), "--reason must say why");
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let project = project_named(&store, image).await?;
        let client = RegistryClient::new(config.client_config()?)?;
        let registry = args.pipeline.registry(config);
        let by = who(args.by.as_ref());
        let done =
            slipway_engine::revoke(&store, &client, &registry, &project.image, digest, &by, &args.reason).await?;
        writeln!(out, "{}@{} revoked: {}", done.repository, done.digest, args.reason)?;
        for change in &done.changes {
            match &change.digest {
                Some(to) => writeln!(out, "  {}:{} now {to}", done.repository, change.tag)?,
                None => writeln!(out, "  {}:{} removed", done.repository, change.tag)?,
            }
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn promote(args: &PromoteArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.build.is_none() || args.images.len() == 1, "--build names one build: give one image with it");
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let mut build_ids = Vec::with_capacity(args.images.len());
        let mut named = Vec::with_capacity(args.images.len());
        for image in &args.images {
            let project = project_named(&store, image).await?;
            named.push(project.image.clone());
            build_ids.push(match args.build {
                Some(number) => store.build_by_number(project.id, number).await?.id,
                None => waiting_at_rc(&store, &project).await?.with_context(|| {
                    format!(
                        "no build of {} waits at rc; `slipway images --project {}` lists its images",
                        project.image, project.image
                    )
                })?,
            });
        }
        if args.with_children {
            for (child, build) in children_at_rc(&store, &named).await? {
                match build {
                    Some(build) if !build_ids.contains(&build) => {
                        writeln!(out, "{child}: in the set, as a child")?;
                        build_ids.push(build);
                    }
                    Some(_) => {}
                    None => writeln!(out, "{child}: no build waits at rc; left out of the set")?,
                }
            }
        }
        let client = RegistryClient::new(config.client_config()?)?;
        let registry = args.pipeline.registry(config);
        let by = who(args.by.as_ref());
        let released = slipway_engine::release_set(&store, &client, &registry, &build_ids, &by, args.force).await?;
        for done in &released {
            let tags: Vec<&str> = done.tags.iter().map(|t| t.tag.as_str()).collect();
            writeln!(out, "{}@{} released as {}", done.repository, done.digest, tags.join(", "))?;
            for queued in &done.cascade {
                writeln!(out, "  {} build #{} queued (its parent was released)", queued.image, queued.build.number)?;
            }
        }
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The newest build of `project` whose image waits at rc.
async fn waiting_at_rc(store: &Store, project: &slipway_store::Project) -> anyhow::Result<Option<i64>> {
    Ok(store.images(Some(project.id), Some(QaState::Rc)).await?.first().map(|image| image.build_id))
}

/// The descendants of `images` in the index, parents first, each with its build waiting at rc if any.
async fn children_at_rc(store: &Store, images: &[String]) -> anyhow::Result<Vec<(String, Option<i64>)>> {
    let graph = slipway_engine::ProjectGraph::new(store.project_graph().await?);
    let mut found: Vec<(String, Option<i64>)> = Vec::new();
    for image in images {
        let Some(root) = graph.node(image) else { continue };
        for node in graph.cascade(root).into_iter().flatten() {
            let child = graph.project(node);
            if images.contains(&child.image) || found.iter().any(|(seen, _)| seen == &child.image) {
                continue;
            }
            let project = store.project(child.id).await?;
            found.push((child.image.clone(), waiting_at_rc(store, &project).await?));
        }
    }
    Ok(found)
}

pub fn gc(args: &GcArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let mut policy = config.retention.policy()?;
    let delta = |d: std::time::Duration| chrono::TimeDelta::from_std(d).context("the duration is too long");
    policy.keep = args.keep.unwrap_or(policy.keep);
    policy.rollback_window = args.rollback_window.unwrap_or(policy.rollback_window);
    if let Some(older_than) = args.older_than {
        policy.older_than = delta(older_than)?;
    }
    if let Some(grace) = args.removed_grace {
        policy.removed_grace = delta(grace)?;
    }
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let registry = args.pipeline.registry(config);
        let plan = slipway_engine::plan_gc(&store, &registry, &policy, chrono::Utc::now()).await?;
        let verb = if args.dry_run { "would remove" } else { "removing" };
        for drop in &plan.drop {
            writeln!(out, "{verb} {}:{} ({}: {})", drop.repository, drop.tag, drop.digest, drop.why)?;
        }
        if args.dry_run {
            writeln!(out, "dry run: {} tag(s) would be removed, {} kept", plan.drop.len(), plan.kept)?;
            store.close().await?;
            return Ok(ExitCode::SUCCESS);
        }
        let kept = plan.kept;
        let client = RegistryClient::new(config.client_config()?)?;
        let report = slipway_engine::run_gc(&store, &client, &registry, plan, &who(args.by.as_ref())).await?;
        for (drop, err) in &report.failures {
            writeln!(out, "could not remove {}:{}: {err}", drop.repository, drop.tag)?;
        }
        writeln!(out, "{} tag(s) removed, {} kept, {} failed", report.removed.len(), kept, report.failures.len())?;
        store.close().await?;
        Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

pub fn rollback(args: &RollbackArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = args.pipeline.store(config).await?;
        let project = project_named(&store, &args.image).await?;
        let client = RegistryClient::new(config.client_config()?)?;
        let registry = args.pipeline.registry(config);
        let by = who(args.by.as_ref());
        let done = slipway_engine::rollback(
            &store,
            &client,
            &registry,
            &project.image,
            args.to.as_deref(),
            &by,
            args.reason.as_deref(),
        )
        .await?;
        let from = done.from.as_deref().unwrap_or("nothing");
        writeln!(out, "{}:{} rolled back: {from} -> {}", done.repository, done.tag, done.to)?;
        store.close().await?;
        Ok(ExitCode::SUCCESS)
    })
}
