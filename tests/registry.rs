//! The registry client against real CNCF registries (distribution 2.8): the shared one from scripts/setup,
//! and registries the harness starts (plain, htpasswd basic auth, token auth with a real token server).
//! Every result is checked by digest, and where it matters by pulling it with the real Docker.

use std::collections::BTreeMap;

use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, pull_digest, push, unique_name};
use slipway_registry::{
    Artifact, ClientConfig, Contents, Credentials, Digest, Reference, RegistryClient, RegistryError, Repository,
    Untagged, fallback_tag, media,
};

fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig::default()).expect("client")
}

fn client_for(registry: &Registry) -> RegistryClient {
    let mut config = ClientConfig::default();
    if let Some((user, password)) = registry.credentials() {
        config.credentials.insert(registry.address(), Credentials::new(user, password));
    }
    RegistryClient::new(config).expect("client")
}

fn reference(text: &str) -> Reference {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn digest(text: &str) -> Digest {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A 1 MiB image pushed to the shared registry as `<name>:test`; returns (name, digest).
fn pushed_to_shared(tags: &mut LocalTags, stem: &str) -> (String, Digest) {
    let name = unique_name(stem);
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 1 << 20);
    let remote = tags.add(format!("{}/{name}:test", Registry::shared()));
    (name, digest(&push(&local, &remote)))
}

/// A 64 KiB image pushed to a harness registry (logging in when it has credentials) as `<name>:test`.
fn pushed_to(registry: &Registry, tags: &mut LocalTags, stem: &str) -> (String, Digest) {
    let name = unique_name(stem);
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 64 << 10);
    let pushed = digest(&registry.push(&local, &format!("{name}:test")));
    tags.add(registry.reference(&format!("{name}:test")));
    (name, pushed)
}

#[tokio::test]
async fn retag_writes_the_same_digest_and_docker_pulls_it() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "retag");
    let shared = Registry::shared();
    let client = client();
    let tagged =
        client.tag(&reference(&format!("{shared}/{name}:test")), &["rc".into(), "latest".into()]).await.expect("tag");
    assert_eq!(tagged.digest, pushed);
    for tag in ["rc", "latest"] {
        let resolved = client.head_manifest(&reference(&format!("{shared}/{name}:{tag}"))).await.expect("head");
        assert_eq!(resolved.map(|r| r.digest), Some(pushed.clone()), "{tag}");
        let pulled = tags.add(format!("{shared}/{name}:{tag}"));
        assert_eq!(pull_digest(&pulled), pushed.to_string());
    }
    let mut listed = client.list_tags(&format!("{shared}/{name}").parse().expect("repo")).await.expect("tags");
    listed.sort();
    assert_eq!(listed, ["latest", "rc", "test"]);
}

#[tokio::test]
async fn the_manifest_bytes_are_kept_exactly() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "exact");
    let client = client();
    let by_tag = client.get_manifest(&reference(&format!("{}/{name}:test", Registry::shared()))).await.expect("get");
    assert_eq!(by_tag.digest, pushed);
    assert_eq!(Digest::of(&by_tag.bytes), pushed);
    assert_eq!(by_tag.media_type, media::DOCKER_MANIFEST, "docker 20.10 pushes schema 2");
    let by_digest =
        client.get_manifest(&reference(&format!("{}/{name}@{pushed}", Registry::shared()))).await.expect("get");
    assert_eq!(by_digest.bytes, by_tag.bytes);
}

