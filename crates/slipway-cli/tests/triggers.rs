//! Triggers end to end, with the real git daemon, Docker daemon, registry and an SMTP sink: a parent that
//! delivers a new digest rebuilds its children (one build each, carrying every cause), a manual
//! `slipway build` queues with who asked, and a child asked for while its parent is queued waits for it and is
//! skipped if it fails, then rebuilt by the parent's next success. Also: branch polls and push webhooks, index
//! reloads (from a directory and from git), changed external base images, and the mail a failure sends.

// Shared with pipeline.rs, which uses all of it.
#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use scenario::{Db, Entry, Scenario, dockerfile};
use serving::{ServeGuard, address_of, http_with, spawn_serve, succeeded};
use slipway_e2e::harness::pull_digest;

/// `slipway serve` on any free port with one worker, its branch polling set to an hour (so only what a test
/// does rebuilds within it).
const ONE_WORKER_NO_POLLING: [&str; 6] = ["--listen", "127.0.0.1:0", "--workers", "1", "--git-poll-interval", "1h"];

fn causes(project: &serde_json::Value) -> Vec<String> {
    project["causes"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn a_delivered_parent_rebuilds_its_children_and_a_failed_one_holds_them() {
    for db in [Db::Sqlite, Db::Postgres] {
        cascade(db);
    }
}

fn cascade(db: Db) {
    let mut s = Scenario::with_db("cascade", db);
    s.repo("base", &[("Dockerfile", &dockerfile("v1"))]);
    s.repo("app", &[("Dockerfile", "FROM REGISTRY/APP/base:latest\nCMD [\"cat\", \"/built\"]\n")]);
    s.project(Entry::new("base"));
    s.project(Entry { depends_on: "APP/base:latest", ..Entry::new("app") });
    let run = s.run();
    assert!(run.status.success(), "run: {}", String::from_utf8_lossy(&run.stderr));
    let base_image = s.image("base");
    let app_image = s.image("app");

    // The run queued both; base's delivery joined app's queued build rather than queuing a second one.
    let app = s.expect("app", "succeeded");
    assert_eq!(app["build"], 1, "{app:#}");
    let first = causes(&app);
    assert_eq!(first[0], "slipway run", "{first:?}");
    assert!(first[1].starts_with(&format!("parent {base_image} delivered sha256:")), "{first:?}");
    let app_v1 = pull_digest(&format!("{}:latest", s.repository("app")));

    // A new commit of base, asked for by hand: its delivery rebuilds app, on the new base.
    s.repo("base", &[("Dockerfile", &dockerfile("v2"))]);
    let asked = s.slipway(&["build", &base_image, "--by", "alice"]);
    let said = String::from_utf8_lossy(&asked.stdout);
    assert!(asked.status.success() && said.contains("build #2 queued (manual: asked by alice)"), "{said}");
    work(&s);
    let base = s.expect("base", "succeeded");
    assert_eq!((base["build"].as_i64(), causes(&base)), (Some(2), vec!["manual: asked by alice".to_string()]));
    let app = s.expect("app", "succeeded");
    let digest = base["digest"].as_str().unwrap_or_default();
    assert_eq!(app["build"], 2, "{app:#}");
    assert_eq!(causes(&app), [format!("parent {base_image} delivered {}", &digest[..19])]);
    let app_v2 = pull_digest(&format!("{}:latest", s.repository("app")));
    assert_ne!(app_v1, app_v2, "app was rebuilt and delivered");
    let shown = run_image(&format!("{}:latest", s.repository("app")));
    assert_eq!(shown.trim(), "v2", "app is built on the new base");

    // A broken base: app, asked for meanwhile, waits for base's build and is skipped when it fails.
    s.repo("base", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN exit 3\n")]);
    assert!(s.slipway(&["build", &base_image]).status.success());
    assert!(s.slipway(&["build", &app_image]).status.success());
    work(&s);
    s.expect("base", "failed");
    let app = s.expect("app", "skipped");
    let error = app["error"].as_str().unwrap_or_default();
    assert_eq!(error, format!("parent {base_image} build #3 failed"), "{app:#}");

    // Base mended: its next success rebuilds app.
    s.repo("base", &[("Dockerfile", &dockerfile("v3"))]);
    assert!(s.slipway(&["build", &base_image]).status.success());
    work(&s);
    s.expect("base", "succeeded");
    let app = s.expect("app", "succeeded");
    assert_eq!(app["build"], 4, "{app:#}");
    assert_eq!(run_image(&format!("{}:latest", s.repository("app"))).trim(), "v3");

    // An unknown image is refused with the nearest name.
    let typo = s.slipway(&["build", &app_image.replace("app:", "apq:")]);
    assert_eq!(typo.status.code(), Some(2));
    let said = String::from_utf8_lossy(&typo.stderr);
    assert!(said.contains(&format!("did you mean `{app_image}`")), "{said}");
}

#[test]
fn a_pushed_commit_rebuilds_its_project_within_the_poll_interval() {
    let mut s = Scenario::new("poll");
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry::new("web"));
    let run = s.run();
    assert!(run.status.success(), "run: {}", String::from_utf8_lossy(&run.stderr));
    let index = s.index_dir().display().to_string();
    let mut serve = serve_quietly(
        &s,
        &["serve", "--index", &index, "--listen", "127.0.0.1:0", "--workers", "1", "--git-poll-interval", "1s"],
    );
    let serving = ServeGuard(&mut serve);
    let commit = s.repo("web", &[("Dockerfile", &dockerfile("v2"))]);
    let pushed = std::time::Instant::now();
    let rebuilt = succeeded(&s, "web", 2, pushed);
    drop(serving);
    assert_eq!(causes(&rebuilt), [format!("branch main moved to {}", &commit[..12])]);
    assert_eq!(rebuilt["commit"], commit.as_str());
    assert_eq!(run_image(&format!("{}:latest", s.repository("web"))).trim(), "v2");
}

#[test]
fn a_signed_push_webhook_rebuilds_at_once() {
    let mut s = Scenario::new("hook");
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry::new("web"));
    let run = s.run();
    assert!(run.status.success(), "run: {}", String::from_utf8_lossy(&run.stderr));
    let index = s.index_dir().display().to_string();
    // Polling every hour: only the webhook can rebuild within the test.
    let args = [&["serve", "--index", &index][..], &ONE_WORKER_NO_POLLING].concat();
    let mut serve = serve_with_hooks(&s, &args);
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);

    let commit = s.repo("web", &[("Dockerfile", &dockerfile("v2"))]);
    let sent = std::time::Instant::now();
    let answer = push_hook(&address, &s.git.url("web"), &commit);
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let rebuilt = succeeded(&s, "web", 2, sent);
    drop(serving);
    assert_eq!(causes(&rebuilt), [format!("branch main moved to {}", &commit[..12])]);
    assert_eq!(run_image(&format!("{}:latest", s.repository("web"))).trim(), "v2");
}

