//! `slipway serve [--listen ADDR] [--index PATH | --index-git-url URL] [--no-workers]`: the web UI and JSON API,
//! with a local worker pool by default, on the configured database. Its index is applied at start and at each
//! change (see `reload`); invalid entries are shown on the dashboard. Its rounds (`rounds`) poll branches,
//! run schedules, look up base images, check the tags against the registry, and send mail and event webhooks. Ctrl-C (or SIGTERM) stops taking work and
//! requests; a build still running is left to be resumed by the next worker.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use slipway_docker::Docker;
use slipway_engine::EventRules;
use slipway_registry::RegistryClient;
use slipway_web::{AppState, IndexProblems, IndexRepository, Probe, RegistryEvents, WebConfig};
use tokio::sync::watch;

use super::index_source::{GitIndex, IndexSource};
use super::pipeline::PipelineArgs;
use super::reload::{IndexReloader, summary};
use super::rounds::{
    DIGEST_TICK, NOTIFY_TICK, RETENTION_TICK, SCHEDULE_TICK, TAG_CHECK_TICK, announce_once, check_bases_once,
    digest_once, every, notify_once, poll_branches_once, retention_once, run_schedules_once, tag_check_once,
};
use super::run::{Pool, Workers};
use crate::config::Config;

/// How long a stopping server lets running builds finish before leaving them to be resumed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SLIPWAY_LISTEN")]
    listen: SocketAddr,
    /// The index directory or file (default: [index] path); looked at every --index-poll-interval, and
    /// what changed is applied: new projects built, changed ones rebuilt, removed ones deactivated.
    #[arg(long, value_name = "PATH")]
    index: Option<PathBuf>,
    /// Read the index from this git repository instead (default: [index] git_url); a push webhook for its
    /// branch reloads it at once.
    #[arg(long, env = "SLIPWAY_INDEX_GIT_URL", value_name = "URL")]
    index_git_url: Option<String>,
    /// The branch of the index repository (default: [index] git_branch, else main).
    #[arg(long, env = "SLIPWAY_INDEX_GIT_BRANCH", value_name = "BRANCH")]
    index_git_branch: Option<String>,
    /// Where the index is in that repository (default: [index] git_path, else its root).
    #[arg(long, value_name = "PATH")]
    index_git_path: Option<PathBuf>,
    /// How often the index source is looked at for changes.
    #[arg(long, env = "SLIPWAY_INDEX_POLL_INTERVAL", value_name = "DURATION", default_value = "1m",
          value_parser = crate::duration::parse_duration)]
    index_poll_interval: Duration,
    /// Serve only: no local workers (run `slipway run` or other workers against the same database).
    #[arg(long)]
    no_workers: bool,
    /// Builds run at once (default: [pipeline] workers).
    #[arg(long)]
    workers: Option<usize>,
    /// Reading needs a login or a token too.
    #[arg(long)]
    read_requires_login: bool,
    /// How often each repository's branches are checked for new commits (one look per repository and
    /// branch, shared by its projects); a moved branch rebuilds its projects.
    #[arg(long, env = "SLIPWAY_GIT_POLL_INTERVAL", value_name = "DURATION", default_value = "10m",
          value_parser = crate::duration::parse_duration)]
    git_poll_interval: Duration,
    /// How often the external base images (`FROM`s outside the index) are looked up; a new digest
    /// rebuilds the projects built on the old one.
    #[arg(long, env = "SLIPWAY_BASE_IMAGE_INTERVAL", value_name = "DURATION", default_value = "1h",
          value_parser = crate::duration::parse_duration)]
    base_image_interval: Duration,
    /// How often the retention policy (`[retention]`) runs, once across all servers (`0s`: never;
    /// default: [retention] interval, 1d). Each run logs the tags it removed.
    #[arg(long, env = "SLIPWAY_GC_INTERVAL", value_name = "DURATION", value_parser = crate::duration::parse_duration)]
    gc_interval: Option<Duration>,
    /// How often every tag Slipway recorded is compared with what the registry serves, once across all
    /// servers (`0s`: never); the result is shown on the project pages and in `/metrics` (`slipway_tag_drift`).
    /// It never repairs: `slipway tags check --repair` does.
    #[arg(long, env = "SLIPWAY_TAG_CHECK_INTERVAL", value_name = "DURATION", default_value = "10m",
          value_parser = crate::duration::parse_duration)]
    tag_check_interval: Duration,
    /// Mail about failed (and fixed) builds to each project's notify-email through this server,
    /// `smtp://[user:password@]host[:port]`; without it no mail is sent.
    #[arg(long, env = "SLIPWAY_SMTP_URL", value_name = "URL")]
    smtp_url: Option<String>,
    /// The sender of that mail.
    #[arg(long, env = "SLIPWAY_MAIL_FROM", default_value = "Slipway <slipway@localhost>")]
    mail_from: String,
    /// The secret of push webhooks (`POST /hooks/github|gitlab|gitea`): GitHub and Gitea sign with it,
    /// GitLab sends it as its token. Without it the webhooks are off.
    #[arg(long, env = "SLIPWAY_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Send every build's end and every promotion as signed JSON to this URL (repeat, or separate with
    /// commas); see --event-webhook-secret.
    #[arg(long = "event-webhook", env = "SLIPWAY_EVENT_WEBHOOKS", value_name = "URL", value_delimiter = ',')]
    event_webhooks: Vec<String>,
    /// The secret event webhooks are signed with (`X-Slipway-Signature-256: sha256=HMAC`).
    #[arg(long, env = "SLIPWAY_EVENT_WEBHOOK_SECRET", value_name = "SECRET", hide_env_values = true)]
    event_webhook_secret: Option<String>,
    /// The shared secret of registry notifications (`POST /hooks/registry`), sent by the registry as
    /// `Authorization: Bearer SECRET`; the rules are `[[registry_events.rules]]` in the configuration. Without
    /// it registry events are off.
    #[arg(long, env = "SLIPWAY_REGISTRY_EVENT_SECRET", value_name = "SECRET", hide_env_values = true)]
    registry_event_secret: Option<String>,
    /// Where people reach this UI, for the links in mail (default: http://LISTEN).
    #[arg(long, env = "SLIPWAY_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(args: &ServeArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    runtime.block_on(serve(args, config, out))
}

