//! Predefined tests against images built here: starts, exposed ports, healthcheck.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{BASE, Cleanup, build, collector, containers_of, docker, unique};
use slipway_docker::{Docker, PredefinedOptions, TestOutcome};

fn options() -> PredefinedOptions {
    PredefinedOptions {
        grace: Duration::from_secs(1),
        port_timeout: Duration::from_secs(2),
        health_timeout: Duration::from_secs(15),
        ..PredefinedOptions::default()
    }
}

/// Builds `dockerfile`, runs the predefined tests, checks nothing is left running, and returns the outcomes.
async fn run(docker: &Docker, what: &str, dockerfile: &str) -> (Vec<TestOutcome>, Vec<String>) {
    let mut cleanup = Cleanup::default();
    let image = unique(what);
    build(docker, &mut cleanup, &image, dockerfile).await;
    let (lines, mut sink) = collector();
    let outcomes = docker.predefined_tests(&image, &options(), &mut sink).await.unwrap();
    assert!(containers_of(docker, &image).await.is_empty(), "containers of {image} left behind");
    let lines = lines.lock().unwrap().clone();
    (outcomes, lines)
}

fn verdicts(outcomes: &[TestOutcome]) -> Vec<(&str, bool)> {
    outcomes.iter().map(|o| (o.name.as_str(), o.passed)).collect()
}

#[tokio::test]
async fn a_command_that_exits_0_starts() {
    let docker = docker().await;
    let (outcomes, lines) =
        run(&docker, "pre-exit0", &format!("FROM {BASE}\nCMD [\"sh\", \"-c\", \"echo hello\"]\n")).await;
    assert_eq!(verdicts(&outcomes), [("starts", true)]);
    assert!(lines.contains(&"hello".to_string()), "the container's output is logged: {lines:?}");
}

#[tokio::test]
async fn a_command_that_exits_3_fails_to_start() {
    let docker = docker().await;
    let dockerfile = format!("FROM {BASE}\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"echo broken config >&2; exit 3\"]\n");
    let (outcomes, _) = run(&docker, "pre-exit3", &dockerfile).await;
    assert_eq!(verdicts(&outcomes), [("starts", false)], "no port test once it stopped");
    assert!(outcomes[0].output.contains("exit code 3"), "{}", outcomes[0].output);
    assert!(outcomes[0].output.contains("broken config"), "{}", outcomes[0].output);
}

#[tokio::test]
async fn exposed_ports_are_probed_from_inside() {
    let docker = docker().await;
    let dockerfile =
        format!("FROM {BASE}\nEXPOSE 8080 9090\nEXPOSE 53/udp\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n");
    let (outcomes, lines) = run(&docker, "pre-ports", &dockerfile).await;
    assert_eq!(verdicts(&outcomes), [("starts", true), ("port 8080/tcp", true), ("port 9090/tcp", false)]);
    assert!(
        outcomes[2].output.starts_with("nothing accepted a TCP connection on port 9090 within 2 s"),
        "{}",
        outcomes[2].output
    );
    assert!(lines.iter().any(|l| l.starts_with("[slipway] test port 9090/tcp: FAILED")), "{lines:?}");
}

#[tokio::test]
async fn healthchecks_are_followed() {
    let docker = docker().await;
    let healthy = format!("FROM {BASE}\nHEALTHCHECK --interval=30s CMD test -e /bin/sh\nCMD [\"sleep\", \"600\"]\n");
    let unhealthy =
        format!("FROM {BASE}\nHEALTHCHECK --retries=1 CMD sh -c 'echo db down; exit 1'\nCMD [\"sleep\", \"600\"]\n");
    let ((good, _), (bad, _)) =
        tokio::join!(run(&docker, "pre-healthy", &healthy), run(&docker, "pre-sick", &unhealthy));
    assert_eq!(verdicts(&good), [("starts", true), ("healthcheck", true)]);
    assert!(good[1].duration < Duration::from_secs(10), "the 30 s interval was cut: {:?}", good[1].duration);
    assert_eq!(verdicts(&bad), [("starts", true), ("healthcheck", false)]);
    assert!(bad[1].output.contains("unhealthy; the last check exited 1: db down"), "{}", bad[1].output);
}

#[tokio::test]
async fn an_image_without_a_command_fails_with_the_reason() {
    let docker = docker().await;
    let (outcomes, _) = run(&docker, "pre-nocmd", &format!("FROM {BASE}\nCMD []\n")).await;
    assert_eq!(verdicts(&outcomes), [("starts", false)]);
    assert!(outcomes[0].output.contains("no CMD or ENTRYPOINT"), "{}", outcomes[0].output);
}

#[tokio::test]
async fn a_missing_executable_fails_to_start() {
    let docker = docker().await;
    let (outcomes, _) = run(&docker, "pre-noexec", &format!("FROM {BASE}\nCMD [\"/no/such/server\"]\n")).await;
    assert_eq!(verdicts(&outcomes), [("starts", false)]);
    assert!(outcomes[0].output.contains("could not start"), "{}", outcomes[0].output);
}
