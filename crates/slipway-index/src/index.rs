//! A whole index: every file read, every entry checked, then the checks between entries (duplicate
//! images, reused ids, unknown parents, cycles). Invalid entries are reported and left out; the others
//! stay usable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Code, Diagnostic, Related, Severity};
use crate::entry::{Entry, read_entry};
use crate::graph::{DependencyGraph, parent_key};
use crate::load::{self, FileContent, LoadError};
use crate::project::Project;
use crate::source::SourceFile;
use crate::yaml::{self, Node, NodeKind, Pos};

#[derive(Debug, Default)]
pub struct Index {
    pub files: Vec<PathBuf>,
    /// Every entry read, valid or not, in file and line order.
    pub entries: Vec<Entry>,
    /// Errors and warnings, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// The graph of the valid projects.
    graph: DependencyGraph,
    valid: Vec<usize>,
}

impl Index {
    /// Reads and checks the index at `path`.
    pub fn load(path: &Path) -> Result<Index, LoadError> {
        let files = load::discover(path)?;
        let mut index = Index { files: files.clone(), ..Default::default() };
        if files.is_empty() {
            let message = format!("no index files in {}", path.display());
            let hint = "an index is index.d/<app-id>.yaml files, each with a `Projects:` list";
            let diagnostic = Diagnostic::new(Severity::Warning, Code::NoIndexFiles, path, Pos::default(), message);
            index.diagnostics.push(diagnostic.with_hint(hint));
        }
        let mut sources = HashMap::new();
        for file in &files {
            let text = match load::read(file)? {
                FileContent::Text(text) => text,
                FileContent::TooLarge(size) => {
                    let message =
                        format!("the file is {size} bytes; index files are at most {} bytes", load::MAX_FILE_BYTES);
                    index.file_error(file, Code::FileTooLarge, message, "split it into smaller files");
                    continue;
                }
                FileContent::NotUtf8 => {
                    index.file_error(file, Code::ReadError, "the file is not UTF-8 text", "save it as UTF-8");
                    continue;
                }
            };
            let source = index.read_source(SourceFile::new(file.clone(), text));
            sources.insert(file.clone(), source);
        }
        index.finish(&sources);
        Ok(index)
    }

    /// Checks an index given as `(file name, text)` pairs, as if they were its files; no I/O.
    pub fn from_texts(files: impl IntoIterator<Item = (PathBuf, String)>) -> Index {
        let mut index = Index::default();
        let mut sources = HashMap::new();
        for (path, text) in files {
            index.files.push(path.clone());
            let source = index.read_source(SourceFile::new(path.clone(), text));
            sources.insert(path, source);
        }
        index.finish(&sources);
        index
    }