async fn serve(args: &ServeArgs, config: &Config, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    // A long-running server logs to stderr; `RUST_LOG` refines it.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let store = args.pipeline.store(config).await?;
    let registry = args.pipeline.registry(config);
    let client = RegistryClient::new(config.client_config()?)?;
    let mut web = WebConfig::new(registry.clone());
    let reloader = start_index(args, config, &store, &web.index_problems, out).await?;
    let index_pushed = Arc::new(tokio::sync::Notify::new());
    if let Some((url, branch)) = reloader.as_ref().and_then(|r| r.source.repository()) {
        web.index_repository = Some(IndexRepository { url, branch, pushed: Arc::clone(&index_pushed) });
    }
    web.read_requires_login = args.read_requires_login;
    web.webhook_secret = args.webhook_secret.clone().filter(|s| !s.is_empty());
    if let Some(secret) = args.registry_event_secret.clone().filter(|s| !s.is_empty()) {
        let rules = EventRules::new(config.registry_events.rules.clone())?;
        if rules.is_empty() {
            writeln!(
                out,
                "registry events: no [[registry_events.rules]] in the configuration; events are recorded only"
            )?;
        }
        web.registry_events = Some(RegistryEvents { secret, rules });
    }
    let docker = if args.no_workers {
        None
    } else {
        Some(Docker::connect(None).await.context("Docker is needed to build: is dockerd running? (or --no-workers)")?)
    };
    if let Some(docker) = docker.clone() {
        let probe: Probe = Arc::new(move || {
            let docker = docker.clone();
            Box::pin(async move { docker.ping().await.map(drop).map_err(|e| e.to_string()) })
        });
        web.probes.push(("docker".to_string(), probe));
    }
    let state = AppState::new(store.clone(), web, Some(client.clone()));

    let (stop_tx, stop_rx) = watch::channel(false);
    let bases = {
        let (store, client, docker) = (store.clone(), client.clone(), docker.clone());
        tokio::spawn(every(args.base_image_interval, stop_rx.clone(), move || {
            let (store, client, docker) = (store.clone(), client.clone(), docker.clone());
            async move { check_bases_once(&store, &client, docker.as_ref()).await }
        }))
    };
    let mut pool = Workers::new();
    if let Some(docker) = docker {
        let engine = docker.engine().clone();
        let local =
            Pool { store: store.clone(), registry: registry.clone(), docker, client: client.clone(), lease: None };
        let (workers, started) = local.start(config, &args.pipeline, args.workers, &stop_rx, false)?;
        pool = started;
        writeln!(out, "{workers} worker(s) building for {registry} with {engine}")?;
    }
    let polled = store.clone();
    let poller = tokio::spawn(every(args.git_poll_interval, stop_rx.clone(), move || {
        let store = polled.clone();
        async move { poll_branches_once(&store).await }
    }));
    let event_hooks = match (
        args.event_webhooks.is_empty(),
        args.event_webhook_secret.clone().filter(|s| !s.is_empty()),
    ) {
        (true, _) => None,
        (false, Some(secret)) => Some(slipway_engine::EventHooks::new(args.event_webhooks.clone(), secret)?),
        (false, None) => anyhow::bail!(
            "--event-webhook needs --event-webhook-secret (or SLIPWAY_EVENT_WEBHOOK_SECRET): receivers check the signature"
        ),
    };
    let mailer = match &args.smtp_url {
        Some(url) => Some(slipway_engine::Mailer::new(url, &args.mail_from)?),
        None => None,
    };
    let scheduled = store.clone();
    let scheduler = tokio::spawn(every(SCHEDULE_TICK, stop_rx.clone(), move || {
        let store = scheduled.clone();
        async move { run_schedules_once(&store).await }
    }));
    let gc_interval = match args.gc_interval {
        Some(interval) => Some(interval).filter(|i| !i.is_zero()),
        None => config.retention.interval()?,
    };
    let retention = match gc_interval {
        Some(interval) => {
            let policy = config.retention.policy()?;
            let every_delta = chrono::TimeDelta::from_std(interval).context("--gc-interval is too long")?;
            let (store, client, registry) = (store.clone(), client.clone(), registry.clone());
            writeln!(out, "running retention every {}", crate::duration::show(interval))?;
            Some(tokio::spawn(every(interval.min(RETENTION_TICK), stop_rx.clone(), move || {
                let (store, client, registry) = (store.clone(), client.clone(), registry.clone());
                async move { retention_once(&store, &client, &registry, &policy, every_delta).await }
            })))
        }
        None => None,
    };
    let tag_check = if args.tag_check_interval.is_zero() {
        None
    } else {
        let interval = args.tag_check_interval;
        let every_delta = chrono::TimeDelta::from_std(interval).context("--tag-check-interval is too long")?;
        let (store, client, registry) = (store.clone(), client.clone(), registry.clone());
        writeln!(out, "checking the tags against the registry every {}", crate::duration::show(interval))?;
        Some(tokio::spawn(every(interval.min(TAG_CHECK_TICK), stop_rx.clone(), move || {
            let (store, client, registry) = (store.clone(), client.clone(), registry.clone());
            async move { tag_check_once(&store, &client, &registry, every_delta).await }
        })))
    };
    let reloading =
        reloader.map(|reloader| tokio::spawn(reloader.run(args.index_poll_interval, index_pushed, stop_rx.clone())));
    writeln!(out, "checking git branches every {}", crate::duration::show(args.git_poll_interval))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is another server there?", args.listen))?;
    let address = listener.local_addr().context("reading the listening address")?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let notifier = mailer.map(|mailer| {
        let (store, public_url) = (store.clone(), public_url.clone());
        let mut digest_looked: Option<std::time::Instant> = None;
        tokio::spawn(every(NOTIFY_TICK, stop_rx.clone(), move || {
            let (store, mailer, public_url) = (store.clone(), mailer.clone(), public_url.clone());
            let digest = digest_looked.is_none_or(|at| at.elapsed() >= DIGEST_TICK);
            if digest {
                digest_looked = Some(std::time::Instant::now());
            }
            async move {
                notify_once(&store, &mailer, &public_url).await;
                if digest {
                    digest_once(&store, &mailer, &public_url).await;
                }
            }
        }))
    });
    let announcer = event_hooks.map(|hooks| {
        let (store, public_url) = (store.clone(), public_url.clone());
        tokio::spawn(every(NOTIFY_TICK, stop_rx.clone(), move || {
            let (store, hooks, public_url) = (store.clone(), hooks.clone(), public_url.clone());
            async move { announce_once(&store, &hooks, &public_url).await }
        }))
    });
    writeln!(out, "serving the UI at http://{address}/ (API: http://{address}/api/v1/openapi.json)")?;
    out.flush()?;
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("stopping: no new requests or builds");
        let _ = stop_tx.send(true);
    };
    slipway_web::serve(listener, state, shutdown).await.context("serving")?;
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while let Some(result) = pool.join_next().await {
            result.context("a worker stopped")??;
        }
        anyhow::Ok(())
    })
    .await;
    match finished {
        Ok(result) => result?,
        Err(_) => {
            // Dropping a build removes its containers; its lease lapses and the next worker resumes it.
            pool.abort_all();
            writeln!(out, "builds still running after {} s were left to be resumed", SHUTDOWN_GRACE.as_secs())?;
        }
    }
    poller.abort();
    bases.abort();
    scheduler.abort();
    if let Some(reloading) = reloading {
        reloading.abort();
    }
    for task in [notifier, announcer, retention, tag_check].into_iter().flatten() {
        task.abort();
    }
    store.close().await?;
    Ok(ExitCode::SUCCESS)
}

