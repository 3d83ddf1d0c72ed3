//! Builds with the daemon's BuildKit, driven through the Docker API: `POST /build?version=2` with a session
//! of our own (secrets and registry credentials come from it), its trace written as plain progress.
//!
//! Everything BuildKit brings is there: `RUN --mount=type=cache|secret|bind`, `COPY --chmod/--link`, stages
//! built in parallel, `TARGETPLATFORM`/`TARGETARCH`, a target stage.

mod progress;
mod session;
mod wire;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use http_body_util::BodyExt;
use prost::Message as _;

use self::progress::Progress;
use self::session::SessionData;
use crate::build::{BuildError, BuildSpec, BuiltImage, Failure, LogCap};
use crate::client::Docker;
use crate::error::DockerError;
use crate::log::{LineSplitter, human};

/// The Engine API version the requests name: 20.10's, the oldest Slipway supports.
const API: &str = "/v1.41";

/// One line of the `/build` answer.
#[derive(Debug, serde::Deserialize)]
struct Message {
    id: Option<String>,
    stream: Option<String>,
    aux: Option<serde_json::Value>,
    #[serde(rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// What one build's answer said.
#[derive(Default)]
struct Outcome {
    progress: Progress,
    image_id: Option<String>,
    error: Option<String>,
    /// The connection to the daemon broke: Slipway's trouble (retried), not the project's.
    broken: Option<String>,
}

impl Docker {
    pub(crate) async fn build_with_buildkit(
        &self,
        spec: &BuildSpec,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BuiltImage, BuildError> {
        let started = Instant::now();
        let unreachable = |operation: &str, err: std::io::Error| {
            BuildError::Docker(DockerError::Unreachable {
                endpoint: self.endpoint().to_string(),
                operation: operation.to_string(),
                reason: err.to_string(),
            })
        };
        let _limits = match spec.step_limits.map(|limits| (limits, limits.apply(self.endpoint()))) {
            Some((limits, Ok(applied))) => {
                log(&format!(
                    "[slipway] each build step is limited to {} processes and {:.1} CPUs{}",
                    limits.pids,
                    limits.nano_cpus as f64 / 1e9,
                    limits.memory_bytes.map(|m| format!(" and {} MiB", m >> 20)).unwrap_or_default()
                ));
                Some(applied)
            }
            Some((_, Err(why))) => {
                log(&format!("[slipway] build steps run without Slipway's process and CPU limits: {why}"));
                None
            }
            None => None,
        };
        let id = session_id();
        let data = SessionData {
            secrets: spec.secrets.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect(),
            registries: spec.registry_auth.clone(),
        };
        let _session = session::open(self.endpoint(), &id, data)
            .await
            .map_err(|err| unreachable("open a BuildKit session", err))?;
        let request = http::Request::post(format!("{API}/build?{}", query(spec, &id)))
            .header(http::header::HOST, "docker")
            .header(http::header::CONTENT_TYPE, "application/x-tar")
            .header(http::header::USER_AGENT, concat!("slipway/", env!("CARGO_PKG_VERSION")))
            .body(wire::streamed(spec.context.stream()))
            .map_err(|err| unreachable("build an image", std::io::Error::other(err)))?;
        let mut cap = LogCap::new(spec.log_cap_bytes, &spec.secrets, log);
        let mut outcome = Outcome::default();
        let run = async {
            let response =
                wire::send(self.endpoint(), request).await.map_err(|err| unreachable("build an image", err))?;
            if !response.status().is_success() {
                outcome.error = Some(wire::text_of(response).await);
                return Ok(());
            }
            follow(response.into_body(), &mut outcome, &mut cap).await;
            Ok::<_, BuildError>(())
        };
        match tokio::time::timeout(spec.timeout, run).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                let after = started.elapsed();
                // Dropping the request closed its connection: the daemon cancels the build and its step.
                cap.say(&format!("[slipway] build stopped after {} (timeout {})", human(after), human(spec.timeout)));
                return Err(BuildError::Timeout { after, step: outcome.progress.step_name() });
            }
        }
        outcome.progress.finish(&mut |line| cap.line(line));
        if cap.reached() {
            return Err(BuildError::LogCap { cap: spec.log_cap_bytes, step: outcome.progress.step_name() });
        }
        if let Some(step) = outcome.progress.clipped.take() {
            // Past this point the step's output is lost, and a runaway step would go on unseen until the timeout.
            cap.say(
                "[slipway] BuildKit dropped the rest of this step's output (it keeps 1 MiB, at most 200 KiB/s, \
                     per step), so the build was stopped",
            );
            return Err(BuildError::OutputClipped { step });
        }
        if let Some(reason) = outcome.broken {
            return Err(unreachable("build an image", std::io::Error::other(reason)));
        }
        if let Some(message) = outcome.error {
            return Err(self.failure(Failure { message, step: outcome.progress.step_name(), spec }));
        }
        let id = match outcome.image_id {
            Some(id) if id.starts_with("sha256:") => id,
            _ => self.image_config(&spec.tag).await?.id,
        };
        tracing::info!(image.tag = %spec.tag, image.id = %id, duration_ms = started.elapsed().as_millis() as u64, builder = "buildkit", "built");
        Ok(BuiltImage { id })
    }
}