#[tokio::test]
async fn untag_removes_one_tag_and_never_a_sibling() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "untag");
    let shared = Registry::shared();
    let client = client();
    client.tag(&reference(&format!("{shared}/{name}:test")), &["rc".into(), "latest".into()]).await.expect("tag");

    let outcome = client.untag(&reference(&format!("{shared}/{name}:rc")), false).await.expect("untag");
    assert_eq!(outcome, Untagged::Tombstone, "distribution 2.8 refuses DELETE by tag");
    assert!(client.head_manifest(&reference(&format!("{shared}/{name}:rc"))).await.expect("head").is_none());
    for sibling in ["test", "latest"] {
        let resolved = client.head_manifest(&reference(&format!("{shared}/{name}:{sibling}"))).await.expect("head");
        assert_eq!(resolved.map(|r| r.digest), Some(pushed.clone()), "{sibling} must survive");
    }
    let latest = tags.add(format!("{shared}/{name}:latest"));
    assert_eq!(pull_digest(&latest), pushed.to_string(), "the image itself is intact");

    // By digest it would take `test` and `latest` along: refused, unless forced.
    let by_digest = reference(&format!("{shared}/{name}@{pushed}"));
    match client.untag(&by_digest, false).await {
        Err(RegistryError::WouldRemoveTags { tags, .. }) => assert_eq!(tags.len(), 2, "{tags:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let forced = client.untag(&by_digest, true).await.expect("forced delete");
    assert!(matches!(forced, Untagged::Manifest { removed_tags } if removed_tags.len() == 2));
    assert!(client.head_manifest(&by_digest).await.expect("head").is_none());

    let missing = client.untag(&reference(&format!("{shared}/{name}:nope")), false).await;
    assert!(matches!(missing, Err(RegistryError::ManifestUnknown { .. })), "{missing:?}");
}

#[tokio::test]
async fn copy_mounts_within_a_registry_and_streams_across_registries() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "copy");
    let shared = Registry::shared();
    let client = client();
    let source = reference(&format!("{shared}/{name}:test"));

    let within = client.copy(&source, &reference(&format!("{shared}/{name}-copy:rc"))).await.expect("copy within");
    assert_eq!(within.digest.as_ref(), Some(&pushed));
    assert!(within.blobs_mounted >= 2 && within.blobs_streamed == 0, "{within:?}");

    let other = Registry::start(Auth::None);
    let target = reference(&format!("{}/{name}:test", other.address()));
    let across = client.copy(&source, &target).await.expect("copy across");
    assert_eq!(across.digest.as_ref(), Some(&pushed));
    assert!(across.blobs_streamed >= 2 && across.bytes_streamed > 1 << 20, "{across:?}");
    assert_eq!(other.pull_digest(&format!("{name}:test")), pushed.to_string());

    let again = client.copy(&source, &target).await.expect("second copy");
    assert!(again.moved_nothing(), "{again:?}");
}

#[tokio::test]
async fn an_index_copies_every_platform() {
    let mut tags = LocalTags::new();
    let (first, first_digest) = pushed_to_shared(&mut tags, "platform-a");
    let (second, second_digest) = pushed_to_shared(&mut tags, "platform-b");
    let shared = Registry::shared();
    let client = client();
    // One repository holding both images, and an OCI index over them.
    let repository: Repository = format!("{shared}/{}", unique_name("index")).parse().expect("repo");
    let mut manifests = Vec::new();
    for (name, digest, arch) in [(&first, &first_digest, "amd64"), (&second, &second_digest, "arm64")] {
        let source = reference(&format!("{shared}/{name}@{digest}"));
        client.copy(&source, &repository.digest(digest.clone())).await.expect("copy child");
        let size = client.get_manifest(&source).await.expect("child").bytes.len();
        manifests.push(serde_json::json!({
            "mediaType": media::DOCKER_MANIFEST, "digest": digest, "size": size,
            "platform": {"architecture": arch, "os": "linux"}
        }));
    }
    let body = serde_json::json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
    let index = slipway_registry::Manifest::new(media::OCI_INDEX, serde_json::to_vec(&body).expect("json").into());
    client.put_manifest(&repository, &slipway_registry::Target::Tag("multi".into()), &index).await.expect("put index");

    let other = Registry::start(Auth::None);
    let target = reference(&format!("{}/{}:multi", other.address(), repository.name()));
    let report = client.copy(&repository.tag("multi").expect("tag"), &target).await.expect("copy index");
    assert_eq!(report.digest.as_ref(), Some(&index.digest));
    assert_eq!(report.manifests, 3, "{report:?}");
    let copied = client.get_manifest(&target).await.expect("copied index");
    assert_eq!(copied.bytes, index.bytes);
    for digest in [&first_digest, &second_digest] {
        let child = target.repository().digest(digest.clone());
        assert!(client.head_manifest(&child).await.expect("head").is_some(), "platform {digest} copied");
    }
    let info = client.inspect(&target).await.expect("inspect");
    let platforms: Vec<&str> = info.platforms.iter().map(|p| p.architecture.as_str()).collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
}