/// The index source the arguments and configuration name, loaded and applied once; none when there is no
/// index (the server serves what the database holds).
async fn start_index(
    args: &ServeArgs,
    config: &Config,
    store: &slipway_store::Store,
    problems: &IndexProblems,
    out: &mut dyn Write,
) -> anyhow::Result<Option<IndexReloader>> {
    let source = match args.index_git_url.clone().or_else(|| config.index.git_url.clone()) {
        Some(url) => IndexSource::Git(GitIndex {
            url,
            branch: args.index_git_branch.clone().unwrap_or_else(|| config.index.git_branch.clone()),
            path: args.index_git_path.clone().unwrap_or_else(|| config.index.git_path.clone()),
            dir: args.pipeline.data_dir(config).join("index-source"),
        }),
        None => {
            let path = args.index.clone().unwrap_or_else(|| config.index.path.clone());
            if !path.exists() {
                writeln!(out, "no index at {}: serving what the database holds", path.display())?;
                return Ok(None);
            }
            IndexSource::Directory(path)
        }
    };
    let mut reloader = IndexReloader::new(source, store.clone(), problems.clone());
    let every = crate::duration::show(args.index_poll_interval);
    match reloader.reload().await {
        Ok(Some(report)) => writeln!(
            out,
            "index {}: {}; {} problem(s); looked at every {every}",
            reloader.source.describe(),
            summary(&report),
            problems.get().len()
        )?,
        Ok(None) => {}
        // A git index may be unreachable for a while; the server starts on what it recorded before.
        Err(err) if matches!(reloader.source, IndexSource::Git(_)) => writeln!(
            out,
            "index {}: cannot be read now ({err:#}); serving what the database holds and trying again every {every}",
            reloader.source.describe()
        )?,
        Err(err) => return Err(err),
    }
    Ok(Some(reloader))
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = term => {}
    }
}
