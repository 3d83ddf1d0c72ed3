//! Webhook received → build queued (issue 6's budget: ≤ 100 ms). A SQLite store holds 10,000 projects (chains
//! of ten, as the bench index has); `slipway serve`'s router listens on loopback; each of 50 signed GitHub
//! pushes, for 50 different projects, is sent over a fresh HTTP connection and timed until its answer, which
//! comes once the build is queued. The anchor, in the same run: `GET /healthz` over the same path.
//!
//!     cargo bench -p slipway-web --bench webhook

use std::process::ExitCode;
use std::time::{Duration, Instant};

use slipway_store::{NewProject, Store};
use slipway_web::{AppState, WebConfig, hmac_sha256_hex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROJECTS: usize = 10_000;
const PUSHES: usize = 50;
const BUDGET: Duration = Duration::from_millis(100);
const SECRET: &str = "bench-secret";

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("no runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("the benchmark could not run: {err}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&Store::sqlite_url(dir.path())).await?;
    store.migrate().await?;
    let started = Instant::now();
    for i in 0..PROJECTS {
        let parent = if i % 10 == 0 { vec![] } else { vec![format!("bench/app{:05}:latest", i - 1)] };
        store.upsert_project(&project(i, parent)).await?;
    }
    eprintln!("seeded {PROJECTS} projects in {:.1} s", started.elapsed().as_secs_f64());
    let mut config = WebConfig::new("127.0.0.1:5555");
    config.webhook_secret = Some(SECRET.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let state = AppState::new(store.clone(), config, None);
    tokio::spawn(slipway_web::serve(listener, state, std::future::pending()));

    let mut hooks = Vec::with_capacity(PUSHES);
    let mut anchors = Vec::with_capacity(PUSHES);
    for n in 0..PUSHES {
        let body = serde_json::json!({
            "ref": "refs/heads/main",
            "after": format!("{:040x}", n + 1),
            "repository": { "clone_url": format!("git://127.0.0.1/app{:05}", n * 197 % PROJECTS) },
        })
        .to_string();
        let signature = format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body.as_bytes()));
        let request = format!(
            "POST /hooks/github HTTP/1.1\r\nHost: bench\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: {signature}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (took, answer) = exchange(address, &request).await?;
        if !answer.starts_with("HTTP/1.1 202") {
            return Err(format!("push {n} was answered: {}", answer.lines().last().unwrap_or_default()).into());
        }
        hooks.push(took);
        let (took, _) = exchange(address, "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").await?;
        anchors.push(took);
    }
    let queued = store.queue_counts().await?.queued;
    hooks.sort();
    anchors.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (p50, p99) = (hooks[PUSHES / 2], hooks[PUSHES * 99 / 100]);
    println!("webhook received → build queued, {PUSHES} pushes over {PROJECTS} projects ({queued} builds queued)");
    println!(
        "  p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (budget {} ms)",
        ms(p50),
        ms(p99),
        ms(hooks[PUSHES - 1]),
        BUDGET.as_millis()
    );
    println!(
        "  anchor GET /healthz: p50 {:.2} ms, p99 {:.2} ms",
        ms(anchors[PUSHES / 2]),
        ms(anchors[PUSHES * 99 / 100])
    );
    let met = p99 <= BUDGET && queued as usize == PUSHES;
    println!("{}", if met { "budget met" } else { "budget missed" });
    Ok(met)
}

/// Sends `request` on a new connection and reads the whole answer.
async fn exchange(address: std::net::SocketAddr, request: &str) -> std::io::Result<(Duration, String)> {
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok((started.elapsed(), String::from_utf8_lossy(&answer).into_owned()))
}

fn project(i: usize, depends_on: Vec<String>) -> NewProject {
    NewProject {
        image: format!("bench/app{i:05}:latest"),
        app_id: "bench".into(),
        job_id: format!("app{i:05}"),
        desired_tag: "latest".into(),
        git_url: format!("git://127.0.0.1/app{i:05}"),
        git_branch: "main".into(),
        git_path: String::new(),
        target_file: "Dockerfile".into(),
        build_context: "./".into(),
        depends_on,
        notify_email: None,
        entry: serde_json::json!({}),
        index_file: "bench".into(),
        index_line: 1,
    }
}
