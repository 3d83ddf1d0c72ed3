//! The per-repository cccp file (`cccp.yml`, `.cccp.yml`, `cccp.yaml` or `.cccp.yaml` in git-path): the
//! pipeline reads it from a checkout. Its `job-id` must match the index; it may set the user test.
//!
//! The checkout is untrusted: the file is only read if it really lies inside the repository (a symlink to
//! `/etc/shadow` is refused), and it is size-limited like an index file.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::entry::read_test_settings;
use crate::load::{self, FileContent};
use crate::mapping::MappingReader;
use crate::paths::RepoPath;
use crate::project::TestSettings;
use crate::source::SourceFile;
use crate::yaml::{self, NodeKind, Pos};

/// The names looked for, in this order (cccp's order).
pub const REPO_CONFIG_NAMES: [&str; 4] = ["cccp.yml", ".cccp.yml", "cccp.yaml", ".cccp.yaml"];

const FIELDS: &[&str] = &["job-id", "test-script", "test-skip", "test-timeout"];

/// Keys cccp documented but never acted on.
const IGNORED: &[(&str, &str)] = &[
    ("build-script", "cccp never ran it; use prebuild-script in the index"),
    ("delivery-script", "cccp never ran it; delivery is Slipway's"),
    ("docker-index", "unused since cccp"),
    ("custom-delivery", "unused since cccp"),
    ("local-delivery", "unused since cccp"),
    ("upstreams", "unused since cccp"),
    ("Upstreams", "unused since cccp"),
    ("nulecule-file", "unused since cccp"),
    ("desired-tag", "the index sets the tag"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// Repository-relative path of the file that was read.
    pub file: PathBuf,
    pub job_id: String,
    pub test: TestSettings,
    /// Warnings (ignored keys); errors make the read fail instead.
    pub warnings: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum RepoConfigError {
    #[error("{file} points outside the repository; the per-repo cccp file must be a file inside it")]
    OutsideRepository { file: PathBuf },
    #[error("cannot read {file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} has {} error(s)", diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid { file: PathBuf, diagnostics: Vec<Diagnostic> },
}

/// Reads the cccp file in `git_path` of the checkout at `repo_root`. `Ok(None)` when there is none.
pub fn read_repo_config(
    repo_root: &Path,
    git_path: &RepoPath,
    expected_job_id: &str,
) -> Result<Option<RepoConfig>, RepoConfigError> {
    let io = |file: &Path, source| RepoConfigError::Io { file: file.to_path_buf(), source };
    let root = repo_root.canonicalize().map_err(|e| io(repo_root, e))?;
    let Some((relative, absolute)) = REPO_CONFIG_NAMES.iter().find_map(|name| {
        let relative = Path::new(git_path.as_str()).join(name);
        let absolute = root.join(&relative);
        absolute.symlink_metadata().is_ok().then_some((relative, absolute))
    }) else {
        return Ok(None);
    };
    let resolved = absolute.canonicalize().map_err(|e| io(&relative, e))?;
    if !resolved.starts_with(&root) || !resolved.is_file() {
        return Err(RepoConfigError::OutsideRepository { file: relative });
    }
    let text = match load::read(&resolved).map_err(|e| match e {
        load::LoadError::Io { source, .. } => io(&relative, source),
        load::LoadError::NotFound { .. } => io(&relative, std::io::ErrorKind::NotFound.into()),
    })? {
        FileContent::Text(text) => text,
        FileContent::TooLarge(_) | FileContent::NotUtf8 => {
            let message = "the file is not UTF-8 text of at most 16 MiB";
            let diagnostic =
                Diagnostic::new(Severity::Error, Code::ReadError, &relative, Pos { line: 1, column: 1 }, message);
            return Err(RepoConfigError::Invalid { file: relative, diagnostics: vec![diagnostic] });
        }
    };
    check_repo_config(&SourceFile::new(relative, text), git_path, expected_job_id)
}

/// Parses a per-repo cccp file's `text`; `file` is the name diagnostics give it. No I/O.
pub fn parse_repo_config(
    file: impl Into<PathBuf>,
    text: &str,
    git_path: &RepoPath,
    expected_job_id: &str,
) -> Result<Option<RepoConfig>, RepoConfigError> {
    check_repo_config(&SourceFile::new(file.into(), text.to_string()), git_path, expected_job_id)
}

fn check_repo_config(
    file: &SourceFile,
    git_path: &RepoPath,
    expected_job_id: &str,
) -> Result<Option<RepoConfig>, RepoConfigError> {
    let document = yaml::parse(file.text());
    let mut diagnostics = Vec::new();
    if let Some(error) = &document.error {
        let message = format!("YAML syntax error: {}", error.message);
        diagnostics.push(file.diagnostic(Severity::Error, Code::YamlSyntax, error.pos, message));
    }
    let mut config = None;
    match &document.root {
        Some(root) if matches!(root.kind, NodeKind::Map(_)) && diagnostics.is_empty() => {
            let mut r = MappingReader::new(file, root, FIELDS, IGNORED);
            let job_id = r.required_text("job-id").map(|(job, node)| (job.to_string(), node.clone()));
            if let Some((job, node)) = &job_id
                && job != expected_job_id
            {
                let message = format!("`job-id` is `{job}` here but `{expected_job_id}` in the index");
                let hint = "the per-repo file claims the repository for one job; make the two job-ids the same";
                r.push(file.error_at(Code::JobIdMismatch, node, message).with_hint(hint));
            }
            let test = read_test_settings(&mut r, git_path);
            if let (Some((job_id, _)), Some(test), false) = (job_id, test, r.has_errors()) {
                config = Some((job_id, test));
            }
            diagnostics.extend(r.diagnostics);
        }
        Some(_) if !diagnostics.is_empty() => {}
        Some(root) => {
            let message = format!("the file must be a mapping with `job-id:`, found {}", root.type_name());
            diagnostics.push(file.error_at(Code::WrongType, root, message));
        }
        None => {
            let diagnostic = file.diagnostic(
                Severity::Error,
                Code::MissingField,
                Pos { line: 1, column: 1 },
                "missing required field `job-id`",
            );
            diagnostics.push(diagnostic);
        }
    }
    for diagnostic in &mut diagnostics {
        file.quote(diagnostic);
    }
    match config {
        Some((job_id, test)) => {
            Ok(Some(RepoConfig { file: file.path().to_path_buf(), job_id, test, warnings: diagnostics }))
        }
        None => Err(RepoConfigError::Invalid { file: file.path().to_path_buf(), diagnostics }),
    }
}

#[cfg(test)]
mod tests;
