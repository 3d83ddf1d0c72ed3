//! Probes against a running container: a TCP port from inside its network namespace, and its health state.

use std::time::{Duration, Instant};

use bollard::models::{ContainerState, HealthStatusEnum};

use crate::container::Container;
use crate::error::DockerError;
use crate::log::human;
use crate::predefined::{PredefinedOptions, TestOutcome};
use crate::sandbox::{Limits, Network, SandboxSpec};

/// The pause between two connection attempts.
const PORT_RETRY: Duration = Duration::from_millis(200);
/// How often the health state is read.
const HEALTH_POLL: Duration = Duration::from_millis(250);

/// Connects to `127.0.0.1:port` from a busybox container sharing the target's network namespace, retrying until
/// `port_timeout`. Busybox's small `nc` has no `-z`; with stdin at EOF it connects and exits 0 at once (a refused
/// connection fails at once too), so the probe needs only `sh`, `nc` and `sleep`.
pub(crate) async fn port(target: &Container, port: u16, opts: &PredefinedOptions) -> Result<TestOutcome, DockerError> {
    let name = format!("port {port}/tcp");
    let started = Instant::now();
    let tries = (opts.port_timeout.as_millis() / PORT_RETRY.as_millis()).max(1);
    let script = format!(
        "i=1; while :; do nc -w 1 127.0.0.1 {port} </dev/null >/dev/null 2>&1 && exit 0; \
         [ $i -ge {tries} ] && exit 1; i=$((i+1)); sleep {pause}; done",
        pause = PORT_RETRY.as_secs_f32()
    );
    let mut spec = SandboxSpec::new(opts.busybox_image.clone());
    spec.entrypoint = Some(Vec::new());
    spec.cmd = Some(vec!["sh".to_string(), "-c".to_string(), script]);
    spec.user = Some("65534:65534".to_string());
    spec.network = Network::Container(target.id().to_string());
    spec.limits = Limits { memory_bytes: 32 * 1024 * 1024, pids: 16, nano_cpus: 500_000_000 };
    spec.timeout = opts.port_timeout + Duration::from_secs(5);
    spec.log_cap_bytes = 64 * 1024;
    spec.labels.insert("io.slipway.test".to_string(), "port-probe".to_string());
    let result = target.docker().run(&spec, &mut |_| {}).await;
    let duration = started.elapsed();
    if let Some(stopped) = stopped(target).await? {
        let what = format!("the container {stopped} before port {port}/tcp answered");
        return Ok(TestOutcome::new(name, false, duration, &what));
    }
    let outcome = result?;
    Ok(if outcome.succeeded() {
        TestOutcome::new(name, true, duration, &format!("127.0.0.1:{port} accepted a TCP connection"))
    } else {
        let probe = match outcome.stop.exit_code() {
            Some(1) => String::new(),
            _ => format!(" (the probe {})", outcome.stop),
        };
        let what = format!(
            "nothing accepted a TCP connection on port {port} within {}{probe}; the image EXPOSEs {port}/tcp, so its \
             default command should listen there (on 0.0.0.0 or 127.0.0.1)",
            human(opts.port_timeout)
        );
        TestOutcome::new(name, false, duration, &what)
    })
}

/// Waits for the health state to settle: `healthy` passes, `unhealthy` fails with the last check's output.
pub(crate) async fn health(target: &Container, timeout: Duration) -> Result<TestOutcome, DockerError> {
    let started = Instant::now();
    loop {
        let state = target.inspect().await?.state.unwrap_or_default();
        let duration = started.elapsed();
        if let Some(stopped) = describe_stop(&state) {
            let what = format!("the container {stopped} before it turned healthy{}", last_check(&state));
            return Ok(TestOutcome::new("healthcheck", false, duration, &what));
        }
        let status = state.health.as_ref().and_then(|h| h.status).unwrap_or(HealthStatusEnum::EMPTY);
        match status {
            HealthStatusEnum::HEALTHY => {
                return Ok(TestOutcome::new(
                    "healthcheck",
                    true,
                    duration,
                    &format!("healthy after {}", human(duration)),
                ));
            }
            HealthStatusEnum::UNHEALTHY => {
                let what = format!("unhealthy{}", last_check(&state));
                return Ok(TestOutcome::new("healthcheck", false, duration, &what));
            }
            _ if duration >= timeout => {
                let what = format!("still `{status}` after {}{}", human(timeout), last_check(&state));
                return Ok(TestOutcome::new("healthcheck", false, duration, &what));
            }
            _ => tokio::time::sleep(HEALTH_POLL).await,
        }
    }
}

/// `Some("exited with exit code 3")` when the target no longer runs.
async fn stopped(target: &Container) -> Result<Option<String>, DockerError> {
    Ok(describe_stop(&target.inspect().await?.state.unwrap_or_default()))
}

fn describe_stop(state: &ContainerState) -> Option<String> {
    if state.running.unwrap_or(false) {
        return None;
    }
    Some(if state.oom_killed.unwrap_or(false) {
        "was killed for running out of memory".to_string()
    } else {
        format!("exited with exit code {}", state.exit_code.unwrap_or(-1))
    })
}

/// `; the last check exited 1: <output>`, or nothing before the first check.
fn last_check(state: &ContainerState) -> String {
    let last = state.health.as_ref().and_then(|h| h.log.as_ref()).and_then(|log| log.last());
    match last {
        Some(check) => format!(
            "; the last check exited {}: {}",
            check.exit_code.unwrap_or(-1),
            check.output.as_deref().unwrap_or("").trim()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{Health, HealthcheckResult};

    #[test]
    fn stop_and_check_descriptions() {
        let running = ContainerState { running: Some(true), ..Default::default() };
        assert_eq!(describe_stop(&running), None);
        let exited = ContainerState { running: Some(false), exit_code: Some(3), ..Default::default() };
        assert_eq!(describe_stop(&exited).as_deref(), Some("exited with exit code 3"));
        let oom = ContainerState { running: Some(false), oom_killed: Some(true), ..Default::default() };
        assert_eq!(describe_stop(&oom).as_deref(), Some("was killed for running out of memory"));
        let checked = ContainerState {
            health: Some(Health {
                log: Some(vec![HealthcheckResult {
                    exit_code: Some(1),
                    output: Some("down\n".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(last_check(&checked), "; the last check exited 1: down");
        assert_eq!(last_check(&running), "");
    }
}
