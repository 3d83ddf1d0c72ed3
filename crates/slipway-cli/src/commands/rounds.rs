//! The server's rounds: each looks at one thing on an interval (git branches, schedules, ended builds to mail
//! about, external base images, tag drift) and logs what it did; a failed round is logged and tried again next
//! time.

use std::time::Duration;

use slipway_docker::Docker;
use slipway_registry::{Reference, RegistryClient};
use tokio::sync::watch;

/// How often ended builds are looked at for mail.
pub const NOTIFY_TICK: Duration = Duration::from_secs(5);

/// How often the schedules are looked at (a due build is queued within this).
pub const SCHEDULE_TICK: Duration = Duration::from_secs(30);

/// How long one look at a repository's branches may take.
const GIT_POLL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `round` every `interval` until the server stops.
pub async fn every<F, Fut>(interval: Duration, mut stop: watch::Receiver<bool>, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => round().await,
            _ = stop.changed() => return,
        }
    }
}

/// One look at every repository's branches; what it finds is logged.
pub async fn poll_branches_once(store: &slipway_store::Store) {
    match slipway_engine::poll_branches(store, GIT_POLL_TIMEOUT).await {
        Ok(report) => {
            log_requested("branch moved", &report.requested);
            for (url, err) in &report.failures {
                tracing::warn!(git.url = %url, error = %err, "could not check the branches of a repository");
            }
        }
        Err(err) => tracing::warn!(error = %err, "checking the git branches failed; trying again next round"),
    }
}

/// One look at the schedules.
pub async fn run_schedules_once(store: &slipway_store::Store) {
    match slipway_engine::run_schedules(store, chrono::Utc::now()).await {
        Ok(report) => {
            log_requested("schedule", &report.requested);
            for (image, err) in &report.invalid {
                tracing::warn!(project.image = %image, error = %err, "this project is not rebuilt on a schedule");
            }
        }
        Err(err) => tracing::warn!(error = %err, "checking the schedules failed; trying again next round"),
    }
}

/// One round of mail about the builds that ended.
pub async fn notify_once(store: &slipway_store::Store, mailer: &slipway_engine::Mailer, public_url: &str) {
    match slipway_engine::notify_round(store, mailer, public_url).await {
        Ok(report) => {
            for (image, number, subject) in &report.sent {
                tracing::info!(project.image = %image, build.number = number, subject, "mail sent");
            }
            for (image, number, err) in &report.failures {
                tracing::warn!(project.image = %image, build.number = number, error = %err, "mail not sent");
            }
        }
        Err(err) => tracing::warn!(error = %err, "looking for builds to mail about failed; trying again next round"),
    }
}

fn log_requested(why: &str, requested: &[slipway_store::Requested]) {
    for r in requested {
        tracing::info!(project.image = %r.image, build.number = r.build.number, merged = r.merged, "{why}: build asked");
    }
}

/// One round of event webhooks.
pub async fn announce_once(store: &slipway_store::Store, hooks: &slipway_engine::EventHooks, public_url: &str) {
    match slipway_engine::announce_round(store, hooks, public_url).await {
        Ok(report) => {
            for delivery in &report.sent {
                tracing::debug!(delivery, "event sent");
            }
            for (delivery, url, err) in &report.failures {
                tracing::warn!(delivery, url, error = %err, "event webhook not delivered");
            }
        }
        Err(err) => tracing::warn!(error = %err, "looking for events to send failed; trying again next round"),
    }
}

/// How often the weekly digests are looked at (one goes out within this after Monday 07:00 UTC).
pub const DIGEST_TICK: Duration = Duration::from_secs(10 * 60);

/// One look at the weekly digests.
pub async fn digest_once(store: &slipway_store::Store, mailer: &slipway_engine::Mailer, public_url: &str) {
    match slipway_engine::digest_round(store, mailer, public_url, chrono::Utc::now()).await {
        Ok(report) => {
            for (address, subject) in &report.sent {
                tracing::info!(mail.to = %address, subject, "weekly digest sent");
            }
            for (address, err) in &report.failures {
                tracing::warn!(mail.to = %address, error = %err, "weekly digest not sent");
            }
        }
        Err(err) => tracing::warn!(error = %err, "looking at the weekly digests failed; trying again next round"),
    }
}

