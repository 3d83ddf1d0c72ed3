//! Sandboxed runs on the real dockerd: exit codes, every limit, and cleanup.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{BASE, collector, containers_of, docker};
use slipway_docker::{Bind, Limits, SandboxSpec, StopReason};

fn sh(script: &str) -> SandboxSpec {
    let mut spec = SandboxSpec::new(BASE);
    spec.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
    spec.timeout = Duration::from_secs(20);
    spec.name =
        Some(format!("slipway-docker-test-{}-{}", std::process::id(), common::unique("x").rsplit('-').next().unwrap()));
    spec
}

/// The container named by `spec` must be gone after the run.
async fn assert_removed(docker: &slipway_docker::Docker, spec: &SandboxSpec) {
    let name = spec.name.as_deref().unwrap();
    let found = docker.api().inspect_container(name, None).await;
    assert!(found.is_err(), "container {name} was left behind");
}

#[tokio::test]
async fn exit_code_and_every_line_in_order() {
    let docker = docker().await;
    let spec = sh("i=1; while [ $i -le 2000 ]; do echo line-$i; i=$((i+1)); done; echo oops >&2; exit 7");
    let (lines, mut sink) = collector();
    let outcome = docker.run(&spec, &mut sink).await.unwrap();
    assert_eq!(outcome.stop, StopReason::Exited(7));
    assert!(!outcome.succeeded());
    let lines = lines.lock().unwrap().clone();
    let numbered: Vec<&String> = lines.iter().filter(|l| l.starts_with("line-")).collect();
    assert_eq!(numbered.len(), 2000, "no line lost");
    assert!(numbered.iter().enumerate().all(|(i, l)| **l == format!("line-{}", i + 1)), "in order");
    assert!(lines.contains(&"oops".to_string()));
    assert!(
        outcome.output_tail.ends_with("oops\n") || outcome.output_tail.contains("line-2000"),
        "{}",
        outcome.output_tail
    );
    assert_removed(&docker, &spec).await;
}

#[tokio::test]
async fn timeout_kills_the_container() {
    let docker = docker().await;
    let mut spec = sh("echo started; sleep 30");
    spec.timeout = Duration::from_secs(2);
    let started = Instant::now();
    let (lines, mut sink) = collector();
    let outcome = docker.run(&spec, &mut sink).await.unwrap();
    assert_eq!(outcome.stop, StopReason::TimedOut(Duration::from_secs(2)));
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines, ["started", "[slipway] timed out after 2 s; the container was killed"]);
    assert_removed(&docker, &spec).await;
}

#[tokio::test]
async fn memory_hog_is_oom_killed() {
    let docker = docker().await;
    // The hog as the container's main process, and as a child whose shell goes on and fails.
    for script in ["exec tail /dev/zero", "head -c 600m /dev/zero | tail; echo survived; exit 3"] {
        let mut spec = sh(script);
        spec.limits.memory_bytes = 64 * 1024 * 1024;
        let outcome = docker.run(&spec, &mut |_| {}).await.unwrap();
        assert_eq!(outcome.stop, StopReason::OutOfMemory, "{script}: {}", outcome.output_tail);
        assert_removed(&docker, &spec).await;
    }
}

#[tokio::test]
async fn fork_bomb_is_contained_by_the_pids_limit_and_the_timeout() {
    let docker = docker().await;
    let mut spec = sh("bomb() { bomb | bomb & }; bomb; exec sleep 30");
    spec.limits = Limits { pids: 64, ..Limits::default() };
    spec.timeout = Duration::from_secs(3);
    spec.log_cap_bytes = 64 * 1024;
    let started = Instant::now();
    let outcome = docker.run(&spec, &mut |_| {}).await.unwrap();
    // Killed at the deadline or the cap, or ended by the shell itself when even it could not fork: contained
    // either way, and never a success.
    assert!(
        matches!(outcome.stop, StopReason::TimedOut(_) | StopReason::LogCapReached(_) | StopReason::Exited(1..)),
        "{:?}: {}",
        outcome.stop,
        outcome.output_tail
    );
    assert!(outcome.output_tail.contains("can't fork"), "the pids limit was hit: {}", outcome.output_tail);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert_removed(&docker, &spec).await;
}

