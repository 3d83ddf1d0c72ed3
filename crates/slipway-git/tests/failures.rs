//! Checkouts that fail, against a real `git daemon`: each error names the repository and what to do.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::{GitServer, checkout, checkout_within, free_port};
use slipway_git::{GitError, MirrorCache};

#[test]
fn a_missing_branch_lists_the_branches() {
    let server = GitServer::start();
    server.demo_repo("demo/base");
    let url = server.url("demo/base");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let (result, _) = checkout(&cache, &url, "mian", &root.path().join("out"));
    let err = result.unwrap_err();
    match &err {
        GitError::BranchNotFound { url: shown, branch, available } => {
            assert_eq!(shown, &url);
            assert_eq!(branch, "mian");
            assert_eq!(available, &["dev", "main"]);
        }
        other => panic!("expected BranchNotFound, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!("branch `mian` not found in {url}; it has: dev, main; fix git-branch in the index")
    );
    assert_no_mirror_left(&cache, &url);
}

#[test]
fn a_closed_port_is_unreachable() {
    let url = format!("git://127.0.0.1:{}/demo/base", free_port());
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let (result, _) = checkout(&cache, &url, "main", &root.path().join("out"));
    let err = result.unwrap_err();
    assert!(matches!(&err, GitError::Unreachable { url: shown, .. } if shown == &url), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with(&format!("could not reach {url}: ")), "{message}");
    assert!(message.contains("check git-url in the index"), "{message}");
    assert_no_mirror_left(&cache, &url);
}

#[test]
fn a_repository_the_server_lacks_is_unreachable() {
    let server = GitServer::start();
    let url = server.url("no/such/repo");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let (result, _) = checkout(&cache, &url, "main", &root.path().join("out"));
    let err = result.unwrap_err();
    assert!(matches!(&err, GitError::Unreachable { url: shown, .. } if shown == &url), "{err:?}");
    let message = err.to_string();
    // git daemon says so without telling which (it never reveals whether a path exists).
    assert!(message.contains("access denied or repository not exported"), "{message}");
    assert_no_mirror_left(&cache, &url);
}

#[test]
fn a_passed_deadline_times_out() {
    let server = GitServer::start();
    server.demo_repo("slow");
    let url = server.url("slow");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let (result, _) = checkout_within(&cache, &url, "main", &root.path().join("out"), Duration::ZERO);
    let err = result.unwrap_err();
    assert!(matches!(&err, GitError::Timeout { url: shown, after } if shown == &url && after.is_zero()), "{err:?}");
}

/// The deadline passes mid-transfer (16 MiB of incompressible data cannot arrive in 50 ms): the progress
/// callback aborts, and the half clone is removed.
#[test]
fn a_slow_transfer_times_out_and_leaves_no_mirror() {
    let server = GitServer::start();
    let source = server.demo_repo("big");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..16 * 1024 * 1024 / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    std::fs::write(source.path.join("noise.bin"), noise).unwrap();
    source.commit("add noise");
    let url = server.url("big");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let timeout = Duration::from_millis(50);
    let (result, _) = checkout_within(&cache, &url, "main", &root.path().join("out"), timeout);
    let err = result.unwrap_err();
    assert!(matches!(&err, GitError::Timeout { url: shown, after } if shown == &url && *after == timeout), "{err:?}");
    assert!(err.to_string().contains("did not finish within 50ms"), "{err}");
    assert_no_mirror_left(&cache, &url);
}

#[test]
fn a_non_empty_destination_is_refused() {
    let server = GitServer::start();
    server.demo_repo("full");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let dest = root.path().join("out");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("stale.txt"), "old").unwrap();
    let (result, _) = checkout(&cache, &server.url("full"), "main", &dest);
    let err = result.unwrap_err();
    assert!(matches!(&err, GitError::Checkout { path, .. } if path == &dest), "{err:?}");
    assert!(err.to_string().contains("not empty"), "{err}");
}

/// A server that answers every request with 401: the checkout must fail once, not ask again forever.
#[test]
fn credentials_are_asked_for_once_and_the_password_is_redacted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (requests_tx, requests_rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            if requests_tx.send(()).is_err() {
                return;
            }
        }
    });
    let url = format!("http://robot:s3cret@127.0.0.1:{port}/private.git");
    let root = tempfile::tempdir().unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    let mirrors = root.path().join("mirrors");
    let dest = root.path().join("out");
    thread::spawn(move || {
        let cache = MirrorCache::new(mirrors);
        let _ = done_tx.send(checkout(&cache, &url, "main", &dest).0);
    });
    let result = done_rx.recv_timeout(Duration::from_secs(30)).expect("the checkout loops asking for credentials");
    let err = result.unwrap_err();
    let shown = format!("http://robot:***@127.0.0.1:{port}/private.git");
    assert!(matches!(&err, GitError::AuthRequired { url } if url == &shown), "{err:?}");
    let message = err.to_string();
    assert!(!message.contains("s3cret"), "{message}");
    assert!(message.contains("private repositories are not supported"), "{message}");
    assert!(requests_rx.try_iter().count() <= 3, "asked the server again and again");
}

/// A failed first checkout leaves neither a mirror nor a clone in progress behind.
fn assert_no_mirror_left(cache: &MirrorCache, url: &str) {
    let dir = cache.mirror_dir(url);
    assert!(!dir.exists(), "{} exists", dir.display());
    assert!(!std::path::PathBuf::from(format!("{}.tmp", dir.display())).exists());
}
