//! A small W3C WebDriver client for end-to-end tests: Debian's Chromium, headless, driven through chromedriver.
//!
//! It speaks HTTP/1.1 to chromedriver itself over a tokio `TcpStream` (one request per connection, 127.0.0.1
//! only). reqwest is built with `rustls-no-provider` in this workspace and `Client::build()` panics unless a rustls
//! crypto provider was installed first; a test helper should not depend on that, and chromedriver's protocol is
//! plain JSON over HTTP. `scripts/setup` installs `chromium` and `chromium-driver`.
#![allow(dead_code)] // each test uses a different subset

use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::TcpStream as StdStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C key under which an element reference comes back.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Chromium flags: no network beyond loopback (there is none here), no display, GPU, sandbox or big /dev/shm.
const FLAGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
    --no-proxy-server --window-size=1280,900";
/// Upper bound for one command, so a wedged browser fails the test instead of hanging it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium session. Dropping it ends the session and kills chromedriver with every Chromium process.
pub struct Browser {
    session: Session,
    driver: Child,
    /// Holds chromedriver's log and the throw-away profile; kept if the test panics, so a failure can be diagnosed.
    dir: PathBuf,
}

/// A reference to an element on the current page.
#[derive(Clone, Debug)]
pub struct Element {
    session: Session,
    id: String,
}

#[derive(Clone, Debug)]
struct Session {
    port: u16,
    id: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session with a fresh profile.
    pub async fn start() -> Result<Browser, String> {
        for bin in [CHROMEDRIVER, CHROMIUM] {
            if !Path::new(bin).exists() {
                return Err(format!(
                    "{bin} not found: run scripts/setup (as root) to install chromium and chromium-driver"
                ));
            }
        }
        let dir = scratch_dir()?;
        let port = free_port()?;
        let driver = spawn_driver(&dir, port).inspect_err(|_| {
            let _ = fs::remove_dir_all(&dir);
        })?;
        let mut browser = Browser { session: Session { port, id: String::new() }, driver, dir };
        browser.wait_ready().await.map_err(|e| browser.with_log(&e))?;
        let profile = browser.dir.join("profile");
        let mut args: Vec<String> = FLAGS.split(' ').map(String::from).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "timeouts": {"pageLoad": 30_000, "script": 30_000},
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let reply =
            call(port, "new session", "POST", "/session", Some(&caps)).await.map_err(|e| browser.with_log(&e))?;
        let id = reply.get("sessionId").and_then(Value::as_str);
        browser.session.id =
            id.ok_or_else(|| browser.with_log(&format!("new session: no sessionId in {reply}")))?.into();
        Ok(browser)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(format!("chromedriver exited early ({status})"));
            }
            let last = match call(self.session.port, "status", "GET", "/status", None).await {
                Ok(v) if v.get("ready") == Some(&Value::Bool(true)) => return Ok(()),
                Ok(v) => v.to_string(),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("chromedriver not ready within 20 s; last: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `msg` followed by the tails of chromedriver's log and output, for start-up errors.
    fn with_log(&self, msg: &str) -> String {
        let log = tail(&self.dir.join("chromedriver.log"), 30);
        let out = tail(&self.dir.join("chromedriver.out"), 15);
        format!("{msg}\n--- chromedriver.log (tail) ---\n{log}\n--- chromedriver stdout/stderr (tail) ---\n{out}")
    }

    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.session.cmd("goto", "POST", "/url", Some(json!({ "url": url }))).await.map(drop)
    }

    /// The first element matching `css`; an error if there is none.
    pub async fn find(&self, css: &str) -> Result<Element, String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.session.cmd(&format!("find {css:?}"), "POST", "/element", Some(body)).await?;
        self.element(&v)
    }