impl Docker {
    /// Prunes the daemon's build cache (layers and `RUN --mount=type=cache` contents, least recently used
    /// first) down to `keep_bytes`. Raw HTTP: bollard names the parameter as newer APIs do, which 20.10 would
    /// ignore and prune everything.
    pub async fn prune_build_cache(&self, keep_bytes: u64) -> Result<(), DockerError> {
        let failed = |reason: String| DockerError::Unreachable {
            endpoint: self.endpoint().to_string(),
            operation: "prune the build cache".to_string(),
            reason,
        };
        let request = http::Request::post(format!("{API}/build/prune?keep-storage={keep_bytes}"))
            .header(http::header::HOST, "docker")
            .body(wire::empty())
            .map_err(|err| failed(err.to_string()))?;
        let response = wire::send(self.endpoint(), request).await.map_err(|err| failed(err.to_string()))?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let message = wire::text_of(response).await;
            return Err(DockerError::Api {
                endpoint: self.endpoint().to_string(),
                operation: "prune the build cache".to_string(),
                status: Some(status),
                message,
            });
        }
        let _ = response.into_body().collect().await;
        Ok(())
    }
}

/// Reads the answer until it ends, fails or the log reaches its cap (the caller then drops the connection,
/// which stops the build).
async fn follow(mut body: hyper::body::Incoming, outcome: &mut Outcome, cap: &mut LogCap<'_>) {
    let mut lines = LineSplitter::default();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(err) => {
                outcome.broken = Some(format!("the daemon's answer broke off: {err}"));
                return;
            }
        };
        let Some(chunk) = frame.data_ref() else { continue };
        lines.push(chunk, &mut |line| pending.push(line.to_string()));
        for line in pending.drain(..) {
            observe(&line, outcome, cap);
        }
        if cap.reached() || outcome.progress.clipped.is_some() {
            return;
        }
    }
}

fn observe(line: &str, outcome: &mut Outcome, cap: &mut LogCap<'_>) {
    let Ok(message) = serde_json::from_str::<Message>(line) else { return };
    if let Some(error) = message.error_detail.and_then(|d| d.message).or(message.error) {
        outcome.error.get_or_insert(error);
    }
    if let Some(text) = &message.stream {
        for line in text.lines() {
            cap.line(line);
        }
    }
    match (message.id.as_deref(), message.aux) {
        (Some("moby.buildkit.trace"), Some(serde_json::Value::String(encoded))) => {
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes());
            if let Some(status) = decoded.ok().and_then(|bytes| StatusResponse::decode(bytes.as_slice()).ok()) {
                outcome.progress.observe(status, &mut |line| cap.line(line));
            }
        }
        (Some("moby.image.id"), Some(aux)) => {
            outcome.image_id = aux.get("ID").and_then(|v| v.as_str()).map(str::to_string);
        }
        _ => {}
    }
}

/// The `/build` query: the classic parameters plus `version=2` and the session.
fn query(spec: &BuildSpec, session: &str) -> String {
    let json = |map: &BTreeMap<String, String>| serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string());
    let mut params: Vec<(&str, String)> = vec![
        ("version", "2".to_string()),
        ("session", session.to_string()),
        ("dockerfile", spec.context.dockerfile_name().to_string()),
        ("t", spec.tag.clone()),
        ("rm", "1".to_string()),
        ("forcerm", "1".to_string()),
        ("buildargs", json(&spec.build_args)),
        ("labels", json(&spec.labels)),
    ];
    if spec.no_cache {
        params.push(("nocache", "1".to_string()));
    }
    if let Some(network) = &spec.network_mode {
        params.push(("networkmode", network.clone()));
    }
    if let Some(target) = &spec.target {
        params.push(("target", target.clone()));
    }
    params.iter().map(|(k, v)| format!("{k}={}", wire::encode(v))).collect::<Vec<_>>().join("&")
}

/// Unique per build in this process and across processes.
fn session_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or(Duration::ZERO).as_nanos();
    format!("slipway-{}-{}-{nanos:x}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}
