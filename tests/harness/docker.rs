//! Image helpers through the real Docker CLI: build a local image with incompressible content, push it,
//! pull it back and read digests. Every Docker command runs with `--network none` where it builds.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::token;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A number unique within this test process.
pub(crate) fn next_id() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A repository name unique to this process and call, so tests can run in parallel (and several test binaries
/// at once): `slipway-test/<stem>-<pid>-<n>`. The stem is lower-cased and anything outside `[a-z0-9-]` becomes
/// `-`. Add a tag yourself (`format!("{name}:v1")`).
pub fn unique_name(stem: &str) -> String {
    let stem: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    format!("slipway-test/{stem}-{}-{}", std::process::id(), next_id())
}

/// Runs `docker [--config DIR] args…` (with `stdin` written to its standard input), returning its output
/// whatever its exit status. Panics only when docker cannot be run at all.
pub(crate) fn docker_output(config: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new("docker");
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!("cannot run `docker {}`: {e}; install docker.io (run scripts/setup)", args.join(" "))
    });
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("docker's stdin was requested as a pipe");
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to the stdin of `docker {}`: {e}", args.join(" ")));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("cannot wait for `docker {}`: {e}", args.join(" ")))
}

/// Like [`docker_output`], panicking with the output and a hint when docker fails.
pub(crate) fn docker(config: Option<&Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let output = docker_output(config, args, stdin);
    assert!(
        output.status.success(),
        "`docker {}` failed ({}); is dockerd running and is the base image there? run scripts/setup\n\
         stdout: {}\nstderr: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Builds `tag` from the offline base image (`slipway/busybox:latest`, or `SLIPWAY_BASE_IMAGE`) plus one layer
/// holding `size_bytes` of random, incompressible bytes in `/data` (and a nonce, so two builds never share
/// that layer). Built with `--network none`. Returns the local image ID (`sha256:…`).
pub fn build_image(tag: &str, size_bytes: u64) -> String {
    let id = next_id();
    let context = std::env::temp_dir().join(format!("slipway-harness-build-{}-{id}", std::process::id()));
    std::fs::create_dir_all(&context)
        .unwrap_or_else(|e| panic!("cannot create the build context {}: {e}", context.display()));
    let nonce = format!("{}-{id}-{}", std::process::id(), token::random_hex(8));
    let dockerfile = format!(
        "FROM {}\nRUN echo {nonce} > /nonce && head -c {size_bytes} /dev/urandom > /data\n",
        crate::base_image()
    );
    std::fs::write(context.join("Dockerfile"), dockerfile)
        .unwrap_or_else(|e| panic!("cannot write the Dockerfile in {}: {e}", context.display()));
    let context_arg = context.to_string_lossy().to_string();
    let output = docker_output(None, &["build", "--network", "none", "-q", "-t", tag, &context_arg], None);
    let _ = std::fs::remove_dir_all(&context);
    assert!(
        output.status.success(),
        "`docker build` of {tag} failed ({}); is dockerd running and does the base image {} exist? run \
         scripts/setup\nstdout: {}\nstderr: {}",
        output.status,
        crate::base_image(),
        String::from_utf8_lossy(&output.stdout).trim(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let image_id = text(&output);
    assert!(image_id.starts_with("sha256:"), "`docker build -q` printed {image_id:?}, not an image ID");
    image_id
}

/// The repository of a reference: `127.0.0.1:5555/a/b:tag` or `…/a/b@sha256:…` → `127.0.0.1:5555/a/b`.
pub(crate) fn repository_of(reference: &str) -> &str {
    if let Some((repository, _)) = reference.split_once('@') {
        return repository;
    }
    match reference.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => reference,
    }
}

/// The digest Docker recorded for `reference` in its repository (`docker inspect … RepoDigests`).
fn repo_digest(config: Option<&Path>, reference: &str) -> Option<String> {
    let output = docker(config, &["image", "inspect", "--format", "{{json .RepoDigests}}", reference], None);
    let digests: Vec<String> = serde_json::from_str(&text(&output)).ok()?;
    let prefix = format!("{}@", repository_of(reference));
    digests.iter().find_map(|d| d.strip_prefix(&prefix)).map(str::to_string)
}

/// `docker tag` + `docker push` with the Docker client config in `config` (None: the default one).
pub(crate) fn push_with(config: Option<&Path>, local_tag: &str, registry_ref: &str) -> String {
    docker(config, &["tag", local_tag, registry_ref], None);
    let output = docker(config, &["push", registry_ref], None);
    // The last line of a push reads `<tag>: digest: sha256:… size: N`.
    let printed = text(&output);
    let digest = printed
        .lines()
        .filter_map(|line| line.split_once("digest: ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_whitespace().next())
        .find(|d| d.starts_with("sha256:"))
        .map(str::to_string)
        .or_else(|| repo_digest(config, registry_ref));
    digest.unwrap_or_else(|| panic!("`docker push {registry_ref}` succeeded but printed no digest:\n{printed}"))
}

/// `docker pull` with the Docker client config in `config`; the digest of what was pulled.
pub(crate) fn pull_with(config: Option<&Path>, reference: &str) -> String {
    let output = docker(config, &["pull", reference], None);
    let printed = text(&output);
    let digest = printed
        .lines()
        .find_map(|line| line.strip_prefix("Digest: "))
        .map(|d| d.trim().to_string())
        .or_else(|| repo_digest(config, reference));
    digest.unwrap_or_else(|| panic!("`docker pull {reference}` succeeded but printed no digest:\n{printed}"))
}

/// Tags `local_tag` as `registry_ref` (`127.0.0.1:PORT/name:tag`, a tag is required) and pushes it anonymously
/// with the default Docker config; returns the pushed manifest digest (`sha256:…`). The local tag
/// `registry_ref` stays: remove it with [`remove_local`] or a [`LocalTags`]. For a [`Registry`] the harness
/// started, use [`Registry::push`], which logs in when the registry has credentials.
///
/// [`Registry`]: super::Registry
/// [`Registry::push`]: super::Registry::push
pub fn push(local_tag: &str, registry_ref: &str) -> String {
    push_with(None, local_tag, registry_ref)
}

/// Pulls `reference` (by tag or `name@sha256:…`) with the Docker CLI and returns the manifest digest Docker
/// resolved: the proof that the registry serves it. Anonymous, default Docker config; the pulled tag stays
/// local (add it to a [`LocalTags`]). For a harness registry with credentials use
/// [`Registry::pull_digest`](super::Registry::pull_digest).
pub fn pull_digest(reference: &str) -> String {
    pull_with(None, reference)
}

/// Removes local tags or images (`docker rmi -f`); ones already gone are ignored, other failures are printed
/// but do not fail the test.
pub fn remove_local(references: &[&str]) {
    if references.is_empty() {
        return;
    }
    let mut args = vec!["rmi", "-f"];
    args.extend_from_slice(references);
    let output = docker_output(None, &args, None);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let unexpected: Vec<&str> = stderr.lines().filter(|l| !l.contains("No such image")).collect();
        if !unexpected.is_empty() {
            eprintln!("harness: could not remove local images {references:?}: {}", unexpected.join("\n"));
        }
    }
}

/// Local tags to remove when this value is dropped (also when the test panics). Add every tag a test
/// creates: the one it builds, the `registry_ref` a push tagged, what it pulled.
#[derive(Debug, Default)]
pub struct LocalTags {
    tags: Vec<String>,
}

impl LocalTags {
    pub fn new() -> LocalTags {
        LocalTags::default()
    }

    /// Remembers `tag` for removal and returns it.
    pub fn add(&mut self, tag: impl Into<String>) -> String {
        let tag = tag.into();
        self.tags.push(tag.clone());
        tag
    }

    /// The tags that will be removed.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Keeps the tags (for looking at them after the test) and returns them.
    pub fn keep(mut self) -> Vec<String> {
        std::mem::take(&mut self.tags)
    }
}

impl Drop for LocalTags {
    fn drop(&mut self) {
        let tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        remove_local(&tags);
    }
}
