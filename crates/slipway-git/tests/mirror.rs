//! The mirror's life against a real `git daemon`: damage is repaired by a fresh clone, a crashed clone
//! is cleared, and concurrent checkouts of one repository take turns.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Barrier;
use std::thread;

use common::{GitServer, checkout};
use slipway_git::{MirrorCache, MirrorUse};

#[test]
fn a_mirror_without_objects_is_cloned_again() {
    let server = GitServer::start();
    let source = server.demo_repo("demo/base");
    let url = server.url("demo/base");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    checkout(&cache, &url, "main", &root.path().join("first")).0.unwrap();

    std::fs::remove_dir_all(cache.mirror_dir(&url).join("objects")).unwrap();
    let (result, lines) = checkout(&cache, &url, "main", &root.path().join("second"));
    let checkout = result.unwrap();
    assert_eq!(checkout.mirror, MirrorUse::Cloned);
    assert_eq!(checkout.commit, source.head());
    assert!(lines.iter().any(|l| l.contains("the mirror is damaged")), "{lines:?}");
    assert!(root.path().join("second/README.md").is_file());
}

#[test]
fn a_mirror_without_its_packs_recovers() {
    let server = GitServer::start();
    let source = server.demo_repo("packs");
    let url = server.url("packs");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    checkout(&cache, &url, "main", &root.path().join("first")).0.unwrap();

    let pack_dir = cache.mirror_dir(&url).join("objects/pack");
    for entry in std::fs::read_dir(&pack_dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let (result, lines) = checkout(&cache, &url, "main", &root.path().join("second"));
    let checkout = result.unwrap_or_else(|e| panic!("{e}: {lines:?}"));
    assert_eq!(checkout.commit, source.head());
    assert!(root.path().join("second/scripts/run.sh").is_file());
}

#[test]
fn a_mirror_with_too_many_packs_is_cloned_afresh() {
    let server = GitServer::start();
    server.demo_repo("packs");
    let url = server.url("packs");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    checkout(&cache, &url, "main", &root.path().join("first")).0.unwrap();
    let pack_dir = cache.mirror_dir(&url).join("objects/pack");
    for i in 0..50 {
        std::fs::write(pack_dir.join(format!("pack-{i:040x}.pack")), "").unwrap();
    }

    let (result, lines) = checkout(&cache, &url, "main", &root.path().join("second"));
    assert_eq!(result.unwrap().mirror, MirrorUse::Cloned);
    assert!(lines.iter().any(|l| l.starts_with("the mirror has 51 pack files")), "{lines:?}");
    let packs: Vec<_> = std::fs::read_dir(&pack_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pack"))
        .collect();
    assert_eq!(packs.len(), 1, "{packs:?}");
}

#[test]
fn a_leftover_clone_in_progress_is_cleared() {
    let server = GitServer::start();
    server.demo_repo("crash");
    let url = server.url("crash");
    let root = tempfile::tempdir().unwrap();
    let cache = MirrorCache::new(root.path().join("mirrors"));
    let leftover = std::path::PathBuf::from(format!("{}.tmp", cache.mirror_dir(&url).display()));
    std::fs::create_dir_all(leftover.join("objects")).unwrap();
    std::fs::write(leftover.join("HEAD"), "garbage").unwrap();

    let (result, _) = checkout(&cache, &url, "main", &root.path().join("out"));
    assert_eq!(result.unwrap().mirror, MirrorUse::Cloned);
    assert!(!leftover.exists());
}

#[test]
fn concurrent_checkouts_of_one_repository_both_succeed() {
    let server = GitServer::start();
    let source = server.demo_repo("shared");
    let url = server.url("shared");
    let root = tempfile::tempdir().unwrap();
    // Two caches over one root, as two worker processes on one host would have.
    let caches = [MirrorCache::new(root.path().join("mirrors")), MirrorCache::new(root.path().join("mirrors"))];
    let barrier = Barrier::new(2);
    let results: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = caches
            .iter()
            .enumerate()
            .map(|(i, cache)| {
                let (barrier, url, dest) = (&barrier, &url, root.path().join(format!("out{i}")));
                scope.spawn(move || {
                    barrier.wait();
                    checkout(cache, url, "main", &dest).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    let mut uses: Vec<MirrorUse> = results.iter().map(|c| c.mirror).collect();
    uses.sort_by_key(|u| matches!(u, MirrorUse::Fetched { .. }));
    assert_eq!(uses, [MirrorUse::Cloned, MirrorUse::Fetched { changed: false }]);
    for (i, checkout) in results.iter().enumerate() {
        assert_eq!(checkout.commit, source.head());
        assert!(root.path().join(format!("out{i}/scripts/run.sh")).is_file());
    }
}
