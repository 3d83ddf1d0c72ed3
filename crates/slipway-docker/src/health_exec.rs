//! A `HEALTHCHECK` run by Slipway through exec, for Podman: Podman schedules healthchecks with systemd timers,
//! and where there is no systemd (this machine, most CI containers) they never run and the state stays
//! `starting` ("unable to get systemd connection to add healthchecks" in its log). The check keeps its
//! command, timeout, retries and start period; it runs every [`INTERVAL`] as on dockerd (see `predefined.rs`).

use std::time::{Duration, Instant};

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;

use crate::container::Container;
use crate::error::DockerError;
use crate::inspect::Healthcheck;
use crate::log::human;
use crate::predefined::TestOutcome;

/// The pause between two checks, as the interval predefined tests give dockerd.
const INTERVAL: Duration = Duration::from_secs(1);
/// Docker's defaults for a check's timeout and the failures that make a container unhealthy.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Output kept of one check, as Docker keeps (4 KiB).
const OUTPUT_BYTES: usize = 4096;

/// One check's result: its exit code (`None`: it timed out) and output.
struct Check {
    exit_code: Option<i64>,
    output: String,
}

/// Runs `check` in `target` until it passes, fails `retries` times in a row after the start period, or
/// `timeout` passes; the same verdicts as dockerd's health states.
pub(crate) async fn health(
    target: &Container,
    check: &Healthcheck,
    timeout: Duration,
) -> Result<TestOutcome, DockerError> {
    let Some(cmd) = command(&check.test) else {
        let what = format!("the HEALTHCHECK test {:?} is neither CMD nor CMD-SHELL", check.test);
        return Ok(TestOutcome::new("healthcheck", false, Duration::ZERO, &what));
    };
    let retries = check.retries.unwrap_or(DEFAULT_RETRIES).max(1);
    let start_period = check.start_period.unwrap_or_default();
    let started = Instant::now();
    let mut failures = 0;
    loop {
        let state = target.inspect().await?.state.unwrap_or_default();
        if !state.running.unwrap_or(false) {
            let what = format!(
                "the container exited with exit code {} before it turned healthy",
                state.exit_code.unwrap_or(-1)
            );
            return Ok(TestOutcome::new("healthcheck", false, started.elapsed(), &what));
        }
        let ran = run(target, &cmd, check.timeout.unwrap_or(DEFAULT_TIMEOUT)).await?;
        let duration = started.elapsed();
        if ran.exit_code == Some(0) {
            let what =
                format!("healthy after {} (checked by Slipway: Podman runs no healthchecks here)", human(duration));
            return Ok(TestOutcome::new("healthcheck", true, duration, &what));
        }
        // Failures in the start period do not count, as on dockerd.
        if duration >= start_period {
            failures += 1;
        }
        let last = match ran.exit_code {
            Some(code) => format!("; the last check exited {code}: {}", ran.output.trim()),
            None => "; the last check timed out".to_string(),
        };
        if failures >= retries {
            return Ok(TestOutcome::new("healthcheck", false, duration, &format!("unhealthy{last}")));
        }
        if duration >= timeout {
            let what = format!("still `starting` after {}{last}", human(timeout));
            return Ok(TestOutcome::new("healthcheck", false, duration, &what));
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// `["CMD", "a", "b"]` → `a b`; `["CMD-SHELL", "x"]` → `/bin/sh -c x` (what dockerd runs).
fn command(test: &[String]) -> Option<Vec<String>> {
    match test.split_first()? {
        (kind, args) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
        (kind, [script]) if kind == "CMD-SHELL" => Some(vec!["/bin/sh".into(), "-c".into(), script.clone()]),
        _ => None,
    }
}

async fn run(target: &Container, cmd: &[String], timeout: Duration) -> Result<Check, DockerError> {
    let docker = target.docker();
    let classify = |operation| move |err| docker.ctx(operation).classify(err, None);
    let config = ExecConfig {
        cmd: Some(cmd.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let exec = docker.api().create_exec(target.id(), config).await.map_err(classify("create a healthcheck exec"))?;
    let options = StartExecOptions { detach: false, tty: false, output_capacity: None };
    let started = docker.api().start_exec(&exec.id, Some(options)).await.map_err(classify("run a healthcheck"))?;
    let mut output = String::new();
    if let StartExecResults::Attached { output: mut stream, .. } = started {
        let read = async {
            while let Some(chunk) = stream.next().await {
                let Ok(chunk) = chunk else { break };
                if output.len() < OUTPUT_BYTES {
                    output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
        };
        if tokio::time::timeout(timeout, read).await.is_err() {
            return Ok(Check { exit_code: None, output });
        }
    }
    let inspected = docker.api().inspect_exec(&exec.id).await.map_err(classify("read a healthcheck's exit code"))?;
    Ok(Check { exit_code: inspected.exit_code, output })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_as_dockerd_runs_them() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(command(&s(&["CMD", "wget", "-q", "x"])), Some(s(&["wget", "-q", "x"])));
        assert_eq!(command(&s(&["CMD-SHELL", "test -f /ok"])), Some(s(&["/bin/sh", "-c", "test -f /ok"])));
        for odd in [&[][..], &["CMD"][..], &["NONE"][..], &["CMD-SHELL", "a", "b"][..]] {
            assert_eq!(command(&s(odd)), None, "{odd:?}");
        }
    }
}
