//! `slipway index …` as users and CI call it: exit codes, the JSON contract, and golden outputs over real
//! CentOS index files (`tests/data/cccp-index`, which really holds a self-loop on `centos/centos:7`).
//! `SLIPWAY_BLESS=1 cargo test` rewrites the golden files; review the diff before committing it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

fn slipway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("SLIPWAY_CONFIG")
        .output()
        .expect("slipway runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn assert_golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/index/golden").join(name);
    if std::env::var_os("SLIPWAY_BLESS").is_some() {
        fs::write(&path, actual).expect("write golden file");
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(expected == actual, "{name} differs from its golden file; actual:\n{actual}");
}

const CCCP: &str = "tests/data/cccp-index";

#[test]
fn check_names_the_centos_self_loop_at_its_line() {
    let output = slipway(&["index", "check", CCCP]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("error[dependency-cycle]: `centos/centos:7` depends on itself"), "{text}");
    assert!(text.contains("--> tests/data/cccp-index/centos.yaml:264:17"), "{text}");
    assert!(text.contains("264 |     depends-on: centos/centos:7"), "{text}");
    assert_golden("cccp-check.txt", &text);
}

#[test]
fn check_json_follows_the_contract() {
    let output = slipway(&["index", "check", CCCP, "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(report["files"], 3);
    assert_eq!(report["projects"], 86);
    assert_eq!(report["valid"], 85);
    let error = &report["errors"][0];
    for key in ["file", "line", "column", "code", "message"] {
        assert!(!error[key].is_null(), "errors[0].{key} missing: {error}");
    }
    assert_eq!(error["code"], "dependency-cycle");
    assert_eq!(error["line"], 264);
    assert!(report["warnings"].as_array().is_some_and(Vec::is_empty));
    assert_golden("cccp-check.json", &String::from_utf8_lossy(&output.stdout));
}

#[test]
fn show_keeps_every_scalar_as_written() {
    let output = slipway(&["index", "show", CCCP, "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let shown = json(&output);
    let projects = shown["projects"].as_array().expect("projects");
    assert_eq!(projects.len(), 85, "the self-looping entry is left out");
    let find = |image: &str| projects.iter().find(|p| p["image"] == image).unwrap_or_else(|| panic!("{image}"));
    // YAML would read these as numbers; the index keeps them as written.
    assert_eq!(find("centos/moodle:3.1")["desired-tag"], "3.1");
    assert_eq!(find("centos/sentry-sso:8.22")["id"], "146");
    let heketi = find("gluster/storagesig-heketi:testing");
    assert_eq!(heketi["prebuild-script"], "./prepare-build.sh");
    assert_eq!(heketi["file"], "tests/data/cccp-index/gluster.yaml");
    assert_eq!(heketi["parents"], serde_json::json!(["centos/centos:latest"]));
    assert_golden("cccp-show.json", &String::from_utf8_lossy(&output.stdout));
}

#[test]
fn graph_waves_and_descendants() {
    let output = slipway(&["index", "graph", CCCP, "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let waves = json(&output);
    let sizes: Vec<usize> =
        waves["waves"].as_array().expect("waves").iter().map(|w| w.as_array().map_or(0, Vec::len)).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 85);
    assert_golden("cccp-graph.json", &String::from_utf8_lossy(&output.stdout));

    let output =
        slipway(&["index", "graph", CCCP, "--format", "json", "--descendants", "che-stacks/centos-stack-base:latest"]);
    let descendants = json(&output)["descendants"].clone();
    let names: Vec<&str> = descendants.as_array().expect("list").iter().filter_map(Value::as_str).collect();
    assert!(
        names.starts_with(&["che-stacks/centos-go:latest"]) || names.contains(&"che-stacks/centos-jdk8:latest"),
        "{names:?}"
    );
    let jdk8 = names.iter().position(|n| *n == "che-stacks/centos-jdk8:latest").expect("jdk8 below stack-base");
    let vertx = names.iter().position(|n| *n == "che-stacks/vertx:latest").expect("vertx below jdk8");
    assert!(jdk8 < vertx, "descendants come in build order: {names:?}");

    let output = slipway(&["index", "graph", CCCP, "--format", "dot"]);
    let dot = String::from_utf8_lossy(&output.stdout);
    assert!(dot.starts_with("digraph index {"));
    assert!(dot.contains("\"che-stacks/centos-jdk8:latest\" -> \"che-stacks/vertx:latest\";"), "{dot}");
}

#[test]
fn unknown_descendants_image_is_an_error() {
    let output = slipway(&["index", "graph", CCCP, "--descendants", "nobody/nothing:1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nobody/nothing:1"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(slipway(&["index", "check", "no/such/index"]).status.code(), Some(2));
    assert_eq!(slipway(&["index", "check", "--format", "yaml"]).status.code(), Some(2));
    assert_eq!(slipway(&["index", "frobnicate"]).status.code(), Some(2));
}

#[test]
fn changed_checks_only_the_named_files() {
    let dir = std::env::temp_dir().join(format!("slipway-changed-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("index.d")).expect("mkdir");
    for file in ["centos.yaml", "che-stacks.yaml", "gluster.yaml"] {
        fs::copy(repo_root().join(CCCP).join(file), dir.join("index.d").join(file)).expect("copy");
    }
    let dir_arg = dir.to_string_lossy().to_string();
    let changed = |file: &str| dir.join("index.d").join(file).to_string_lossy().to_string();

    // gluster's team is not failed by the self-loop in centos.yaml.
    let output = slipway(&["index", "check", &dir_arg, "--changed", &changed("gluster.yaml"), "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let report = json(&output);
    assert_eq!(
        (report["files"].as_u64(), report["projects"].as_u64(), report["valid"].as_u64()),
        (Some(1), Some(3), Some(3))
    );

    // A change that closes a cycle through another file is reported at the changed entry.
    let gluster = fs::read_to_string(dir.join("index.d/gluster.yaml")).expect("read");
    let cyclic = gluster.replacen("depends-on: centos/centos:latest", "depends-on: che-stacks/centos-go:latest", 1);
    fs::write(dir.join("index.d/gluster.yaml"), cyclic).expect("write");
    let che = fs::read_to_string(dir.join("index.d/che-stacks.yaml")).expect("read");
    fs::write(
        dir.join("index.d/che-stacks.yaml"),
        che.replace(
            "che-stacks/centos-stack-base:latest\n\n  - id: 7",
            "gluster/storagesig-gluster-centos:latest\n\n  - id: 7",
        ),
    )
    .expect("write");
    let output = slipway(&["index", "check", &dir_arg, "--changed", &changed("gluster.yaml"), "--format", "json"]);
    let report = json(&output);
    let _ = fs::remove_dir_all(&dir);
    let codes: Vec<&str> =
        report["errors"].as_array().expect("errors").iter().filter_map(|e| e["code"].as_str()).collect();
    assert!(codes.contains(&"dependency-cycle"), "{report}");
    assert!(
        report["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .all(|e| e["file"].as_str().is_some_and(|f| f.ends_with("gluster.yaml")))
    );
}

#[test]
fn demo_index_is_valid() {
    let output = slipway(&["index", "check"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let output = slipway(&["index", "check", "--format", "json"]);
    let report = json(&output);
    assert_eq!(report["projects"], report["valid"]);
    assert!(report["warnings"].as_array().is_some_and(Vec::is_empty), "{report}");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // Far more output than a pipe buffers (64 KiB), so slipway is still writing when the reader leaves.
    let dir = std::env::temp_dir().join(format!("slipway-pipe-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("mkdir");
    let entries: String = (0..2000)
        .map(|i| {
            format!(
                "  - app-id: big\n    job-id: image-{i}\n    git-url: https://example.org/big/{i}\n    git-branch: main\n    \
                 git-path: /\n    target-file: Dockerfile\n    notify-email: team@example.org\n"
            )
        })
        .collect();
    fs::write(dir.join("big.yaml"), format!("Projects:\n{entries}")).expect("write index");
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["index", "show", &dir.to_string_lossy(), "--format", "json"])
        .current_dir(repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("slipway starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("one line");
    assert_eq!(first.trim(), "{");
    let output = child.wait_with_output().expect("slipway ends");
    let _ = fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
