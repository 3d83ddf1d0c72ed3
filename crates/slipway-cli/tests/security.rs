//! Security end to end: a full run of `slipway serve` with every kind of secret configured (the registry's
//! password, the SMTP password, the push-webhook, event-webhook and registry-event secrets, an API token),
//! a project whose log and commit message carry script, and an index entry that reaches outside its
//! repository. Writes without credentials, forms without their CSRF value and unsigned hooks are refused;
//! markup from builds is inert; traversal through URL paths and index fields is refused; and no secret appears
//! in anything the run printed, served or answered.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use std::time::{Duration, Instant};

use base64::Engine as _;
use scenario::{Entry, Scenario, dockerfile};
use serving::{ServeGuard, address_of, http_with, spawn_serve};
use slipway_e2e::harness::{Auth, RepoFile, SmtpSink, free_port};

const REGISTRY_PASSWORD: &str = "reg-Secret-9f3a1c";
const SMTP_PASSWORD: &str = "smtp-Secret-71bd0e";
const WEBHOOK_SECRET: &str = "hook-Secret-0c5e2a";
const EVENT_WEBHOOK_SECRET: &str = "event-Secret-a9d4f1";
const REGISTRY_EVENT_SECRET: &str = "regevent-Secret-4b7e93";
const SCRIPT: &str = "<script>alert(1)</script>";

fn get(address: &str, path: &str) -> String {
    http_with(address, "GET", path, &[], "")
}