    /// Every element matching `css`, possibly none.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let body = json!({"using": "css selector", "value": css});
        let v = self.session.cmd(&format!("find_all {css:?}"), "POST", "/elements", Some(body)).await?;
        v.as_array()
            .ok_or_else(|| format!("find_all {css:?}: not a list: {v}"))?
            .iter()
            .map(|e| self.element(e))
            .collect()
    }

    fn element(&self, v: &Value) -> Result<Element, String> {
        let id = v.get(ELEMENT_KEY).and_then(Value::as_str).ok_or_else(|| format!("not an element reference: {v}"))?;
        Ok(Element { session: self.session.clone(), id: id.into() })
    }

    /// Polls every 100 ms until an element matching `css` contains `needle`; returns that element's text. Errors
    /// while polling (no element yet, a stale one while the page re-renders) just mean "try again".
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.texts(css).await {
                Ok(texts) if texts.is_empty() => "(no element matched)".to_owned(),
                Ok(texts) => match texts.iter().find(|t| t.contains(needle)) {
                    Some(hit) => return Ok(hit.clone()),
                    None => texts.join(" | "),
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("no {css:?} contained {needle:?} within {timeout:?}; last seen: {last:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn texts(&self, css: &str) -> Result<Vec<String>, String> {
        let mut texts = Vec::new();
        for element in self.find_all(css).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    pub async fn current_url(&self) -> Result<String, String> {
        string(self.session.cmd("current_url", "GET", "/url", None).await?)
    }

    pub async fn title(&self) -> Result<String, String> {
        string(self.session.cmd("title", "GET", "/title", None).await?)
    }

    pub async fn page_source(&self) -> Result<String, String> {
        string(self.session.cmd("page_source", "GET", "/source", None).await?)
    }

    /// Runs `script` as a function body (`return ...;` gives the result); `args` arrive as `arguments[i]`.
    pub async fn execute(&self, script: &str, args: &[Value]) -> Result<Value, String> {
        self.session.cmd("execute", "POST", "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let png = string(self.session.cmd("screenshot", "GET", "/screenshot", None).await?)?;
        let png = base64::engine::general_purpose::STANDARD.decode(png).map_err(|e| format!("screenshot: {e}"))?;
        tokio::fs::write(path, png).await.map_err(|e| format!("writing screenshot {}: {e}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A graceful quit first, so Chromium also stops its crashpad handlers, which run in their own sessions.
        if !self.session.id.is_empty() {
            delete_blocking(self.session.port, &format!("/session/{}", self.session.id));
        }
        // Then the whole process group: chromedriver, the /usr/bin/chromium wrapper and every Chromium child.
        let pgid = self.driver.id();
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{pgid}")]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let deadline = Instant::now() + Duration::from_secs(3);
        // Zombies are left to init; processes in other sessions (crashpad) exit once Chromium is gone.
        while lingering(pgid, &self.dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if std::thread::panicking() {
            eprintln!("browser: kept chromedriver log and profile in {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Element {
    /// The rendered text, as a user sees it.
    pub async fn text(&self) -> Result<String, String> {
        string(self.cmd("text", "GET", "/text", None).await?)
    }

    pub async fn click(&self) -> Result<(), String> {
        self.cmd("click", "POST", "/click", Some(json!({}))).await.map(drop)
    }

    /// The HTML attribute `name`; `None` if the element does not have it.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, String> {
        let v = self.cmd(&format!("attr {name:?}"), "GET", &format!("/attribute/{name}"), None).await?;
        Ok(v.as_str().map(String::from))
    }

    pub async fn is_displayed(&self) -> Result<bool, String> {
        let v = self.cmd("is_displayed", "GET", "/displayed", None).await?;
        v.as_bool().ok_or_else(|| format!("is_displayed: not a bool: {v}"))
    }

    async fn cmd(&self, what: &str, method: &str, suffix: &str, body: Option<Value>) -> Result<Value, String> {
        self.session.cmd(what, method, &format!("/element/{}{suffix}", self.id), body).await
    }
}

impl Session {
    async fn cmd(&self, what: &str, method: &str, suffix: &str, body: Option<Value>) -> Result<Value, String> {
        call(self.port, what, method, &format!("/session/{}{suffix}", self.id), body.as_ref()).await
    }
}

/// One WebDriver command: its `value`, or an error naming the command and the server's `error` and `message`.
async fn call(port: u16, what: &str, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let (status, mut reply) = exchange(port, method, path, body).await.map_err(|e| format!("WebDriver {what}: {e}"))?;
    let value = reply.get_mut("value").map(Value::take).unwrap_or(Value::Null);
    if status == 200 {
        return Ok(value);
    }
    let field = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("?").to_owned();
    Err(format!("WebDriver {what} ({method} {path}) failed, HTTP {status}: {}: {}", field("error"), field("message")))
}

async fn exchange(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        stream.write_all(&request(port, method, path, body)).await.map_err(|e| e.to_string())?;
        let (mut raw, mut buf) = (Vec::new(), [0u8; 16 * 1024]);
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            raw.extend_from_slice(&buf[..n]);
            if let Some(reply) = parse_response(&raw, n == 0)? {
                return Ok(reply);
            }
        }
    };
    let timed = tokio::time::timeout(COMMAND_TIMEOUT, io).await;
    timed
        .map_err(|_| format!("no answer within {COMMAND_TIMEOUT:?}"))?
        .map_err(|e: String| format!("{method} {path}: {e}"))
}

/// `Drop` cannot await, so the session is deleted with blocking std I/O; best effort, errors are ignored.
fn delete_blocking(port: u16, path: &str) {
    let Ok(mut stream) = StdStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(&request(port, "DELETE", path, None)).is_err() {
        return;
    }
    let (mut raw, mut buf) = (Vec::new(), [0u8; 4096]);
    while let Ok(n) = stream.read(&mut buf) {
        raw.extend_from_slice(&buf[..n]);
        if !matches!(parse_response(&raw, n == 0), Ok(None)) {
            break;
        }
    }
}

/// One HTTP/1.1 request; chromedriver wants a JSON content type on every POST.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

/// Parses a response once all of it has arrived (`Ok(None)`: read more). Chromedriver ignores `Connection: close`
/// and always sends `Content-Length` (written `Content-Length:252`, without a space).
fn parse_response(raw: &[u8], eof: bool) -> Result<Option<(u16, Value)>, String> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof { Err("connection closed before the response headers".into()) } else { Ok(None) };
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse::<u16>().ok());
    let status = status.ok_or_else(|| format!("bad HTTP response head {head:?}"))?;
    let length =
        lines.filter_map(|l| l.split_once(':')).find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"));
    let length = length.and_then(|(_, v)| v.trim().parse::<usize>().ok()).ok_or("no Content-Length in the response")?;
    let Some(body) = raw[split + 4..].get(..length) else {
        return if eof { Err("connection closed in the middle of the body".into()) } else { Ok(None) };
    };
    if body.is_empty() {
        return Ok(Some((status, Value::Null)));
    }
    let value = serde_json::from_slice(body)
        .map_err(|e| format!("HTTP {status}, body is not JSON ({e}): {}", String::from_utf8_lossy(body)))?;
    Ok(Some((status, value)))
}

fn string(v: Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(format!("expected a string, got {other}")),
    }
}

fn spawn_driver(dir: &Path, port: u16) -> Result<Child, String> {
    let out = File::create(dir.join("chromedriver.out")).map_err(|e| format!("creating chromedriver.out: {e}"))?;
    let err = out.try_clone().map_err(|e| format!("chromedriver.out: {e}"))?;
    Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .arg(format!("--log-path={}", dir.join("chromedriver.log").display()))
        // Chromium's crashpad database and dconf cache would otherwise land in $HOME/.config and $HOME/.cache.
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0) // its own group, so Drop can kill Chromium's whole process tree with it
        .spawn()
        .map_err(|e| format!("starting {CHROMEDRIVER}: {e}"))
}

/// A fresh directory under the system temp dir (no tempfile crate here).
fn scratch_dir() -> Result<PathBuf, String> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("slipway-browser-{}-{n}-{nanos}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

/// A port that was free a moment ago; chromedriver binds it right after.
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

/// Whether a live (non-zombie) process is left from this browser: one in chromedriver's process group, or a
/// crashpad handler (those put themselves in their own session; their database lives under `dir`).
fn lingering(pgid: u32, dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else { return false };
    let (pgid, dir) = (pgid.to_string(), dir.to_string_lossy().into_owned());
    entries.flatten().any(|entry| {
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // "pid (comm) state ppid pgrp ..."; comm may contain spaces, so split after the last ')'.
        let fields: Vec<&str> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
        let cmdline =
            || String::from_utf8_lossy(&fs::read(entry.path().join("cmdline")).unwrap_or_default()).contains(&dir);
        fields.len() > 2 && fields[0] != "Z" && (fields[2] == pgid || cmdline())
    })
}

/// The last `lines` lines of a file, or a note that it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}
