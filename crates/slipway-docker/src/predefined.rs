//! The tests every image gets without writing any: it starts, it listens on the TCP ports it EXPOSEs, and it
//! turns healthy if it declares a HEALTHCHECK.
//!
//! The image's default command runs in a sandbox (no network, read-only root, `/tmp` tmpfs, limits). Its output
//! during the grace period goes to the log; after that only the tests' own lines do. A declared healthcheck
//! keeps its command, timeout, retries and start period, but its interval is cut to 1 s: Docker 20.10 has no
//! start interval, and the default 30 s would make every image wait 30 s for its first check.

use std::time::Duration;

use crate::client::Docker;
use crate::container::Container;
use crate::error::DockerError;
use crate::health_exec;
use crate::inspect::{Healthcheck, ImageConfig};
use crate::log::{cap_output, human, human_bytes};
use crate::probes;
use crate::run::TAIL_BYTES;
use crate::sandbox::{Limits, SandboxSpec};
use crate::supervise::{Mode, StopReason, Supervision, supervise};

/// How much of a test's output is kept.
pub(crate) const OUTPUT_BYTES: usize = 8 * 1024;
/// The healthcheck interval used during the test (see the module docs).
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredefinedOptions {
    /// How long the default command must keep running (or take to exit 0).
    pub grace: Duration,
    /// The same for an image with exposed ports or a healthcheck: those checks follow and show that it
    /// really started, so it need not prove it by time alone.
    pub grace_with_checks: Duration,
    pub limits: Limits,
    /// How long each exposed port has to accept a connection, counted after the grace period.
    pub port_timeout: Duration,
    /// How long the container has to turn healthy, counted after the port checks.
    pub health_timeout: Duration,
    /// An image with `sh`, `nc` and `sleep` (busybox) that probes ports from inside the target's network.
    pub busybox_image: String,
    /// Output passed to the log during the grace period.
    pub log_cap_bytes: u64,
}

impl Default for PredefinedOptions {
    fn default() -> PredefinedOptions {
        PredefinedOptions {
            grace: Duration::from_secs(5),
            grace_with_checks: Duration::from_secs(1),
            limits: Limits::default(),
            port_timeout: Duration::from_secs(10),
            health_timeout: Duration::from_secs(60),
            busybox_image: "slipway/busybox:latest".to_string(),
            log_cap_bytes: 1024 * 1024,
        }
    }
}

/// One predefined test's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// `starts`, `port 8080/tcp` or `healthcheck`.
    pub name: String,
    pub passed: bool,
    pub duration: Duration,
    /// What happened, in a sentence or two, plus the container's last output on failure (at most ~8 KiB).
    pub output: String,
}

impl TestOutcome {
    pub(crate) fn new(name: impl Into<String>, passed: bool, duration: Duration, output: &str) -> TestOutcome {
        TestOutcome { name: name.into(), passed, duration, output: cap_output(output, OUTPUT_BYTES) }
    }

    fn report(&self, log: &mut (dyn FnMut(&str) + Send)) {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        let summary = self.output.lines().next().unwrap_or_default();
        log(&format!("[slipway] test {}: {verdict} ({}): {summary}", self.name, human(self.duration)));
    }
}

