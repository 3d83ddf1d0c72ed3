use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Entry name → (type, content or link target).
fn read_back(archive: &ContextArchive) -> BTreeMap<String, (EntryType, String)> {
    let mut file = archive.file.try_clone().unwrap();
    file.rewind().unwrap();
    let mut tar = tar::Archive::new(file);
    let mut out = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().trim_end_matches('/').to_string();
        let kind = entry.header().entry_type();
        assert_eq!((entry.header().uid().unwrap(), entry.header().gid().unwrap()), (0, 0), "{name} owned by root");
        let body = if kind == EntryType::Symlink {
            entry.link_name().unwrap().unwrap().to_string_lossy().into_owned()
        } else {
            let mut s = String::new();
            entry.read_to_string(&mut s).unwrap();
            s
        };
        out.insert(name, (kind, body));
    }
    out
}

#[test]
fn honours_dockerignore_and_always_sends_dockerfile_and_dockerignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, ".dockerignore", "*.md\n!README.md\nnode_modules\ndocs\n!docs/keep.txt\n.dockerignore\nDockerfile\n");
    write(root, "Dockerfile", "FROM scratch\n");
    write(root, "README.md", "readme");
    write(root, "NOTES.md", "notes");
    write(root, "node_modules/x/index.js", "x");
    write(root, "web/node_modules/y.js", "y");
    write(root, "docs/keep.txt", "keep");
    write(root, "docs/drop.txt", "drop");
    write(root, "src/main.rs", "fn main() {}");
    std::os::unix::fs::symlink("/etc/passwd", root.join("src/passwd")).unwrap();

    let archive = pack_context(root, root, &root.join("Dockerfile")).unwrap();
    let entries = read_back(&archive);
    let names: Vec<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".dockerignore",
            "Dockerfile",
            "README.md",
            "docs/keep.txt",
            "src",
            "src/main.rs",
            "src/passwd",
            "web",
            "web/node_modules",
            "web/node_modules/y.js"
        ]
    );
    assert_eq!(entries["src/passwd"], (EntryType::Symlink, "/etc/passwd".to_string()), "symlink kept, not followed");
    assert_eq!(entries["Dockerfile"].1, "FROM scratch\n");
    assert_eq!(archive.dockerfile_name(), "Dockerfile");
    assert_eq!(archive.entries(), names.len() as u64);
    assert_eq!(archive.bytes(), archive.file.metadata().unwrap().len());
}

#[test]
fn dockerfile_outside_the_context_gets_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ctx/app.txt", "app");
    write(dir.path(), "ctx/.slipway.Dockerfile", "taken");
    write(dir.path(), "docker/Dockerfile.prod", "FROM scratch\nCOPY app.txt /\n");
    let archive =
        pack_context(dir.path(), &dir.path().join("ctx"), &dir.path().join("docker/Dockerfile.prod")).unwrap();
    assert_eq!(archive.dockerfile_name(), ".slipway.Dockerfile.1");
    let entries = read_back(&archive);
    assert_eq!(entries[".slipway.Dockerfile.1"].1, "FROM scratch\nCOPY app.txt /\n");
    assert_eq!(entries[".slipway.Dockerfile"].1, "taken");
}

#[test]
fn dockerfile_in_an_ignored_directory_is_still_sent() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".dockerignore", "build\n");
    write(dir.path(), "build/Dockerfile", "FROM scratch\n");
    write(dir.path(), "build/junk", "junk");
    let archive = pack_context(dir.path(), dir.path(), &dir.path().join("build/Dockerfile")).unwrap();
    assert_eq!(archive.dockerfile_name(), "build/Dockerfile");
    let entries = read_back(&archive);
    assert_eq!(entries.keys().collect::<Vec<_>>(), [".dockerignore", "build/Dockerfile"]);
}

