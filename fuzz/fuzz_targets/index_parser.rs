//! The index reader on arbitrary text: whatever a file holds, reading it must give diagnostics, never a
//! panic. The file is `index.d/fuzz.yaml`, so entries whose `app-id` is `fuzz` can be valid and reach the
//! checks between entries and the depends-on graph.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_index::{CheckReport, Index};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let index = Index::from_texts([("index.d/fuzz.yaml".into(), text.to_string())]);

    // Touch every result: the projects and the entries behind the graph, the graph (waves, cycles, what a
    // change to the first project reaches), every diagnostic rendered as the CLI prints it, and the report.
    let mut seen = 0usize;
    for project in index.projects() {
        seen += format!("{project:?}").len();
    }
    for entry in index.valid_entries() {
        seen += format!("{entry:?}").len();
    }
    let graph = index.graph();
    for wave in graph.waves() {
        for node in wave {
            seen += graph.name(node).len() + graph.children(node).len() + graph.parents(node).len();
        }
    }
    let cycles = graph.cycles();
    for member in &cycles.members {
        seen += cycles.walk(*member, 16).count() + cycles.len_of(member);
    }
    if !graph.is_empty() {
        seen += graph.descendants(0).len();
    }
    for diagnostic in index.errors().chain(index.warnings()) {
        seen += diagnostic.to_string().len();
    }
    let report = CheckReport::all(&index);
    seen += report.errors.len() + report.warnings.len() + usize::from(report.is_ok());
    std::hint::black_box(seen);
});