    /// The checks between entries, then sorting and quoting of the diagnostics.
    fn finish(&mut self, sources: &HashMap<PathBuf, SourceFile>) {
        self.check_between_entries();
        for diagnostic in &mut self.diagnostics {
            if let Some(source) = sources.get(&diagnostic.file) {
                source.quote(diagnostic);
            }
        }
        self.diagnostics.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.severity, a.code).cmp(&(&b.file, b.line, b.column, b.severity, b.code))
        });
        self.valid = (0..self.entries.len()).filter(|i| self.entries[*i].project.is_some()).collect();
        self.graph = DependencyGraph::new(self.projects());
    }

    /// Reads one file's entries; gives the file back for quoting in diagnostics.
    fn read_source(&mut self, file: SourceFile) -> SourceFile {
        let document = yaml::parse(file.text());
        if let Some(error) = &document.error {
            let message = format!("YAML syntax error: {}", error.message);
            let hint = "entries before this point are still read; fix this to read the rest of the file";
            self.diagnostics
                .push(file.diagnostic(Severity::Error, Code::YamlSyntax, error.pos, message).with_hint(hint));
        }
        let Some(entries) =
            projects_list(&file, document.root.as_ref(), document.error.is_some(), &mut self.diagnostics)
        else {
            return file;
        };
        let app_id = load::app_id_of(file.path());
        // An entry that ends where a syntax error starts may have lost fields to it: leave it out too.
        let cut_short = document.root.as_ref().is_some_and(|root| root.truncated);
        let cut_at = document.error.as_ref().filter(|_| cut_short).map(|e| e.pos.line);
        for node in entries {
            match &node.kind {
                NodeKind::Map(_) if node.truncated || cut_at.is_some_and(|line| node.end.line >= line) => {}
                NodeKind::Map(_) => {
                    let (entry, diagnostics) = read_entry(&file, node, &app_id);
                    self.entries.push(entry);
                    self.diagnostics.extend(diagnostics);
                }
                _ => {
                    let found = node.type_name();
                    let message = format!("each item of `Projects` must be a mapping of fields, found {found}");
                    self.diagnostics.push(file.error_at(Code::WrongType, node, message));
                }
            }
        }
        file
    }

    fn file_error(&mut self, path: &Path, code: Code, message: impl Into<String>, hint: &str) {
        let diagnostic = Diagnostic::new(Severity::Error, code, path, Pos { line: 1, column: 1 }, message);
        self.diagnostics.push(diagnostic.with_hint(hint));
    }

    fn check_between_entries(&mut self) {
        self.check_duplicate_images();
        self.check_reused_ids();
        // Before the cycle check, so a misspelt parent is reported even on an entry the cycle rejects.
        self.check_external_parents();
        self.check_cycles();
    }

    /// The same `app-id/job-id:desired-tag` twice is ambiguous: every copy is an error naming the others.
    fn check_duplicate_images(&mut self) {
        let mut by_image: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some(image) = &entry.image {
                by_image.entry(image.key()).or_default().push(i);
            }
        }
        for (image, copies) in by_image.into_iter().filter(|(_, copies)| copies.len() > 1) {
            for &i in &copies {
                let origin = &self.entries[i].origin;
                let mut diagnostic = Diagnostic::new(
                    Severity::Error,
                    Code::DuplicateImage,
                    &origin.file,
                    Pos { line: origin.line, column: origin.column },
                    format!("`{image}` is defined {} times in the index", copies.len()),
                )
                .with_hint("each app-id/job-id:desired-tag must be unique; change the desired-tag or remove a copy");
                for &other in copies.iter().filter(|other| **other != i) {
                    let at = &self.entries[other].origin;
                    diagnostic = diagnostic.with_related(related(&at.file, at.line, at.column, "also defined here"));
                }
                self.reject(i, diagnostic);
            }
        }
    }

    /// cccp ids are per file and unused by the pipeline; a reused one is only worth a warning.
    fn check_reused_ids(&mut self) {
        let mut first_seen: HashMap<(&Path, &str), &Entry> = HashMap::new();
        let mut warnings = Vec::new();
        for entry in &self.entries {
            let Some((id, node)) = &entry.id else { continue };
            match first_seen.get(&(entry.origin.file.as_path(), id.as_str())) {
                Some(first) => {
                    let message = format!("`id: {id}` is already used in this file (line {})", first.origin.line);
                    let mut warning =
                        Diagnostic::new(Severity::Warning, Code::ReusedId, &entry.origin.file, node.pos, message);
                    warning.width = node.width;
                    warnings.push(warning.with_hint("give each entry of a file its own id"));
                }
                None => {
                    first_seen.insert((entry.origin.file.as_path(), id.as_str()), entry);
                }
            }
        }
        self.diagnostics.extend(warnings);
    }

    /// Every project on a cycle is an error at its own `depends-on` line, naming the cycle through it.
    fn check_cycles(&mut self) {
        /// A cycle of thousands is shown by its first links; the message says how many more there are.
        const SHOWN: usize = 8;
        let candidates: Vec<usize> = (0..self.entries.len()).filter(|i| self.entries[*i].project.is_some()).collect();
        let graph = DependencyGraph::new(candidates.iter().filter_map(|i| self.entries[*i].project.as_ref()));
        let cycles = graph.cycles();
        let entry_of = |node: usize| &self.entries[candidates[node]];
        // The depends-on item of `from` that names `to`.
        let edge = |from: usize, to: usize| {
            let parents = &entry_of(from).project.as_ref()?.depends_on;
            parents.iter().find(|p| parent_key(&p.image) == graph.name(to)).map(|p| p.pos)
        };
        let mut rejected = Vec::new();
        for member in &cycles.members {
            let walk: Vec<usize> = cycles.walk(*member, SHOWN + 1).collect();
            let length = cycles.len_of(member);
            let start = member.node;
            let next = walk.get(1).copied().unwrap_or(start);
            let Some(pos) = edge(start, next) else { continue };
            let message = if length == 1 {
                format!("`{}` depends on itself", graph.name(start))
            } else {
                let mut names: Vec<&str> = walk.iter().take(SHOWN).map(|n| graph.name(*n)).collect();
                let more = length.saturating_sub(SHOWN);
                let rest = if more > 0 { format!(" → … {more} more") } else { String::new() };
                names.push(graph.name(start));
                let (shown, back) = names.split_at(names.len() - 1);
                format!("dependency cycle: {}{rest} → {}", shown.join(" → "), back[0])
            };
            let origin = &entry_of(start).origin;
            let mut diagnostic = Diagnostic::new(Severity::Error, Code::DependencyCycle, &origin.file, pos, message)
                .with_hint(
                    "an image cannot be built before itself; point depends-on at the image its FROM really uses",
                );
            for pair in walk.windows(2).skip(1).take(SHOWN) {
                if let Some(at) = edge(pair[0], pair[1]) {
                    let message = format!("`{}` depends on `{}` here", graph.name(pair[0]), graph.name(pair[1]));
                    diagnostic =
                        diagnostic.with_related(related(&entry_of(pair[0]).origin.file, at.line, at.column, &message));
                }
            }
            if length > 1 && length <= SHOWN {
                let last = walk[length - 1];
                if let Some(at) = edge(last, start) {
                    let message = format!("`{}` depends on `{}` here", graph.name(last), graph.name(start));
                    diagnostic =
                        diagnostic.with_related(related(&entry_of(last).origin.file, at.line, at.column, &message));
                }
            }
            rejected.push((candidates[start], diagnostic));
        }
        for (i, diagnostic) in rejected {
            self.reject(i, diagnostic);
        }
    }

    /// A parent outside the index is an external base image: allowed, but a typo looks just the same.
    fn check_external_parents(&mut self) {
        let known: std::collections::HashSet<String> =
            self.entries.iter().filter_map(|e| e.image.as_ref().map(|i| i.key())).collect();
        let mut warnings = Vec::new();
        for entry in &self.entries {
            let Some(project) = &entry.project else { continue };
            for parent in project.depends_on.iter().filter(|p| !known.contains(&parent_key(&p.image))) {
                let message =
                    format!("`{}` is not in the index; it is treated as an external base image", parent.image);
                let warning =
                    Diagnostic::new(Severity::Warning, Code::ExternalParent, &entry.origin.file, parent.pos, message)
                        .with_hint("if it should be an index project, check the spelling of namespace/name:tag");
                warnings.push(warning);
            }
        }
        self.diagnostics.extend(warnings);
    }

    /// Reports `diagnostic` and leaves entry `i` out of the usable projects.
    fn reject(&mut self, i: usize, diagnostic: Diagnostic) {
        self.entries[i].project = None;
        self.diagnostics.push(diagnostic);
    }

    /// The valid projects, in file and line order.
    pub fn projects(&self) -> impl Iterator<Item = &Project> {
        self.entries.iter().filter_map(|e| e.project.as_ref())
    }

    /// The entries behind the graph's project nodes (node `n` is `valid_entries()[n]`).
    pub fn valid_entries(&self) -> impl Iterator<Item = &Entry> {
        self.valid.iter().map(|i| &self.entries[*i])
    }

    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

