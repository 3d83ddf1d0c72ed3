//! BuildKit builds against the real dockerd (its embedded BuildKit, through `/session` and `/build`), FROM the
//! offline busybox image, with network none.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{BASE, Cleanup, collector, context, docker, spec, unique};
use slipway_docker::{BuildError, syntax_directive};

#[tokio::test]
async fn modern_dockerfile_builds_with_progress_per_step() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-modern"));
    let dockerfile = format!(
        "FROM {BASE} AS tools\nRUN echo tool > /tool\n\
         FROM {BASE} AS other\nRUN echo other > /other\n\
         FROM {BASE} AS final\nARG TARGETARCH\nARG TARGETPLATFORM\n\
         RUN --mount=type=cache,target=/cache echo cached >> /cache/runs && cat /cache/runs | wc -l\n\
         COPY --chmod=751 run.sh /run.sh\nCOPY data.txt /data.txt\n\
         COPY --from=tools /tool /tool\nCOPY --from=other /other /other\n\
         RUN echo arch=$TARGETARCH platform=$TARGETPLATFORM && stat -c %a /run.sh && echo first && sleep 1.5 && echo second\n\
         FROM {BASE} AS unused\nRUN false\n"
    );
    let dir = context(&[("Dockerfile", &dockerfile), ("run.sh", "#!/bin/sh\n"), ("data.txt", "d")]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.target = Some("final".into());
    spec.labels.insert("org.opencontainers.image.revision".into(), "abc\\\n\"quoted\"".into());
    let started = Instant::now();
    let mut seen: Vec<(Duration, String)> = Vec::new();
    let built = docker.build(&spec, &mut |l: &str| seen.push((started.elapsed(), l.to_string()))).await;
    let text: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
    let built = built.unwrap_or_else(|e| panic!("{e}\n{}", text.join("\n")));
    // Output lines are `#N text`.
    let output = |text: &str| seen.iter().find(|(_, l)| l.split_once(' ').map(|(_, t)| t) == Some(text));
    let at = |text: &str| output(text).map(|(t, _)| *t);
    let (first, second) = (at("first").unwrap(), at("second").unwrap());
    assert!(second - first >= Duration::from_secs(1), "output streamed as it came: {text:?}");
    assert!(text.iter().any(|l| l.ends_with(" arch=amd64 platform=linux/amd64")), "{text:?}");
    assert!(text.iter().any(|l| l.ends_with(" 751")), "COPY --chmod: {text:?}");
    assert!(text.iter().any(|l| l.contains("] RUN echo arch=")), "a line per step with its name: {text:?}");
    assert!(text.iter().any(|l| l.starts_with('#') && l.contains(" DONE ") && l.ends_with('s')), "{text:?}");
    assert!(!text.iter().any(|l| l.contains("RUN false")), "the unused stage is not built: {text:?}");
    let config = docker.image_config(&tag).await.unwrap();
    assert_eq!(config.id, built.id);
    assert_eq!(
        config.labels.get("org.opencontainers.image.revision").map(String::as_str),
        Some("abc\\\n\"quoted\""),
        "labels go through the API, whatever they hold"
    );

    // Rebuilt with the cache on: every step is CACHED, and says so.
    spec.no_cache = false;
    let (lines, mut sink) = collector();
    docker.build(&spec, &mut sink).await.unwrap();
    spec.no_cache = false;
    let (lines2, mut sink2) = collector();
    docker.build(&spec, &mut sink2).await.unwrap();
    let lines2 = lines2.lock().unwrap();
    assert!(
        lines2.iter().any(|l| l.contains("RUN echo arch=") && l.ends_with("CACHED")),
        "{lines2:?} / {:?}",
        lines.lock().unwrap()
    );
}

