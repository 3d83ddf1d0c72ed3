//! `docker build`: the spec, the choice of builder (BuildKit by default, see `buildkit/`; the classic builder
//! here), the log cap, and sorting a failure into what the maintainer must fix (the Dockerfile, one step) or
//! what Slipway must (the daemon, the timeout).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{BuildImageOptions, RemoveContainerOptions};
use futures_util::{Stream, StreamExt, TryStreamExt};

use crate::client::Docker;
use crate::context::{ContextArchive, ContextError};
use crate::error::{DockerError, message_of};
use crate::lint::SyntaxDirective;
use crate::log::{LineSplitter, StatusFilter, human};
use crate::push::RegistryAuth;
use crate::step_limits::StepLimits;

/// Which of the daemon's builders runs the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Builder {
    /// BuildKit through the Docker API: cache and secret mounts, `COPY --chmod`, parallel stages.
    #[default]
    BuildKit,
    /// The classic builder (also what Podman's compatible API offers, through buildah).
    Classic,
}

impl std::fmt::Display for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Builder::BuildKit => "BuildKit",
            Builder::Classic => "the classic builder",
        })
    }
}

/// What to build. `pull` is never requested: base images come from the worker's daemon (a missing base image is
/// still fetched by the daemon itself if it can reach a registry).
#[derive(Debug, Clone)]
pub struct BuildSpec {
    pub context: ContextArchive,
    /// `registry/name:tag` given to the built image.
    pub tag: String,
    pub build_args: BTreeMap<String, String>,
    /// Added to the image through the API (never written into the Dockerfile, where a trailing escape could
    /// swallow or forge them).
    pub labels: BTreeMap<String, String>,
    pub builder: Builder,
    /// The stage to build (`--target`); none: the last.
    pub target: Option<String>,
    /// Build secrets by id, for `RUN --mount=type=secret,id=…` (BuildKit only). Their values never reach the
    /// log: a line that contains one has it replaced.
    pub secrets: BTreeMap<String, String>,
    /// Credentials handed to the builder per registry host, for `FROM` images this project may pull.
    pub registry_auth: BTreeMap<String, RegistryAuth>,
    /// The build stops when its log reaches this many bytes.
    pub log_cap_bytes: u64,
    /// The Dockerfile's `# syntax=` directive, if any, to explain a frontend that cannot be had.
    pub syntax: Option<SyntaxDirective>,
    /// Process, CPU and memory limits of each `RUN` step (see `step_limits.rs`); none: the daemon's defaults.
    pub step_limits: Option<StepLimits>,
    /// Network for `RUN` steps: `None` is the daemon's default, `Some("none")` cuts them off (tests).
    pub network_mode: Option<String>,
    /// The whole build, upload included; when it passes, the build is stopped and its container removed.
    pub timeout: Duration,
    pub no_cache: bool,
    /// Memory limit of each `RUN` container (swap off). The API takes an `i32`, so at most 2 GiB - 1.
    pub memory_bytes: Option<i64>,
}

impl BuildSpec {
    /// A spec with no build args or labels, BuildKit, the daemon's network, a 30-minute timeout, cache on, no
    /// memory limit, 16 MiB of log.
    pub fn new(context: ContextArchive, tag: impl Into<String>) -> BuildSpec {
        BuildSpec {
            context,
            tag: tag.into(),
            build_args: BTreeMap::new(),
            labels: BTreeMap::new(),
            builder: Builder::default(),
            target: None,
            secrets: BTreeMap::new(),
            registry_auth: BTreeMap::new(),
            log_cap_bytes: DEFAULT_LOG_CAP,
            syntax: None,
            step_limits: None,
            network_mode: None,
            timeout: Duration::from_secs(30 * 60),
            no_cache: false,
            memory_bytes: None,
        }
    }
}

/// The build log's cap, as for tests.
pub const DEFAULT_LOG_CAP: u64 = 16 * 1024 * 1024;