#[test]
fn an_index_in_git_is_reloaded_on_a_push_webhook() {
    let mut s = Scenario::new("gitindex");
    s.repo("web", &[("Dockerfile", &dockerfile("web"))]);
    s.repo("api", &[("Dockerfile", &dockerfile("api"))]);
    s.project(Entry::new("web"));
    s.repo("index", &[(&s.index_file(), &s.index_text())]);
    let index_url = s.git.url("index");
    // Polling every hour: only the webhook can reload within the test.
    let index_args =
        ["serve", "--index-git-url", &index_url, "--index-git-branch", "main", "--index-poll-interval", "1h"];
    let args = [&index_args[..], &ONE_WORKER_NO_POLLING].concat();
    let mut serve = serve_with_hooks(&s, &args);
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let web = succeeded(&s, "web", 1, std::time::Instant::now());
    assert_eq!(causes(&web), ["first build"]);

    // api added and web's entry changed, in one push to the index repository.
    s.clear_projects();
    s.project(Entry { extra: "    build-args: {VARIANT: two}\n", ..Entry::new("web") });
    s.project(Entry::new("api"));
    let commit = s.repo("index", &[(&s.index_file(), &s.index_text())]);
    let sent = std::time::Instant::now();
    let answer = push_hook(&address, &index_url, &commit);
    assert!(answer.starts_with("HTTP/1.1 202") && answer.contains("the index is reloaded"), "{answer}");
    assert_eq!(causes(&succeeded(&s, "api", 1, sent)), ["first build"]);
    assert_eq!(causes(&succeeded(&s, "web", 2, sent)), ["index entry changed"]);

    // web removed: deactivated, its image left in the registry.
    s.clear_projects();
    s.project(Entry::new("api"));
    let commit = s.repo("index", &[(&s.index_file(), &s.index_text())]);
    let sent = std::time::Instant::now();
    assert!(push_hook(&address, &index_url, &commit).starts_with("HTTP/1.1 202"));
    while s.status().contains_key(&s.image("web")) {
        assert!(sent.elapsed() < std::time::Duration::from_secs(30), "web is still listed after 30 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(serving);
    assert_eq!(run_image(&format!("{}:latest", s.repository("web"))).trim(), "web", "its tags stay");
    assert_eq!(s.expect("api", "succeeded")["build"], 1, "api's entry did not change");
}

#[test]
fn an_index_directory_is_looked_at_on_its_interval() {
    let mut s = Scenario::new("dirindex");
    s.project(Entry::new("web"));
    let index = s.index_dir().display().to_string();
    let args = ["serve", "--index", &index, "--index-poll-interval", "1s", "--listen", "127.0.0.1:0", "--no-workers"];
    let mut serve = serve_quietly(&s, &args);
    let serving = ServeGuard(&mut serve);
    let started = std::time::Instant::now();
    // A reload records the projects first, then asks for their builds: wait for the build.
    let listed = |s: &Scenario, job: &str| {
        loop {
            if let Some(project) = s.status().get(&s.image(job)).filter(|p| !causes(p).is_empty()) {
                return project.clone();
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{job} has no build after 30 s");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    assert_eq!(causes(&listed(&s, "web")), ["first build"]);
    s.project(Entry::new("api"));
    s.index_dir();
    let api = listed(&s, "api");
    drop(serving);
    assert_eq!((api["state"].as_str(), causes(&api)), (Some("queued"), vec!["first build".to_string()]));
}

#[test]
fn a_changed_external_base_image_rebuilds_its_projects_once() {
    let mut s = Scenario::new("extbase");
    let base = format!("{}/{}/extbase:1", s.registry, s.app);
    publish_base(&base, "one");
    s.repo("app", &[("Dockerfile", "FROM REGISTRY/APP/extbase:1\nCMD [\"cat\", \"/base\"]\n")]);
    s.project(Entry::new("app"));
    let run = s.run();
    assert!(run.status.success(), "run: {}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(run_image(&format!("{}:latest", s.repository("app"))).trim(), "one");

    let index = s.index_dir().display().to_string();
    let args = [&["serve", "--index", &index, "--base-image-interval", "1s"][..], &ONE_WORKER_NO_POLLING].concat();
    let mut serve = serve_quietly(&s, &args);
    let serving = ServeGuard(&mut serve);
    let digest = publish_base(&base, "two");
    let rebuilt = succeeded(&s, "app", 2, std::time::Instant::now());
    assert_eq!(causes(&rebuilt), [format!("base image {base} changed to {}", &digest[..19])]);
    // Later rounds find the digest it was built on: no third build.
    std::thread::sleep(std::time::Duration::from_secs(3));
    drop(serving);
    assert_eq!(s.expect("app", "succeeded")["build"], 2);
    assert_eq!(run_image(&format!("{}:latest", s.repository("app"))).trim(), "two", "built on the new base");
}

/// Builds a small image printing `content` from /base, pushes it as `reference`; its digest.
fn publish_base(reference: &str, content: &str) -> String {
    let dockerfile = format!("FROM slipway/busybox:latest\nRUN echo {content} > /base\n");
    let mut build = std::process::Command::new("docker")
        .args(["build", "--network", "none", "-q", "-t", reference, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker build runs");
    std::io::Write::write_all(&mut build.stdin.take().expect("stdin"), dockerfile.as_bytes()).expect("Dockerfile sent");
    assert!(build.wait().expect("docker build ends").success(), "docker build {reference}");
    slipway_e2e::harness::push(reference, reference)
}

#[test]
fn a_failed_build_is_mailed_by_the_server() {
    let sink = slipway_e2e::harness::SmtpSink::start();
    let mut s = Scenario::new("mail");
    s.repo("web", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN echo compiling && exit 3\n")]);
    s.project(Entry::new("web"));
    let index = s.index_dir().display().to_string();
    let args = [&["serve", "--index", &index, "--smtp-url", &sink.url][..], &ONE_WORKER_NO_POLLING].concat();
    let mut serve = serve_with_hooks(&s, &args);
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let mail = slipway_e2e::harness::wait_for_mails(&sink.maildir, 1).remove(0);
    drop(serving);
    let image = s.image("web");
    let page = format!("http://{address}/projects/{}/web/latest/builds/1", s.app);
    slipway_e2e::harness::assert_mail_has(
        &mail,
        &[
            "To: team@example.org".to_string(),
            format!("Subject: [slipway] {image} #1 failed at build"),
            "Why it ran: first build".to_string(),
            "compiling".to_string(),
            format!("The full log: {page}/logs/build"),
        ],
    );
    assert_eq!(sink.mails().len(), 1, "one mail for one failure");
}

/// `slipway serve ARGS`, its output dropped.
fn serve_quietly(s: &Scenario, args: &[&str]) -> std::process::Child {
    s.command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("slipway serve starts")
}

/// `slipway serve ARGS` with push webhooks signed by "hook-secret", its output piped for [`address_of`].
fn serve_with_hooks(s: &Scenario, args: &[&str]) -> std::process::Child {
    spawn_serve(s.command(args).env("SLIPWAY_WEBHOOK_SECRET", "hook-secret"), std::process::Stdio::null())
}

/// Sends a GitHub push event for `commit` of the repository at `url`, signed with "hook-secret"; the answer.
fn push_hook(address: &str, url: &str, commit: &str) -> String {
    let body = serde_json::json!({ "ref": "refs/heads/main", "after": commit, "repository": { "clone_url": url } })
        .to_string();
    let signature = slipway_web::hmac_sha256_hex(b"hook-secret", body.as_bytes());
    let signature = format!("sha256={signature}");
    let headers = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", signature.as_str())];
    http_with(address, "POST", "/hooks/github", &headers, &body)
}

/// `slipway worker --until-idle`: builds what is queued, including what deliveries queue meanwhile.
fn work(s: &Scenario) {
    let out = s.slipway(&["worker", "--until-idle", "--workers", "2"]);
    assert!(out.status.success(), "worker: {}", String::from_utf8_lossy(&out.stderr));
}

/// What the image prints (pulled from the registry by Docker; the container has no network).
fn run_image(reference: &str) -> String {
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--pull", "always", "--network", "none", reference])
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "docker run {reference}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
