//! A private CNCF registry (distribution 2.8, `docker-registry serve CONFIG`) per test: a free 127.0.0.1
//! port, a fresh storage directory, deletes enabled, and no auth, htpasswd or token auth.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use super::docker::{docker_output, next_id, pull_with, push_with};
use super::token::{ISSUER, SERVICE, TokenRequest, TokenServer, random_hex};

/// How long a registry may take to answer `GET /v2/`.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts at a free port (another process may take the one picked before the registry binds it).
const PORT_ATTEMPTS: u32 = 5;
const BINARY: &str = "docker-registry";
const DIR_PREFIX: &str = "slipway-harness-registry-";

/// How a [`Registry`] authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may push, pull and delete.
    None,
    /// HTTP Basic against a bcrypt htpasswd file holding one user.
    Htpasswd { username: String, password: String },
    /// Bearer tokens from a [`TokenServer`] in this process; `username`/`password` is the one account it
    /// accepts (every action asked for); anonymous requests get `pull` only.
    Token { username: String, password: String },
}

impl Auth {
    pub fn htpasswd(username: &str, password: &str) -> Auth {
        Auth::Htpasswd { username: username.to_string(), password: password.to_string() }
    }

    pub fn token(username: &str, password: &str) -> Auth {
        Auth::Token { username: username.to_string(), password: password.to_string() }
    }

    /// The username and password, when there are any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match self {
            Auth::None => None,
            Auth::Htpasswd { username, password } | Auth::Token { username, password } => {
                Some((username.as_str(), password.as_str()))
            }
        }
    }
}

/// A running `docker-registry` child process. Dropping it kills the process and removes its directory
/// (storage, config, log, the Docker client config with its login); when the test is panicking, the end of
/// the registry's log is printed first.
pub struct Registry {
    child: Child,
    port: u16,
    dir: PathBuf,
    auth: Auth,
    token: Option<TokenServer>,
    startup: Duration,
    logged_in: Mutex<bool>,
    /// The value of the `X-Slipway-Harness` header this registry answers with.
    marker: String,
}

enum Start {
    Ready,
    Exited(ExitStatus),
    TimedOut,
}

impl Registry {
    /// The registry `scripts/setup` runs: `127.0.0.1:5555` or `127.0.0.1:$SLIPWAY_REGISTRY_PORT`. Plain HTTP,
    /// no auth, deletes enabled. Starts nothing.
    pub fn shared() -> String {
        crate::registry()
    }

    /// Starts a registry with `auth` and waits until `GET /v2/` answers 200 or 401 (at most 15 s; typically
    /// about 15–50 ms here). Panics with the registry's log when it does not.
    pub fn start(auth: Auth) -> Registry {
        Registry::start_with(auth, None)
    }

    /// [`Registry::start`], posting its notifications of manifest events to `url` with the header
    /// `Authorization: Bearer SECRET` (its `notifications.endpoints`; retried every second while `url` fails).
    pub fn start_notifying(auth: Auth, url: &str, secret: &str) -> Registry {
        Registry::start_with(auth, Some((url, secret)))
    }

