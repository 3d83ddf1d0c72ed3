//! What an image declares (ports, healthcheck, command, user), read from the daemon for the predefined tests.

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::HealthConfig;

use crate::client::Docker;
use crate::error::DockerError;

/// The parts of an image's config the pipeline acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `sha256:…`
    pub id: String,
    /// EXPOSEd TCP ports, sorted (`EXPOSE 8080` and `EXPOSE 8080/tcp`; UDP ports are left out).
    pub exposed_tcp_ports: Vec<u16>,
    /// `None` when there is none or it is `HEALTHCHECK NONE`.
    pub healthcheck: Option<Healthcheck>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `None` when unset or empty (the container runs as root).
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `NAME=value` entries, in image order.
    pub env: Vec<String>,
}

impl ImageConfig {
    /// Whether running the image without arguments runs anything at all.
    pub fn has_default_command(&self) -> bool {
        let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
        non_empty(&self.cmd) || non_empty(&self.entrypoint)
    }
}

/// A `HEALTHCHECK`; `None` durations and retries mean Docker's defaults (30 s, 30 s, 0 s, 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["CMD", …]` or `["CMD-SHELL", "…"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
}

impl Healthcheck {
    pub(crate) fn from_api(config: HealthConfig) -> Option<Healthcheck> {
        let test = config.test.filter(|t| !t.is_empty() && t[0] != "NONE")?;
        let duration = |nanos: Option<i64>| nanos.filter(|n| *n > 0).map(|n| Duration::from_nanos(n.unsigned_abs()));
        Some(Healthcheck {
            test,
            interval: duration(config.interval),
            timeout: duration(config.timeout),
            start_period: duration(config.start_period),
            retries: config.retries.filter(|r| *r > 0).and_then(|r| u32::try_from(r).ok()),
        })
    }

    /// The same check with its interval cut to `max`, so a test sees the first result within seconds
    /// (Docker 20.10 has no start-interval, and the default interval is 30 s).
    pub(crate) fn to_api_with_interval(&self, max: Duration) -> HealthConfig {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let interval = self.interval.map_or(max, |i| i.min(max));
        HealthConfig {
            test: Some(self.test.clone()),
            interval: Some(nanos(interval)),
            timeout: self.timeout.map(nanos),
            start_period: self.start_period.map(nanos),
            retries: self.retries.map(i64::from),
            start_interval: None,
        }
    }
}

impl Docker {
    /// Reads an image's config. A missing image is [`DockerError::ImageNotFound`].
    pub async fn image_config(&self, image: &str) -> Result<ImageConfig, DockerError> {
        let inspect = self
            .api()
            .inspect_image(image)
            .await
            .map_err(|err| self.ctx("inspect an image").classify(err, Some(image)))?;
        let config = inspect.config.unwrap_or_default();
        let mut ports: Vec<u16> = config.exposed_ports.unwrap_or_default().iter().filter_map(|p| tcp_port(p)).collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ImageConfig {
            id: inspect.id.unwrap_or_default(),
            exposed_tcp_ports: ports,
            healthcheck: config.healthcheck.and_then(Healthcheck::from_api),
            cmd: config.cmd,
            entrypoint: config.entrypoint,
            user: config.user.filter(|u| !u.is_empty()),
            working_dir: config.working_dir.filter(|w| !w.is_empty()),
            labels: config.labels.unwrap_or_default().into_iter().collect(),
            env: config.env.unwrap_or_default(),
        })
    }
}

impl Docker {
    /// The digest `image` (a local name or a registry reference) has in the daemon: the registry's manifest
    /// digest when it was pulled from or pushed to its repository, else the image id. `None` when the
    /// daemon does not have it.
    pub async fn image_digest(&self, image: &str) -> Result<Option<String>, DockerError> {
        let inspect = match self.api().inspect_image(image).await {
            Ok(inspect) => inspect,
            Err(err) => {
                return match self.ctx("inspect an image").classify(err, Some(image)) {
                    DockerError::ImageNotFound { .. } => Ok(None),
                    err => Err(err),
                };
            }
        };
        let repository = repository_of(image);
        let from_registry = inspect.repo_digests.unwrap_or_default().into_iter().find_map(|d| {
            d.split_once('@').filter(|(repo, _)| *repo == repository).map(|(_, digest)| digest.to_string())
        });
        Ok(from_registry.or(inspect.id))
    }
}

/// `host:5000/a/b:1.0` → `host:5000/a/b`; a digest reference loses its digest.
fn repository_of(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    match image.rfind(':') {
        Some(colon) if !image[colon..].contains('/') => &image[..colon],
        _ => image,
    }
}

/// `8080/tcp` or `8080` → 8080; `53/udp` and junk → `None`.
fn tcp_port(spec: &str) -> Option<u16> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    if !proto.eq_ignore_ascii_case("tcp") {
        return None;
    }
    port.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_of_drops_tag_and_digest_but_not_the_port() {
        assert_eq!(repository_of("127.0.0.1:5555/a/b:1.0"), "127.0.0.1:5555/a/b");
        assert_eq!(repository_of("127.0.0.1:5555/a/b"), "127.0.0.1:5555/a/b");
        assert_eq!(repository_of("busybox@sha256:00"), "busybox");
        assert_eq!(repository_of("slipway/busybox:latest"), "slipway/busybox");
    }

    #[test]
    fn tcp_ports() {
        let cases = [("8080/tcp", Some(8080)), ("80", Some(80)), ("53/udp", None), ("x/tcp", None), ("70000", None)];
        for (spec, want) in cases {
            assert_eq!(tcp_port(spec), want, "{spec}");
        }
    }

    #[test]
    fn healthcheck_none_is_no_healthcheck() {
        let none = HealthConfig { test: Some(vec!["NONE".into()]), ..Default::default() };
        assert_eq!(Healthcheck::from_api(none), None);
        let check = HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), "true".into()]),
            interval: Some(60_000_000_000),
            retries: Some(0),
            ..Default::default()
        };
        let check = Healthcheck::from_api(check).unwrap_or_default();
        assert_eq!(check.interval, Some(Duration::from_secs(60)));
        assert_eq!(check.retries, None);
        let fast = check.to_api_with_interval(Duration::from_secs(1));
        assert_eq!(fast.interval, Some(1_000_000_000));
        assert_eq!(fast.test, Some(vec!["CMD-SHELL".to_string(), "true".to_string()]));
    }
}
