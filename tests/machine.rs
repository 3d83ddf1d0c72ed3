//! What scripts/setup promises: dockerd answers, the offline base image builds Dockerfiles with no network,
//! and the CNCF registry on loopback takes pushes and deletes.

use slipway_e2e::{base_image, registry, run, stdout};

#[test]
fn a_dockerfile_from_the_base_image_builds_and_runs_with_no_network() {
    let dir = std::env::temp_dir().join(format!("slipway-e2e-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let dockerfile = format!("FROM {}\nRUN echo built-offline > /proof\nCMD [\"cat\", \"/proof\"]\n", base_image());
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let tag = format!("slipway-e2e/offline:{}", std::process::id());
    let context = dir.to_string_lossy().to_string();
    run("docker", &["build", "--network", "none", "-q", "-t", &tag, &context]);
    let output = run("docker", &["run", "--rm", "--network", "none", &tag]);
    run("docker", &["rmi", "-f", &tag]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(stdout(&output), "built-offline");
}

#[test]
fn the_registry_accepts_a_push_and_deletes_by_digest() {
    let registry = registry();
    let repository = format!("{registry}/slipway-e2e/push-{}", std::process::id());
    let reference = format!("{repository}:test");
    run("docker", &["tag", &base_image(), &reference]);
    run("docker", &["push", "-q", &reference]);
    let digests =
        stdout(&run("docker", &["inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", &reference]));
    let digest = digests
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{repository}@")))
        .unwrap_or_else(|| panic!("no digest for {reference} in {digests}"))
        .to_string();
    let name = repository.trim_start_matches(&format!("{registry}/")).to_string();
    let url = format!("http://{registry}/v2/{name}/manifests/{digest}");
    let head = run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-I",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &url,
        ],
    );
    assert_eq!(stdout(&head), "200");
    let delete = run("curl", &["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", &url]);
    assert_eq!(stdout(&delete), "202", "deletes must be enabled in the registry");
    run("docker", &["rmi", &reference]);
}