fn related(file: &Path, line: u32, column: u32, message: &str) -> Related {
    Related { file: file.to_path_buf(), line, column, message: message.to_string() }
}

/// The `Projects:` list of a file, or the diagnostic that says why there is none.
fn projects_list<'a>(
    file: &SourceFile,
    root: Option<&'a Node>,
    had_syntax_error: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<&'a [Node]> {
    let missing = |diagnostics: &mut Vec<Diagnostic>, pos: Pos| {
        let diagnostic = file
            .diagnostic(Severity::Error, Code::MissingProjects, pos, "no top-level `Projects:` key")
            .with_hint("an index file is a mapping with one key, `Projects:`, holding a list of entries");
        diagnostics.push(diagnostic);
    };
    let root = match root {
        Some(root) => root,
        None if had_syntax_error => return None,
        None => {
            missing(diagnostics, Pos { line: 1, column: 1 });
            return None;
        }
    };
    let NodeKind::Map(pairs) = &root.kind else {
        if !(had_syntax_error && root.truncated) {
            missing(diagnostics, root.pos);
        }
        return None;
    };
    let Some((_, value)) = pairs.iter().find(|(k, _)| k.as_scalar() == Some("Projects")) else {
        let near_miss = pairs.iter().find(|(k, _)| k.as_scalar().is_some_and(|k| k.eq_ignore_ascii_case("projects")));
        if let Some((key, _)) = near_miss {
            let diagnostic = file
                .error_at(Code::MissingProjects, key, "no top-level `Projects:` key")
                .with_hint("the key is case-sensitive: write `Projects:`");
            diagnostics.push(diagnostic);
        } else if !had_syntax_error {
            missing(diagnostics, root.pos);
        }
        return None;
    };
    for (other, _) in pairs.iter().filter(|(k, _)| k.as_scalar() != Some("Projects")) {
        let name = other.as_scalar().unwrap_or("?");
        let mut diagnostic = file.error_at(Code::UnknownKey, other, format!("unknown top-level key `{name}`"));
        if crate::checks::did_you_mean(name, &["Projects"]).is_some() {
            diagnostic = diagnostic.with_hint("did you mean `Projects`? (it is case-sensitive)");
        } else {
            diagnostic = diagnostic.with_hint("an index file has one top-level key, `Projects:`");
        }
        diagnostics.push(diagnostic);
    }
    match &value.kind {
        NodeKind::Seq(items) => Some(items),
        NodeKind::Null => Some(&[]),
        _ => {
            let message = format!("`Projects` must be a list of entries, found {}", value.type_name());
            diagnostics.push(file.error_at(Code::WrongType, value, message));
            None
        }
    }
}
