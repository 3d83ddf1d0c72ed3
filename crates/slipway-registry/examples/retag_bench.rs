//! N retags through the library API, on one client, in two ways. Used by bench/registry.sh.
//!
//! - `batch`: one `client.tag(&src, &["b0", …, "b<N-1>"])`, as a release writing many tags: one GET of the source
//!   manifest, then the same bytes PUT under every tag, `ClientConfig::parallel_tags` at a time;
//! - `calls`: N calls `client.tag(&src, &["r<i>"])` one after the other, each a GET and a PUT, timed one by one.
//!
//!     cargo run --release --example retag_bench -p slipway-registry -- 127.0.0.1:5555/bench/img-1m:test 1000
//!
//! Prints two lines on stdout:
//! `batch retags=N parallel=P total_s=… digest=sha256:…` and
//! `calls retags=N total_s=… median_ms=… p90_ms=… max_ms=… digest=sha256:…`.
//! Fails when a call fails or when a retag answers with a digest other than the first one's.

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

use slipway_registry::{ClientConfig, Reference, RegistryClient};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("retag_bench: error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(source), count, None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: retag_bench SOURCE [COUNT]   (SOURCE is host[:port]/name:tag, COUNT 1000)".into());
    };
    let source: Reference = source.parse()?;
    let count: usize = count.as_deref().unwrap_or("1000").parse()?;
    if count == 0 {
        return Err("COUNT must be at least 1".into());
    }
    let config = ClientConfig::default();
    let parallel = config.parallel_tags;
    let client = RegistryClient::new(config)?;

    let tags: Vec<String> = (0..count).map(|i| format!("b{i}")).collect();
    let start = Instant::now();
    let batch = client.tag(&source, &tags).await?;
    let total = start.elapsed().as_secs_f64();
    println!("batch retags={count} parallel={parallel} total_s={total:.3} digest={}", batch.digest);

    let mut calls_ms = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let call = Instant::now();
        let tagged = client.tag(&source, &[format!("r{i}")]).await?;
        calls_ms.push(call.elapsed().as_secs_f64() * 1e3);
        if tagged.digest != batch.digest {
            return Err(format!("retag r{i} wrote {} but the batch wrote {}", tagged.digest, batch.digest).into());
        }
    }
    let total = start.elapsed().as_secs_f64();
    calls_ms.sort_by(f64::total_cmp);
    let median =
        if count % 2 == 1 { calls_ms[count / 2] } else { (calls_ms[count / 2 - 1] + calls_ms[count / 2]) / 2.0 };
    let p90 = calls_ms[(count * 9 / 10).min(count - 1)];
    let max = calls_ms[count - 1];
    println!(
        "calls retags={count} total_s={total:.3} median_ms={median:.3} p90_ms={p90:.3} max_ms={max:.3} digest={}",
        batch.digest
    );
    Ok(())
}
