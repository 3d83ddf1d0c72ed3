//! Reading one YAML mapping against a list of known keys: unknown and duplicate keys, missing, empty and
//! wrong-typed values each become a diagnostic, and reading goes on so one run reports them all.

use crate::checks::did_you_mean;
use crate::diagnostic::{Code, Diagnostic};
use crate::project::Written;
use crate::source::SourceFile;
use crate::yaml::{Node, NodeKind};

pub struct MappingReader<'a> {
    file: &'a SourceFile,
    node: &'a Node,
    known: Vec<(&'a str, &'a Node, &'a Node)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Keys that were meaningful in cccp but never had an effect: read, warned about, ignored.
pub type IgnoredKeys<'k> = &'k [(&'k str, &'k str)];

impl<'a> MappingReader<'a> {
    /// `node` must be a mapping; the caller checks that. `fields` are the keys the mapping may have.
    pub fn new(file: &'a SourceFile, node: &'a Node, fields: &'a [&'a str], ignored: IgnoredKeys<'_>) -> Self {
        let mut reader = MappingReader { file, node, known: Vec::new(), diagnostics: Vec::new() };
        let NodeKind::Map(pairs) = &node.kind else { return reader };
        for (key_node, value) in pairs {
            let Some(key) = key_node.as_scalar() else {
                let found = key_node.type_name();
                reader.error(Code::WrongType, key_node, format!("a key must be a plain name, found {found}"));
                continue;
            };
            if let Some((_, first, _)) = reader.known.iter().find(|(k, _, _)| *k == key) {
                let line = first.pos.line;
                let message = format!("`{key}` is set twice in this entry (first on line {line})");
                reader.error(Code::DuplicateKey, key_node, message);
                continue;
            }
            if let Some(field) = fields.iter().find(|f| **f == key) {
                reader.known.push((field, key_node, value));
            } else if let Some((_, why)) = ignored.iter().find(|(k, _)| *k == key) {
                let warning = file.warning_at(Code::IgnoredKey, key_node, format!("`{key}` is ignored: {why}"));
                reader.diagnostics.push(warning);
            } else {
                let mut diagnostic = file.error_at(Code::UnknownKey, key_node, format!("unknown key `{key}`"));
                diagnostic = match did_you_mean(key, fields) {
                    Some(suggestion) => diagnostic.with_hint(format!("did you mean `{suggestion}`?")),
                    None => diagnostic.with_hint(format!("the keys are: {}", fields.join(", "))),
                };
                reader.diagnostics.push(diagnostic);
            }
        }
        reader
    }

    pub fn file(&self) -> &'a SourceFile {
        self.file
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn error(&mut self, code: Code, node: &Node, message: impl Into<String>) {
        self.diagnostics.push(self.file.error_at(code, node, message));
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The value node of `field`, if it was written and is not null.
    pub fn value(&self, field: &str) -> Option<&'a Node> {
        self.known.iter().find(|(k, _, _)| *k == field).map(|(_, _, v)| *v).filter(|v| v.kind != NodeKind::Null)
    }

    /// A string field that must be present and non-empty.
    pub fn required_text(&mut self, field: &str) -> Option<(&'a str, &'a Node)> {
        let Some((_, key, value)) = self.known.iter().find(|(k, _, _)| *k == field).copied() else {
            let message = format!("missing required field `{field}`");
            let hint = format!("add `{field}:` to this entry");
            let diagnostic = self.file.error_at(Code::MissingField, self.node, message).with_hint(hint);
            self.diagnostics.push(diagnostic);
            return None;
        };
        if value.kind == NodeKind::Null {
            self.error(Code::EmptyField, key, format!("`{field}` is empty; it needs a value"));
            return None;
        }
        self.text(field)
    }

    /// A string field that may be absent (or null). Present but not a non-empty string is an error.
    pub fn text(&mut self, field: &str) -> Option<(&'a str, &'a Node)> {
        let value = self.value(field)?;
        match &value.kind {
            NodeKind::Scalar(text) if text.trim().is_empty() => {
                self.error(Code::EmptyField, value, format!("`{field}` is empty; it needs a value"));
                None
            }
            NodeKind::Scalar(text) => Some((text.as_str(), value)),
            _ => {
                let found = value.type_name();
                self.error(Code::WrongType, value, format!("`{field}` must be a string, found {found}"));
                None
            }
        }
    }

    /// Every written field in order, as written, for display.
    pub fn written(&self) -> Vec<(String, Written)> {
        self.known.iter().map(|(k, _, v)| ((*k).to_string(), written(v))).collect()
    }
}

pub fn written(node: &Node) -> Written {
    match &node.kind {
        NodeKind::Null => Written::Null,
        NodeKind::Scalar(text) => Written::Text(text.clone()),
        NodeKind::Seq(items) => Written::List(items.iter().map(written).collect()),
        NodeKind::Map(pairs) => Written::Map(
            pairs.iter().map(|(k, v)| (k.as_scalar().unwrap_or_default().to_string(), written(v))).collect(),
        ),
    }
}
