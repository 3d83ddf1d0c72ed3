//! Classic-builder builds against the real dockerd, FROM the offline busybox image, with network none
//! (BuildKit builds: buildkit.rs).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{BASE, Cleanup, collector, context, docker, unique};
use slipway_docker::{BuildError, BuildSpec, Builder};

fn spec(dir: &std::path::Path, dockerfile: &std::path::Path, tag: &str) -> BuildSpec {
    BuildSpec { builder: Builder::Classic, ..common::spec(dir, dockerfile, tag) }
}

#[tokio::test]
async fn build_streams_lines_as_they_come_and_labels_the_image() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("build-ok"));
    let dockerfile = format!("FROM {BASE}\nRUN echo first-line && sleep 1.5 && echo second-line\nCMD [\"true\"]\n");
    let dir = context(&[("Dockerfile", &dockerfile)]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.labels.insert("org.slipway.test".into(), "build-ok".into());
    spec.build_args.insert("UNUSED".into(), "x".into());
    spec.memory_bytes = Some(64 * 1024 * 1024);

    let started = Instant::now();
    let mut seen: Vec<(Duration, String)> = Vec::new();
    let built = docker.build(&spec, &mut |l: &str| seen.push((started.elapsed(), l.to_string()))).await.unwrap();

    let at = |line: &str| seen.iter().find(|(_, l)| l == line).map(|(t, _)| *t);
    let (first, second) = (at("first-line").unwrap(), at("second-line").unwrap());
    assert!(second - first >= Duration::from_secs(1), "lines streamed as they came: {seen:?}");
    assert!(at("Step 1/4 : FROM slipway/busybox:latest").is_some(), "{seen:?}");
    assert!(built.id.starts_with("sha256:"), "{built:?}");
    let config = docker.image_config(&tag).await.unwrap();
    assert_eq!(config.id, built.id);
    assert_eq!(config.labels.get("org.slipway.test").map(String::as_str), Some("build-ok"));
    assert_eq!(config.cmd, Some(vec!["true".to_string()]));
}

#[tokio::test]
async fn dockerfile_syntax_error_is_a_dockerfile_error() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("build-syntax"));
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN true\nFORM nothing\n"))]);
    let spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    let err = docker.build(&spec, &mut |_| {}).await.unwrap_err();
    match &err {
        BuildError::Dockerfile { message } => {
            assert!(message.contains("line 3") && message.contains("FORM"), "{message}")
        }
        other => panic!("expected a Dockerfile error, got {other:?}"),
    }
    assert!(err.to_string().contains("fix the Dockerfile"), "{err}");
}

#[tokio::test]
async fn failing_run_names_the_step() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("build-step"));
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN echo before\nRUN false\nRUN echo never\n"))]);
    let spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    let (lines, mut sink) = collector();
    let err = docker.build(&spec, &mut sink).await.unwrap_err();
    match &err {
        BuildError::Step { step, message } => {
            assert_eq!(step.as_deref(), Some("Step 3/4 : RUN false"));
            assert!(message.contains("returned a non-zero code: 1"), "{message}");
        }
        other => panic!("expected a step error, got {other:?}"),
    }
    cleanup.failed_build(&lines.lock().unwrap());
    assert!(lines.lock().unwrap().iter().any(|l| l == "before"));
    assert!(err.to_string().contains("Step 3/4 : RUN false"), "{err}");
}

#[tokio::test]
async fn build_timeout_stops_the_build_and_leaves_no_container() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("build-timeout"));
    let token = format!("timeout-token-{}", std::process::id());
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN sleep 60 && echo {token}\n"))]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let (lines, mut sink) = collector();
    let err = docker.build(&spec, &mut sink).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(15), "stopped promptly: {:?}", started.elapsed());
    match &err {
        BuildError::Timeout { after, step } => {
            assert!(*after >= Duration::from_secs(3));
            assert!(step.as_deref().unwrap_or_default().contains("RUN sleep 60"), "{step:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(lines.lock().unwrap().iter().any(|l| l.starts_with("[slipway] build stopped after")));
    use bollard::query_parameters::ListContainersOptions;
    let all =
        docker.api().list_containers(Some(ListContainersOptions { all: true, ..Default::default() })).await.unwrap();
    let left: Vec<_> = all.iter().filter(|c| c.command.as_deref().unwrap_or_default().contains(&token)).collect();
    assert!(left.is_empty(), "build container left behind: {left:?}");
}

#[tokio::test]
async fn dockerignore_is_honoured_and_an_outside_dockerfile_works() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("build-ignore"));
    let dir = context(&[
        ("ctx/.dockerignore", "secret.txt\n*.md\n!README.md\ndocs\n!docs/keep.txt\n"),
        ("ctx/secret.txt", "s3cret"),
        ("ctx/NOTES.md", "notes"),
        ("ctx/README.md", "readme"),
        ("ctx/docs/keep.txt", "keep"),
        ("ctx/docs/drop.txt", "drop"),
        ("ctx/app.txt", "app"),
        ("docker/Dockerfile", &format!("FROM {BASE}\nCOPY . /ctx/\nRUN find /ctx -type f | sort\n")),
    ]);
    let spec = spec(&dir.path().join("ctx"), &dir.path().join("docker/Dockerfile"), &tag);
    assert_eq!(spec.context.dockerfile_name(), ".slipway.Dockerfile");
    let (lines, mut sink) = collector();
    docker.build(&spec, &mut sink).await.unwrap();
    let files: Vec<String> = lines.lock().unwrap().iter().filter(|l| l.starts_with("/ctx/")).cloned().collect();
    assert_eq!(
        files,
        ["/ctx/.dockerignore", "/ctx/.slipway.Dockerfile", "/ctx/README.md", "/ctx/app.txt", "/ctx/docs/keep.txt"]
    );
}
