//! `slipway image …` and `slipway mirror` against real registries: the shared one from scripts/setup and
//! registries the harness starts. Results are checked by digest with the Docker CLI.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use slipway_e2e::harness::{Auth, LocalTags, Registry, build_image, pull_digest, push, unique_name};

fn slipway(args: &[&str]) -> Output {
    slipway_with(args, &[])
}

fn slipway_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command.args(args).env_remove("SLIPWAY_CONFIG").env("HOME", std::env::temp_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("slipway runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "slipway failed: {}\n{}", stdout(output), String::from_utf8_lossy(&output.stderr));
    stdout(output)
}

/// A small image on the shared registry as `<name>:test`; returns (repository, digest).
fn pushed(tags: &mut LocalTags, stem: &str) -> (String, String) {
    let name = unique_name(stem);
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 256 << 10);
    let repository = format!("{}/{name}", Registry::shared());
    let digest = push(&local, &tags.add(format!("{repository}:test")));
    (repository, digest)
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("slipway-cli-{}-{name}", std::process::id()));
    fs::write(&path, text).expect("write temp file");
    path
}

#[test]
fn tag_tags_inspect_untag_and_copy() {
    let mut tags = LocalTags::new();
    let (repository, digest) = pushed(&mut tags, "cli");
    let said = ok(&slipway(&["image", "tag", &format!("{repository}:test"), "rc", "1.0"]));
    assert!(said.contains(&format!("{repository}:rc -> {digest}")), "{said}");
    assert_eq!(pull_digest(&tags.add(format!("{repository}:rc"))), digest);

    let listed = ok(&slipway(&["image", "tags", &repository]));
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["1.0", "rc", "test"]);

    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&slipway(&["image", "inspect", &format!("{repository}:rc"), "--format", "json"])))
            .expect("json");
    assert_eq!(inspected["digest"], digest.as_str());
    assert_eq!(inspected["platforms"][0]["os"], "linux");
    assert!(inspected["size"].as_u64().is_some_and(|s| s > 256 << 10));

    ok(&slipway(&["image", "untag", &format!("{repository}:rc")]));
    assert_eq!(ok(&slipway(&["image", "tags", &repository])).lines().collect::<Vec<_>>(), ["1.0", "test"]);

    let refused = slipway(&["image", "untag", &format!("{repository}@{digest}")]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("would also remove the tags"), "{refused:?}");

    let copied = ok(&slipway(&["image", "copy", &format!("{repository}:test"), &format!("{repository}-copy:test")]));
    assert!(copied.contains(&digest) && copied.contains("mounted"), "{copied}");

    let missing = slipway(&["image", "tag", &format!("{repository}:nope"), "rc"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains(&format!("{repository}:nope")), "{missing:?}");
    let malformed = slipway(&["image", "tags", "no-registry/name"]);
    assert_eq!(malformed.status.code(), Some(2));
}

#[test]
fn mirror_copies_once_then_says_nothing_to_copy() {
    let mut tags = LocalTags::new();
    let (repository, digest) = pushed(&mut tags, "mirror");
    ok(&slipway(&["image", "tag", &format!("{repository}:test"), "rc"]));
    let (single, single_digest) = pushed(&mut tags, "mirror-one");
    let target = Registry::start(Auth::None);
    let list = temp_file(
        "mirror.toml",
        &format!(
            "[[mirror]]\nfrom = \"{repository}\"\nto = \"{to}/mirrored/all\"\n\n[[mirror]]\nfrom = \"{single}:test\"\nto = \"{to}/mirrored/one:stable\"\n",
            to = target.address()
        ),
    );
    let list_arg = list.to_string_lossy().to_string();

    let planned = ok(&slipway(&["mirror", "--config", &list_arg, "--dry-run"]));
    assert!(planned.contains("dry run: 3 to copy, 0 up to date"), "{planned}");
    let first = ok(&slipway(&["mirror", "--config", &list_arg]));
    assert!(first.contains("mirror: 3 copied, 0 up to date"), "{first}");
    assert_eq!(target.pull_digest("mirrored/all:rc"), digest);
    assert_eq!(target.pull_digest("mirrored/one:stable"), single_digest);

    let second = ok(&slipway(&["mirror", "--config", &list_arg]));
    let _ = fs::remove_file(&list);
    assert!(second.contains("nothing to copy: all 3 image(s) up to date"), "{second}");
}

#[test]
fn credentials_come_from_the_configuration() {
    let registry = Registry::start(Auth::htpasswd("deployer", "from-env-secret"));
    let mut tags = LocalTags::new();
    let name = unique_name("creds");
    let local = tags.add(format!("{name}:built"));
    build_image(&local, 64 << 10);
    registry.push(&local, &format!("{name}:test"));
    tags.add(registry.reference(&format!("{name}:test")));
    let repository = format!("{}/{name}", registry.address());

    let refused = slipway(&["image", "tags", &repository]);
    assert_eq!(refused.status.code(), Some(1));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains(&registry.address()) && message.contains("not authorized"), "{message}");

    let config = temp_file(
        "slipway.toml",
        &format!(
            "[registries.\"{}\"]\nusername = \"deployer\"\npassword_env = \"DEPLOY_PASSWORD\"\n",
            registry.address()
        ),
    );
    let config_arg = config.to_string_lossy().to_string();
    let listed = slipway_with(
        &["--settings", &config_arg, "image", "tags", &repository],
        &[("DEPLOY_PASSWORD", "from-env-secret")],
    );
    let unset = slipway(&["--settings", &config_arg, "image", "tags", &repository]);
    let _ = fs::remove_file(&config);
    assert_eq!(ok(&listed).trim(), "test");
    assert_eq!(unset.status.code(), Some(2));
    let message = String::from_utf8_lossy(&unset.stderr);
    assert!(message.contains("DEPLOY_PASSWORD") && !message.contains("from-env-secret"), "{message}");
}
