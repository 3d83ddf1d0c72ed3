//! One index file's text, kept so diagnostics can quote the line they point at.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::yaml::{Node, Pos};

pub struct SourceFile {
    path: PathBuf,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Self {
        // YAML breaks lines at `\n`, `\r\n` and a lone `\r`; line numbers must agree with the parser's.
        let bytes = text.as_bytes();
        let breaks = bytes
            .iter()
            .enumerate()
            .filter(|(i, b)| **b == b'\n' || (**b == b'\r' && bytes.get(i + 1) != Some(&b'\n')));
        let line_starts = std::iter::once(0).chain(breaks.map(|(i, _)| i + 1)).collect();
        SourceFile { path, text, line_starts }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The text of a 1-based line, without its line break.
    pub fn line(&self, line: u32) -> Option<&str> {
        let index = (line as usize).checked_sub(1)?;
        let start = *self.line_starts.get(index)?;
        let end = self.line_starts.get(index + 1).map_or(self.text.len(), |next| next - 1);
        Some(self.text[start..end].trim_end_matches(['\r', '\n']))
    }

    pub fn diagnostic(&self, severity: Severity, code: Code, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(severity, code, &self.path, pos, message)
    }

    /// An error pointing at a node, with a caret as wide as the node's text.
    pub fn error_at(&self, code: Code, node: &Node, message: impl Into<String>) -> Diagnostic {
        let mut diagnostic = self.diagnostic(Severity::Error, code, node.pos, message);
        diagnostic.width = node.width;
        diagnostic
    }

    /// Attaches the line a diagnostic points at. The caret stays on that line; where the diagnostic gave no
    /// width, it covers the word at the column.
    pub fn quote(&self, diagnostic: &mut Diagnostic) {
        let Some(line) = self.line(diagnostic.line) else { return };
        let rest: Vec<char> = line.chars().skip(diagnostic.column.saturating_sub(1) as usize).collect();
        if diagnostic.width <= 1 {
            let word = rest.iter().take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '#')).count();
            diagnostic.width = word as u32;
        }
        diagnostic.width = diagnostic.width.min(rest.len() as u32).max(1);
        diagnostic.source_line = Some(line.to_string());
    }

    pub fn warning_at(&self, code: Code, node: &Node, message: impl Into<String>) -> Diagnostic {
        let mut diagnostic = self.error_at(code, node, message);
        diagnostic.severity = Severity::Warning;
        diagnostic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let file = SourceFile::new("x.yaml".into(), "a\r\nb\n\nlast\rmac".into());
        assert_eq!(file.line(1), Some("a"));
        assert_eq!(file.line(2), Some("b"));
        assert_eq!(file.line(3), Some(""));
        assert_eq!(file.line(4), Some("last"));
        assert_eq!(file.line(5), Some("mac"));
        assert_eq!(file.line(6), None);
        assert_eq!(file.line(0), None);
    }
}
