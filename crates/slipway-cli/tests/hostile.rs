//! Hostile tests end to end: one `slipway run` builds a normal project beside projects whose tests fork-bomb,
//! eat memory, loop forever, print a gigabyte, reach for the network and write outside their container. Each
//! hostile one is contained and fails only itself, with a reason its maintainer can read; the normal one is
//! delivered; nothing reaches the host.

#[allow(dead_code)]
#[path = "pipeline/scenario.rs"]
mod scenario;

use std::time::{Duration, Instant};

use scenario::{Entry, Scenario, dockerfile};

/// `(job, test script, extra index fields)`. The fork bomb's script ends in `exec sleep` (no fork needed), so it
/// outlives the bomb however fast the pids limit is reached, and the time limit is what ends it.
const HOSTILE: [(&str, &str, &str); 6] = [
    ("forkbomb", "bomb() { bomb | bomb & }; bomb; exec sleep 60\n", "    test-timeout: 5s\n"),
    ("memhog", "head -c 900m /dev/zero | tail\n", ""),
    ("endless", "while :; do :; done\n", "    test-timeout: 3s\n"),
    ("flood", "yes 'flood flood flood flood flood flood flood flood flood flood' | head -c 1100000000\n", ""),
    (
        "network",
        "if wget -q -T 2 -O /dev/null http://127.0.0.1:5555/v2/; then echo 'reached the registry'; exit 0; fi\n\
         nc -w 2 1.1.1.1 53 </dev/null && { echo 'reached the internet'; exit 0; }\necho 'no network'; exit 1\n",
        "",
    ),
    (
        "escape",
        "touch /escaped-MARK 2>&1; echo '/' written: $?; echo x > /tmp/inside && echo '/tmp' written\n\
         mkdir -p /proc/escaped-MARK 2>&1; exit 1\n",
        "",
    ),
];

#[test]
fn hostile_tests_fail_only_themselves_and_a_normal_build_beside_them_is_delivered() {
    let mut s = Scenario::new("hostile");
    let mark = s.app.clone();
    s.repo("normal", &[("Dockerfile", &dockerfile("normal"))]);
    s.project(Entry::new("normal"));
    for (job, script, extra) in HOSTILE {
        let script = format!("#!/bin/sh\n{}", script.replace("MARK", &mark));
        s.repo(job, &[("Dockerfile", &dockerfile(job)), ("t/run.sh", &script)]);
        let fields = format!("    test-script: t/run.sh\n{extra}");
        s.project(Entry { extra: &fields, ..Entry::new(job) });
    }
    // A build step that eats memory, under a small build memory limit.
    s.repo("buildhog", &[("Dockerfile", "FROM slipway/busybox:latest\nRUN head -c 900m /dev/zero | tail\n")]);
    s.project(Entry::new("buildhog"));
    std::fs::write(s.data_dir().join("slipway.toml"), "[pipeline]\nbuild_memory_mb = 256\n").expect("configuration");
    let started = Instant::now();
    let index = s.index_dir().display().to_string();
    let run = s.slipway(&["run", "--index", &index, "--workers", "3"]);
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(!run.status.success(), "hostile projects fail: {said}");
    assert!(took < Duration::from_secs(240), "contained in time: {took:?}");

    let normal = s.expect("normal", "succeeded");
    assert!(normal["digest"].as_str().is_some_and(|d| d.starts_with("sha256:")), "{normal:#}");
    for (job, _, _) in HOSTILE {
        let status = s.expect(job, "failed");
        assert_eq!(status["failed_stage"], "test", "{job}: {status:#}");
    }
    let buildhog = s.expect("buildhog", "failed");
    assert_eq!(buildhog["failed_stage"], "build", "{buildhog:#}");
    let killed = buildhog["error"].as_str().unwrap_or_default();
    assert!(killed.contains("build memory limit of 256 MiB"), "{killed}");
    let why = |job: &str| s.expect(job, "failed")["error"].as_str().unwrap_or_default().to_string();
    assert!(why("forkbomb").contains("time") || why("forkbomb").contains("fork"), "{}", why("forkbomb"));
    assert!(why("memhog").to_lowercase().contains("memory"), "{}", why("memhog"));
    assert!(why("endless").contains("3s") || why("endless").contains("time"), "{}", why("endless"));
    let flood = s.logs("flood");
    assert!(flood.contains("[slipway] log capped at"), "the cap is stated in the log");
    assert!(flood.len() < 40 * 1024 * 1024, "the log kept is capped: {} bytes", flood.len());
    let network = s.logs("network");
    assert!(network.contains("no network") && !network.contains("reached"), "{network}");
    let escape = s.logs("escape");
    assert!(escape.contains("Read-only file system"), "the root is read-only: {escape}");
    for path in [format!("/escaped-{mark}"), format!("/proc/escaped-{mark}")] {
        assert!(!std::path::Path::new(&path).exists(), "{path} was written on the host");
    }
    let left = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("name={mark}")])
        .output()
        .expect("docker ps runs");
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty(), "no container is left behind");
}