#[test]
fn writes_need_credentials_markup_is_inert_and_no_secret_is_ever_shown() {
    let port = free_port();
    let registry = slipway_e2e::harness::Registry::start_notifying(
        Auth::htpasswd("bot", REGISTRY_PASSWORD),
        &format!("http://127.0.0.1:{port}/hooks/registry"),
        REGISTRY_EVENT_SECRET,
    );
    let sink = SmtpSink::start();
    let mut s = Scenario::new("security");
    s.registry = registry.address();
    s.repo("web", &[("Dockerfile", &dockerfile("web"))]);
    let failing = format!("#!/bin/sh\necho '{SCRIPT}'\nexit 1\n");
    let dockerfile_bad = dockerfile("bad");
    s.git.commit(
        "bad",
        "main",
        &format!("Break it {SCRIPT} <img src=x onerror=alert(2)>"),
        &[RepoFile::new("Dockerfile", &dockerfile_bad), RepoFile::executable("t/run.sh", &failing)],
    );
    s.project(Entry::new("web"));
    s.project(Entry { extra: "    test-script: t/run.sh\n", ..Entry::new("bad") });
    s.project(Entry { extra: "    test-script: ../../../etc/passwd\n", ..Entry::new("escape") });
    let config = format!(
        "[registries.\"{}\"]\nusername = \"bot\"\npassword_env = \"SECURITY_REGISTRY_PASSWORD\"\n",
        registry.address()
    );
    std::fs::write(s.data_dir().join("slipway.toml"), config).expect("the configuration is written");
    let created = s.slipway(&["token", "create", "ops"]);
    let token = String::from_utf8_lossy(&created.stdout).trim().to_string();
    assert!(created.status.success() && token.len() >= 20, "a token: {token}");

    let index = s.index_dir().display().to_string();
    let listen = format!("127.0.0.1:{port}");
    let smtp = sink.url.replacen("smtp://", &format!("smtp://mailer:{SMTP_PASSWORD}@"), 1);
    let args = [
        "serve",
        "--index",
        &index,
        "--listen",
        &listen,
        "--workers",
        "1",
        "--git-poll-interval",
        "1h",
        "--smtp-url",
        &smtp,
        "--event-webhook",
        "http://127.0.0.1:9/unreachable",
    ];
    let log_path = s.data_dir().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    let mut command = s.command(&args);
    command
        .env("RUST_LOG", "debug,sqlx=warn,hyper=info,reqwest=info,h2=info")
        .env("SECURITY_REGISTRY_PASSWORD", REGISTRY_PASSWORD)
        .env("SLIPWAY_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("SLIPWAY_EVENT_WEBHOOK_SECRET", EVENT_WEBHOOK_SECRET)
        .env("SLIPWAY_REGISTRY_EVENT_SECRET", REGISTRY_EVENT_SECRET);
    let mut serve = spawn_serve(&mut command, log.into());
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let started = Instant::now();
    for (job, state) in [("web", "succeeded"), ("bad", "failed")] {
        let image = s.image(job);
        loop {
            let status = s.status().get(&image).cloned().unwrap_or_default();
            if status["state"] == state {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(90), "{image} never {state}: {status:#}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    // The authenticated registry got the release: pushed by the Docker daemon with the configured credentials.
    registry.login();
    let web_latest = format!("{}/{}/web:latest", registry.address(), s.app);
    let pulled = std::process::Command::new("docker")
        .args(["--config", &registry.docker_config().display().to_string(), "pull", "-q", &web_latest])
        .output()
        .expect("docker pull runs");
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));

    // Writes without credentials, forms without CSRF, hooks without their secret: refused.
    let app = s.app.clone();
    let api = format!("/api/v1/projects/{app}/web/latest");
    let json = [("Content-Type", "application/json")];
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let refused = [
        ("rebuild without a token", http_with(&address, "POST", &format!("{api}/rebuild"), &json, "{}")),
        ("revoke without a token", http_with(&address, "POST", &format!("{api}/revoke"), &json, "{}")),
        (
            "a form without a session",
            http_with(&address, "POST", &format!("/projects/{app}/web/latest/rollback"), &form, ""),
        ),
        ("an unsigned push hook", http_with(&address, "POST", "/hooks/github", &[("X-GitHub-Event", "push")], "{}")),
        (
            "a registry event without the secret",
            http_with(&address, "POST", "/hooks/registry", &json, r#"{"events":[]}"#),
        ),
    ];
    for (what, answer) in &refused {
        assert!(answer.starts_with("HTTP/1.1 401") || answer.starts_with("HTTP/1.1 403"), "{what}: {answer}");
    }
    let login = http_with(&address, "POST", "/login", &form, &format!("token={token}"));
    let cookie = login
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("set-cookie: ").then(|| l[12..].to_string()))
        .and_then(|c| c.split(';').next().map(str::to_string))
        .expect("a session cookie");
    let session = [("Cookie", cookie.as_str()), form[0]];
    let no_csrf = http_with(&address, "POST", &format!("/projects/{app}/web/latest/rollback"), &session, "reason=x");
    assert!(no_csrf.starts_with("HTTP/1.1 403"), "a form without its CSRF value: {no_csrf}");

    // Traversal through URL paths: not found, never a file.
    for path in [
        format!("/projects/{app}/web/latest/builds/1/logs/..%2F..%2F..%2Fetc%2Fpasswd"),
        "/api/v1/builds/1/logs/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/projects/..%2F..%2Fetc/passwd/latest".to_string(),
        "/static/../../etc/passwd".to_string(),
    ] {
        let answer = get(&address, &path);
        assert!(answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(!answer.contains("root:x:0:0"), "{path} served a file");
    }
    // ...and through index fields: the entry is refused with its line, and never built.
    let escape = s.status().get(&s.image("escape")).cloned();
    assert!(escape.as_ref().is_none_or(|e| e["build"].is_null()), "the escaping entry was not built: {escape:?}");
    let problems = get(&address, "/api/v1/index/problems");
    assert!(problems.contains("test-script") && problems.contains("etc/passwd"), "{problems}");

    // Markup from the build and the commit is shown as text.
    let failure = get(&address, &format!("/projects/{app}/bad/latest/builds/1"));
    assert!(failure.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the log line, escaped: {failure}");
    assert!(!failure.contains(SCRIPT) && !failure.contains("<img src=x"), "no markup from the build runs");

    // Everything the run printed, served and answered, searched for every secret.
    let mut seen = vec![
        ("the server's log", std::fs::read_to_string(&log_path).unwrap_or_default()),
        ("the registry's event list", get(&address, "/api/v1/registry-events")),
    ];
    for path in [
        "/".to_string(),
        "/metrics".to_string(),
        "/readyz".to_string(),
        "/api/v1/projects".to_string(),
        "/api/v1/openapi.json".to_string(),
        "/api/v1/index/problems".to_string(),
    ] {
        seen.push(("a page", get(&address, &path)));
    }
    for job in ["web", "bad"] {
        let project = format!("/projects/{app}/{job}/latest");
        seen.push(("a project page", http_with(&address, "GET", &project, &session, "")));
        seen.push(("a build page", get(&address, &format!("{project}/builds/1"))));
        seen.push(("the API's project", get(&address, &format!("/api/v1{project}"))));
        seen.push(("the API's builds", get(&address, &format!("/api/v1{project}/builds"))));
        seen.push(("the API's images", get(&address, &format!("/api/v1{project}/images"))));
        for stage in ["checkout", "lint", "build", "push", "test", "scan", "deliver"] {
            seen.push(("a raw log", get(&address, &format!("{project}/builds/1/logs/{stage}"))));
        }
        let logs = s.slipway(&["logs", &s.image(job)]);
        seen.push((
            "slipway logs",
            format!("{}{}", String::from_utf8_lossy(&logs.stdout), String::from_utf8_lossy(&logs.stderr)),
        ));
    }
    for args in [&["status", "--format", "json"][..], &["images", "--format", "json"], &["index", "check", &index]] {
        let out = s.slipway(args);
        seen.push((
            "a command",
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        ));
    }
    drop(serving);
    seen.push(("the server's log", std::fs::read_to_string(&log_path).unwrap_or_default()));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("bot:{REGISTRY_PASSWORD}"));
    let secrets =
        [REGISTRY_PASSWORD, SMTP_PASSWORD, WEBHOOK_SECRET, EVENT_WEBHOOK_SECRET, REGISTRY_EVENT_SECRET, &token, &basic];
    let total: usize = seen.iter().map(|(_, text)| text.len()).sum();
    assert!(total > 50_000, "enough was searched to mean something: {total} bytes");
    assert!(seen[0].1.contains("build finished"), "the server's log is the real one");
    for (what, text) in &seen {
        for secret in secrets {
            assert!(!text.contains(secret), "a secret appears in {what}:\n{text}");
        }
    }
    let _ = sink;
}