#[tokio::test]
async fn a_test_report_travels_with_the_digest() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "referrers");
    let shared = Registry::shared();
    let client = client();
    let subject = reference(&format!("{shared}/{name}@{pushed}"));
    let report = br#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://in-toto.io/attestation/test-result/v0.1","predicate":{"result":"PASSED"}}"#;
    let artifact = Artifact {
        artifact_type: "application/vnd.in-toto+json".into(),
        media_type: "application/vnd.in-toto+json".into(),
        data: report.as_slice().into(),
        annotations: BTreeMap::from([("org.opencontainers.image.created".into(), "2026-11-22T00:00:00Z".into())]),
    };
    let attached = client.attach(&subject, &artifact).await.expect("attach");

    let found =
        client.referrers(subject.repository(), &pushed, Some("application/vnd.in-toto+json")).await.expect("referrers");
    assert_eq!(found.iter().map(|d| &d.digest).collect::<Vec<_>>(), [&attached]);
    assert!(
        client.referrers(subject.repository(), &pushed, Some("application/other")).await.expect("filtered").is_empty()
    );
    // Any OCI tool finds it through the tag schema on a registry without the referrers API.
    let fallback =
        client.get_manifest(&subject.repository().tag(&fallback_tag(&pushed)).expect("tag")).await.expect("index");
    assert!(matches!(fallback.contents(), Ok(Contents::Index { manifests }) if manifests.len() == 1));
    // The report itself comes back byte for byte.
    let artifact_manifest =
        client.get_manifest(&subject.repository().digest(attached.clone())).await.expect("artifact");
    let Ok(Contents::Image { layers, subject: Some(points_at), .. }) = artifact_manifest.contents() else {
        panic!("an artifact manifest with a subject")
    };
    assert_eq!(points_at.digest, pushed);
    let data = client.get_blob(subject.repository(), &layers[0].digest, 1 << 20).await.expect("report blob");
    assert_eq!(data.as_ref(), report.as_slice());
    // Attaching again (a second test run) keeps both, and the image is still pullable.
    client.attach(&subject, &Artifact { data: b"{}".as_slice().into(), ..artifact }).await.expect("second");
    assert_eq!(client.referrers(subject.repository(), &pushed, None).await.expect("all").len(), 2);
    let info = client.inspect(&subject).await.expect("inspect");
    assert_eq!(info.referrers.len(), 2);
    let test_tag = tags.add(format!("{shared}/{name}:test"));
    assert_eq!(pull_digest(&test_tag), pushed.to_string());
}

#[tokio::test]
async fn tags_are_listed_across_pages() {
    let mut tags = LocalTags::new();
    let (name, _) = pushed_to_shared(&mut tags, "pages");
    let shared = Registry::shared();
    let wanted: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    client().tag(&reference(&format!("{shared}/{name}:test")), &wanted).await.expect("tag");
    let paged = RegistryClient::new(ClientConfig { tag_page_size: 2, ..ClientConfig::default() }).expect("client");
    let mut listed = paged.list_tags(&format!("{shared}/{name}").parse().expect("repo")).await.expect("list");
    listed.sort();
    assert_eq!(listed.len(), 8, "{listed:?}");
}

