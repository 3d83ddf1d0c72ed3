//! The pipeline end to end: `slipway run` builds, tests and delivers projects served by a real git daemon,
//! with the real Docker daemon and the registry from scripts/setup; `slipway status` and `slipway logs`
//! say what happened. Each failure case checks the recorded stage and the message a maintainer reads.

#[path = "pipeline/scenario.rs"]
mod scenario;

use scenario::{Db, Entry, Scenario};
use slipway_e2e::harness::pull_digest;

const OK_DOCKERFILE: &str = "FROM slipway/busybox:latest\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n";

fn failing(stem: &str, files: &[(&str, &str)], entry: Entry<'_>, stage: &str, message: &str) -> Scenario {
    let mut s = Scenario::new(stem);
    s.repo(entry.repo, files);
    let job = entry.job.to_string();
    s.project(entry);
    let out = s.run();
    assert_eq!(out.status.code(), Some(1), "run should fail: {}", String::from_utf8_lossy(&out.stderr));
    let project = s.expect(&job, "failed");
    assert_eq!(project["failed_stage"], stage, "{project:#}\n{}", s.logs(&job));
    let error = project["error"].as_str().unwrap_or_default();
    assert!(error.contains(message), "error should mention `{message}`: {error}\n{}", s.logs(&job));
    s
}

#[test]
fn parent_and_child_are_built_tested_and_delivered_by_digest() {
    for db in [Db::Sqlite, Db::Postgres] {
        let mut s = Scenario::with_db("deliver", db);
        let base_commit = s.repo("base", &[("Dockerfile", OK_DOCKERFILE)]);
        s.repo(
            "app",
            &[
                (
                    "Dockerfile",
                    "FROM REGISTRY/APP/base:latest\nEXPOSE 8080\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\"]\n",
                ),
                ("tests/check.sh", "#!/bin/sh\nset -e\ntest \"$(cat /built)\" = built\necho \"checked $IMAGE_NAME\"\n"),
            ],
        );
        s.project(Entry::new("base"));
        s.project(Entry {
            depends_on: "APP/base:latest",
            extra: "    test-script: tests/check.sh\n",
            ..Entry::new("app")
        });
        let out = s.run();
        assert!(
            out.status.success(),
            "run: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for job in ["base", "app"] {
            let project = s.expect(job, "succeeded");
            let digest = project["digest"].as_str().expect("a digest").to_string();
            for tag in ["test", "rc", "latest"] {
                assert_eq!(pull_digest(&format!("{}:{tag}", s.repository(job))), digest, "{job}:{tag}");
            }
        }
        let base = format!("{}:latest", s.repository("base"));
        let labels = std::process::Command::new("docker")
            .args(["image", "inspect", "--format", "{{json .Config.Labels}}", &base])
            .output()
            .expect("docker inspect");
        let labels: serde_json::Value = serde_json::from_slice(&labels.stdout).expect("labels are JSON");
        assert_eq!(labels["org.opencontainers.image.revision"], base_commit.as_str(), "{labels}");
        assert_eq!(labels["org.opencontainers.image.source"], s.git.url("base").as_str(), "{labels}");
        for key in ["created", "title", "version"] {
            assert!(labels[format!("org.opencontainers.image.{key}")].is_string(), "{key}: {labels}");
        }
        let logs = s.logs("app");
        assert!(logs.contains("checked "), "the user test ran: {logs}");
        assert!(logs.contains("port 8080/tcp"), "the port was checked: {logs}");
    }
}

#[test]
fn unreachable_git_url() {
    let mut s = Scenario::new("unreachable");
    s.project(Entry { repo: "nothing-here", ..Entry::new("app") });
    // No repository `nothing-here` exists on the daemon.
    let out = s.run();
    assert_eq!(out.status.code(), Some(1));
    let project = s.expect("app", "failed");
    assert_eq!(project["failed_stage"], "checkout");
    assert!(project["error"].as_str().unwrap_or_default().contains("nothing-here"), "{project:#}");
}

#[test]
fn missing_branch() {
    failing(
        "branch",
        &[("Dockerfile", OK_DOCKERFILE)],
        Entry { branch: "release", ..Entry::new("app") },
        "checkout",
        "release",
    );
}

#[test]
fn missing_target_file() {
    failing(
        "target",
        &[("Dockerfile", OK_DOCKERFILE)],
        Entry { target_file: "Containerfile", ..Entry::new("app") },
        "checkout",
        "target-file `/Containerfile` does not exist",
    );
}

#[test]
fn dockerfile_syntax_error() {
    failing(
        "syntax",
        &[("Dockerfile", "FROM slipway/busybox:latest\nFORM nothing\n")],
        Entry::new("app"),
        "build",
        "unknown instruction",
    );
}

#[test]
fn failing_run_step() {
    failing(
        "runfail",
        &[("Dockerfile", "FROM slipway/busybox:latest\nRUN false\n")],
        Entry::new("app"),
        "build",
        // BuildKit names the step and its exit code.
        "the build failed at [2/2] RUN false: executor failed running [/bin/sh -c false]: exit code: 1",
    );
}

#[test]
fn image_that_crashes_on_start() {
    failing(
        "crash",
        &[("Dockerfile", "FROM slipway/busybox:latest\nCMD [\"sh\", \"-c\", \"exit 3\"]\n")],
        Entry::new("app"),
        "test",
        "starts",
    );
}

