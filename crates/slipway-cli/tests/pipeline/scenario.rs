//! One pipeline scenario: its own git server, index, data dir and database, and a unique app-id so scenarios
//! run side by side against the shared Docker daemon and registry from scripts/setup.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use slipway_e2e::harness::{GitServer, Registry, RepoFile};

pub struct Scenario {
    pub git: GitServer,
    pub app: String,
    dir: tempfile::TempDir,
    pub database: String,
    pub registry: String,
    projects: Vec<String>,
}

/// A project entry of the scenario's index; `extra` is more YAML lines (already indented by 4).
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    pub job: &'a str,
    pub repo: &'a str,
    pub branch: &'a str,
    pub target_file: &'a str,
    pub depends_on: &'a str,
    pub extra: &'a str,
}

impl<'a> Entry<'a> {
    pub fn new(job: &'a str) -> Self {
        Entry { job, repo: job, branch: "main", target_file: "Dockerfile", depends_on: "null", extra: "" }
    }
}

#[derive(Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Scenario {
    pub fn new(stem: &str) -> Scenario {
        Scenario::with_db(stem, Db::Sqlite)
    }

    pub fn with_db(stem: &str, db: Db) -> Scenario {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let app = format!("{stem}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = tempfile::tempdir().expect("a scenario dir");
        let database = match db {
            Db::Sqlite => format!("sqlite://{}", dir.path().join("slipway.db").display()),
            Db::Postgres => slipway_e2e::postgres_database(&app),
        };
        Scenario { git: GitServer::start(), app, dir, database, registry: Registry::shared(), projects: Vec::new() }
    }

    /// Adds a project to the index; its repository is `entry.repo` on the scenario's git server.
    pub fn project(&mut self, entry: Entry<'_>) -> &mut Self {
        let url = self.git.url(entry.repo);
        self.projects.push(format!(
            "  - id: {id}\n    app-id: {app}\n    job-id: {job}\n    git-url: {url}\n    git-branch: {branch}\n    \
             git-path: /\n    target-file: {target}\n    desired-tag: latest\n    notify-email: team@example.org\n    \
             depends-on: {depends}\n{extra}",
            id = self.projects.len() + 1,
            app = self.app,
            job = entry.job,
            branch = entry.branch,
            target = entry.target_file,
            depends = entry.depends_on.replace("APP", &self.app),
            extra = entry.extra,
        ));
        self
    }

    /// Commits `files` to repository `repo` (branch main); `APP` in a file becomes the app-id and `REGISTRY`
    /// the registry address.
    pub fn repo(&self, repo: &str, files: &[(&str, &str)]) -> String {
        let texts: Vec<(String, String)> = files
            .iter()
            .map(|(path, text)| (path.to_string(), text.replace("APP", &self.app).replace("REGISTRY", &self.registry)))
            .collect();
        let files: Vec<RepoFile<'_>> = texts
            .iter()
            .map(
                |(path, text)| {
                    if path.ends_with(".sh") { RepoFile::executable(path, text) } else { RepoFile::new(path, text) }
                },
            )
            .collect();
        self.git.commit(repo, "main", "test commit", &files)
    }

    pub fn index_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("index");
        std::fs::create_dir_all(dir.join("index.d")).expect("index dir");
        std::fs::write(dir.join(self.index_file()), self.index_text()).expect("index file");
        dir
    }

    /// The index file's path inside an index directory.
    pub fn index_file(&self) -> String {
        format!("index.d/{}.yaml", self.app)
    }

    /// The index file's text, with the projects added so far.
    pub fn index_text(&self) -> String {
        format!("Projects:\n{}", self.projects.join("\n"))
    }

    /// Forgets the projects added so far (to write an index without them).
    #[allow(dead_code)]
    pub fn clear_projects(&mut self) {
        self.projects.clear();
    }

    pub fn image(&self, job: &str) -> String {
        format!("{}/{job}:latest", self.app)
    }

    pub fn repository(&self, job: &str) -> String {
        format!("{}/{}/{job}", self.registry, self.app)
    }

    pub fn slipway(&self, args: &[&str]) -> Output {
        slipway_in(self.dir.path(), args, &self.database, &self.registry)
    }

    /// `slipway ARGS` for this scenario, to start in the background.
    #[allow(dead_code)]
    pub fn command(&self, args: &[&str]) -> Command {
        command_in(self.dir.path(), args, &self.database, &self.registry)
    }

    /// `slipway run` over the whole index.
    pub fn run(&self) -> Output {
        let index = self.index_dir();
        self.slipway(&["run", "--index", &index.display().to_string(), "--workers", "2"])
    }

    /// `slipway status --format json`, by image.
    pub fn status(&self) -> serde_json::Map<String, serde_json::Value> {
        let out = self.slipway(&["status", "--format", "json"]);
        assert!(out.status.success(), "status failed: {}", String::from_utf8_lossy(&out.stderr));
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
        value["projects"]
            .as_array()
            .expect("projects")
            .iter()
            .map(|p| (p["image"].as_str().unwrap_or_default().to_string(), p.clone()))
            .collect()
    }

    /// The status of `job`, after asserting its state.
    pub fn expect(&self, job: &str, state: &str) -> serde_json::Value {
        let status = self.status();
        let project =
            status.get(&self.image(job)).cloned().unwrap_or_else(|| panic!("no {} in {status:?}", self.image(job)));
        assert_eq!(project["state"], state, "{job}: {project:#}\nlog:\n{}", self.logs(job));
        project
    }

    /// Every stage log of `job`'s last build.
    pub fn logs(&self, job: &str) -> String {
        let out = self.slipway(&["logs", &self.image(job)]);
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    #[allow(dead_code)]
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

pub fn slipway_in(data_dir: &Path, args: &[&str], database: &str, registry: &str) -> Output {
    command_in(data_dir, args, database, registry).output().expect("slipway runs")
}

/// `slipway ARGS` on the scenario's database, registry and data dir, not started yet.
pub fn command_in(data_dir: &Path, args: &[&str], database: &str, registry: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .args(args)
        .env_remove("SLIPWAY_CONFIG")
        .env("SLIPWAY_DATABASE", database)
        .env("SLIPWAY_REGISTRY", registry)
        .env("SLIPWAY_DATA_DIR", data_dir)
        .env("HOME", std::env::temp_dir())
        .current_dir(data_dir);
    command
}

/// A Dockerfile whose image prints `version` (from /built).
#[allow(dead_code)]
pub fn dockerfile(version: &str) -> String {
    format!("FROM slipway/busybox:latest\nRUN echo {version} > /built\nCMD [\"cat\", \"/built\"]\n")
}

/// Polls `found` every 200 ms until it gives a value; fails saying `what` after `seconds`.
#[allow(dead_code)]
pub fn wait_for<T>(seconds: u64, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "not within {seconds} s: {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `psql URL -tA -c SQL` on a [`Db::Postgres`] scenario's database: the rows, `|`-separated.
#[allow(dead_code)]
pub fn sql(database: &str, query: &str) -> Vec<String> {
    let out = Command::new("psql").args([database, "-tA", "-c", query]).output().expect("psql runs");
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}