#[tokio::test]
async fn read_only_root_but_writable_tmp() {
    let docker = docker().await;
    let spec = sh("touch /x 2>&1; echo root=$?; echo hi > /tmp/y && cat /tmp/y");
    let (lines, mut sink) = collector();
    let outcome = docker.run(&spec, &mut sink).await.unwrap();
    assert!(outcome.succeeded(), "{:?}", outcome);
    let lines = lines.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.contains("Read-only file system")), "{lines:?}");
    assert!(lines.contains(&"root=1".to_string()) && lines.contains(&"hi".to_string()), "{lines:?}");
}

#[tokio::test]
async fn no_network_inside() {
    let docker = docker().await;
    let spec = sh("echo interfaces: $(ls /sys/class/net); nc -w 2 127.0.0.1 5555 </dev/null 2>/dev/null; echo nc=$?");
    let (lines, mut sink) = collector();
    docker.run(&spec, &mut sink).await.unwrap();
    assert_eq!(*lines.lock().unwrap(), ["interfaces: lo", "nc=1"], "only loopback, and the registry is not reachable");
}

#[tokio::test]
async fn log_cap_stops_a_flood() {
    let docker = docker().await;
    let mut spec = sh("yes");
    spec.log_cap_bytes = 64 * 1024;
    let (lines, mut sink) = collector();
    let outcome = docker.run(&spec, &mut sink).await.unwrap();
    assert_eq!(outcome.stop, StopReason::LogCapReached(65536));
    assert_eq!(outcome.log_bytes, 65536);
    let lines = lines.lock().unwrap().clone();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("[slipway] log capped at 65536 bytes; the container was stopped")
    );
    assert!(lines.len() <= 32769, "{}", lines.len());
    assert_removed(&docker, &spec).await;
}

#[tokio::test]
async fn binds_read_only_and_read_write() {
    let docker = docker().await;
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("in.txt"), "from-host").unwrap();
    let mut spec = sh("cat /in/in.txt; echo; (echo x > /in/new) 2>/dev/null || echo in-ro; echo done > /out/result");
    spec.binds = vec![
        Bind { host: input.path().to_path_buf(), container: "/in".into(), read_only: true },
        Bind { host: output.path().to_path_buf(), container: "/out".into(), read_only: false },
    ];
    // The image runs as root but with every capability dropped: make the output directory writable for it.
    std::fs::set_permissions(output.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (lines, mut sink) = collector();
    let outcome = docker.run(&spec, &mut sink).await.unwrap();
    assert!(outcome.succeeded(), "{outcome:?}");
    assert_eq!(*lines.lock().unwrap(), ["from-host", "in-ro"]);
    assert_eq!(std::fs::read_to_string(output.path().join("result")).unwrap(), "done\n");
}

#[tokio::test]
async fn missing_image_is_an_error_and_leaves_nothing() {
    let docker = docker().await;
    let mut spec = SandboxSpec::new("slipway-docker-test/does-not-exist:never");
    spec.cmd = Some(vec!["true".into()]);
    let err = docker.run(&spec, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, slipway_docker::DockerError::ImageNotFound { .. }), "{err:?}");
    assert!(containers_of(&docker, &spec.image).await.is_empty());
}

#[tokio::test]
async fn cancelling_a_run_removes_its_container() {
    let docker = docker().await;
    let spec = sh("sleep 30");
    let cancelled = tokio::time::timeout(Duration::from_secs(1), docker.run(&spec, &mut |_| {})).await;
    assert!(cancelled.is_err(), "still running when cancelled");
    let name = spec.name.as_deref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while docker.api().inspect_container(name, None).await.is_ok() {
        assert!(Instant::now() < deadline, "container {name} survived the cancel");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
