//! Registry notifications end to end: a CNCF registry whose `notifications.endpoints` point at a running
//! `slipway serve`, a push made elsewhere (plain `docker push`), and the rules in `slipway.toml` acting on it:
//! tags added from templates, and the project's tests and delivery run on the pushed digest without building
//! it. A replayed event, an event older than one handled and an unauthenticated one change nothing.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::time::{Duration, Instant};

use scenario::{Entry, Scenario, dockerfile};
use serving::{ServeGuard, address_of, http_with, spawn_serve, succeeded};
use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, free_port, pull_digest, unique_name};

const SECRET: &str = "registry-event-secret";

/// `GET /v2/NAME/manifests/TAG` on the registry: the digest it answers with, if the tag exists.
fn tag_digest(registry: &Registry, name: &str, tag: &str) -> Option<String> {
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let answer =
        http_with(&registry.address(), "HEAD", &format!("/v2/{name}/manifests/{tag}"), &[("Accept", accept)], "");
    answer.starts_with("HTTP/1.1 200").then(|| {
        answer
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("docker-content-digest: ").map(str::to_string))
            .unwrap_or_default()
    })
}

fn registry_events(address: &str) -> Vec<serde_json::Value> {
    let answer = http_with(address, "GET", "/api/v1/registry-events", &[], "");
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str::<Vec<serde_json::Value>>(body).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

/// A notification envelope of one manifest push, as distribution sends it.
fn envelope(id: &str, timestamp: &str, repository: &str, tag: &str, digest: &str) -> String {
    serde_json::json!({ "events": [{
        "id": id, "timestamp": timestamp, "action": "push",
        "target": { "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": digest,
                    "repository": repository, "tag": tag, "size": 527 },
        "request": { "useragent": "docker/20.10.24 go/go1.19" }
    }]})
    .to_string()
}

fn post_event(address: &str, body: &str, secret: Option<&str>) -> String {
    let auth = secret.map(|s| format!("Bearer {s}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("Authorization", a)).into_iter().collect();
    http_with(address, "POST", "/hooks/registry", &headers, body)
}

#[test]
fn a_push_made_elsewhere_is_tagged_then_tested_and_delivered_by_digest() {
    let port = free_port();
    let registry = Registry::start_notifying(Auth::None, &format!("http://127.0.0.1:{port}/hooks/registry"), SECRET);
    let mut s = Scenario::new("regevents");
    s.registry = registry.address();
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry::new("web"));
    let app = s.app.clone();
    let rules = format!(
        "[[registry_events.rules]]\nmatch = \"{app}/incoming:v*\"\nadd_tags = [\"latest_{{digest:7}}\", \
         \"{{tag}}-{{date}}\"]\npipeline = \"{app}/web:latest\"\n"
    );
    std::fs::write(s.data_dir().join("slipway.toml"), rules).expect("the configuration is written");
    let index = s.index_dir().display().to_string();
    let listen = format!("127.0.0.1:{port}");
    let args = ["serve", "--index", &index, "--listen", &listen, "--workers", "1", "--git-poll-interval", "1h"];
    let mut command = s.command(&args);
    command.env("SLIPWAY_REGISTRY_EVENT_SECRET", SECRET);
    let mut serve = spawn_serve(&mut command, std::process::Stdio::null());
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let first = succeeded(&s, "web", 1, Instant::now());
    let latest = format!("{}:latest", s.repository("web"));
    let built = pull_digest(&latest);

    // An image built and pushed elsewhere, by plain Docker.
    let mut local = LocalTags::new();
    let elsewhere = local.add(format!("{}:v7", unique_name("elsewhere")));
    build_image(&elsewhere, 4096);
    let pushed = registry.push(&elsewhere, &format!("{app}/incoming:v7"));
    let since = Instant::now();
    let delivered = succeeded(&s, "web", 2, since);
    let cause = format!("image {}/{app}/incoming:v7 pushed as {}", registry.address(), &pushed[..19]);
    assert_eq!(delivered["causes"][0], cause.as_str(), "{delivered:#}");
    assert_eq!(pull_digest(&latest), pushed, "web's latest is the pushed digest itself, not a rebuild");
    assert_ne!(built, pushed);
    let hex7 = &pushed["sha256:".len()..][..7];
    let incoming = format!("{app}/incoming");
    assert_eq!(tag_digest(&registry, &incoming, &format!("latest_{hex7}")).as_deref(), Some(pushed.as_str()));
    let tags = s.slipway(&["image", "tags", &format!("{}/{incoming}", registry.address())]);
    let tags = String::from_utf8_lossy(&tags.stdout).to_string();
    let dated = tags.lines().map(str::trim).find(|t| t.starts_with("v7-")).expect("a {tag}-{date} tag").to_string();
    assert!(dated.len() == "v7-20261203".len() && dated[3..].chars().all(|c| c.is_ascii_digit()), "{dated}");
    assert_eq!(tag_digest(&registry, &incoming, &dated).as_deref(), Some(pushed.as_str()));

    // The store has it as web's released image, and the build did not build: its push stage copied.
    let images = s.slipway(&["images", "--project", &s.image("web"), "--newest", "--format", "json"]);
    let images: serde_json::Value = serde_json::from_slice(&images.stdout).expect("JSON");
    assert_eq!(images["images"][0]["digest"], pushed.as_str());
    assert_eq!(images["images"][0]["state"], "released");
    let logs = s.logs("web");
    assert!(logs.contains("not built here") && !logs.contains("[slipway] building"), "{logs}");

    // What the event did is recorded; Slipway's own pushes (web's tags, the added tags) were not acted on.
    let events = registry_events(&address);
    assert_eq!(events.len(), 1, "only the push made elsewhere: {events:#?}");
    let event = &events[0];
    assert_eq!((event["tag"].as_str(), event["digest"].as_str()), (Some("v7"), Some(pushed.as_str())));
    let outcome = event["outcome"].as_str().unwrap_or_default();
    assert!(outcome.contains("tagged latest_") && outcome.contains("queued build #2"), "{outcome}");

    // The same event again, an older push of the same tag, and one without the secret: nothing changes.
    let id = event["event_id"].as_str().unwrap_or_default();
    let timestamp = event["pushed_at"].as_str().unwrap_or_default();
    let again = post_event(&address, &envelope(id, timestamp, &incoming, "v7", &pushed), Some(SECRET));
    assert!(again.starts_with("HTTP/1.1 200") && again.contains("duplicate"), "{again}");
    let older = envelope("older-push", "2020-01-01T00:00:00Z", &incoming, "v7", &built);
    let older = post_event(&address, &older, Some(SECRET));
    assert!(older.starts_with("HTTP/1.1 200") && older.contains("ignored: older than the push of"), "{older}");
    let refused = post_event(&address, &envelope("x", timestamp, &incoming, "v9", &built), Some("wrong"));
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    std::thread::sleep(Duration::from_millis(500));
    let status = s.status().get(&s.image("web")).cloned().unwrap_or_default();
    assert_eq!(status["build"], 2, "no build was queued by them: {status:#}");
    assert_eq!(tag_digest(&registry, &incoming, &format!("latest_{}", &built["sha256:".len()..][..7])), None);
    assert_eq!(pull_digest(&latest), pushed);
    drop(serving);
    assert_eq!(first["build"], 1);
}
