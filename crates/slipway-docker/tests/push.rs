//! Pushes to the real registry on 127.0.0.1:5555 (and to a closed port).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{BASE, Cleanup, REGISTRY, build, collector, docker, unique};
use slipway_docker::PushError;

/// The registry's `Docker-Content-Digest` for `name:reference`, by `curl -I`; `None` on 404.
fn registry_digest(name: &str, reference: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sfI", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json"])
        .arg(format!("http://{REGISTRY}/v2/{name}/manifests/{reference}"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).into_owned();
    head.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_string())
    })
}

/// Deletes a manifest from the registry (deletes are enabled there), so tests leave it as they found it.
fn registry_delete(name: &str, digest: &str) {
    let url = format!("http://{REGISTRY}/v2/{name}/manifests/{digest}");
    let _ = Command::new("curl").args(["-sf", "-X", "DELETE"]).arg(url).output();
}

#[tokio::test]
async fn push_returns_the_digest_the_registry_reports_and_pushes_only_that_tag() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let name = unique("push");
    let repository = format!("{REGISTRY}/{name}");
    let t1 = cleanup.image(format!("{repository}:t1"));
    build(&docker, &mut cleanup, &t1, &format!("FROM {BASE}\nRUN echo {name} > /id\n")).await;
    // A second local tag of the same repository must not be pushed along.
    let t2 = cleanup.image(format!("{repository}:t2"));
    docker
        .api()
        .tag_image(
            &t1,
            Some(bollard::query_parameters::TagImageOptions {
                repo: Some(repository.clone()),
                tag: Some("t2".to_string()),
            }),
        )
        .await
        .unwrap();
    assert!(docker.image_config(&t2).await.is_ok());

    let (lines, mut sink) = collector();
    let digest = docker.push(&repository, "t1", &mut sink).await.unwrap();

    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(registry_digest(&name, "t1").as_deref(), Some(digest.as_str()));
    assert_eq!(registry_digest(&name, "t2"), None, "only the asked tag is pushed");
    let lines = lines.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.contains(&format!("t1: digest: {digest}"))), "{lines:?}");
    assert!(lines.len() < 20, "progress ticks are not passed on: {lines:?}");
    registry_delete(&name, &digest);
}

#[tokio::test]
async fn push_to_a_closed_port_is_unreachable() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let registry = format!("127.0.0.1:{port}");
    let repository = format!("{registry}/{}", unique("closed"));
    let image = cleanup.image(format!("{repository}:t"));
    docker
        .api()
        .tag_image(
            BASE,
            Some(bollard::query_parameters::TagImageOptions {
                repo: Some(repository.clone()),
                tag: Some("t".to_string()),
            }),
        )
        .await
        .unwrap();
    let err = docker.push_with_auth(&repository, "t", None, &mut |_| {}).await.unwrap_err();
    match &err {
        PushError::Unreachable { registry: named, image: pushed, message } => {
            assert_eq!((named.as_str(), pushed.as_str()), (registry.as_str(), image.as_str()));
            assert!(message.contains("connection refused"), "{message}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("cannot reach registry {registry}")), "{err}");
}

#[tokio::test]
async fn push_of_a_missing_image_says_so() {
    let docker = docker().await;
    let repository = format!("{REGISTRY}/{}", unique("missing"));
    let err = docker.push(&repository, "nope", &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, PushError::NoSuchImage { .. }), "{err:?}");
}
