//! A Docker daemon of the test's own: its socket, data, containerd namespace, cgroup parent and bridge, so it
//! can be killed and started again, or stand for another host, without touching the daemon every other test
//! uses. Its bridge is made for it (a private /24, no iptables rules) and deleted after it: a daemon started
//! with `--bridge=none` would delete the host's `docker0` instead, and `docker run` on the host's default
//! network would fail with "could not find bridge docker0" until dockerd restarted.
// Each test file uses a part of it.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct PrivateDockerd {
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    /// Unique per daemon: its bridge's name, containerd namespace and cgroup parent.
    name: String,
}

impl PrivateDockerd {
    /// A running daemon holding the base image `slipway/busybox:latest` (nothing can be pulled here).
    pub fn start() -> PrivateDockerd {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::Builder::new().prefix("slipway-dockerd-").tempdir_in("/tmp").expect("a directory");
        // At most 15 characters: the bridge's name.
        let name = format!("slw{}-{}", std::process::id() % 10_000_000, NEXT.fetch_add(1, Ordering::Relaxed));
        make_bridge(&name);
        let mut daemon = PrivateDockerd { dir, child: None, name };
        daemon.run();
        let saved = Command::new("sh")
            .arg("-c")
            .arg(format!("docker save slipway/busybox:latest | docker -H {} load -q", daemon.url()))
            .output()
            .expect("docker save | load runs");
        assert!(saved.status.success(), "{}", String::from_utf8_lossy(&saved.stderr));
        daemon
    }

    pub fn url(&self) -> String {
        format!("unix://{}/docker.sock", self.dir.path().display())
    }

    /// `docker -H THIS ARGS`.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker").args(["-H", &self.url()]).args(args).output().expect("docker runs")
    }

    /// Starts the daemon (again) and waits until it answers.
    pub fn run(&mut self) {
        let d = self.dir.path();
        let namespace = self.namespace();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("dockerd.log")).expect("log");
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(self.url())
            .arg(format!("--data-root={}", d.join("root").display()))
            .arg(format!("--exec-root={}", d.join("exec").display()))
            .arg(format!("--pidfile={}", d.join("dockerd.pid").display()))
            .arg(format!("--bridge={}", self.name))
            .args(["--iptables=false", "--ip-masq=false", "--ip-forward=false"])
            .arg(format!("--cgroup-parent={namespace}"))
            .arg(format!("--containerd-namespace={namespace}"))
            .arg(format!("--containerd-plugins-namespace={namespace}-plugins"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("dockerd starts");
        self.child = Some(child);
        let started = Instant::now();
        while !self.docker(&["version"]).status.success() {
            assert!(started.elapsed() < Duration::from_secs(60), "the private dockerd did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the daemon at once, as a crash would, and the shims of its containers with it (so that the next
    /// start begins clean, as after a reboot).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let dir = self.dir.path().display();
        let shims = format!("containerd-shim.*-namespace {} ", self.namespace());
        for pattern in [shims, format!("containerd --config {dir}")] {
            let _ = Command::new("pkill").args(["-9", "-f", &pattern]).status();
        }
        // Killed processes whose parent died may stay zombies here (nothing reaps them): their pid files would
        // make the next start wait for them.
        let _ = std::fs::remove_file(self.dir.path().join("dockerd.pid"));
        let _ = std::fs::remove_file(self.dir.path().join("exec/containerd/containerd.pid"));
        std::thread::sleep(Duration::from_millis(300));
    }

    /// The end of the daemon's log.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains("[core]")).collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    fn namespace(&self) -> String {
        format!("slipway-test-{}", self.name)
    }
}

impl Drop for PrivateDockerd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: the daemon stops its containers and unmounts what it mounted under the directory.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("grep -o ' {}[^ ]*' /proc/mounts | xargs -r -n1 umount -l", self.dir.path().display()))
            .status();
        let _ = Command::new("ip").args(["link", "del", &self.name]).status();
    }
}

/// A bridge `name`, up, with the first address of a 10.199.X.0/24 that no route of this host uses yet.
fn make_bridge(name: &str) {
    let routes = Command::new("ip").args(["-4", "route"]).output().expect("ip runs");
    let routes = String::from_utf8_lossy(&routes.stdout).to_string();
    let first = std::process::id() % 256;
    let subnet = (0..256)
        .map(|n| (first + n) % 256)
        .find(|x| !routes.contains(&format!("10.199.{x}.0/24")))
        .expect("a free 10.199.X.0/24");
    let _ = Command::new("ip").args(["link", "del", name]).stderr(Stdio::null()).status();
    for args in [
        vec!["link", "add", name, "type", "bridge"],
        vec!["addr", "add", &format!("10.199.{subnet}.1/24"), "dev", name],
        vec!["link", "set", name, "up"],
    ] {
        let out = Command::new("ip").args(&args).output().expect("ip runs");
        assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
}

/// The host daemon's default network still works (no private daemon took `docker0` away): `docker run`
/// without `--network`.
pub fn assert_host_bridge_works() {
    let out =
        Command::new("docker").args(["run", "--rm", "slipway/busybox:latest", "true"]).output().expect("docker runs");
    assert!(
        out.status.success(),
        "`docker run` on the host daemon's default network fails after the private daemons stopped: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
