//! The harness itself, against the real services: each auth mode starts a real registry that takes a push from
//! the real Docker and serves it back by digest; wrong passwords are refused; the token server's JWTs are
//! accepted by distribution 2.8; dropping a registry kills it.

use slipway_e2e::harness::{
    Auth, LocalTags, Registry, SERVICE, build_image, pull_digest, push, remove_local, unique_name,
};
use slipway_e2e::run;

/// `curl -sS -i args…`: the status, the response head (lower-cased) and the body.
fn http(args: &[&str]) -> (u16, String, String) {
    let mut all = vec!["-sS", "-i"];
    all.extend_from_slice(args);
    let output = run("curl", &all);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("curl {} printed no HTTP status:\n{text}", args.join(" ")));
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Builds a small image, pushes it to `registry` as `name:v1`, deletes every local copy, pulls it back by
/// digest and checks the digest. Returns the repository name and the digest.
fn push_and_pull_back(registry: &Registry, stem: &str) -> (String, String) {
    let mut tags = LocalTags::new();
    let name = unique_name(stem);
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 64 * 1024);
    let digest = registry.push(&local, &format!("{name}:v1"));
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "push returned {digest:?}");
    // Remove every local copy so the pull has to fetch the layers from the registry.
    let remote = tags.add(registry.reference(&format!("{name}:v1")));
    remove_local(&[&local, &remote]);
    let by_digest = format!("{name}@{digest}");
    tags.add(registry.reference(&by_digest));
    assert_eq!(registry.pull_digest(&by_digest), digest, "pulling {by_digest} back");
    (name, digest)
}

#[test]
fn a_registry_without_auth_takes_a_push_and_serves_it_by_digest() {
    let registry = Registry::start(Auth::None);
    eprintln!("registry (no auth) started in {:?}", registry.startup_time());
    let (status, _, body) = http(&[&format!("{}/v2/", registry.url())]);
    assert_eq!((status, body.trim()), (200, "{}"));
    assert!(registry.credentials().is_none());
    push_and_pull_back(&registry, "selftest-none");
}

#[test]
fn an_htpasswd_registry_needs_the_password() {
    let registry = Registry::start(Auth::htpasswd("alice", "s3cret-pw"));
    eprintln!("registry (htpasswd) started in {:?}", registry.startup_time());
    let v2 = format!("{}/v2/", registry.url());
    let (status, head, _) = http(&[&v2]);
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: basic realm="), "{head}");
    assert_eq!(http(&["-u", "alice:wrong", &v2]).0, 401);
    assert_eq!(http(&["-u", "alice:s3cret-pw", &v2]).0, 200);
    let refused = registry.docker_login("alice", "wrong").expect_err("docker login with a wrong password succeeded");
    assert!(refused.to_lowercase().contains("unauthorized"), "{refused}");
    push_and_pull_back(&registry, "selftest-htpasswd");
}

