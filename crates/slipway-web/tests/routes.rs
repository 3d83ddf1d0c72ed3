//! Every route over HTTP (the whole router, in process) against a real SQLite store seeded as workers write
//! it: answers, the auth rules, escaping, Range and SSE.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use common::seed::{SECRET_PASSWORD, seed, state, token};
use futures_util::StreamExt;
use tower::ServiceExt;

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let response: Response<Body> = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, bearer: Option<&str>) -> Request<Body> {
    let mut request = Request::post(uri);
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn pages_answer_and_keep_html_inert() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let (status, headers, html) = call(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(html.contains("demo/web:latest") && html.contains("failed at build"), "{html}");
    assert!(html.contains("index/index.d/broken.yaml:7:5") && html.contains("did you mean"), "index problems shown");
    let (_, _, filtered) = call(&app, get("/?state=failing&q=web")).await;
    assert!(filtered.contains("demo/web:latest") && !filtered.contains("demo/api:latest"), "{filtered}");

    let (status, _, html) = call(&app, get("/projects/demo/web/latest")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("demo/base:latest"), "parent listed");
    assert!(!html.contains(SECRET_PASSWORD) && html.contains("bob:***@"), "git password masked");
    let (_, _, base) = call(&app, get("/projects/demo/base/latest")).await;
    assert!(base.contains("/projects/demo/web/latest"), "child listed: {base}");

    let (status, _, html) = call(&app, get("/projects/demo/web/latest/builds/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Failed at build"), "failure named");
    assert!(html.contains("id=\"focus\" data-stage=\"build\""), "the failing stage is opened first");
    assert!(
        html.contains(
            "<span class=\"err\"><span class=\"ansi-fg1 ansi-bold\">ERROR</span>: make: *** [all] Error 2</span>"
        ),
        "{html}"
    );
    assert!(html.contains("Step 300/300") && !html.contains("Step 1/300 "), "the end of the log, not all of it");
    assert!(!html.contains("<script>alert"), "no script from the log or the commit gets through");
    assert!(html.contains("&lt;script&gt;alert(&#39;log&#39;)"), "the log line escaped");
    assert!(html.contains("&#60;script&#62;alert(&#39;subject&#39;)"), "the commit subject escaped");
    assert!(html.contains("/projects/demo/web/latest/builds/1/logs/build"), "raw log one click away");

    let (status, _, html) = call(&app, get("/projects/demo/api/latest/builds/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("new EventSource('/projects/demo/api/latest/builds/1/logs/test/stream')"), "live log");

    for missing in ["/projects/demo/nope/latest", "/projects/demo/web/latest/builds/9", "/nothing/here"] {
        let (status, _, html) = call(&app, get(missing)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(html.contains("404"), "{html}");
    }
    for ops in ["/healthz", "/readyz", "/metrics", "/login"] {
        assert_eq!(call(&app, get(ops)).await.0, StatusCode::OK, "{ops}");
    }
    let (_, _, metrics) = call(&app, get("/metrics")).await;
    assert!(metrics.contains("slipway_builds{state=\"failed\"} 1"), "{metrics}");
    assert!(metrics.contains("slipway_queue_jobs{state=\"running\"} 1"), "{metrics}");
    assert!(metrics.contains("slipway_stage_duration_seconds{stage=\"build\",quantile=\"0.5\"}"), "{metrics}");
}

#[tokio::test]
async fn the_api_shows_what_the_pages_show_and_no_secret() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let (status, _, body) = call(&app, get("/api/v1/projects")).await;
    assert_eq!(status, StatusCode::OK);
    let projects: serde_json::Value = serde_json::from_str(&body).unwrap();
    let web = projects.as_array().unwrap().iter().find(|p| p["image"] == "demo/web:latest").unwrap();
    assert_eq!(web["state"], "failed");
    assert_eq!(web["failed_stage"], "build");
    assert!(web["digest"].is_null());
    for uri in [
        "/api/v1/projects/demo/web/latest".to_string(),
        "/api/v1/projects/demo/web/latest/builds".to_string(),
        format!("/api/v1/builds/{}", seeded.failed),
        "/api/v1/index/problems".to_string(),
        "/api/v1/openapi.json".to_string(),
    ] {
        let (status, headers, body) = call(&app, get(&uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"), "{uri}");
        assert!(!body.contains(SECRET_PASSWORD), "{uri} leaks a secret");
    }
    let (_, _, build) = call(&app, get(&format!("/api/v1/builds/{}", seeded.failed))).await;
    let build: serde_json::Value = serde_json::from_str(&build).unwrap();
    assert_eq!(build["focus"], "build");
    assert_eq!(build["stages"].as_array().unwrap().len(), 2);
    let (status, _, body) = call(&app, get("/api/v1/builds/999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"status\":404"), "{body}");
}

#[tokio::test]
async fn writes_need_a_token_and_forms_a_session_with_csrf() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let cancel = format!("/api/v1/builds/{}/cancel", seeded.running);
    let (status, headers, body) = call(&app, post(&cancel, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(body.contains("slipway token create"), "{body}");
    assert_eq!(call(&app, post(&cancel, Some("slw_forged"))).await.0, StatusCode::UNAUTHORIZED);

    let secret = token(&seeded.store, "alice").await;
    let (status, _, body) = call(&app, post(&cancel, Some(&secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("canceled"), "{body}");
    let running = seeded.store.build(seeded.running).await.unwrap();
    assert_eq!(running.state, slipway_store::BuildState::Canceled);
    assert_eq!(running.error.as_deref(), Some("canceled by alice"));
    assert_eq!(call(&app, post(&cancel, Some(&secret))).await.0, StatusCode::CONFLICT, "already ended");
    let (status, _, body) = call(&app, post(&format!("/api/v1/builds/{}/rebuild", seeded.failed), Some(&secret))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("demo/web:latest build #2 queued"), "{body}");
    let (status, _, body) = call(&app, post(&format!("/api/v1/builds/{}/promote", seeded.failed), Some(&secret))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "no registry client here: {body}");

    // The UI: a form without a session is refused, a session without the CSRF value too.
    let form = |cookie: Option<&str>, csrf: &str| {
        let mut request = Request::post("/projects/demo/web/latest/builds/1/rebuild")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.body(Body::from(format!("csrf={csrf}"))).unwrap()
    };
    assert_eq!(call(&app, form(None, "x")).await.0, StatusCode::UNAUTHORIZED);
    let login = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={secret}")))
        .unwrap();
    let (status, headers, _) = call(&app, login).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set_cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert_eq!(call(&app, form(Some(&cookie), "forged")).await.0, StatusCode::FORBIDDEN);
    let mut page = get("/projects/demo/web/latest/builds/1");
    page.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
    let (_, _, html) = call(&app, page).await;
    let csrf = html.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(html.contains("signed in as alice"));
    let (status, headers, _) = call(&app, form(Some(&cookie), &csrf)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Build #2 is still queued: the second request joins it rather than queuing #3.
    assert_eq!(headers[header::LOCATION], "/projects/demo/web/latest/builds/2");
    let project = seeded.store.project_by_image("demo/web:latest").await.unwrap().unwrap();
    let queued = seeded.store.builds_of(project.id, 1).await.unwrap().remove(0);
    assert_eq!((queued.number, queued.causes.len()), (2, 1), "alice asked twice: one cause {:?}", queued.causes);
    let bad_login = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=slw_nope"))
        .unwrap();
    assert_eq!(call(&app, bad_login).await.0, StatusCode::UNAUTHORIZED);
    // Tokens are stored hashed.
    let stored = seeded.store.tokens().await.unwrap();
    assert!(!format!("{stored:?}").contains(&secret[4..]));
}

#[tokio::test]
async fn reading_can_require_a_login() {
    let seeded = seed().await;
    let mut config = slipway_web::WebConfig::new("127.0.0.1:5555");
    config.read_requires_login = true;
    let app = slipway_web::router(slipway_web::AppState::new(seeded.store.clone(), config, None));
    assert_eq!(call(&app, get("/")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, get("/api/v1/projects")).await.0, StatusCode::UNAUTHORIZED);
    let secret = token(&seeded.store, "reader").await;
    let mut request = get("/api/v1/projects");
    request.headers_mut().insert(header::AUTHORIZATION, format!("Bearer {secret}").parse().unwrap());
    assert_eq!(call(&app, request).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/healthz")).await.0, StatusCode::OK, "operations stay open");
}

#[tokio::test]
async fn raw_logs_support_ranges() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let uri = "/projects/demo/web/latest/builds/1/logs/build";
    let (status, headers, whole) = call(&app, get(uri)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCEPT_RANGES], "bytes");
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    assert!(whole.starts_with("Step 1/300") && whole.ends_with("Error 2\n"));
    let total = whole.len();
    for (range, want) in [
        ("bytes=0-9", whole[..10].to_string()),
        ("bytes=-8", whole[total - 8..].to_string()),
        (&format!("bytes={}-", total - 40) as &str, whole[total - 40..].to_string()),
        ("bytes=9000-9100", whole[9000..=9100].to_string()),
    ] {
        let mut request = get(uri);
        request.headers_mut().insert(header::RANGE, range.parse().unwrap());
        let (status, headers, body) = call(&app, request).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(body, want, "{range}");
        assert!(headers[header::CONTENT_RANGE].to_str().unwrap().ends_with(&format!("/{total}")), "{range}");
    }
    let mut request = get(uri);
    request.headers_mut().insert(header::RANGE, format!("bytes={total}-").parse().unwrap());
    assert_eq!(call(&app, request).await.0, StatusCode::RANGE_NOT_SATISFIABLE);
    let api = format!("/api/v1/builds/{}/logs/build", seeded.failed);
    assert_eq!(call(&app, get(&api)).await.2, whole, "the API serves the same bytes");
    assert_eq!(call(&app, get(&format!("/api/v1/builds/{}/logs/scan", seeded.failed))).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, get(&format!("/api/v1/builds/{}/logs/bogus", seeded.failed))).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn live_logs_stream_new_lines_then_end() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let response =
        app.clone().oneshot(get(&format!("/api/v1/builds/{}/logs/test/stream", seeded.running))).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    let mut next = async || String::from_utf8_lossy(&body.next().await.unwrap().unwrap()).into_owned();
    while !seen.contains("running tests/run.sh") {
        seen.push_str(&next().await);
    }
    assert!(seen.contains("id: 0"), "{seen}");
    let written = std::time::Instant::now();
    seeded.store.append_log(seeded.running_stage, "test 1 passed\n").await.unwrap();
    while !seen.contains("test 1 passed") {
        seen.push_str(&next().await);
    }
    assert!(written.elapsed() < std::time::Duration::from_secs(1), "{:?}", written.elapsed());
    seeded.store.finish_stage(seeded.running_stage, slipway_store::StageState::Succeeded, None).await.unwrap();
    while !seen.contains("event: eof") {
        seen.push_str(&next().await);
    }
    // Resuming after chunk 0 sends only what came after it.
    let mut request = get(&format!("/api/v1/builds/{}/logs/test/stream", seeded.running));
    request.headers_mut().insert("last-event-id", "0".parse().unwrap());
    let (_, _, resumed) = call(&app, request).await;
    assert!(!resumed.contains("running tests/run.sh") && resumed.contains("test 1 passed"), "{resumed}");
    assert!(resumed.contains("event: eof"));
}

#[tokio::test]
async fn every_documented_api_route_is_served() {
    let seeded = seed().await;
    let app = slipway_web::router(state(&seeded.store));
    let doc: serde_json::Value = serde_json::from_str(&call(&app, get("/api/v1/openapi.json")).await.2).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{app}", "demo")
            .replace("{job}", "web")
            .replace("{tag}", "latest")
            .replace("{id}", &seeded.failed.to_string())
            .replace("{stage}", "checkout");
        for method in item.as_object().unwrap().keys() {
            let request = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(format!("/api/v1{concrete}"))
                .body(Body::empty())
                .unwrap();
            let (status, _, body) = call(&app, request).await;
            assert!(!body.contains("nothing at"), "{method} {path} is not routed: {status} {body}");
            if method == "post" {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a token");
            }
        }
    }
}

#[tokio::test]
async fn signed_pushes_queue_the_projects_of_that_branch() {
    let seeded = seed().await;
    let mut config = slipway_web::WebConfig::new("127.0.0.1:5555");
    config.webhook_secret = Some("hook-secret".into());
    let app = slipway_web::router(slipway_web::AppState::new(seeded.store.clone(), config, None));
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let payload = |branch: &str| {
        serde_json::json!({
            "ref": format!("refs/heads/{branch}"),
            "after": commit,
            "repository": { "clone_url": "https://git.example/web.git", "html_url": "https://git.example/web" }
        })
        .to_string()
    };
    let hook = |forge: &str, headers: &[(&str, String)], body: String| {
        let mut request = Request::post(format!("/hooks/{forge}")).header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.body(Body::from(body)).unwrap()
    };
    let body = payload("main");
    let signature = format!("sha256={}", slipway_web::hmac_sha256_hex(b"hook-secret", body.as_bytes()));

    // Unsigned, wrongly signed, or signed with another secret: refused.
    let github = |signature: String| vec![("x-github-event", "push".to_string()), ("x-hub-signature-256", signature)];
    assert_eq!(call(&app, hook("github", &github(String::new()), body.clone())).await.0, StatusCode::UNAUTHORIZED);
    let forged = format!("sha256={}", slipway_web::hmac_sha256_hex(b"guess", body.as_bytes()));
    assert_eq!(call(&app, hook("github", &github(forged), body.clone())).await.0, StatusCode::UNAUTHORIZED);

    let started = std::time::Instant::now();
    let (status, _, answer) = call(&app, hook("github", &github(signature.clone()), body.clone())).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["queued"][0]["image"], "demo/web:latest", "{answer}");
    assert!(took < std::time::Duration::from_secs(1), "queued in {took:?}");
    let project = seeded.store.project_by_image("demo/web:latest").await.unwrap().unwrap();
    let queued = seeded.store.builds_of(project.id, 1).await.unwrap().remove(0);
    assert_eq!(queued.causes, ["branch main moved to 0123456789ab"]);
    assert!(!answer.to_string().contains(SECRET_PASSWORD));

    // The same push from Gitea and GitLab joins the build already queued.
    let gitea = vec![
        ("x-gitea-event", "push".to_string()),
        ("x-gitea-signature", slipway_web::hmac_sha256_hex(b"hook-secret", body.as_bytes())),
    ];
    let (status, _, answer) = call(&app, hook("gitea", &gitea, body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(answer.contains("\"merged\":true"), "{answer}");
    let gitlab = vec![("x-gitlab-event", "Push Hook".to_string()), ("x-gitlab-token", "hook-secret".to_string())];
    let gitlab_body = serde_json::json!({
        "ref": "refs/heads/main", "after": commit, "project": { "git_http_url": "https://git.example/web.git" }
    })
    .to_string();
    assert_eq!(call(&app, hook("gitlab", &gitlab, gitlab_body)).await.0, StatusCode::ACCEPTED);
    let wrong_token = vec![("x-gitlab-event", "Push Hook".to_string()), ("x-gitlab-token", "nope".to_string())];
    assert_eq!(call(&app, hook("gitlab", &wrong_token, body.clone())).await.0, StatusCode::UNAUTHORIZED);

    // Another branch, another event, a deleted branch, an unknown forge, bad JSON: nothing queued.
    let other = payload("dev");
    let signed =
        |body: &str| github(format!("sha256={}", slipway_web::hmac_sha256_hex(b"hook-secret", body.as_bytes())));
    let (status, _, answer) = call(&app, hook("github", &signed(&other), other.clone())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("no project builds branch dev"), "{answer}");
    let ping = vec![("x-github-event", "ping".to_string()), signed(&body)[1].clone()];
    assert_eq!(call(&app, hook("github", &ping, body.clone())).await.0, StatusCode::OK);
    assert_eq!(call(&app, hook("bitbucket", &[], body.clone())).await.0, StatusCode::NOT_FOUND);
    let (status, _, answer) = call(&app, hook("github", &signed("{oops"), "{oops".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let builds = seeded.store.builds_of(project.id, 100).await.unwrap();
    assert_eq!(builds.iter().filter(|b| b.state == slipway_store::BuildState::Queued).count(), 1);

    // Without a secret configured, webhooks are off.
    let off = slipway_web::router(state(&seeded.store));
    assert_eq!(call(&off, hook("github", &github(signature), body)).await.0, StatusCode::NOT_FOUND);
}
