//! A real git server for pipeline tests: `git daemon` on a free loopback port serving bare repositories
//! made with the `git` CLI from file lists. Dropping the server kills the daemon and removes its files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::registry::free_port;

pub struct GitServer {
    root: tempfile::TempDir,
    port: u16,
    daemon: Child,
}

/// A file of a test repository: path, content, executable or not.
pub struct RepoFile<'a> {
    pub path: &'a str,
    pub content: &'a str,
    pub executable: bool,
}

impl<'a> RepoFile<'a> {
    pub fn new(path: &'a str, content: &'a str) -> Self {
        RepoFile { path, content, executable: false }
    }

    pub fn executable(path: &'a str, content: &'a str) -> Self {
        RepoFile { path, content, executable: true }
    }
}

impl GitServer {
    pub fn start() -> GitServer {
        let root = tempfile::tempdir().expect("a temp dir for the git server");
        let port = free_port();
        // The daemon itself, not the `git` wrapper: killing the wrapper would leave the daemon running.
        let exec_path = Command::new("git").arg("--exec-path").output().expect("git runs (run scripts/setup)");
        let exec_path = String::from_utf8_lossy(&exec_path.stdout).trim().to_string();
        let daemon = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1", "--informative-errors"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.path().display()))
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts (is git installed? run scripts/setup)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not listen on 127.0.0.1:{port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        GitServer { root, port, daemon }
    }

    /// `git://127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }

    /// Creates (or adds a commit to) repository `name` on `branch` with `files`; returns the commit id.
    pub fn commit(&self, name: &str, branch: &str, message: &str, files: &[RepoFile<'_>]) -> String {
        let bare = self.root.path().join(name);
        if !bare.exists() {
            git(self.root.path(), &["init", "-q", "--bare", "-b", branch, name]);
        }
        let work = tempfile::tempdir().expect("a work tree");
        let work = work.path();
        git(work, &["init", "-q", "-b", branch]);
        git(work, &["remote", "add", "origin", &bare.display().to_string()]);
        if git_ok(work, &["fetch", "-q", "origin", branch]) {
            git(work, &["checkout", "-q", "-B", branch, "FETCH_HEAD"]);
        }
        for file in files {
            let path = work.join(file.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("a directory in the work tree");
            }
            std::fs::write(&path, file.content).expect("a file in the work tree");
            if file.executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            }
        }
        git(work, &["add", "-A"]);
        git(
            work,
            &[
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.org",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                message,
            ],
        );
        git(work, &["push", "-q", "origin", &format!("HEAD:refs/heads/{branch}")]);
        let out = Command::new("git").current_dir(work).args(["rev-parse", "HEAD"]).output().expect("rev-parse");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Tags the tip of `branch` in repository `name`.
    pub fn tag(&self, name: &str, branch: &str, tag: &str) {
        git(&self.root.path().join(name), &["tag", tag, branch]);
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().to_path_buf()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").current_dir(dir).args(args).output().expect("git runs");
    assert!(
        out.status.success(),
        "git {} in {} failed: {}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn git_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("git").current_dir(dir).args(args).output().is_ok_and(|o| o.status.success())
}
