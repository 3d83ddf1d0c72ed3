//! Connecting, pinging and image lookups against the real dockerd.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BASE, docker};
use slipway_docker::{Docker, DockerError};

#[tokio::test]
async fn ping_names_the_daemon_version() {
    let docker = docker().await;
    let version = docker.ping().await.unwrap();
    assert!(version.chars().next().is_some_and(|c| c.is_ascii_digit()), "{version}");
    assert_eq!(docker.api().client_version().to_string(), "1.41", "negotiated down to the daemon's API");
}

#[tokio::test]
async fn a_missing_socket_is_unreachable_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let err = Docker::connect(Some(socket.to_str().unwrap())).await.unwrap_err();
    assert!(matches!(err, DockerError::Unreachable { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&format!("unix://{}", socket.display())) && message.contains("dockerd"), "{message}");
}

#[tokio::test]
async fn image_lookups() {
    let docker = docker().await;
    let config = docker.image_config(BASE).await.unwrap();
    assert!(config.id.starts_with("sha256:"));
    assert_eq!(config.cmd, Some(vec!["/bin/sh".to_string()]));
    let missing = "slipway-docker-test/never-built:none";
    let err = docker.image_config(missing).await.unwrap_err();
    assert!(matches!(&err, DockerError::ImageNotFound { image, .. } if image == missing), "{err:?}");
    docker.remove_image(missing).await.unwrap();
}

/// The engine spawns these futures on a multi-threaded runtime: they must be `Send` for any lifetime.
#[allow(dead_code)]
fn futures_are_send(docker: Docker, build: slipway_docker::BuildSpec, sandbox: slipway_docker::SandboxSpec) {
    let d = docker.clone();
    tokio::spawn(async move { d.build(&build, &mut |_| {}).await.map(|_| ()).map_err(|e| e.to_string()) });
    let d = docker.clone();
    tokio::spawn(async move { d.run(&sandbox, &mut |_| {}).await.map(|_| ()).map_err(|e| e.to_string()) });
    let d = docker.clone();
    tokio::spawn(async move {
        let opts = slipway_docker::PredefinedOptions::default();
        d.predefined_tests("x", &opts, &mut |_| {}).await.map(|_| ()).map_err(|e| e.to_string())
    });
    let d = docker.clone();
    tokio::spawn(async move { d.push("r", "t", &mut |_| {}).await.map(|_| ()).map_err(|e| e.to_string()) });
    tokio::spawn(async move {
        docker.ping().await?;
        docker.image_config("x").await?;
        docker.remove_image("x").await?;
        Docker::connect(None).await.map(|_| ())
    });
}