/// One look at the external base images the projects were built on.
pub async fn check_bases_once(store: &slipway_store::Store, client: &RegistryClient, docker: Option<&Docker>) {
    let lookup = |image: String| async move { base_digest(client, docker, &image).await };
    match slipway_engine::check_base_images(store, lookup).await {
        Ok(report) => {
            log_requested("base image changed", &report.requested);
            for (image, err) in &report.failures {
                tracing::warn!(base.image = %image, error = %err, "could not look up a base image");
            }
        }
        Err(err) => tracing::warn!(error = %err, "checking the base images failed; trying again next round"),
    }
}

/// The digest `image` has now: in its registry when the reference names one, else in the local daemon.
async fn base_digest(client: &RegistryClient, docker: Option<&Docker>, image: &str) -> Result<Option<String>, String> {
    if slipway_oci_name::names_registry(image) {
        let reference = image.parse::<Reference>().map_err(|e| e.to_string())?;
        let resolved = client.head_manifest(&reference).await.map_err(|e| e.to_string())?;
        return Ok(resolved.map(|r| r.digest.to_string()));
    }
    match docker {
        Some(docker) => docker.image_digest(image).await.map_err(|e| e.to_string()),
        None => Err("only a Docker daemon knows this image, and this server runs without one (--no-workers)".into()),
    }
}

/// How often the scheduled retention run is looked at (it runs once per its interval across servers).
pub const RETENTION_TICK: Duration = Duration::from_secs(10 * 60);

/// One look at the scheduled retention run; when it is this server's turn, what it removed is logged.
pub async fn retention_once(
    store: &slipway_store::Store,
    client: &RegistryClient,
    registry: &str,
    policy: &slipway_engine::RetentionPolicy,
    interval: chrono::TimeDelta,
) {
    match slipway_engine::retention_round(store, client, registry, policy, interval, chrono::Utc::now()).await {
        Ok(None) => {}
        Ok(Some(report)) => {
            for removed in &report.removed {
                tracing::info!(
                    repository = %removed.repository, tag = %removed.tag, digest = %removed.digest, why = %removed.why,
                    "retention: tag removed"
                );
            }
            for (drop, err) in &report.failures {
                tracing::warn!(repository = %drop.repository, tag = %drop.tag, error = %err, "retention: tag not removed");
            }
            let untagged: std::collections::BTreeSet<&str> = report.removed.iter().map(|r| r.digest.as_str()).collect();
            tracing::info!(
                removed = report.removed.len(),
                failed = report.failures.len(),
                digests = untagged.len(),
                "retention run: {} tag(s) removed from {} digest(s), {} failed",
                report.removed.len(),
                untagged.len(),
                report.failures.len()
            );
        }
        Err(err) => tracing::warn!(error = %err, "the retention run failed; trying again next round"),
    }
}

/// How often the scheduled tag check is looked at (it runs once per its interval across servers).
pub const TAG_CHECK_TICK: Duration = Duration::from_secs(60);

/// One look at the scheduled tag check; when it is this server's turn, each drifting tag is logged (the result
/// is stored for the pages and `/metrics`). It never repairs.
pub async fn tag_check_once(
    store: &slipway_store::Store,
    client: &RegistryClient,
    registry: &str,
    interval: chrono::TimeDelta,
) {
    match slipway_engine::tag_check_round(store, client, registry, interval, chrono::Utc::now()).await {
        Ok(None) => {}
        Ok(Some(report)) => {
            for check in report.drifting() {
                tracing::warn!(
                    repository = %check.repository, tag = %check.tag, kind = %check.state(), hint = %check.hint(),
                    "tag drift: {}", check.problem()
                );
            }
            for check in report.unchecked() {
                tracing::warn!(repository = %check.repository, tag = %check.tag, "tag check: {}", check.problem());
            }
            tracing::info!(
                checked = report.checks.len(),
                drifting = report.drifting().count(),
                unchecked = report.unchecked().count(),
                "tag check: {} tag(s) checked, {} drifting, {} could not be checked",
                report.checks.len(),
                report.drifting().count(),
                report.unchecked().count()
            );
        }
        Err(err) => tracing::warn!(error = %err, "the tag check failed; trying again next round"),
    }
}
