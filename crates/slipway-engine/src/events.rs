//! Event webhooks: every build that ends and every promotion is POSTed as JSON to the configured URLs, signed
//! so a receiver can tell it came from this Slipway:
//!
//! - `X-Slipway-Event: build` or `promotion`;
//! - `X-Slipway-Delivery: build-ID` or `promotion-ID` (the same for every retry; receivers dedupe on it);
//! - `X-Slipway-Signature-256: sha256=HEX`, the HMAC-SHA256 of the body under the shared secret (as GitHub
//!   signs its webhooks).
//!
//! Each event is claimed before it is sent (one delivery however many servers run) and tried three times;
//! one that still fails is logged and dropped. Events from before webhooks were turned on are not replayed.

use std::time::Duration;

use serde_json::{Value, json};
use slipway_store::{Build, Project, Promotion, Store, StoreError};

use crate::notify::build_url;
use crate::signature::hmac_sha256_hex;

/// Events handled per round, of each kind.
const BATCH: u64 = 100;
/// Tries per event and URL, and the pause after the first failure (doubled after each).
const TRIES: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// How long one POST may take.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum EventHookError {
    #[error("`{0}` is not an http:// or https:// URL")]
    BadUrl(String),
    #[error("{0}")]
    Client(String),
}

/// Where events go and what signs them. The secret is never shown (`Debug` leaves it out).
#[derive(Clone)]
pub struct EventHooks {
    client: reqwest::Client,
    urls: Vec<String>,
    secret: String,
}

impl std::fmt::Debug for EventHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHooks").field("urls", &self.urls).finish_non_exhaustive()
    }
}

impl EventHooks {
    pub fn new(urls: Vec<String>, secret: String) -> Result<EventHooks, EventHookError> {
        if let Some(bad) = urls.iter().find(|u| !(u.starts_with("http://") || u.starts_with("https://"))) {
            return Err(EventHookError::BadUrl(slipway_git::redact(bad)));
        }
        let client = slipway_registry::http_client(TIMEOUT).map_err(EventHookError::Client)?;
        Ok(EventHooks { client, urls, secret })
    }

    /// POSTs `body` to every URL; the first failure of each URL after its tries, with the URL.
    async fn deliver(&self, kind: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
        let signature = format!("sha256={}", hmac_sha256_hex(self.secret.as_bytes(), body));
        let mut failures = Vec::new();
        for url in &self.urls {
            let mut pause = FIRST_PAUSE;
            for attempt in 1..=TRIES {
                let sent = self
                    .client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-slipway-event", kind)
                    .header("x-slipway-delivery", delivery)
                    .header("x-slipway-signature-256", &signature)
                    .body(body.to_vec())
                    .send()
                    .await;
                let error = match sent {
                    Ok(response) if response.status().is_success() => break,
                    Ok(response) => format!("answered {}", response.status()),
                    Err(err) => format!("unreachable: {err}"),
                };
                if attempt == TRIES {
                    failures.push((slipway_git::redact(url), error));
                } else {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        failures
    }
}

/// What one round sent.
#[derive(Debug, Default)]
pub struct AnnounceReport {
    /// Deliveries sent (`build-ID`, `promotion-ID`).
    pub sent: Vec<String>,
    /// (delivery, URL, why) of those that failed every try.
    pub failures: Vec<(String, String, String)>,
}

/// Sends the builds that ended and the promotions made since the last round. `base_url` is the web UI's, for
/// the links.
pub async fn announce_round(store: &Store, hooks: &EventHooks, base_url: &str) -> Result<AnnounceReport, StoreError> {
    let mut report = AnnounceReport::default();
    for build in store.builds_to_announce(BATCH).await? {
        if !store.mark_build_announced(build.id).await? {
            continue;
        }
        let project = store.project(build.project_id).await?;
        let body = build_event(&project, &build, base_url);
        send(hooks, "build", &format!("build-{}", build.id), &body, &mut report).await;
    }
    for promotion in store.promotions_to_announce(BATCH).await? {
        if !store.mark_promotion_announced(promotion.id).await? {
            continue;
        }
        let build = store.build(promotion.build_id).await?;
        let project = store.project(build.project_id).await?;
        let body = promotion_event(&project, &build, &promotion, base_url);
        send(hooks, "promotion", &format!("promotion-{}", promotion.id), &body, &mut report).await;
    }
    Ok(report)
}

async fn send(hooks: &EventHooks, kind: &str, delivery: &str, body: &Value, report: &mut AnnounceReport) {
    let bytes = body.to_string().into_bytes();
    let failures = hooks.deliver(kind, delivery, &bytes).await;
    if failures.len() < hooks.urls.len() {
        report.sent.push(delivery.to_string());
    }
    for (url, why) in failures {
        report.failures.push((delivery.to_string(), url, why));
    }
}

/// The `build` event: how a build of `project` ended.
pub fn build_event(project: &Project, build: &Build, base_url: &str) -> Value {
    json!({
        "event": "build",
        "image": project.image,
        "build": build.number,
        "state": build.state.as_str(),
        "failed_stage": build.failed_stage.map(|s| s.as_str()),
        "error": build.error,
        "causes": build.causes,
        "commit": build.commit,
        "digest": build.digest,
        "finished_at": build.finished_at,
        "url": build_url(base_url, project, build.number),
    })
}

/// The `promotion` event: a tier move of a build's image, made or failed.
pub fn promotion_event(project: &Project, build: &Build, promotion: &Promotion, base_url: &str) -> Value {
    json!({
        "event": "promotion",
        "image": project.image,
        "build": build.number,
        "digest": build.digest,
        "from": promotion.from_tier,
        "to": promotion.to_tier,
        "succeeded": promotion.succeeded,
        "error": promotion.error,
        "by": promotion.by,
        "at": promotion.at,
        "url": build_url(base_url, project, build.number),
    })
}
