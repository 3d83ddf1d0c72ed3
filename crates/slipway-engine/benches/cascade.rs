//! Planning the cascade of a rebuilt base (issue 6's budget): the waves of every project built on it, over the
//! CentOS index (`tests/data/cccp-index`, ≤ 10 ms) and over a generated 10,000-project index of the same shape
//! (`bench/gen_index.py`, ≤ 200 ms). The figure includes building the graph from the projects, as a server
//! does on each delivery. The anchor, measured in the same run: slipway-index layering the whole index
//! (`DependencyGraph::waves`, what `slipway run` plans with). Then the cascade queued for real in a SQLite
//! store (one request per descendant), reported without a budget.
//!
//!     cargo bench -p slipway-engine --bench cascade -- GENERATED_INDEX_DIR
//!
//! (`bash bench/cascade.sh` generates the index and runs it.) Exit 1 when a budget is missed.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use slipway_engine::{ProjectGraph, ProjectSpec, queue_cascade};
use slipway_index::Index;
use slipway_store::{ProjectNode, Store};

const RUNS: usize = 50;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cases = vec![("CentOS index", root.join("tests/data/cccp-index"), Duration::from_millis(10))];
    match args.first() {
        Some(generated) => cases.push(("generated index", generated.into(), Duration::from_millis(200))),
        None => eprintln!("no generated index given: `bash bench/cascade.sh` makes one (10,000 projects)"),
    }
    let mut met = true;
    println!(
        "{:<16} {:>8} {:>24} {:>12} {:>12} {:>14} {:>8}",
        "index", "projects", "base", "descendants", "plan p50", "anchor p50", "budget"
    );
    for (name, path, budget) in cases {
        let index = match Index::load(&path) {
            Ok(index) => index,
            Err(err) => {
                eprintln!("cannot read {}: {err}", path.display());
                return ExitCode::from(2);
            }
        };
        let nodes = nodes_of(&index);
        let graph = ProjectGraph::new(nodes.clone());
        // The base with the most descendants: the worst cascade of this index.
        let base = (0..graph.len()).max_by_key(|n| graph.cascade(*n).iter().map(Vec::len).sum::<usize>()).unwrap_or(0);
        let descendants: usize = graph.cascade(base).iter().map(Vec::len).sum();
        let plan = median(|| {
            let graph = ProjectGraph::new(nodes.clone());
            std::hint::black_box(graph.cascade(base));
        });
        let anchor = median(|| {
            std::hint::black_box(index.graph().waves());
        });
        let ok = plan <= budget;
        met &= ok;
        println!(
            "{:<16} {:>8} {:>24} {:>12} {:>10.2}ms {:>12.2}ms {:>5}ms {}",
            name,
            graph.len(),
            graph.project(base).image,
            descendants,
            ms(plan),
            ms(anchor),
            budget.as_millis(),
            if ok { "PASS" } else { "FAIL" }
        );
        if name == "CentOS index" {
            match queue_for_real(&index, &graph.project(base).image) {
                Ok((took, queued)) => {
                    println!("  queued for real in SQLite: {queued} builds in {:.1} ms", ms(took));
                }
                Err(err) => {
                    eprintln!("queuing the cascade failed: {err}");
                    met = false;
                }
            }
        }
    }
    println!("{}", if met { "every budget met" } else { "a budget was missed" });
    if met { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

/// The index's valid projects as the store lists them.
fn nodes_of(index: &Index) -> Vec<ProjectNode> {
    index
        .valid_entries()
        .filter_map(|e| e.project.as_ref())
        .enumerate()
        .map(|(i, p)| {
            let spec = ProjectSpec::new(p, false);
            ProjectNode { id: i as i64 + 1, image: spec.image, parents: spec.depends_on }
        })
        .collect()
}

fn median(mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Records the index's projects in a fresh SQLite store and queues the cascade of `base`'s (pretend) build.
fn queue_for_real(index: &Index, base: &str) -> Result<(Duration, usize), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::connect(&Store::sqlite_url(dir.path())).await?;
        store.migrate().await?;
        let mut base_id = None;
        for entry in index.valid_entries() {
            let Some(project) = &entry.project else { continue };
            let spec = ProjectSpec::new(project, false);
            let stored = store.upsert_project(&spec.record(project, &entry.origin)).await?;
            if spec.image == base {
                base_id = Some(stored.id);
            }
        }
        let base_id = base_id.ok_or("the base is not in the store")?;
        let build = store
            .create_build(&slipway_store::NewBuild {
                project_id: base_id,
                causes: vec!["bench".into()],
                parents: vec![],
                priority: 0,
                max_attempts: 1,
                source_image: None,
            })
            .await?;
        let start = Instant::now();
        let queued = queue_cascade(&store, base, build.id, "sha256:0123456789abcdef").await?;
        Ok((start.elapsed(), queued.len()))
    })
}
