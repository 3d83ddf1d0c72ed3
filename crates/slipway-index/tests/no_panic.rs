//! No input makes the index reader panic: arbitrary text, and valid index files with random edits (the
//! inputs most likely to reach deep into the checks). Every diagnostic must still point into the file.

use std::path::PathBuf;

use proptest::prelude::*;
use slipway_index::{Code, Index, RepoPath, parse_repo_config};

const VALID: &str = include_str!("../../../index/index.d/demo.yaml");
const CCCP: &str = include_str!("../../../tests/data/cccp-index/gluster.yaml");

/// Characters that matter to YAML and to the index's grammars.
const ALPHABET: &[u8] = b" \n\t:-[]{}#&*!|>'\",?%@/.~0123456789abcdemoABZ_\\\r";

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
    /// Copy a line over another one: duplicates keys, entries, cycles.
    CopyLine(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop::sample::select(ALPHABET);
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Replace(at, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Edit::CopyLine(from, to)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for edit in edits {
        let len = bytes.len().max(1);
        match *edit {
            Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), b),
            Edit::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Edit::Replace(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            Edit::CopyLine(from, to) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let line = lines[from % lines.len()];
                    let at = to % lines.len();
                    lines.insert(at, line);
                }
                bytes = lines.join("\n").into_bytes();
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Line breaks as YAML counts them: `\n`, `\r\n`, and a lone `\r`.
fn line_breaks(text: &str) -> usize {
    text.replace("\r\n", "\n").chars().filter(|c| matches!(c, '\n' | '\r')).count()
}

fn check(files: Vec<(PathBuf, String)>) {
    let lines: Vec<usize> = files.iter().map(|(_, text)| line_breaks(text) + 1).collect();
    let names: Vec<PathBuf> = files.iter().map(|(name, _)| name.clone()).collect();
    let index = Index::from_texts(files);
    for diagnostic in &index.diagnostics {
        let file = names.iter().position(|n| *n == diagnostic.file).expect("a diagnostic names one of the files");
        assert!(diagnostic.line >= 1 && diagnostic.line as usize <= lines[file], "{diagnostic}");
        let whole_file = diagnostic.code == Code::ReadError;
        assert!(whole_file || diagnostic.source_line.is_some(), "nothing quoted: {diagnostic}");
        let _ = diagnostic.to_string();
    }
    // An entry is only ever left out with an error that says why.
    if index.projects().count() < index.entries.len() {
        assert!(index.errors().next().is_some(), "entries left out without an error");
    }
    let graph = index.graph();
    let waves = graph.waves();
    assert!(waves.iter().map(Vec::len).sum::<usize>() <= index.projects().count());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        check(vec![(PathBuf::from("demo.yaml"), text.clone())]);
        let _ = parse_repo_config("cccp.yml", &text, &RepoPath::root(), "web");
    }

    #[test]
    fn edited_index_files_never_panic(edits in prop::collection::vec(edit(), 1..12), edits2 in prop::collection::vec(edit(), 0..6)) {
        check(vec![
            (PathBuf::from("demo.yaml"), apply(VALID, &edits)),
            (PathBuf::from("gluster.yaml"), apply(CCCP, &edits2)),
        ]);
    }

    #[test]
    fn edited_repo_configs_never_panic(edits in prop::collection::vec(edit(), 1..8)) {
        let text = apply("job-id: web\ntest-script: tests/run.sh\ntest-skip: false\ntest-timeout: 10m\n", &edits);
        let _ = parse_repo_config("cccp.yml", &text, &RepoPath::root(), "web");
    }
}