#[test]
fn a_linked_dockerfile_is_sent_as_a_file_but_may_not_leave_the_context() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ctx/real.Dockerfile", "FROM scratch\n");
    std::os::unix::fs::symlink("real.Dockerfile", dir.path().join("ctx/Dockerfile")).unwrap();
    let archive = pack_context(dir.path(), &dir.path().join("ctx"), &dir.path().join("ctx/Dockerfile")).unwrap();
    assert_eq!(read_back(&archive)["Dockerfile"], (EntryType::Regular, "FROM scratch\n".to_string()));

    write(dir.path(), "secret", "s3cret");
    std::os::unix::fs::symlink("../secret", dir.path().join("ctx/Evil")).unwrap();
    let err = pack_context(dir.path(), &dir.path().join("ctx"), &dir.path().join("ctx/Evil")).unwrap_err();
    assert!(matches!(err, ContextError::DockerfileEscapes { .. }), "{err}");
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM scratch\n");
    let cases: Vec<(PathBuf, PathBuf, &str)> = vec![
        (dir.path().join("nope"), dir.path().join("Dockerfile"), "is not a directory"),
        (dir.path().to_path_buf(), dir.path().join("Missing"), "not found"),
    ];
    for (ctx, dockerfile, want) in cases {
        let err = pack_context(dir.path(), &ctx, &dockerfile).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    write(dir.path(), ".dockerignore", "ok\n[z-a]\n");
    let err = pack_context(dir.path(), dir.path(), &dir.path().join("Dockerfile")).unwrap_err().to_string();
    assert!(err.contains(".dockerignore: line 2: invalid pattern `[z-a]`"), "{err}");
}

#[tokio::test]
async fn streams_the_archive_in_chunks() {
    use futures_util::TryStreamExt;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM scratch\n");
    let big = "x".repeat(CHUNK_BYTES + 1000);
    write(dir.path(), "big", &big);
    let archive = pack_context(dir.path(), dir.path(), &dir.path().join("Dockerfile")).unwrap();
    let chunks: Vec<Bytes> = archive.stream().try_collect().await.unwrap();
    assert!(chunks.len() >= 2);
    let mut whole = Vec::new();
    let mut file = archive.file.try_clone().unwrap();
    file.rewind().unwrap();
    file.read_to_end(&mut whole).unwrap();
    assert_eq!(chunks.concat(), whole);
}

#[test]
fn a_context_outside_the_root_is_never_packed() {
    let dir = tempfile::tempdir().unwrap();
    let checkout = dir.path().join("src");
    write(&checkout, "Dockerfile", "FROM scratch\n");
    write(dir.path(), "outside/secret", "s3cret");
    std::os::unix::fs::symlink("/etc", checkout.join("ctx")).unwrap();
    std::os::unix::fs::symlink("../outside", checkout.join("up")).unwrap();
    for linked in ["ctx", "up"] {
        let err = pack_context(&checkout, &checkout.join(linked), &checkout.join("Dockerfile")).unwrap_err();
        assert!(matches!(err, ContextError::OutsideRoot { .. }), "{linked}: {err}");
        assert!(err.to_string().contains("outside the checkout"), "{err}");
    }
}

#[test]
fn a_dockerignore_that_is_no_plain_file_inside_the_context_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    write(&ctx, "Dockerfile", "FROM scratch\n");
    write(dir.path(), "hosts", "[z-a] secret-host-line\n");
    std::os::unix::fs::symlink("../hosts", ctx.join(".dockerignore")).unwrap();
    let err = pack_context(dir.path(), &ctx, &ctx.join("Dockerfile")).unwrap_err().to_string();
    assert!(err.contains("not a regular file") && !err.contains("secret-host-line"), "{err}");
    std::fs::remove_file(ctx.join(".dockerignore")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(ctx.join(".dockerignore")).status().unwrap();
    assert!(fifo.success());
    let err = pack_context(dir.path(), &ctx, &ctx.join("Dockerfile")).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
}