/// The image a successful build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// `sha256:…`, the image id (config digest).
    pub id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the Dockerfile is invalid: {message}; fix the Dockerfile and push again")]
    Dockerfile { message: String },
    #[error(
        "the build failed at {}: {message}; fix that step (its output is in the build log above) and push again",
        step.as_deref().unwrap_or("an unknown step")
    )]
    Step { step: Option<String>, message: String },
    #[error(
        "the build was stopped after {} (the build timeout){}; make the slow step faster or raise the timeout",
        human(*after), step.as_ref().map(|s| format!(" during {s}")).unwrap_or_default()
    )]
    Timeout { after: Duration, step: Option<String> },
    #[error(
        "the build log reached its cap of {} MiB{}, so the build was stopped; make that step quieter (redirect \
         its output to a file, or pass a quiet flag)",
        cap >> 20, step.as_ref().map(|s| format!(" during {s}")).unwrap_or_default()
    )]
    LogCap { cap: u64, step: Option<String> },
    #[error(
        "{step} printed more than BuildKit keeps of one step (1 MiB, at most 200 KiB/s), so the build was stopped; \
         make that step quieter (redirect its output to a file, or pass a quiet flag)"
    )]
    OutputClipped { step: String },
    #[error(
        "Dockerfile line {line}: `# syntax={image}` names a Dockerfile frontend image this worker cannot get \
         ({message}); remove the line to build with the builder's own frontend (it has RUN --mount, COPY --chmod \
         and --link), or load that image into the worker's Docker daemon"
    )]
    Frontend { line: usize, image: String, message: String },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// What the build stream has said so far.
#[derive(Debug, Default)]
struct Progress {
    /// `Step 3/5 : RUN make`
    step: Option<String>,
    /// The container of the running step (`---> Running in 0a1b2c3d4e5f`).
    container: Option<String>,
    image_id: Option<String>,
}

impl Progress {
    fn observe(&mut self, line: &str) {
        let trimmed = line.trim();
        if trimmed.starts_with("Step ") && trimmed.contains(" : ") {
            self.step = Some(trimmed.to_string());
            self.container = None;
        } else if let Some(id) = trimmed.strip_prefix("---> Running in ") {
            self.container = Some(id.trim().to_string());
        } else if let Some(id) = trimmed.strip_prefix("Successfully built ") {
            self.image_id.get_or_insert_with(|| id.trim().to_string());
        }
    }
}

impl Docker {
    /// Builds `spec` with its builder, passing every output line to `log` as it comes.
    pub async fn build(&self, spec: &BuildSpec, log: &mut (dyn FnMut(&str) + Send)) -> Result<BuiltImage, BuildError> {
        match spec.builder {
            Builder::BuildKit => self.build_with_buildkit(spec, log).await,
            // Podman's compatible build words its failures its own way (see `engine.rs`).
            Builder::Classic => self
                .build_classic(spec, log)
                .await
                .map_err(|err| self.engine().classify_build_error(err, spec.memory_bytes)),
        }
    }