#[tokio::test]
async fn a_secret_reaches_its_step_and_nothing_else() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-secret"));
    let value = format!("s3cr3t-{}-value", std::process::id());
    let dockerfile = format!(
        "FROM {BASE}\nRUN --mount=type=secret,id=token sha256sum /run/secrets/token && cat /run/secrets/token \
         && wc -c /run/secrets/token > /len\n"
    );
    let digest = Command::new("sh").args(["-c", &format!("printf %s {value} | sha256sum")]).output().unwrap();
    let digest = String::from_utf8_lossy(&digest.stdout).split_whitespace().next().unwrap().to_string();
    let dir = context(&[("Dockerfile", &dockerfile)]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.secrets.insert("token".into(), value.clone());
    let (lines, mut sink) = collector();
    let built = docker.build(&spec, &mut sink).await;
    let lines = lines.lock().unwrap().clone();
    built.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    assert!(lines.iter().any(|l| l.contains(&format!(" {digest}  /run/secrets/token"))), "the step read it: {lines:?}");
    assert!(lines.iter().any(|l| l.ends_with(" ****")), "an echoed secret is masked: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains(&value)), "{lines:?}");
    // Not in any layer, nor in the history (the Dockerfile names the value only inside the test expression).
    let saved = Command::new("docker").args(["save", &tag]).output().unwrap();
    assert!(saved.status.success());
    assert!(!contains(&saved.stdout, value.as_bytes()), "the secret is in no layer");
    let history =
        Command::new("docker").args(["history", "--no-trunc", "--format", "{{.CreatedBy}}", &tag]).output().unwrap();
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(history.contains("sha256sum /run/secrets/token") && !history.contains(&value), "{history}");

    // Without the secret, the step fails naming it.
    spec.secrets.clear();
    spec.no_cache = true;
    let err = docker.build(&spec, &mut |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn failures_name_the_step_or_the_line() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-fail"));
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN echo before\nRUN false\nRUN echo never\n"))]);
    let spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    let (lines, mut sink) = collector();
    let err = docker.build(&spec, &mut sink).await.unwrap_err();
    match &err {
        BuildError::Step { step, message } => {
            assert_eq!(step.as_deref(), Some("[3/4] RUN false"), "{:?}", lines.lock().unwrap());
            assert!(message.contains("exit code: 1"), "{message}");
        }
        other => panic!("expected a step error, got {other:?}"),
    }
    assert!(lines.lock().unwrap().iter().any(|l| l.ends_with(" before")));

    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN true\nFORM nothing\n"))]);
    let spec = common::spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    let err = docker.build(&spec, &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::Dockerfile { message } if message.contains("line 3")), "{err:?}");

    let text = format!("# syntax=docker/dockerfile:1.7\nFROM {BASE}\nRUN true\n");
    let dir = context(&[("Dockerfile", &text)]);
    let mut spec = common::spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.syntax = syntax_directive(&text);
    let started = Instant::now();
    let err = docker.build(&spec, &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::Frontend { line: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("remove the line"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn a_flood_of_output_stops_at_the_log_cap() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-yes"));
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN yes\n"))]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.log_cap_bytes = 3 * 1024 * 1024;
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut last = String::new();
    let err = docker
        .build(&spec, &mut |l: &str| {
            bytes += l.len() + 1;
            last = l.to_string();
        })
        .await
        .unwrap_err();
    // BuildKit keeps 1 MiB of a step's output at most; where it cuts, the build stops.
    assert!(matches!(&err, BuildError::OutputClipped { step } if step.contains("RUN yes")), "{err:?}");
    assert!(bytes <= 3 * 1024 * 1024 + 512, "{bytes}");
    assert!(last.contains("so the build was stopped"), "{last}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[tokio::test]
async fn timeout_stops_a_buildkit_build() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-timeout"));
    let dir = context(&[("Dockerfile", &format!("FROM {BASE}\nRUN sleep 60\n"))]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let err = docker.build(&spec, &mut |_| {}).await.unwrap_err();
    assert!(matches!(&err, BuildError::Timeout { step: Some(step), .. } if step.contains("RUN sleep 60")), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_fork_bomb_stays_inside_its_step_limits() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-forkbomb"));
    // The bomb runs for 8 s, then the step reports how far it got and ends.
    let dockerfile = format!(
        "FROM {BASE}\nRUN (b() {{ b | b & }}; b) 2>/dev/null & sleep 8; kill -9 -1 2>/dev/null; sleep 1; \
         echo pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)\n"
    );
    let dir = context(&[("Dockerfile", &dockerfile)]);
    let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
    spec.step_limits =
        Some(slipway_docker::StepLimits { pids: 64, nano_cpus: 500_000_000, memory_bytes: Some(256 << 20) });
    spec.timeout = Duration::from_secs(40);
    let host_pids_before = count_processes();
    let (lines, mut sink) = collector();
    let watcher = std::thread::spawn(|| {
        (0..40)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(200));
                count_processes()
            })
            .max()
            .unwrap_or(0)
    });
    let built = docker.build(&spec, &mut sink).await;
    let peak = watcher.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l == "[slipway] each build step is limited to 64 processes and 0.5 CPUs and 256 MiB"),
        "{lines:?}"
    );
    // The host stayed usable: at most the parent ceiling (4 × 64) more processes than before, far from pid_max.
    assert!(peak <= host_pids_before + 4 * 64 + 50, "host processes peaked at {peak} (before: {host_pids_before})");
    assert!(Command::new("true").status().unwrap().success(), "the host can still fork");
    built.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    assert!(lines.iter().any(|l| l.ends_with(" pids=64")), "the step ran under its own limit: {lines:?}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(count_processes() <= host_pids_before + 20, "the bomb's processes are gone");
    eprintln!("host processes: {host_pids_before} before, {peak} at the peak of the bomb");
}

fn count_processes() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .count()
}

#[tokio::test]
async fn cache_mounts_are_kept_per_project() {
    let docker = docker().await;
    let mut cleanup = Cleanup::default();
    let tag = cleanup.image(unique("bk-cache"));
    let marker = unique("cache").replace('/', "-");
    let text = format!(
        "FROM {BASE}\nARG RUN_ID\nRUN --mount=type=cache,target=/cache echo $RUN_ID >> /cache/{marker} && echo runs=$(wc -l < /cache/{marker})\n"
    );
    let runs = async |scope: &str, run: usize| {
        let scoped = slipway_docker::scope_cache_mounts(&text, scope).unwrap();
        let dir = context(&[("Dockerfile", &scoped)]);
        let mut spec = spec(dir.path(), &dir.path().join("Dockerfile"), &tag);
        spec.build_args.insert("RUN_ID".into(), run.to_string());
        // The layer cache on (as in production); RUN_ID makes the step run each time.
        spec.no_cache = false;
        let (lines, mut sink) = collector();
        docker.build(&spec, &mut sink).await.unwrap();
        let lines = lines.lock().unwrap().clone();
        lines.iter().find_map(|l| l.split_once(' ')?.1.strip_prefix("runs=").map(str::to_string)).unwrap()
    };
    let a = format!("slipway/test-a-{marker}");
    let b = format!("slipway/test-b-{marker}");
    assert_eq!(runs(&a, 1).await, "1");
    assert_eq!(runs(&a, 2).await, "2", "kept between the project's builds");
    assert_eq!(runs(&b, 3).await, "1", "another project's cache is its own");
}