#[test]
fn a_token_registry_accepts_the_token_servers_jwts() {
    let registry = Registry::start(Auth::token("bob", "t0ken-pw"));
    eprintln!("registry (token) started in {:?}", registry.startup_time());
    let server = registry.token_server().expect("token mode has a token server");

    // The challenge names the realm and the service.
    let (status, head, _) = http(&[&format!("{}/v2/", registry.url())]);
    assert_eq!(status, 401);
    let challenge = format!("www-authenticate: bearer realm=\"{}\",service=\"{SERVICE}\"", server.realm());
    assert!(head.contains(&challenge), "expected {challenge:?} in\n{head}");

    // A token for push,pull on x/y, then the API with it: NAME_UNKNOWN (authorized), not 401.
    let realm = format!("{}?service={SERVICE}&scope=repository:x/y:push,pull", server.realm());
    let (status, _, body) = http(&["-u", "bob:t0ken-pw", &realm]);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).expect("the token server answers JSON");
    let token = answer["token"].as_str().expect("the answer has a token").to_string();
    assert_eq!(answer["access_token"].as_str(), Some(token.as_str()));
    assert_eq!(answer["expires_in"], 300);
    assert!(answer["issued_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{answer}");
    let bearer = format!("Authorization: Bearer {token}");
    let (status, _, body) = http(&["-H", &bearer, &format!("{}/v2/x/y/tags/list", registry.url())]);
    assert_eq!(status, 404, "{body}\nregistry log:\n{}", registry.log());
    assert!(body.contains("NAME_UNKNOWN"), "{body}");
    // The registry checks the signature and the audience: a tampered signature or another audience is refused.
    let (unsigned, signature) = token.rsplit_once('.').expect("a JWT has three parts");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{unsigned}.{flipped}{}", &signature[1..]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let elsewhere = server.sign(&serde_json::json!({
        "iss": slipway_e2e::harness::ISSUER, "sub": "bob", "aud": "another-service", "exp": now + 300, "nbf": now,
        "iat": now, "jti": "x", "access": [{"type": "repository", "name": "x/y", "actions": ["pull", "push"]}],
    }));
    for bad in [tampered, elsewhere] {
        let (status, _, _) =
            http(&["-H", &format!("Authorization: Bearer {bad}"), &format!("{}/v2/x/y/tags/list", registry.url())]);
        assert_eq!(status, 401, "a bad token was accepted: {bad}");
    }
    // A token for another repository does not open x/y.
    let other = server.issue("bob", &[slipway_e2e::harness::Access::repository("other/repo", &["pull"])]);
    let (status, _, _) =
        http(&["-H", &format!("Authorization: Bearer {other}"), &format!("{}/v2/x/y/tags/list", registry.url())]);
    assert_eq!(status, 401);

    // The catalog with `registry:catalog:*`.
    let (status, _, body) =
        http(&["-u", "bob:t0ken-pw", &format!("{}?service={SERVICE}&scope=registry:catalog:*", server.realm())]);
    assert_eq!(status, 200, "{body}");
    let catalog_token: serde_json::Value = serde_json::from_str(&body).expect("the token server answers JSON");
    let catalog_token = catalog_token["token"].as_str().expect("the answer has a token");
    let (status, _, body) =
        http(&["-H", &format!("Authorization: Bearer {catalog_token}"), &format!("{}/v2/_catalog", registry.url())]);
    assert_eq!(status, 200, "{body}");

    // A wrong password is refused, by the token server and so by docker login.
    let (status, _, _) = http(&["-u", "bob:wrong", &realm]);
    assert_eq!(status, 401);
    let refused = registry.docker_login("bob", "wrong").expect_err("docker login with a wrong password succeeded");
    assert!(refused.to_lowercase().contains("unauthorized"), "{refused}");

    // docker login + push + pull by digest; the push asked for the push scope as bob.
    let (name, digest) = push_and_pull_back(&registry, "selftest-token");
    let requests = registry.token_requests();
    assert!(
        requests.iter().any(|r| r.asks(&name, "push") && r.grants(&name, "push") && r.user.as_deref() == Some("bob")),
        "no token request asked for push on {name}: {requests:#?}"
    );
    assert!(requests.iter().any(|r| r.user.as_deref() == Some("bob") && !r.authenticated && r.status == 401));

    // Anonymous requests get pull only.
    server.clear_requests();
    let mut tags = LocalTags::new();
    tags.add(registry.reference(&format!("{name}@{digest}")));
    assert_eq!(registry.pull_digest_anonymously(&format!("{name}@{digest}")), digest);
    let anonymous = server.requests();
    assert!(anonymous.iter().any(|r| r.user.is_none() && r.grants(&name, "pull")), "{anonymous:#?}");
    let (status, _, body) = http(&[&format!("{}?service={SERVICE}&scope=repository:{name}:push,pull", server.realm())]);
    assert_eq!(status, 200);
    let anonymous = server.requests().pop().expect("the last request was recorded");
    assert!(anonymous.grants(&name, "pull") && !anonymous.grants(&name, "push"), "{anonymous:#?}\n{body}");
}

#[test]
fn dropping_a_registry_kills_it_and_removes_its_files() {
    let registry = Registry::start(Auth::None);
    let (pid, dir, address) = (registry.pid(), registry.dir().to_path_buf(), registry.address());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(registry);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "registry {pid} still runs");
    assert!(!dir.exists(), "{} was left behind", dir.display());
    assert!(std::net::TcpStream::connect(&address).is_err(), "{address} still answers");
}

#[test]
fn the_shared_registry_takes_anonymous_pushes() {
    let shared = Registry::shared();
    let (status, _, _) = http(&[&format!("http://{shared}/v2/")]);
    assert_eq!(status, 200, "the registry of scripts/setup does not answer on {shared}; run scripts/setup");
    let mut tags = LocalTags::new();
    let name = unique_name("selftest-shared");
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 4096);
    let remote = tags.add(format!("{shared}/{name}:v1"));
    let digest = push(&local, &remote);
    assert_eq!(pull_digest(&remote), digest);
}

#[test]
fn a_registry_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Registry>();
}
