//! Checkouts against a real `git daemon`: clone, fetch, new commits, tags, file modes and local URLs.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{GitServer, checkout};
use slipway_git::{MirrorCache, MirrorUse};

#[test]
fn first_checkout_clones_shallow_then_fetches_only_what_changed() {
    let server = GitServer::start();
    let source = server.demo_repo("demo/base");
    let url = server.url("demo/base");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));

    let first_dest = root.path().join("first");
    let (first, lines) = checkout(&cache, &url, "main", &first_dest);
    let first = first.unwrap();
    assert_eq!(first.mirror, MirrorUse::Cloned);
    assert!(first.shallow, "a git:// mirror is shallow");
    assert_eq!(first.commit, source.head());
    assert_eq!(first.subject, "add the build files");
    assert_eq!(first.author, "Ada Lovelace <ada@example.com>");
    assert!(first.committed_at > 1_600_000_000);
    assert_eq!(first.semver_tags, ["v1.2.3", "v1.2.3-rc.1"]);
    assert!(lines.iter().any(|l| l.starts_with("cloning branch main from git://127.0.0.1:")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("received ")), "{lines:?}");
    assert_eq!(lines.last().unwrap(), &format!("checked out {} \"add the build files\"", &first.commit[..7]));
    assert!(lines.len() <= 4, "a few lines, not spam: {lines:?}");
    assert_eq!(std::fs::read_to_string(first_dest.join("README.md")).unwrap(), "# demo\n");
    assert!(!first_dest.join(".git").exists());
    assert!(!first_dest.join("dev.txt").exists(), "only main's tree");

    // Unchanged: no download, well within budget.
    let second_dest = root.path().join("second");
    let started = Instant::now();
    let (second, lines) = checkout(&cache, &url, "main", &second_dest);
    let elapsed = started.elapsed();
    let second = second.unwrap();
    assert_eq!(second.mirror, MirrorUse::Fetched { changed: false });
    assert_eq!(second.commit, first.commit);
    assert_eq!(second.semver_tags, first.semver_tags);
    assert!(lines.iter().any(|l| l.starts_with("branch main is unchanged at ")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("received ")), "{lines:?}");
    assert!(elapsed < Duration::from_secs(2), "an unchanged checkout took {elapsed:?}");
    assert_eq!(std::fs::read_to_string(second_dest.join("Dockerfile")).unwrap(), "FROM slipway/busybox:latest\n");

    // A new commit on the branch is picked up; the old tags no longer point at it.
    source.write("NEW.md", "new\n");
    let new_commit = source.commit("a new commit");
    let third_dest = root.path().join("third");
    let (third, _) = checkout(&cache, &url, "main", &third_dest);
    let third = third.unwrap();
    assert_eq!(third.mirror, MirrorUse::Fetched { changed: true });
    assert_eq!(third.commit, new_commit);
    assert_eq!(third.subject, "a new commit");
    assert!(third.semver_tags.is_empty());
    assert!(third.shallow);
    assert_eq!(std::fs::read_to_string(third_dest.join("NEW.md")).unwrap(), "new\n");
    // The mirror's shallow boundary stays consistent across depth-1 fetches: git itself agrees.
    let fsck = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "fsck", "--connectivity-only", "--no-dangling"])
        .current_dir(cache.mirror_dir(&url))
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(fsck.status.success(), "git fsck: {}", String::from_utf8_lossy(&fsck.stderr));

    // Another branch of the same repository shares the mirror.
    let dev_dest = root.path().join("dev");
    let (dev, _) = checkout(&cache, &url, "dev", &dev_dest);
    let dev = dev.unwrap();
    assert_eq!(dev.mirror, MirrorUse::Fetched { changed: true });
    assert_eq!(dev.subject, "dev work");
    assert!(dev_dest.join("dev.txt").is_file());
}

#[test]
fn exec_bits_and_symlinks_are_preserved() {
    let server = GitServer::start();
    server.demo_repo("modes");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let dest = root.path().join("out");
    checkout(&cache, &server.url("modes"), "main", &dest).0.unwrap();

    let script = std::fs::metadata(dest.join("scripts/run.sh")).unwrap();
    assert!(script.is_file());
    assert_ne!(script.permissions().mode() & 0o111, 0, "run.sh is executable");
    let readme = std::fs::metadata(dest.join("README.md")).unwrap();
    assert_eq!(readme.permissions().mode() & 0o111, 0, "README.md is not executable");

    let link = std::fs::symlink_metadata(dest.join("link")).unwrap();
    assert!(link.file_type().is_symlink());
    assert_eq!(std::fs::read_link(dest.join("link")).unwrap().to_str(), Some("README.md"));
    // A link that leads outside is written as a link, never followed.
    let escape = dest.join("scripts/escape");
    assert!(std::fs::symlink_metadata(&escape).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_link(&escape).unwrap().to_str(), Some("../outside"));
    assert!(!root.path().join("outside").exists());
}

#[test]
fn file_urls_and_plain_paths_check_out_full_history() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = common::SourceRepo::demo(&source_dir.path().join("local"));
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));

    let (by_url, _) = checkout(&cache, &source.file_url(), "main", &root.path().join("a"));
    let by_url = by_url.unwrap();
    assert_eq!(by_url.mirror, MirrorUse::Cloned);
    assert!(!by_url.shallow, "the local transport cannot fetch shallow");
    assert_eq!(by_url.commit, source.head());
    assert_eq!(by_url.semver_tags, ["v1.2.3", "v1.2.3-rc.1"]);
    assert!(root.path().join("a/scripts/run.sh").is_file());

    let (again, _) = checkout(&cache, &source.file_url(), "main", &root.path().join("b"));
    assert_eq!(again.unwrap().mirror, MirrorUse::Fetched { changed: false });

    let plain = source.path.to_str().unwrap();
    let (by_path, _) = checkout(&cache, plain, "dev", &root.path().join("c"));
    let by_path = by_path.unwrap();
    assert_eq!(by_path.mirror, MirrorUse::Cloned, "a plain path is another URL, with its own mirror");
    assert!(!by_path.shallow);
    assert_eq!(by_path.subject, "dev work");
}
