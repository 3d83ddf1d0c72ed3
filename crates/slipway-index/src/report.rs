//! The answer of `slipway index check`: counts and diagnostics, for the whole index or only for the files a
//! change touched (so one team's change is not failed by another team's entry).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::index::Index;
use crate::yaml::Pos;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub files: usize,
    /// Every entry read.
    pub projects: usize,
    /// The entries without errors.
    pub valid: usize,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl CheckReport {
    /// The whole index.
    pub fn all(index: &Index) -> Self {
        Self::build(index, |_| true, Vec::new())
    }

    /// Only the entries of `changed` files and what the graph says about them (a cycle or a duplicate that
    /// reaches into another file is reported at the changed entry). A changed file that is not in the
    /// index any more (deleted by the change, or misspelt) gets a warning.
    pub fn changed(index: &Index, changed: &[PathBuf]) -> Self {
        let indexed: HashSet<PathBuf> = index.files.iter().map(|f| canonical(f)).collect();
        let mut wanted = HashSet::new();
        let mut notes = Vec::new();
        for path in changed {
            let path_canonical = canonical(path);
            if indexed.contains(&path_canonical) {
                wanted.insert(path_canonical);
            } else {
                let message = format!(
                    "{} is not an index file here; if the change deleted it, nothing is left to check",
                    path.display()
                );
                notes.push(Diagnostic::new(Severity::Warning, Code::ChangedFileMissing, path, Pos::default(), message));
            }
        }
        Self::build(index, |file| wanted.contains(&canonical(file)), notes)
    }

    fn build(index: &Index, include: impl Fn(&Path) -> bool, extra: Vec<Diagnostic>) -> Self {
        let files: HashSet<&PathBuf> = index.files.iter().filter(|f| include(f)).collect();
        let entries = index.entries.iter().filter(|e| files.contains(&e.origin.file));
        let (projects, valid) =
            entries.fold((0, 0), |(all, valid), e| (all + 1, valid + usize::from(e.project.is_some())));
        let shown = index.diagnostics.iter().filter(|d| files.contains(&d.file) || (d.code == Code::NoIndexFiles));
        let (errors, mut warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = shown.cloned().partition(Diagnostic::is_error);
        warnings.extend(extra);
        CheckReport { files: files.len(), projects, valid, errors, warnings }
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Paths are compared after resolving `.`/`..` and symlinks; a path that cannot be resolved is kept as is.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}