    async fn build_classic(
        &self,
        spec: &BuildSpec,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BuiltImage, BuildError> {
        let started = Instant::now();
        let mut cap = LogCap::new(spec.log_cap_bytes, &spec.secrets, log);
        let options = build_options(spec)?;
        // bollard's timeout covers waiting for response headers, which come only after the whole upload.
        let client = self.api().clone().with_timeout(spec.timeout + Duration::from_secs(30));
        // A failure to read the archive back reaches bollard as a broken request; keep the real cause.
        let read_error = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&read_error);
        let body = spec.context.stream().inspect_err(move |err| {
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(io::Error::new(err.kind(), err.to_string()));
            }
        });
        let credentials = (!spec.registry_auth.is_empty())
            .then(|| spec.registry_auth.iter().map(|(host, auth)| (host.clone(), auth.for_registry(host))).collect());
        let stream = client.build_image(options, credentials, Some(bollard::body_try_stream(body)));
        let mut progress = Progress::default();
        let outcome = tokio::time::timeout(spec.timeout, follow(stream, &mut progress, &mut cap)).await;
        if cap.reached() {
            self.stop_build(&progress, &mut cap).await;
            return Err(BuildError::LogCap { cap: spec.log_cap_bytes, step: progress.step });
        }
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                if let Some(source) = read_error.lock().ok().and_then(|mut slot| slot.take()) {
                    return Err(BuildError::Context(ContextError::Stream { source }));
                }
                return Err(self.classify(err, &progress, spec));
            }
            Err(_) => {
                let after = started.elapsed();
                self.stop_build(&progress, &mut cap).await;
                cap.say(&format!("[slipway] build stopped after {} (timeout {})", human(after), human(spec.timeout)));
                return Err(BuildError::Timeout { after, step: progress.step });
            }
        }
        let id = match progress.image_id {
            Some(id) if id.starts_with("sha256:") => id,
            _ => self.image_config(&spec.tag).await?.id,
        };
        tracing::info!(image.tag = %spec.tag, image.id = %id, duration_ms = started.elapsed().as_millis() as u64, "built");
        Ok(BuiltImage { id })
    }

    fn classify(&self, err: BollardError, progress: &Progress, spec: &BuildSpec) -> BuildError {
        match &err {
            // Said by the builder: mid-stream, or as the answer to the request (20.10 answers parse errors so).
            BollardError::DockerStreamError { .. } | BollardError::DockerResponseServerError { .. } => {
                self.failure(Failure { message: message_of(&err), step: progress.step.clone(), spec })
            }
            _ => BuildError::Docker(self.ctx("build an image").classify(err, None)),
        }
    }

    /// Sorts what a builder said about a failed build.
    pub(crate) fn failure(&self, failure: Failure<'_>) -> BuildError {
        let Failure { message, step, spec } = failure;
        let lower = message.to_ascii_lowercase();
        if lower.contains("no space left on device") {
            // The worker's disk, not the project: say so instead of blaming the step.
            let endpoint = self.endpoint().to_string();
            let operation = "build an image (the daemon's disk is full)".to_string();
            BuildError::Docker(DockerError::Api { endpoint, operation, status: None, message })
        } else if let Some(syntax) = spec.syntax.as_ref().filter(|_| is_frontend_error(&lower)) {
            BuildError::Frontend { line: syntax.line, image: syntax.image.clone(), message }
        } else if is_dockerfile_error(&message) {
            BuildError::Dockerfile { message }
        } else if step.is_some() {
            let message = match spec.memory_bytes {
                // 137 is SIGKILL: under a memory limit, the kernel's OOM killer is what sends it.
                Some(limit) if message.ends_with("code: 137") => format!(
                    "{message} (killed: most likely the step used more than the build memory limit of {} MiB)",
                    limit >> 20
                ),
                _ => message,
            };
            BuildError::Step { step, message }
        } else if lower.contains("dockerfile") {
            BuildError::Dockerfile { message }
        } else {
            let endpoint = self.endpoint().to_string();
            BuildError::Docker(DockerError::Api {
                endpoint,
                operation: "build an image".to_string(),
                status: None,
                message,
            })
        }
    }

    /// Dropping the build request makes the daemon kill and remove the running step's container; removing it here
    /// as well makes that certain before the caller goes on. Earlier steps' images stay as build cache.
    async fn stop_build(&self, progress: &Progress, log: &mut LogCap<'_>) {
        let Some(container) = &progress.container else { return };
        let options = RemoveContainerOptions { force: true, v: true, link: false };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.api().remove_container(container, Some(options.clone())).await {
                Ok(()) | Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => break,
                // 409: the daemon is already removing it; wait until it is gone.
                Err(err) if Instant::now() < deadline => {
                    tracing::debug!(container.id = %container, error = %err, "waiting for the build container to go");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => {
                    tracing::warn!(container.id = %container, error = %err, "could not remove a timed-out build container");
                    log.say(&format!("[slipway] could not remove build container {container}: {err}"));
                    return;
                }
            }
        }
    }
}

fn build_options(spec: &BuildSpec) -> Result<BuildImageOptions, DockerError> {
    let memory = match spec.memory_bytes {
        None => None,
        Some(bytes) => Some(i32::try_from(bytes).ok().filter(|b| *b >= 6 * 1024 * 1024).ok_or_else(|| {
            DockerError::InvalidSpec {
                field: "build memory limit",
                message: format!("{bytes} bytes; the classic builder accepts 6 MiB to 2 GiB - 1"),
            }
        })?),
    };
    let map = |m: &BTreeMap<String, String>| -> Option<HashMap<String, String>> {
        (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    Ok(BuildImageOptions {
        dockerfile: spec.context.dockerfile_name().to_string(),
        t: Some(spec.tag.clone()),
        nocache: spec.no_cache,
        pull: None,
        rm: true,
        // Remove intermediate containers after a failed step too.
        forcerm: true,
        memory,
        memswap: memory,
        buildargs: map(&spec.build_args),
        labels: map(&spec.labels),
        networkmode: spec.network_mode.clone(),
        target: spec.target.clone().unwrap_or_default(),
        // The classic builder's steps are containers that take a CPU quota (no process limit through the API).
        cpuperiod: spec.step_limits.map(|_| 100_000),
        cpuquota: spec.step_limits.map(|l| i32::try_from(l.nano_cpus / 10_000).unwrap_or(i32::MAX)),
        ..Default::default()
    })
}

/// Passes the build's lines on until the stream ends or fails.
async fn follow(
    stream: impl Stream<Item = Result<bollard::models::BuildInfo, BollardError>>,
    progress: &mut Progress,
    log: &mut LogCap<'_>,
) -> Result<(), BollardError> {
    let mut stream = std::pin::pin!(stream);
    let mut lines = LineSplitter::default();
    let mut statuses = StatusFilter::default();
    let result = loop {
        let info = match stream.next().await {
            None => break Ok(()),
            Some(Err(err)) => break Err(err),
            Some(Ok(info)) => info,
        };
        if let Some(text) = &info.stream {
            lines.push(text.as_bytes(), &mut |line| {
                progress.observe(line);
                log.line(line);
            });
        }
        if let Some(status) = &info.status {
            // Pulling a base image: "Pulling fs layer", "Downloading", … once per change.
            if statuses.changed(status) {
                log.line(&match &info.id {
                    Some(id) => format!("{id}: {status}"),
                    None => status.clone(),
                });
            }
        }
        if let Some(id) = info.aux.and_then(|aux| aux.id) {
            progress.image_id = Some(id);
        }
        if log.reached() {
            // Dropping the stream ends the request; the caller removes the running step's container.
            break Ok(());
        }
    };
    lines.finish(&mut |line| {
        progress.observe(line);
        log.line(line);
    });
    result
}

/// A failed build, as its builder reported it.
pub(crate) struct Failure<'a> {
    pub(crate) message: String,
    pub(crate) step: Option<String>,
    pub(crate) spec: &'a BuildSpec,
}

/// The build log on its way to the caller: secret values masked, and a byte cap after which nothing more is
/// written and the build is stopped.
pub(crate) struct LogCap<'a> {
    log: &'a mut (dyn FnMut(&str) + Send),
    secrets: Vec<&'a str>,
    written: u64,
    cap: u64,
    reached: bool,
}

