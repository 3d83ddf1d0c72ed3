//! Diagnostics like a compiler's: where (file, line, column), a stable code, what is wrong, what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::yaml::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every problem the index reader can report. The kebab-case name is the stable code users see and CI
/// scripts match on; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    // The file as a whole.
    ReadError,
    FileTooLarge,
    YamlSyntax,
    MissingProjects,
    WrongType,
    // One field of one entry.
    MissingField,
    EmptyField,
    UnknownKey,
    DuplicateKey,
    InvalidId,
    AppIdMismatch,
    InvalidName,
    InvalidTag,
    InvalidGitUrl,
    InvalidBranch,
    InvalidPath,
    PathEscapesRepo,
    InvalidEmail,
    InvalidDependsOn,
    IncompletePrebuild,
    InvalidCron,
    InvalidValue,
    InvalidBuildArg,
    InvalidDuration,
    JobIdMismatch,
    // Between entries.
    DuplicateImage,
    DependencyCycle,
    // Warnings.
    NoIndexFiles,
    ExternalParent,
    ReusedId,
    IgnoredKey,
    ChangedFileMissing,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ReadError => "read-error",
            Code::FileTooLarge => "file-too-large",
            Code::YamlSyntax => "yaml-syntax",
            Code::MissingProjects => "missing-projects",
            Code::WrongType => "wrong-type",
            Code::MissingField => "missing-field",
            Code::EmptyField => "empty-field",
            Code::UnknownKey => "unknown-key",
            Code::DuplicateKey => "duplicate-key",
            Code::InvalidId => "invalid-id",
            Code::AppIdMismatch => "app-id-mismatch",
            Code::InvalidName => "invalid-name",
            Code::InvalidTag => "invalid-tag",
            Code::InvalidGitUrl => "invalid-git-url",
            Code::InvalidBranch => "invalid-branch",
            Code::InvalidPath => "invalid-path",
            Code::PathEscapesRepo => "path-escapes-repo",
            Code::InvalidEmail => "invalid-email",
            Code::InvalidDependsOn => "invalid-depends-on",
            Code::IncompletePrebuild => "incomplete-prebuild",
            Code::InvalidCron => "invalid-cron",
            Code::InvalidValue => "invalid-value",
            Code::InvalidBuildArg => "invalid-build-arg",
            Code::InvalidDuration => "invalid-duration",
            Code::JobIdMismatch => "job-id-mismatch",
            Code::DuplicateImage => "duplicate-image",
            Code::DependencyCycle => "dependency-cycle",
            Code::NoIndexFiles => "no-index-files",
            Code::ExternalParent => "external-parent",
            Code::ReusedId => "reused-id",
            Code::IgnoredKey => "ignored-key",
            Code::ChangedFileMissing => "changed-file-missing",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Another place a diagnostic refers to (the other copy of a duplicate, the next link of a cycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Implied in JSON by the list (`errors` or `warnings`) the diagnostic is in.
    #[serde(skip)]
    pub severity: Severity,
    pub code: Code,
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// The source line the diagnostic points into, for rendering; not part of the JSON contract.
    #[serde(skip)]
    pub source_line: Option<String>,
    #[serde(skip)]
    pub width: u32,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: Code, file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            code,
            file: file.to_path_buf(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
            hint: None,
            related: Vec::new(),
            source_line: None,
            width: 1,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_related(mut self, related: Related) -> Self {
        self.related.push(related);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:column`, the form editors and terminals turn into a link.
    pub fn location(&self) -> String {
        format!("{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Renders like rustc: header, location, the source line with a caret, then help and notes.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}[{}]: {}", self.code, self.message)?;
        let gutter = if self.line == 0 { 1 } else { self.line.to_string().len() };
        let pad = " ".repeat(gutter);
        if self.line == 0 {
            writeln!(f, "{pad}--> {}", self.file.display())?;
        } else {
            writeln!(f, "{pad}--> {}", self.location())?;
        }
        if let Some(source) = &self.source_line {
            let shown: String = source.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
            let indent = " ".repeat(self.column.saturating_sub(1) as usize);
            let carets = "^".repeat(self.width.max(1) as usize);
            writeln!(f, "{pad} |")?;
            writeln!(f, "{} | {}", self.line, shown.trim_end())?;
            writeln!(f, "{pad} | {indent}{carets}")?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "{pad} = help: {hint}")?;
        }
        for related in &self.related {
            writeln!(
                f,
                "{pad} = note: {} ({}:{}:{})",
                related.message,
                related.file.display(),
                related.line,
                related.column
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let mut diag = Diagnostic::new(
            Severity::Error,
            Code::UnknownKey,
            Path::new("index.d/demo.yaml"),
            Pos { line: 12, column: 5 },
            "unknown key `build_context`",
        )
        .with_hint("did you mean `build-context`?");
        diag.source_line = Some("    build_context: ./".into());
        diag.width = 13;
        let expected = "\
error[unknown-key]: unknown key `build_context`
  --> index.d/demo.yaml:12:5
   |
12 |     build_context: ./
   |     ^^^^^^^^^^^^^
   = help: did you mean `build-context`?
";
        assert_eq!(diag.to_string(), expected);
    }
}
