//! Times repeated checkouts of one branch through a mirror cache: the first clones, the rest find the
//! branch unchanged. Prints each run and the median of the unchanged ones.
//!
//! ```text
//! cargo run --release -p slipway-git --example checkout_bench -- git://127.0.0.1:9418/demo/base main 20
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use slipway_git::{CheckoutRequest, MirrorCache};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(branch)) = (args.first(), args.get(1)) else {
        eprintln!("usage: checkout_bench URL BRANCH [RUNS]");
        return ExitCode::FAILURE;
    };
    let runs: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20).max(2);
    match bench(url, branch, runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn bench(url: &str, branch: &str, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let cache = MirrorCache::new(scratch.path().join("mirrors"));
    let mut unchanged = Vec::with_capacity(runs);
    for run in 0..runs {
        let dest = scratch.path().join(format!("checkout-{run}"));
        let request = CheckoutRequest { url, branch, dest: &dest, timeout: Duration::from_secs(60) };
        let started = Instant::now();
        let checkout = cache.checkout(&request, &mut |_| {})?;
        let elapsed = started.elapsed();
        println!("run {run:>3}: {:>8.2} ms  {:?}  {}", ms(elapsed), checkout.mirror, &checkout.commit[..7]);
        if run > 0 {
            unchanged.push(elapsed);
        }
    }
    unchanged.sort();
    let median = unchanged[unchanged.len() / 2];
    println!("median of {} unchanged checkouts: {:.2} ms", unchanged.len(), ms(median));
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
