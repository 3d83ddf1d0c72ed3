//! A real store (SQLite in a temp dir) holding what workers write: projects, a failed build whose log carries
//! HTML, ANSI colours and error lines, and a running build whose log a test can grow.
#![allow(dead_code)]

use std::time::Duration;

use slipway_store::{BuildOutcome, BuildState, NewBuild, NewProject, StageKind, StageState, Store};
use slipway_web::{AppState, IndexProblem, WebConfig};

pub const SECRET_PASSWORD: &str = "hunter2-do-not-show";

pub struct Seeded {
    pub dir: tempfile::TempDir,
    pub store: Store,
    /// The failed build of demo/web:latest (#1), failing at build.
    pub failed: i64,
    /// Its build stage.
    pub failed_stage: i64,
    /// The running build of demo/api:latest (#1), in its test stage.
    pub running: i64,
    pub running_stage: i64,
}

pub fn project(app: &str, job: &str, depends_on: &[&str]) -> NewProject {
    NewProject {
        image: format!("{app}/{job}:latest"),
        app_id: app.into(),
        job_id: job.into(),
        desired_tag: "latest".into(),
        git_url: format!("https://bob:{SECRET_PASSWORD}@git.example/{job}.git"),
        git_branch: "main".into(),
        git_path: ".".into(),
        target_file: "Dockerfile".into(),
        build_context: "./".into(),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        notify_email: None,
        entry: serde_json::json!({"build_args": {"TOKEN": SECRET_PASSWORD}}),
        index_file: "index/index.d/demo.yaml".into(),
        index_line: 3,
    }
}

pub async fn seed() -> Seeded {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::connect(&Store::sqlite_url(dir.path())).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let web = store.upsert_project(&project("demo", "web", &["demo/base:latest"])).await.expect("project");
    store.upsert_project(&project("demo", "base", &[])).await.expect("project");
    let api = store.upsert_project(&project("demo", "api", &[])).await.expect("project");

    let failed = queue(&store, web.id).await;
    let job = store.claim("seed-worker", Duration::from_secs(60)).await.expect("claim").expect("a job");
    assert_eq!(job.build_id, failed);
    store.set_build_started(failed, "seed-worker").await.expect("started");
    store
        .set_build_commit(failed, "0123456789abcdef0123456789abcdef01234567", "<script>alert('subject')</script>", None)
        .await
        .expect("commit");
    let checkout = store.start_stage(failed, StageKind::Checkout).await.expect("stage");
    store.append_log(checkout.id, "cloning https://git.example/web.git\n").await.expect("log");
    store.finish_stage(checkout.id, StageState::Succeeded, None).await.expect("finish");
    let build_stage = store.start_stage(failed, StageKind::Build).await.expect("stage");
    let mut text = String::new();
    for n in 1..=300 {
        text.push_str(&format!("Step {n}/300 : RUN make part-{n}\n"));
    }
    store.append_log(build_stage.id, &text).await.expect("log");
    store
        .append_log(
            build_stage.id,
            "<script>alert('log')</script>\n\u{1b}[1;31mERROR\u{1b}[0m: make: *** [all] Error 2\n",
        )
        .await
        .expect("log");
    let error = "the command '/bin/sh -c make' returned a non-zero code: 2";
    store.finish_stage(build_stage.id, StageState::Failed, Some(error)).await.expect("finish");
    let outcome =
        BuildOutcome { state: BuildState::Failed, failed_stage: Some(StageKind::Build), error: Some(error.into()) };
    store.finish_build(job.job_id, "seed-worker", &outcome).await.expect("finish build");

    let running = queue(&store, api.id).await;
    store.claim("seed-worker", Duration::from_secs(60)).await.expect("claim").expect("a job");
    store.set_build_started(running, "seed-worker").await.expect("started");
    let test = store.start_stage(running, StageKind::Test).await.expect("stage");
    store.append_log(test.id, "running tests/run.sh\n").await.expect("log");
    Seeded { dir, store, failed, failed_stage: build_stage.id, running, running_stage: test.id }
}

async fn queue(store: &Store, project_id: i64) -> i64 {
    let build = store
        .create_build(&NewBuild {
            project_id,
            causes: vec!["first build".into()],
            parents: Vec::new(),
            priority: 100,
            max_attempts: 3,
            source_image: None,
        })
        .await
        .expect("build");
    build.id
}

/// The server's state over the seeded store, with one index problem to show.
pub fn state(store: &Store) -> AppState {
    let config = WebConfig::new("127.0.0.1:5555");
    config.index_problems.set(vec![IndexProblem {
        file: "index/index.d/broken.yaml".into(),
        line: 7,
        column: 5,
        code: "unknown-field".into(),
        message: "unknown field `gti-url`".into(),
        hint: Some("did you mean `git-url`?".into()),
    }]);
    AppState::new(store.clone(), config, None)
}

/// Creates a token and returns it.
pub async fn token(store: &Store, name: &str) -> String {
    let secret = slipway_web::new_secret().expect("random");
    store.create_token(name, &slipway_web::hash_secret(&secret)).await.expect("token");
    secret
}