#[tokio::test]
async fn basic_auth_with_credentials_and_a_clear_refusal_without() {
    let registry = Registry::start(Auth::htpasswd("ci", "basic-pass"));
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to(&registry, &mut tags, "basic");

    let tagged =
        client_for(&registry).tag(&reference(&registry.reference(&format!("{name}:test"))), &["rc".into()]).await;
    assert_eq!(tagged.expect("tag with credentials").digest, pushed);
    assert_eq!(registry.pull_digest(&format!("{name}:rc")), pushed.to_string());

    let mut wrong = ClientConfig::default();
    wrong.credentials.insert(registry.address(), Credentials::new("ci", "wrong"));
    let refused = RegistryClient::new(wrong)
        .expect("client")
        .get_manifest(&reference(&registry.reference(&format!("{name}:test"))))
        .await;
    match refused {
        Err(err @ RegistryError::Unauthorized { .. }) => {
            let text = err.to_string();
            assert!(text.contains(&registry.address()) && text.contains(&format!("repository:{name}:pull")), "{text}");
            assert!(!text.contains("wrong"), "the password never appears: {text}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn token_auth_caches_tokens_and_asks_pull_on_the_mount_source() {
    let registry = Registry::start(Auth::token("ci", "token-pass"));
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to(&registry, &mut tags, "token");
    let client = client_for(&registry);

    let source = reference(&registry.reference(&format!("{name}:test")));
    for tag in ["rc", "latest", "v1.0.0"] {
        client.tag(&source, &[tag.to_string()]).await.expect("tag with a token");
    }
    let target_name = format!("{name}-mirror");
    let report =
        client.copy(&source, &reference(&registry.reference(&format!("{target_name}:test")))).await.expect("copy");
    assert!(
        report.blobs_mounted >= 2 && report.blobs_streamed == 0,
        "mounted with the source's pull scope: {report:?}"
    );
    assert_eq!(registry.pull_digest(&format!("{target_name}:test")), pushed.to_string());

    let requests = registry.token_requests();
    let mount = requests.iter().any(|r| r.asks(&target_name, "push") && r.asks(&name, "pull"));
    assert!(mount, "a token for the mount must ask pull on the source: {requests:?}");
    // Three retags share tokens instead of asking for each request.
    let for_source = requests.iter().filter(|r| r.asks(&name, "push") && !r.asks(&target_name, "push")).count();
    assert!(for_source <= 2, "tokens are cached per scope set: {for_source} requests");

    let mut wrong = ClientConfig::default();
    wrong.credentials.insert(registry.address(), Credentials::new("ci", "nope"));
    let refused = RegistryClient::new(wrong).expect("client").tag(&source, &["x".into()]).await;
    assert!(matches!(refused, Err(RegistryError::Unauthorized { .. })), "{refused:?}");
}

#[tokio::test]
async fn errors_say_what_is_missing() {
    let shared = Registry::shared();
    let client = client();
    let name = unique_name("missing");
    let unknown = client.get_manifest(&reference(&format!("{shared}/{name}:nope"))).await;
    assert!(matches!(&unknown, Err(e) if e.is_not_found()), "{unknown:?}");
    let tags = client.list_tags(&format!("{shared}/{name}").parse().expect("repo")).await;
    assert!(matches!(tags, Err(RegistryError::NameUnknown { .. })), "{tags:?}");
    let blob = client.get_blob(&format!("{shared}/{name}").parse().expect("repo"), &Digest::of(b"nothing"), 10).await;
    assert!(matches!(&blob, Err(e) if e.is_not_found()), "{blob:?}");
    let bad_tag = client.tag(&reference(&format!("{shared}/{name}:x")), &["-bad".into()]).await;
    assert!(matches!(bad_tag, Err(RegistryError::Rejected { .. })), "{bad_tag:?}");
    let closed = client.get_manifest(&reference("127.0.0.1:9/nothing/here:x")).await;
    assert!(matches!(&closed, Err(RegistryError::Connect { attempts: 4, .. })), "{closed:?}");
}

/// A loopback TCP proxy in front of the real shared registry that answers the first `failures` connections
/// itself with the given status lines, then forwards everything: a registry that is briefly overloaded.
async fn flaky_front(failures: Vec<&'static str>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let address = listener.local_addr().expect("address").to_string();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let failure = failures.get(n).copied();
            tokio::spawn(async move {
                if let Some(status_and_headers) = failure {
                    let mut request = [0u8; 4096];
                    let _ = client.read(&mut request).await;
                    let answer =
                        format!("HTTP/1.1 {status_and_headers}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = client.write_all(answer.as_bytes()).await;
                    return;
                }
                if let Ok(mut upstream) = tokio::net::TcpStream::connect(Registry::shared()).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (address, served)
}

#[tokio::test]
async fn overload_answers_are_retried_honouring_retry_after() {
    let mut tags = LocalTags::new();
    let (name, pushed) = pushed_to_shared(&mut tags, "retry");
    let (front, served) = flaky_front(vec!["503 Service Unavailable\r\nRetry-After: 1", "429 Too Many Requests"]).await;
    let started = std::time::Instant::now();
    let manifest = client().get_manifest(&reference(&format!("{front}/{name}:test"))).await.expect("retried");
    assert_eq!(manifest.digest, pushed);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert!(served.load(std::sync::atomic::Ordering::SeqCst) >= 3, "two refusals, then the registry");

    let always: Vec<&'static str> = vec!["502 Bad Gateway"; 10];
    let (down, _) = flaky_front(always).await;
    match client().get_manifest(&reference(&format!("{down}/{name}:test"))).await {
        Err(RegistryError::Server { status: 502, attempts: 4, ref registry, .. }) => assert_eq!(registry, &down),
        other => panic!("expected a 502 after 4 attempts, got {other:?}"),
    }
}
