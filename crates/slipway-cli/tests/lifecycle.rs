//! After release, end to end against the real registry, Docker daemon and git daemon: `slipway images` tells
//! each digest's QA state and what is stable, `slipway revoke` makes a digest unpullable by tag and puts the
//! previous release back under the release tag (and the digest is never promoted again, even when a rebuild
//! produces it), and `slipway rollback` moves the release tag back and forth. Each tested digest carries its
//! test report (in-toto test-result) as an OCI referrer. Each step is checked by digest
//! in the registry and in the store.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;
#[path = "pipeline/serving.rs"]
mod serving;

use scenario::{Entry, Scenario, dockerfile, wait_for};
use serving::{ServeGuard, address_of, http_with, serve_index_without_workers, spawn_serve};
use slipway_e2e::harness::pull_digest;

/// Builds what is queued, as a worker would.
fn work(s: &Scenario) {
    let out = s.slipway(&["worker", "--until-idle", "--workers", "1"]);
    assert!(out.status.success(), "worker: {}", String::from_utf8_lossy(&out.stderr));
}

fn images(s: &Scenario, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["images", "--format", "json"];
    all.extend_from_slice(args);
    let out = s.slipway(&all);
    assert!(out.status.success(), "images: {}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    value["images"].as_array().cloned().unwrap_or_default()
}

/// The `web` repository's tags, without the referrers' fallback tags (`sha256-<hex>`, one per tested digest).
fn registry_tags(s: &Scenario) -> Vec<String> {
    registry_tags_of(s, "web")
}

fn registry_tags_of(s: &Scenario, job: &str) -> Vec<String> {
    let out = s.slipway(&["image", "tags", &s.repository(job)]);
    assert!(out.status.success(), "tags: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with("sha256-"))
        .collect()
}

/// The test report attached to `digest`, read the way any OCI client does on a registry without the
/// referrers API: the fallback index tagged `sha256-<hex>`, its artifact manifest, then its one layer.
fn test_report(s: &Scenario, digest: &str) -> serde_json::Value {
    let name = format!("{}/web", s.app);
    let get = |path: &str, accept: &str| {
        let answer = http_with(&s.registry, "GET", path, &[("Accept", accept)], "");
        assert!(answer.starts_with("HTTP/1.1 200"), "GET {path}: {answer}");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON")
    };
    let hex = digest.trim_start_matches("sha256:");
    let index = get(&format!("/v2/{name}/manifests/sha256-{hex}"), "application/vnd.oci.image.index.v1+json");
    let artifact = index["manifests"]
        .as_array()
        .and_then(|m| m.iter().find(|d| d["artifactType"] == "application/vnd.in-toto+json"))
        .expect("an in-toto artifact among the referrers")["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let manifest = get(&format!("/v2/{name}/manifests/{artifact}"), "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(manifest["subject"]["digest"], digest);
    let layer = manifest["layers"][0]["digest"].as_str().unwrap_or_default().to_string();
    get(&format!("/v2/{name}/blobs/{layer}"), "*/*")
}

/// A project `web` released twice: `latest` held `d1`, now holds `d2`.
struct Released {
    s: Scenario,
    image: String,
    latest: String,
    d1: String,
    d2: String,
}

fn two_releases(stem: &str) -> Released {
    let mut s = Scenario::new(stem);
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry::new("web"));
    assert!(s.run().status.success());
    let image = s.image("web");
    let latest = format!("{}:latest", s.repository("web"));
    let d1 = pull_digest(&latest);
    s.repo("web", &[("Dockerfile", &dockerfile("v2"))]);
    assert!(s.slipway(&["build", &image]).status.success());
    work(&s);
    let d2 = pull_digest(&latest);
    assert_ne!(d1, d2);
    Released { s, image, latest, d1, d2 }
}

#[test]
fn revoke_and_rollback_move_the_release_tag_by_digest() {
    let Released { s, image, latest, d1, d2 } = two_releases("life");
    let all = images(&s, &["--project", &image]);
    let states: Vec<(&str, &str)> =
        all.iter().map(|i| (i["digest"].as_str().unwrap_or(""), i["state"].as_str().unwrap_or(""))).collect();
    assert_eq!(states, [(d2.as_str(), "released"), (d1.as_str(), "released")]);
    let evidence = &all[0]["evidence"];
    assert_eq!(evidence["build"], 2, "{evidence:#}");
    assert!(evidence["tests"]["passed"].as_u64().is_some_and(|n| n > 0), "the tests it passed: {evidence:#}");
    assert!(evidence["moved_to"].is_string() && evidence["moved_by"].is_string(), "who moved it: {evidence:#}");
    let stable = images(&s, &["--project", &image, "--state", "released", "--newest"]);
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0]["digest"], d2.as_str());
    let report = test_report(&s, &d2);
    assert_eq!(report["predicateType"], "https://in-toto.io/attestation/test-result/v0.1");
    assert_eq!(report["subject"][0]["digest"]["sha256"], d2.trim_start_matches("sha256:"));
    assert_eq!(report["predicate"]["result"], "PASSED");
    assert!(report["predicate"]["passedTests"].as_array().is_some_and(|t| !t.is_empty()), "{report:#}");
    let inspected = s.slipway(&["image", "inspect", &format!("{}@{d2}", s.repository("web")), "--format", "json"]);
    assert!(String::from_utf8_lossy(&inspected.stdout).contains("application/vnd.in-toto+json"), "inspect shows it");
    let tags_before = registry_tags(&s);
    assert!(tags_before.iter().any(|t| t == "rc") && tags_before.iter().any(|t| t == "test"), "{tags_before:?}");

    // Revoke d2: latest goes back to d1; test, rc and d2's identity tag are gone; d1's identity tag stays.
    let revoked = s.slipway(&["revoke", &format!("{image}@{d2}"), "--reason", "CVE-2026-1234", "--by", "rm"]);
    let said = String::from_utf8_lossy(&revoked.stdout);
    assert!(revoked.status.success(), "revoke: {said}{}", String::from_utf8_lossy(&revoked.stderr));
    assert!(said.contains(&format!("latest now {d1}")), "{said}");
    assert_eq!(pull_digest(&latest), d1, "the previous release is pullable under the release tag");
    let tags_after = registry_tags(&s);
    for gone in ["test", "rc"] {
        assert!(!tags_after.iter().any(|t| t == gone), "{gone} still there: {tags_after:?}");
    }
    assert_eq!(tags_after.len(), 2, "latest and build 1's identity tag: {tags_after:?}");
    assert!(tags_after.iter().any(|t| t.ends_with("-b1")), "{tags_after:?}");
    let listed = images(&s, &["--project", &image, "--state", "revoked"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["digest"].as_str(), listed[0]["revoked_reason"].as_str()),
        (Some(d2.as_str()), Some("CVE-2026-1234"))
    );
    assert_eq!(listed[0]["revoked_by"], "rm");
    let stable = images(&s, &["--project", &image, "--state", "released", "--newest"]);
    assert_eq!(stable[0]["digest"], d1.as_str(), "stable is the newest released digest not revoked");

    // The same commit built again gives d2 again: it is never promoted.
    assert!(s.slipway(&["build", &image]).status.success());
    work(&s);
    let rebuilt = s.status()[&image].clone();
    assert_eq!(rebuilt["build"], 3);
    assert_ne!(rebuilt["state"], "succeeded", "{rebuilt:#}");
    assert!(rebuilt["error"].as_str().unwrap_or("").contains("revoked"), "{rebuilt:#}");
    assert_eq!(pull_digest(&latest), d1);

    // v3 released, then rolled back to d1 (d2 is skipped: revoked), then forward again with --to.
    s.repo("web", &[("Dockerfile", &dockerfile("v3"))]);
    assert!(s.slipway(&["build", &image]).status.success());
    work(&s);
    let d3 = pull_digest(&latest);
    assert!(d3 != d1 && d3 != d2);
    let back = s.slipway(&["rollback", &image, "--reason", "v3 is slow", "--by", "rm"]);
    assert!(back.status.success(), "rollback: {}", String::from_utf8_lossy(&back.stderr));
    assert!(String::from_utf8_lossy(&back.stdout).contains(&format!("{d3} -> {d1}")));
    assert_eq!(pull_digest(&latest), d1);
    let forward = s.slipway(&["rollback", &image, "--to", &d3]);
    assert!(forward.status.success(), "rollback --to: {}", String::from_utf8_lossy(&forward.stderr));
    assert_eq!(pull_digest(&latest), d3);
    let refused = s.slipway(&["rollback", &image, "--to", &d2]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("revoked"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(pull_digest(&latest), d3, "a refused rollback moves nothing");
}

#[test]
fn manual_promotion_waits_at_rc_and_never_replaces_a_newer_release_unless_forced() {
    let mut s = Scenario::new("gated");
    s.repo("web", &[("Dockerfile", &dockerfile("v1"))]);
    s.project(Entry { extra: "    promotion: manual\n", ..Entry::new("web") });
    assert!(s.run().status.success());
    let image = s.image("web");
    let repository = s.repository("web");
    assert!(!registry_tags(&s).iter().any(|t| t == "latest"), "nothing released before it is asked for");
    let d1 = pull_digest(&format!("{repository}:rc"));
    let promoted = s.slipway(&["promote", &image, "--by", "rm"]);
    assert!(promoted.status.success(), "promote: {}", String::from_utf8_lossy(&promoted.stderr));
    assert_eq!(pull_digest(&format!("{repository}:latest")), d1);

    // Builds 2 and 3 wait at rc; 3 is released, then 2 only with --force.
    let mut rc = Vec::new();
    for version in ["v2", "v3"] {
        s.repo("web", &[("Dockerfile", &dockerfile(version))]);
        assert!(s.slipway(&["build", &image]).status.success());
        work(&s);
        rc.push(pull_digest(&format!("{repository}:rc")));
    }
    assert_eq!(pull_digest(&format!("{repository}:latest")), d1, "manual: still the first release");
    assert!(s.slipway(&["promote", &image]).status.success(), "the newest at rc: build 3");
    assert_eq!(pull_digest(&format!("{repository}:latest")), rc[1]);
    let older = s.slipway(&["promote", &image, "--build", "2"]);
    assert_eq!(older.status.code(), Some(2));
    let said = String::from_utf8_lossy(&older.stderr);
    assert!(said.contains("newer build #3"), "{said}");
    assert_eq!(pull_digest(&format!("{repository}:latest")), rc[1], "a refused release moves nothing");
    assert!(s.slipway(&["promote", &image, "--build", "2", "--force"]).status.success());
    assert_eq!(pull_digest(&format!("{repository}:latest")), rc[0]);
}

#[test]
fn the_api_revokes_and_lists_by_state() {
    let Released { s, latest, d1, d2, .. } = two_releases("apilife");
    let created = s.slipway(&["token", "create", "release-manager"]);
    assert!(created.status.success());
    let token = String::from_utf8_lossy(&created.stdout).trim().to_string();

    let serve_args = ["serve", "--no-workers", "--listen", "127.0.0.1:0"];
    let mut serve = spawn_serve(&mut s.command(&serve_args), std::process::Stdio::null());
    let address = address_of(&mut serve);
    let base = format!("/api/v1/projects/{}/web/latest", s.app);
    let revoke = format!(r#"{{"digest":"{d2}","reason":"leaks a key"}}"#);
    let unauthorized = http(&address, "POST", &format!("{base}/revoke"), None, &revoke);
    let answered = http(&address, "POST", &format!("{base}/revoke"), Some(&token), &revoke);
    let revoked = http(&address, "GET", &format!("{base}/images?state=revoked"), None, "");
    let stable = http(&address, "GET", &format!("{base}/images?state=released&newest=true"), None, "");
    let refused = http(&address, "POST", &format!("{base}/rollback"), Some(&token), &format!(r#"{{"to":"{d2}"}}"#));
    let page = http(&address, "GET", &format!("/projects/{}/web/latest", s.app), None, "");
    let _ = serve.kill();
    let _ = serve.wait();

    assert!(unauthorized.starts_with("HTTP/1.1 401"), "{unauthorized}");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(answered.contains(&format!(r#"["latest","{d1}"]"#)), "{answered}");
    assert_eq!(pull_digest(&latest), d1);
    assert!(
        revoked.contains(&d2) && revoked.contains("leaks a key") && revoked.contains("release-manager"),
        "{revoked}"
    );
    assert!(stable.contains(&d1) && !stable.contains(&d2), "{stable}");
    assert!(refused.starts_with("HTTP/1.1 409") && refused.contains("revoked"), "{refused}");
    assert!(page.contains(&format!(r#"<code id="stable" title="{d1}">"#)), "the page shows what is stable");
    assert!(page.contains("revoked by release-manager (api): leaks a key"), "and what was revoked, why");
}

#[test]
fn the_project_page_buttons_roll_back_and_revoke() {
    let Released { s, latest, d1, d2, .. } = two_releases("uilife");
    let created = s.slipway(&["token", "create", "release-manager"]);
    let token = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let serve_args = ["serve", "--no-workers", "--listen", "127.0.0.1:0"];
    let mut serve = spawn_serve(&mut s.command(&serve_args), std::process::Stdio::null());
    let serving = ServeGuard(&mut serve);
    let address = address_of(serving.0);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let login = http_with(&address, "POST", "/login", &form, &format!("token={token}"));
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let signed_in = [("Cookie", cookie.as_str()), form[0]];
    let project = format!("/projects/{}/web/latest", s.app);
    let page = http_with(&address, "GET", &project, &signed_in, "");
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page's forms carry the CSRF value")
        .to_string();
    assert!(page.contains(r#"id="rollback""#) && page.contains(r#"class="revoke""#), "the buttons are there");

    let forged = http_with(&address, "POST", &format!("{project}/rollback"), &signed_in, "reason=x");
    assert!(forged.starts_with("HTTP/1.1 403"), "no CSRF value, no rollback: {forged}");
    assert_eq!(pull_digest(&latest), d2);
    let rolled =
        http_with(&address, "POST", &format!("{project}/rollback"), &signed_in, &format!("csrf={csrf}&reason=slow"));
    assert!(rolled.starts_with("HTTP/1.1 303"), "{rolled}");
    assert_eq!(pull_digest(&latest), d1, "one button rolls back");
    let body = format!("csrf={csrf}&digest={}&reason=broken+build", d2.replace(':', "%3A"));
    let revoked = http_with(&address, "POST", &format!("{project}/revoke"), &signed_in, &body);
    assert!(revoked.starts_with("HTTP/1.1 303"), "{revoked}");
    let page = http_with(&address, "GET", &project, &signed_in, "");
    drop(serving);
    assert!(page.contains("revoked by release-manager (web): broken build"), "{page}");
    let listed = images(&s, &["--project", &s.image("web"), "--state", "revoked"]);
    assert_eq!(listed[0]["digest"], d2.as_str());
    assert_eq!(pull_digest(&latest), d1);
}

/// One HTTP/1.1 request to `address`, with a bearer `token` if given; the whole answer, head and body.
fn http(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> String {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| ("Authorization", a)).into_iter().collect();
    http_with(address, method, path, &headers, body)
}

#[test]
fn gc_removes_only_the_tags_nobody_needs() {
    let Released { s, image, latest, d1, d2 } = two_releases("gc");
    s.repo("web", &[("Dockerfile", &dockerfile("v3"))]);
    assert!(s.slipway(&["build", &image]).status.success());
    work(&s);
    let d3 = pull_digest(&latest);
    let before = registry_tags(&s);
    assert_eq!(before.len(), 6, "latest, test, rc and three identity tags: {before:?}");

    let default = s.slipway(&["gc", "--dry-run"]);
    let said = String::from_utf8_lossy(&default.stdout);
    assert!(default.status.success() && said.contains("0 tag(s) would be removed"), "{said}");

    let strict = ["--keep", "1", "--older-than", "0s", "--rollback-window", "1"];
    let dry = s.slipway(&[&["gc", "--dry-run"][..], &strict].concat());
    let plan = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{plan}{}", String::from_utf8_lossy(&dry.stderr));
    assert!(plan.contains("2 tag(s) would be removed"), "{plan}");
    assert!(plan.contains(&d1) && plan.contains(&d2) && !plan.contains(&d3), "{plan}");
    assert_eq!(registry_tags(&s), before, "a dry run changes nothing");

    let run = s.slipway(&[&["gc", "--by", "ops"][..], &strict].concat());
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success() && said.contains("2 tag(s) removed"), "{said}");
    let after = registry_tags(&s);
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(after.iter().all(|t| !t.ends_with("-b1") && !t.ends_with("-b2")), "{after:?}");
    assert_eq!(pull_digest(&latest), d3, "the release is untouched");
    let by_digest = format!("{}@{d1}", s.repository("web"));
    assert_eq!(pull_digest(&by_digest), d1, "untagged, not deleted: the registry's gc reclaims it");
    let again = s.slipway(&[&["gc"][..], &strict].concat());
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 tag(s) removed"), "nothing twice");
}

#[test]
fn scheduled_retention_runs_in_serve_and_cleans_up_a_removed_project_after_its_grace() {
    let Released { mut s, latest, d1, d2, .. } = two_releases("sched");
    let policy = "[retention]\nkeep = 1\nolder_than = \"0s\"\nrollback_window = 1\nremoved_grace = \"0s\"\n";
    std::fs::write(s.data_dir().join("slipway.toml"), policy).expect("the configuration is written");
    let log_path = s.data_dir().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("the log file");
    let mut serve = serve_index_without_workers(&s, &["--gc-interval", "1s"], log.into());
    let serving = ServeGuard(&mut serve);
    let server_log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // Build 1's identity tag goes (d1: released, but neither the newest nor in the rollback window of 1).
    wait_for(30, "build 1's identity tag removed", || {
        (!registry_tags(&s).iter().any(|t| t.ends_with("-b1"))).then_some(())
    });
    let tags = registry_tags(&s);
    assert_eq!(tags.len(), 4, "latest, test, rc and build 2's identity tag: {tags:?}");
    assert_eq!(pull_digest(&latest), d2);
    wait_for(10, "the run's report in the log", || {
        (server_log().contains("retention run: 1 tag(s) removed")).then_some(())
    });

    // web leaves the index: with a grace period of 0 s, every tag of it goes at the next run.
    s.clear_projects();
    s.repo("api", &[("Dockerfile", &dockerfile("api"))]);
    s.project(Entry::new("api"));
    s.index_dir();
    wait_for(30, "every tag of the removed project removed", || (registry_tags(&s).is_empty()).then_some(()));
    assert!(server_log().contains("left the index"), "the log says why: {}", server_log());
    let by_digest = format!("{}@{d1}", s.repository("web"));
    assert_eq!(pull_digest(&by_digest), d1, "untagged, not deleted");
    drop(serving);
}

#[test]
fn a_set_is_released_all_or_none() {
    let mut s = Scenario::new("set");
    for job in ["base", "app"] {
        s.repo(job, &[("Dockerfile", &dockerfile(&format!("{job} v1")))]);
    }
    s.project(Entry { extra: "    promotion: manual\n", ..Entry::new("base") });
    s.project(Entry { extra: "    promotion: manual\n", depends_on: "APP/base:latest", ..Entry::new("app") });
    assert!(s.run().status.success());
    let (base, app) = (s.image("base"), s.image("app"));
    let latest = |job: &str| format!("{}:latest", s.repository(job));
    // A parent and its children in the index, as one set.
    let together = s.slipway(&["promote", &base, "--with-children"]);
    let said = String::from_utf8_lossy(&together.stdout);
    assert!(together.status.success(), "{said}{}", String::from_utf8_lossy(&together.stderr));
    assert!(said.contains(&format!("{app}: in the set, as a child")), "{said}");
    let (base_v1, app_v1) = (pull_digest(&latest("base")), pull_digest(&latest("app")));

    for job in ["base", "app"] {
        s.repo(job, &[("Dockerfile", &dockerfile(&format!("{job} v2")))]);
        assert!(s.slipway(&["build", &s.image(job)]).status.success());
    }
    work(&s);
    let base_v2 = pull_digest(&format!("{}:rc", s.repository("base")));
    let app_v2 = pull_digest(&format!("{}:rc", s.repository("app")));
    // The registry loses app's candidate: base's release goes through, app's fails, and base is put back.
    let gone = s.slipway(&["image", "untag", &format!("{}@{app_v2}", s.repository("app")), "--force"]);
    assert!(gone.status.success(), "{}", String::from_utf8_lossy(&gone.stderr));
    let failed = s.slipway(&["promote", &base, &app]);
    let said = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(2), "{said}");
    assert!(said.contains("the whole set was undone") && !said.contains("NOT put back"), "{said}");
    assert_eq!(pull_digest(&latest("base")), base_v1, "base's release tag is back where it was");
    assert_eq!(pull_digest(&latest("app")), app_v1);
    let identity = registry_tags_of(&s, "base");
    assert!(!identity.iter().any(|t| t.ends_with("-b2")), "base's new identity tag is removed too: {identity:?}");
    let base_images = images(&s, &["--project", &base, "--state", "rc"]);
    assert!(base_images.iter().any(|i| i["digest"] == base_v2.as_str()), "base v2 is back at rc: {base_images:?}");
}