    fn start_with(auth: Auth, notify: Option<(&str, &str)>) -> Registry {
        static REAP: Once = Once::new();
        REAP.call_once(reap_orphans);

        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{}", std::process::id(), next_id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))
            .unwrap_or_else(|e| panic!("cannot create the registry directory {}: {e}", dir.display()));
        let started = Instant::now();

        let token = match &auth {
            Auth::Token { username, password } => Some(TokenServer::start(&dir, username, password)),
            _ => None,
        };
        let auth_yaml = match &auth {
            Auth::None => String::new(),
            Auth::Htpasswd { username, password } => {
                assert!(!username.contains(':'), "an htpasswd username cannot contain ':' ({username:?})");
                // distribution 2.8 reads only bcrypt entries; cost 4 keeps each request fast.
                let hash = bcrypt::hash(password, 4).expect("bcrypt could not hash the password");
                let path = dir.join("htpasswd");
                std::fs::write(&path, format!("{username}:{hash}\n"))
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
                format!("auth:\n  htpasswd:\n    realm: {SERVICE}\n    path: {}\n", quote(&path))
            }
            Auth::Token { .. } => {
                let server = token.as_ref().expect("token mode starts a token server");
                format!(
                    "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
                     rootcertbundle: {}\n",
                    quote_str(&server.realm()),
                    quote(server.cert_path())
                )
            }
        };

        let notifications_yaml = match notify {
            None => String::new(),
            Some((url, secret)) => format!(
                "notifications:\n  endpoints:\n    - name: slipway\n      url: {}\n      headers:\n        \
                 Authorization: [{}]\n      timeout: 5s\n      threshold: 1\n      backoff: 1s\n      \
                 ignoredmediatypes: [application/octet-stream]\n",
                quote_str(url),
                quote_str(&format!("Bearer {secret}")),
            ),
        };
        let marker = random_hex(8);
        let log_path = dir.join("registry.log");
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let config = dir.join("config.yml");
            let yaml = format!(
                "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                 delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  \
                 addr: 127.0.0.1:{port}\n  secret: {}\n  headers:\n    X-Content-Type-Options: [nosniff]\n    \
                 X-Slipway-Harness: [{marker}]\n{auth_yaml}{notifications_yaml}",
                quote(&dir.join("data")),
                random_hex(16),
            );
            std::fs::write(&config, yaml).unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
            let log = File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create the registry log {}: {e}", log_path.display()));
            let log_err = log.try_clone().expect("cannot duplicate the registry log's file handle");
            let mut child = Command::new(BINARY)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| {
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!("cannot run {BINARY}: {e}; install the Debian package docker-registry (run scripts/setup)")
                });
            let pid_path = dir.join("registry.pid");
            std::fs::write(&pid_path, child.id().to_string())
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", pid_path.display()));

