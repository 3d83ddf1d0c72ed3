//! A real git server for the tests: source repositories made with the `git` CLI in a temp dir, served by
//! `git daemon` on a free loopback port (killed on drop).

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use slipway_git::{Checkout, CheckoutRequest, GitError, MirrorCache};
use tempfile::TempDir;

pub const TIMEOUT: Duration = Duration::from_secs(30);

pub struct GitServer {
    child: Child,
    pub port: u16,
    pub base: TempDir,
}

impl GitServer {
    /// Starts `git daemon` over a new base directory; retries on another port if the chosen one was taken
    /// between picking and binding.
    pub fn start() -> GitServer {
        let base = tempfile::tempdir().unwrap();
        // `git daemon` would run git-daemon as its child, which killing `git` leaves behind: run it directly.
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
        let daemon = PathBuf::from(String::from_utf8(exec_path.stdout).unwrap().trim()).join("git-daemon");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&daemon)
                .args(["--export-all", "--reuseaddr", "--listen=127.0.0.1"])
                .arg(format!("--port={port}"))
                .arg(format!("--base-path={}", base.path().display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if wait_for_port(&mut child, port) {
                return GitServer { child, port, base };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("git daemon did not start");
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }

    /// A new source repository `<base>/<name>` with the demo content (see [`SourceRepo::demo`]).
    pub fn demo_repo(&self, name: &str) -> SourceRepo {
        SourceRepo::demo(&self.base.path().join(name))
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on (right now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

/// A non-bare repository driven through the `git` CLI, isolated from any user or system config.
pub struct SourceRepo {
    pub path: PathBuf,
}

impl SourceRepo {
    /// Two commits on `main` (the second tagged `v1.2.3`, annotated, and `v1.2.3-rc.1` and `latest`,
    /// lightweight), with an executable script, a symlink and a subdirectory; a `dev` branch one commit
    /// further.
    pub fn demo(path: &Path) -> SourceRepo {
        std::fs::create_dir_all(path).unwrap();
        let repo = SourceRepo { path: path.to_path_buf() };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.write("README.md", "# demo\n");
        repo.commit("first commit");
        repo.write("Dockerfile", "FROM slipway/busybox:latest\n");
        repo.write("scripts/run.sh", "#!/bin/sh\necho ok\n");
        let script = path.join("scripts/run.sh");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("README.md", path.join("link")).unwrap();
        std::os::unix::fs::symlink("../outside", path.join("scripts/escape")).unwrap();
        repo.commit("add the build files\n\nwith a body");
        repo.git(&["tag", "-a", "v1.2.3", "-m", "release 1.2.3"]);
        repo.git(&["tag", "v1.2.3-rc.1"]);
        repo.git(&["tag", "latest"]);
        repo.git(&["checkout", "--quiet", "-b", "dev"]);
        repo.write("dev.txt", "dev\n");
        repo.commit("dev work");
        repo.git(&["checkout", "--quiet", "main"]);
        repo
    }

    pub fn file_url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Commits everything; returns the new commit's id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(&self.path)
            .args(["-c", "core.symlinks=true", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }
}

/// One checkout with the progress lines it reported.
pub fn checkout(
    cache: &MirrorCache,
    url: &str,
    branch: &str,
    dest: &Path,
) -> (Result<Checkout, GitError>, Vec<String>) {
    checkout_within(cache, url, branch, dest, TIMEOUT)
}

pub fn checkout_within(
    cache: &MirrorCache,
    url: &str,
    branch: &str,
    dest: &Path,
    timeout: Duration,
) -> (Result<Checkout, GitError>, Vec<String>) {
    let mut lines = Vec::new();
    let request = CheckoutRequest { url, branch, dest, timeout };
    let result = cache.checkout(&request, &mut |line: &str| lines.push(line.to_string()));
    (result, lines)
}