#[test]
fn failing_user_test() {
    failing(
        "usertest",
        &[("Dockerfile", OK_DOCKERFILE), ("t/fail.sh", "#!/bin/sh\necho 'expected 2, got 3' >&2\nexit 1\n")],
        Entry { extra: "    test-script: t/fail.sh\n", ..Entry::new("app") },
        "test",
        "t/fail.sh",
    );
}

#[test]
fn user_test_timeout() {
    failing(
        "timeout",
        &[("Dockerfile", OK_DOCKERFILE), ("t/slow.sh", "#!/bin/sh\nsleep 600\n")],
        Entry { extra: "    test-script: t/slow.sh\n    test-timeout: 3s\n", ..Entry::new("app") },
        "test",
        "t/slow.sh",
    );
}

#[test]
fn job_id_mismatch() {
    failing(
        "jobid",
        &[("Dockerfile", OK_DOCKERFILE), ("cccp.yml", "job-id: someone-else\n")],
        Entry::new("app"),
        "checkout",
        "job-id",
    );
}

#[test]
fn a_path_that_escapes_the_repository() {
    let mut s = Scenario::new("escape");
    s.repo("app", &[("Dockerfile", OK_DOCKERFILE)]);
    // A symlink committed in the repository that points out of it.
    let dir = tempfile::tempdir().expect("tmp");
    let work = dir.path();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").current_dir(work).args(args).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // The daemon only serves fetches; push straight to its bare repository.
    let bare = s.git.dir().join("app").display().to_string();
    git(&["clone", "-q", &bare, "."]);
    std::os::unix::fs::symlink("/etc", work.join("ctx")).expect("symlink");
    git(&["add", "ctx"]);
    git(&["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "escape"]);
    git(&["push", "-q", "origin", "HEAD:main"]);
    s.project(Entry { extra: "    build-context: ctx\n", ..Entry::new("app") });
    let out = s.run();
    assert_eq!(out.status.code(), Some(1));
    let project = s.expect("app", "failed");
    assert_eq!(project["failed_stage"], "checkout");
    assert!(
        project["error"].as_str().unwrap_or_default().contains("is a symlink to /etc, outside the checkout"),
        "{project:#}"
    );
}

#[test]
fn failing_prebuild_script() {
    failing(
        "prebuild",
        &[("Dockerfile", OK_DOCKERFILE), ("pre.sh", "#!/bin/sh\necho preparing\nexit 4\n")],
        Entry { extra: "    prebuild-script: pre.sh\n    prebuild-context: /\n", ..Entry::new("app") },
        "prebuild",
        "exited with code 4",
    );
}

#[test]
fn registry_down_at_push() {
    let mut s = Scenario::new("regdown");
    s.registry = "127.0.0.1:9".into(); // discard port: nothing listens
    s.repo("app", &[("Dockerfile", OK_DOCKERFILE)]);
    s.project(Entry::new("app"));
    let out = s.run();
    assert_eq!(out.status.code(), Some(1));
    let project = s.expect("app", "errored");
    assert_eq!(project["failed_stage"], "push", "{project:#}");
    assert!(project["error"].as_str().unwrap_or_default().contains("127.0.0.1:9"), "{project:#}");
}

#[test]
fn failed_parent_skips_its_children() {
    let mut s = Scenario::new("skip");
    s.repo("base", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN false\n")]);
    s.repo("app", &[("Dockerfile", "FROM REGISTRY/APP/base:latest\n")]);
    s.project(Entry::new("base"));
    s.project(Entry { depends_on: "APP/base:latest", ..Entry::new("app") });
    let out = s.run();
    assert_eq!(out.status.code(), Some(1));
    s.expect("base", "failed");
    let child = s.expect("app", "skipped");
    assert!(child["error"].as_str().unwrap_or_default().contains("base"), "{child:#}");
}

#[test]
fn hostile_tests_are_contained_and_fail_only_their_build() {
    let mut s = Scenario::new("hostile");
    let hostile = [
        ("forkbomb", "#!/bin/sh\nf() { f | f & }; f\nsleep 30\n"),
        ("memhog", "#!/bin/sh\nhead -c 2000m /dev/zero | tail > /dev/null\n"),
        ("loop", "#!/bin/sh\nwhile :; do :; done\n"),
        ("network", "#!/bin/sh\nwget -q -T 3 -O - http://127.0.0.1:5555/v2/ || nc -z -w 3 127.0.0.1 5555\n"),
    ];
    for (job, script) in hostile {
        s.repo(job, &[("Dockerfile", OK_DOCKERFILE), ("t/test.sh", script)]);
        s.project(Entry { extra: "    test-script: t/test.sh\n    test-timeout: 10s\n", ..Entry::new(job) });
    }
    s.repo("normal", &[("Dockerfile", OK_DOCKERFILE)]);
    s.project(Entry::new("normal"));
    let out = s.run();
    assert_eq!(out.status.code(), Some(1));
    for (job, _) in hostile {
        let project = s.expect(job, "failed");
        assert_eq!(project["failed_stage"], "test", "{job}: {project:#}");
    }
    s.expect("normal", "succeeded");
}
