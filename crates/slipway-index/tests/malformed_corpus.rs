//! The malformed-index corpus: `tests/index/malformed/NN-name/` holds index files and `expected`, whose first
//! line is `projects=N valid=M` and whose other lines are every diagnostic, `file:line:column severity code`,
//! sorted. Each case must produce exactly those diagnostics, no more and no fewer.

use std::fs;
use std::path::{Path, PathBuf};

use slipway_index::{Code, Index, Severity};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/index/malformed")
}

fn actual(case: &Path) -> String {
    let index = Index::load(case).expect("the case directory loads");
    let valid = index.projects().count();
    let mut lines: Vec<String> = index
        .diagnostics
        .iter()
        .map(|d| {
            let file = d.file.strip_prefix(case).unwrap_or(&d.file).display().to_string();
            let severity = if d.severity == Severity::Error { "error" } else { "warning" };
            format!("{file}:{}:{} {severity} {}", d.line, d.column, d.code)
        })
        .collect();
    lines.sort();
    format!(
        "projects={} valid={valid}\n{}",
        index.entries.len(),
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    )
}

#[test]
fn every_malformed_case_reports_exactly_its_diagnostics() {
    let mut cases: Vec<PathBuf> = fs::read_dir(corpus()).expect("corpus").map(|e| e.expect("entry").path()).collect();
    cases.sort();
    assert!(cases.len() >= 40, "the corpus has {} cases; it must keep at least 40", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let expected = fs::read_to_string(case.join("expected")).expect("expected file");
        let actual = actual(case);
        if actual != expected {
            failures.push(format!("{}\n--- expected\n{expected}--- actual\n{actual}", case.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn every_error_says_where_and_what_to_do() {
    for case in fs::read_dir(corpus()).expect("corpus") {
        let case = case.expect("entry").path();
        let index = Index::load(&case).expect("loads");
        for diagnostic in &index.diagnostics {
            assert!(diagnostic.line > 0 && diagnostic.column > 0, "{}: {diagnostic}", case.display());
            assert!(diagnostic.message.len() > 10, "{}: {diagnostic}", case.display());
            let rendered = diagnostic.to_string();
            assert!(rendered.contains(&diagnostic.location()), "{rendered}");
            let whole_file = matches!(diagnostic.code, Code::ReadError | Code::FileTooLarge);
            assert!(whole_file || diagnostic.source_line.is_some(), "no source line quoted: {rendered}");
        }
    }
}