impl Docker {
    /// Runs the predefined tests against `image`. Failed tests are outcomes; `Err` means Docker itself failed
    /// (or `busybox_image` is missing). Every container is removed before this returns.
    pub async fn predefined_tests(
        &self,
        image: &str,
        opts: &PredefinedOptions,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Vec<TestOutcome>, DockerError> {
        let mut config = self.image_config(image).await?;
        if !config.has_default_command() {
            let outcome = TestOutcome::new(
                "starts",
                false,
                Duration::ZERO,
                "the image has no CMD or ENTRYPOINT, so there is nothing to start; add a CMD to the Dockerfile",
            );
            outcome.report(log);
            return Ok(vec![outcome]);
        }
        let has_checks = !config.exposed_tcp_ports.is_empty() || config.healthcheck.is_some();
        let opts =
            &PredefinedOptions { grace: if has_checks { opts.grace_with_checks } else { opts.grace }, ..opts.clone() };
        let mut spec = SandboxSpec::new(image);
        spec.limits = opts.limits;
        spec.timeout = opts.grace;
        spec.log_cap_bytes = opts.log_cap_bytes;
        spec.labels.insert("io.slipway.test".to_string(), "predefined".to_string());
        let health = config.healthcheck.as_ref().map(|h| h.to_api_with_interval(HEALTH_INTERVAL));
        let container = Container::create(self, spec.create_body(health)?, None).await?;
        if self.engine().is_podman() && config.healthcheck.is_none() {
            // Podman 4.3's compat image inspect leaves the HEALTHCHECK out; the container's config carries it.
            match container.inspect().await {
                Ok(inspected) => {
                    config.healthcheck = inspected.config.and_then(|c| c.healthcheck).and_then(Healthcheck::from_api);
                }
                Err(err) => {
                    let _ = container.remove().await;
                    return Err(err);
                }
            }
        }
        let result = run_tests(&container, &config, opts, log).await;
        let removed = container.remove().await;
        let outcomes = result?;
        removed?;
        Ok(outcomes)
    }
}

async fn run_tests(
    container: &Container,
    config: &ImageConfig,
    opts: &PredefinedOptions,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<TestOutcome>, DockerError> {
    log(&format!("[slipway] test starts: running the image's default command for {}", human(opts.grace)));
    let mut outcomes = Vec::new();
    let starts = match container.start_attached().await {
        // The daemon answered, but the command could not be started (missing executable, bad user…).
        Err(DockerError::Api { message, .. }) => TestOutcome::new(
            "starts",
            false,
            Duration::ZERO,
            &format!("the container could not start: {message}; check CMD, ENTRYPOINT and USER in the Dockerfile"),
        ),
        Err(err) => return Err(err),
        Ok(output) => {
            let plan = Supervision {
                timeout: opts.grace,
                log_cap: opts.log_cap_bytes,
                mode: Mode::Observe,
                tail_bytes: TAIL_BYTES,
            };
            let watched = supervise(container, output, plan, log).await?;
            let running = matches!(watched.reason, StopReason::TimedOut(_) | StopReason::LogCapReached(_));
            let mut outcome = starts_outcome(watched.reason, watched.duration, &watched.tail, opts);
            let has_checks = !config.exposed_tcp_ports.is_empty() || config.healthcheck.is_some();
            if !running && outcome.passed && has_checks {
                outcome.output.push_str("; its ports and healthcheck were not tested because it no longer runs");
            }
            if running {
                outcome.report(log);
                outcomes.push(outcome);
                for &port in &config.exposed_tcp_ports {
                    let outcome = probes::port(container, port, opts).await?;
                    outcome.report(log);
                    outcomes.push(outcome);
                }
                if let Some(check) = &config.healthcheck {
                    let outcome = if container.docker().engine().is_podman() {
                        health_exec::health(container, check, opts.health_timeout).await?
                    } else {
                        probes::health(container, opts.health_timeout).await?
                    };
                    outcome.report(log);
                    outcomes.push(outcome);
                }
                return Ok(outcomes);
            }
            outcome
        }
    };
    starts.report(log);
    outcomes.push(starts);
    Ok(outcomes)
}

fn starts_outcome(reason: StopReason, duration: Duration, tail: &str, opts: &PredefinedOptions) -> TestOutcome {
    let grace = human(opts.grace);
    let with_tail = |what: String| {
        if tail.trim().is_empty() {
            format!("{what}; it printed nothing")
        } else {
            format!("{what}\n--- last output ---\n{tail}")
        }
    };
    match reason {
        StopReason::TimedOut(_) | StopReason::LogCapReached(_) => {
            TestOutcome::new("starts", true, duration, &format!("still running after {grace}"))
        }
        StopReason::Exited(0) => TestOutcome::new("starts", true, duration, &format!("exited 0 within {grace}")),
        StopReason::Exited(code) => TestOutcome::new(
            "starts",
            false,
            duration,
            &with_tail(format!("the default command exited with exit code {code} within {grace}")),
        ),
        StopReason::OutOfMemory => TestOutcome::new(
            "starts",
            false,
            duration,
            &with_tail(format!(
                "the default command was killed for running out of memory (limit {})",
                human_bytes(opts.limits.memory_bytes.unsigned_abs())
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_verdicts() {
        let opts = PredefinedOptions::default();
        let d = Duration::from_secs(1);
        let cases = [
            (StopReason::TimedOut(opts.grace), "", true, "still running after 5 s"),
            (StopReason::Exited(0), "", true, "exited 0 within 5 s"),
            (
                StopReason::Exited(3),
                "boom\n",
                false,
                "the default command exited with exit code 3 within 5 s\n--- last output ---\nboom\n",
            ),
            (
                StopReason::Exited(1),
                "",
                false,
                "the default command exited with exit code 1 within 5 s; it printed nothing",
            ),
            (
                StopReason::OutOfMemory,
                "",
                false,
                "the default command was killed for running out of memory (limit 512 MiB); it printed nothing",
            ),
        ];
        for (reason, tail, passed, output) in cases {
            let outcome = starts_outcome(reason, d, tail, &opts);
            assert_eq!((outcome.passed, outcome.output.as_str()), (passed, output), "{reason:?}");
        }
    }

    #[test]
    fn output_is_capped() {
        let long = "x".repeat(OUTPUT_BYTES * 2);
        let outcome = TestOutcome::new("starts", false, Duration::ZERO, &long);
        assert!(outcome.output.len() < OUTPUT_BYTES + 64);
    }
}
