//! Shared helpers for the end-to-end tests: the addresses scripts/setup uses, and running a command with a
//! clear failure. These tests need the real services; when one is missing they fail and say to run
//! `scripts/setup`, they never skip.

use std::process::{Command, Output};
pub mod harness;

/// The registry scripts/setup starts (`SLIPWAY_REGISTRY_PORT` overrides the port there and here).
pub fn registry() -> String {
    let port = std::env::var("SLIPWAY_REGISTRY_PORT").unwrap_or_else(|_| "5555".to_string());
    format!("127.0.0.1:{port}")
}

pub fn base_image() -> String {
    std::env::var("SLIPWAY_BASE_IMAGE").unwrap_or_else(|_| "slipway/busybox:latest".to_string())
}

/// Runs `program args…`, panicking with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; run scripts/setup first"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}); run scripts/setup first?\nstdout: {}\nstderr: {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A fresh database named `slipway_test_<pid>_<name>` on the PostgreSQL that scripts/setup runs
/// (`SLIPWAY_TEST_POSTGRES` overrides the server); its URL. The store tests drop the databases of test processes
/// that have ended.
pub fn postgres_database(name: &str) -> String {
    let server =
        std::env::var("SLIPWAY_TEST_POSTGRES").unwrap_or_else(|_| "postgres://slipway@127.0.0.1:5433/slipway".into());
    let db = format!("slipway_test_{}_{}", std::process::id(), name.replace(['-', '.'], "_"));
    let psql = Command::new("psql")
        .args([server.as_str(), "-q", "-c", &format!("CREATE DATABASE {db}")])
        .output()
        .expect("psql runs (scripts/setup installs PostgreSQL)");
    assert!(
        psql.status.success(),
        "cannot create database {db} on {server}: {}; run scripts/setup",
        String::from_utf8_lossy(&psql.stderr)
    );
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    format!("{base}/{db}")
}