impl<'a> LogCap<'a> {
    pub(crate) fn new(cap: u64, secrets: &'a BTreeMap<String, String>, log: &'a mut (dyn FnMut(&str) + Send)) -> Self {
        let secrets = secrets.values().map(String::as_str).filter(|v| !v.is_empty()).collect();
        LogCap { log, secrets, written: 0, cap, reached: false }
    }

    pub(crate) fn line(&mut self, line: &str) {
        if self.reached {
            return;
        }
        self.written += line.len() as u64 + 1;
        if self.written > self.cap {
            self.reached = true;
            self.say(&format!(
                "[slipway] the build log reached its cap of {} MiB; the rest is not kept and the build is stopped",
                self.cap >> 20
            ));
            return;
        }
        self.say(line);
    }

    /// Writes a line of Slipway's own, past the cap too.
    pub(crate) fn say(&mut self, line: &str) {
        if self.secrets.iter().any(|secret| line.contains(secret)) {
            let masked = self.secrets.iter().fold(line.to_string(), |text, secret| text.replace(secret, "****"));
            (self.log)(&masked);
        } else {
            (self.log)(line);
        }
    }

    pub(crate) fn reached(&self) -> bool {
        self.reached
    }
}

/// A `# syntax=` frontend that could not be fetched or run.
fn is_frontend_error(lower: &str) -> bool {
    lower.contains("frontend") && (lower.contains("resolve") || lower.contains("pull") || lower.contains("gateway"))
}

/// Errors the Dockerfile's author must fix before any step could run.
fn is_dockerfile_error(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["dockerfile parse error", "unknown instruction", "cannot locate specified dockerfile", "failed to process \""]
        .iter()
        .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_follows_steps_and_containers() {
        let mut p = Progress::default();
        for line in ["Step 1/3 : FROM x", " ---> abc", "Step 2/3 : RUN make", " ---> Running in 0a1b2c3d4e5f"] {
            p.observe(line);
        }
        assert_eq!(p.step.as_deref(), Some("Step 2/3 : RUN make"));
        assert_eq!(p.container.as_deref(), Some("0a1b2c3d4e5f"));
        p.observe("Step 3/3 : LABEL a=b");
        assert_eq!(p.container, None);
    }

    #[test]
    fn dockerfile_errors() {
        let cases = [
            ("Dockerfile parse error line 3: unknown instruction: FORM", true),
            ("failed to process \"${X\": missing ':' in substitution", true),
            ("Cannot locate specified Dockerfile: Dockerfile.prod", true),
            ("The command '/bin/sh -c false' returned a non-zero code: 1", false),
            ("COPY failed: file not found in build context", false),
        ];
        for (message, want) in cases {
            assert_eq!(is_dockerfile_error(message), want, "{message}");
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let step = BuildError::Step {
            step: Some("Step 3/5 : RUN false".into()),
            message: "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
        };
        assert_eq!(
            step.to_string(),
            "the build failed at Step 3/5 : RUN false: The command '/bin/sh -c false' returned a non-zero code: 1; \
             fix that step (its output is in the build log above) and push again"
        );
        let timeout =
            BuildError::Timeout { after: Duration::from_secs(3), step: Some("Step 2/2 : RUN sleep 60".into()) };
        assert_eq!(
            timeout.to_string(),
            "the build was stopped after 3 s (the build timeout) during Step 2/2 : RUN sleep 60; make the slow step \
             faster or raise the timeout"
        );
    }
}