            match wait_until_ready(&mut child, port, &marker) {
                Start::Ready => {
                    return Registry {
                        child,
                        port,
                        dir,
                        auth,
                        token,
                        startup: started.elapsed(),
                        logged_in: Mutex::new(false),
                        marker,
                    };
                }
                Start::Exited(status) => {
                    let log = read_log(&log_path);
                    if log.contains("address already in use") && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    let config = std::fs::read_to_string(&config).unwrap_or_default();
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!(
                        "{BINARY} on 127.0.0.1:{port} exited ({status}) before answering GET /v2/; fix what its log \
                         says (config below):\n--- log ---\n{log}\n--- config.yml ---\n{config}"
                    );
                }
                Start::TimedOut => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = read_log(&log_path);
                    let _ = std::fs::remove_dir_all(&dir);
                    panic!(
                        "{BINARY} on 127.0.0.1:{port} did not answer GET /v2/ with 200 or 401 within {}s; is the \
                         machine overloaded? its log:\n{log}",
                        START_TIMEOUT.as_secs()
                    );
                }
            }
        }
        unreachable!("every attempt either returns, continues or panics")
    }

    /// Kills the registry process, as an outage would; its storage and configuration stay for
    /// [`Registry::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the registry again on the same port, storage and configuration, and waits until it answers.
    pub fn restart(&mut self) {
        let log_path = self.dir.join("registry.log");
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("cannot open the registry log {}: {e}", log_path.display()));
        let log_err = log.try_clone().expect("cannot duplicate the registry log's file handle");
        self.child = Command::new(BINARY)
            .arg("serve")
            .arg(self.dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BINARY} again: {e}"));
        let _ = std::fs::write(self.dir.join("registry.pid"), self.child.id().to_string());
        match wait_until_ready(&mut self.child, self.port, &self.marker) {
            Start::Ready => {}
            Start::Exited(status) => panic!("{BINARY} exited ({status}) on restart:\n{}", self.log()),
            Start::TimedOut => panic!("{BINARY} did not answer after its restart:\n{}", self.log()),
        }
    }

    /// `127.0.0.1:PORT`, as in image references.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, the base of the registry API (`{url}/v2/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `address/name_and_tag`: `registry.reference("a/b:v1")` is `127.0.0.1:PORT/a/b:v1`.
    pub fn reference(&self, name_and_tag: &str) -> String {
        format!("{}/{name_and_tag}", self.address())
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The account's username and password (htpasswd and token modes).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.credentials()
    }

    pub fn username(&self) -> Option<&str> {
        self.credentials().map(|(username, _)| username)
    }

    pub fn password(&self) -> Option<&str> {
        self.credentials().map(|(_, password)| password)
    }

    /// The token server (token mode only).
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// Every request the token server answered so far (empty unless token mode).
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.token.as_ref().map(TokenServer::requests).unwrap_or_default()
    }

    /// The registry's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The registry's directory: `config.yml`, `registry.log`, `data/`, `docker-config/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry's log so far (access log included).
    pub fn log(&self) -> String {
        read_log(&self.dir.join("registry.log"))
    }

    /// How long [`Registry::start`] took, token server and key generation included.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The Docker client config directory (`docker --config`) this registry's helpers use.
    pub fn docker_config(&self) -> PathBuf {
        self.dir.join("docker-config")
    }

    /// `docker login` to this registry with any username and password, into [`Registry::docker_config`];
    /// `Err` holds Docker's message when the registry refuses them.
    pub fn docker_login(&self, username: &str, password: &str) -> Result<(), String> {
        let config = self.docker_config();
        let address = self.address();
        let output =
            docker_output(Some(&config), &["login", "-u", username, "--password-stdin", &address], Some(password));
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// Logs in with the registry's own account once (no-op without auth).
    pub fn login(&self) {
        let Some((username, password)) = self.credentials() else { return };
        let mut logged_in = self.logged_in.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !*logged_in {
            if let Err(message) = self.docker_login(username, password) {
                panic!(
                    "docker login {} as {username} failed: {message}\nregistry log:\n{}",
                    self.address(),
                    self.log()
                );
            }
            *logged_in = true;
        }
    }

    /// Tags `local_tag` as `127.0.0.1:PORT/name_and_tag` and pushes it (logging in first when the registry has
    /// credentials); returns the manifest digest `sha256:…`. The new local tag stays (see `LocalTags`).
    pub fn push(&self, local_tag: &str, name_and_tag: &str) -> String {
        self.login();
        push_with(Some(&self.docker_config()), local_tag, &self.reference(name_and_tag))
    }

    /// Pulls `127.0.0.1:PORT/name_ref` (`name:tag` or `name@sha256:…`) with Docker, logged in when the registry
    /// has credentials, and returns the digest Docker resolved.
    pub fn pull_digest(&self, name_ref: &str) -> String {
        self.login();
        pull_with(Some(&self.docker_config()), &self.reference(name_ref))
    }

    /// Pulls as nobody (a fresh, empty Docker config): in token mode that exercises the anonymous grant.
    pub fn pull_digest_anonymously(&self, name_ref: &str) -> String {
        let config = self.dir.join(format!("docker-config-anonymous-{}", next_id()));
        pull_with(Some(&config), &self.reference(name_ref))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("--- last lines of the log of the registry on {} ---\n{tail}", self.address());
        }
        self.token.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A YAML double-quoted scalar (JSON strings are YAML).
fn quote_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serializes")
}

fn quote(path: &Path) -> String {
    quote_str(&path.to_string_lossy())
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// A port nothing listens on right now (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a port on 127.0.0.1: {e}; is loopback up?"));
    listener.local_addr().expect("a bound socket has a local address").port()
}

/// Polls `GET /v2/` until it answers 200 or 401 carrying this registry's marker header (so a registry of
/// another test that won the same port is not mistaken for ours), the child exits, or the time is up.
fn wait_until_ready(child: &mut Child, port: u16, marker: &str) -> Start {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Start::Exited(status);
        }
        if let Some((status, head)) = probe(port)
            && (status == 200 || status == 401)
            && head.to_ascii_lowercase().contains(&format!("x-slipway-harness: {marker}"))
        {
            return Start::Ready;
        }
        if Instant::now() > deadline {
            return Start::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `GET /v2/` on 127.0.0.1:port: the status and the response head, or None when nothing answers.
fn probe(port: u16) -> Option<(u16, String)> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response);
    let head = response.split("\r\n\r\n").next().unwrap_or_default().to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head))
}

/// Kills registries (and removes directories) left by harness processes that died without dropping them.
fn reap_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(DIR_PREFIX).or_else(|| name.strip_prefix("slipway-harness-build-")) else {
            continue;
        };
        let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Ok(pid) = std::fs::read_to_string(dir.join("registry.pid")) {
            let pid = pid.trim();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                eprintln!("harness: killing registry {pid} left by dead process {owner} ({})", dir.display());
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
