//! A small YAML tree that keeps where every node was written.
//!
//! The index is read with cccp's BaseLoader semantics: every scalar stays the string it was written as
//! (`desired-tag: 3.10` is `3.10`), so the tree never converts scalars to numbers or booleans. Only a plain
//! `null`, `~` or an empty value is null. On a syntax error the tree is closed where the error happened and
//! the containers left open are marked `truncated`, so the complete entries before the error stay usable.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError};

/// Deeper nesting than this is never a valid index and would only cost stack and memory.
const MAX_DEPTH: usize = 64;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    fn from_marker(marker: &Marker) -> Self {
        Pos { line: saturate(marker.line()), column: saturate(marker.col() + 1) }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
    /// Width in characters of the node's text on its first line, for the caret under it.
    pub width: u32,
    /// Where the node ends: for a block container, where the next token starts.
    pub end: Pos,
    /// The node was still open when a syntax error stopped the parser.
    pub truncated: bool,
}

impl Node {
    /// What the node is, in words a YAML author recognises.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Scalar(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// Why the tree is incomplete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// The first document of a file, and the syntax error that cut it short, if any.
#[derive(Debug)]
pub struct Document {
    pub root: Option<Node>,
    pub error: Option<SyntaxError>,
}

enum Frame {
    Seq(Node, Vec<Node>),
    Map(Node, Vec<(Node, Node)>, Option<Node>),
}

/// Parses the first YAML document of `text`. Never panics; errors end the tree where they happened.
pub fn parse(text: &str) -> Document {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(item)) => item,
            Some(Err(err)) => return builder.finish(Some(scan_error(&err, text))),
        };
        let pos = Pos::from_marker(&span.start);
        let end = Pos::from_marker(&span.end);
        let width = saturate(span.len()).max(1);
        let step = match event {
            Event::DocumentStart(_) if builder.documents > 0 => Err(SyntaxError {
                pos,
                message: "a second YAML document (`---`) in one index file; put it in its own file".into(),
            }),
            Event::DocumentStart(_) => {
                builder.documents += 1;
                Ok(())
            }
            Event::Alias(_) => Err(SyntaxError {
                pos,
                message: "YAML aliases (`*name`) are not supported in index files; write the value out".into(),
            }),
            Event::Scalar(value, style, _, _) => {
                let null = style == ScalarStyle::Plain && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                let kind = if null { NodeKind::Null } else { NodeKind::Scalar(value.into_owned()) };
                builder.push(Node { kind, pos, width, end, truncated: false })
            }
            Event::SequenceStart(..) => builder.open(Frame::Seq(container(pos), Vec::new()), pos),
            Event::MappingStart(..) => builder.open(Frame::Map(container(pos), Vec::new(), None), pos),
            Event::SequenceEnd | Event::MappingEnd => builder.close(end),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        };
        if let Err(err) = step {
            return builder.finish(Some(err));
        }
    }
    builder.finish(None)
}

fn container(pos: Pos) -> Node {
    Node { kind: NodeKind::Null, pos, width: 1, end: pos, truncated: false }
}

/// The scanner may report an error one line past the end of the text; clamp it to the text's last
/// position so the diagnostic can quote a real line.
fn scan_error(err: &ScanError, text: &str) -> SyntaxError {
    let pos = Pos::from_marker(err.marker()).min(end_of(text));
    SyntaxError { pos, message: err.info().to_string() }
}

fn end_of(text: &str) -> Pos {
    let normalised = text.replace("\r\n", "\n");
    let breaks = normalised.chars().filter(|c| matches!(c, '\n' | '\r')).count();
    let last_line = normalised.rsplit(['\n', '\r']).next().unwrap_or("");
    Pos { line: saturate(breaks + 1), column: saturate(last_line.chars().count() + 1) }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: u32,
}

impl Builder {
    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError { pos, message: format!("nesting deeper than {MAX_DEPTH} levels") });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: Pos) -> Result<(), SyntaxError> {
        match self.stack.pop() {
            Some(frame) => {
                let mut node = finish_frame(frame, false);
                node.end = end;
                self.push(node)
            }
            None => Ok(()),
        }
    }

    fn push(&mut self, node: Node) -> Result<(), SyntaxError> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, pairs, pending_key)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => pairs.push((key, node)),
            },
        }
        Ok(())
    }

    /// Closes every open container, marking it truncated when an error stopped the parse.
    fn finish(mut self, error: Option<SyntaxError>) -> Document {
        let truncated = error.is_some();
        while let Some(frame) = self.stack.pop() {
            let node = finish_frame(frame, truncated);
            // `push` only fails on depth, which closing never exceeds.
            let _ = self.push(node);
        }
        Document { root: self.root, error }
    }
}

fn finish_frame(frame: Frame, truncated: bool) -> Node {
    match frame {
        Frame::Seq(mut node, items) => {
            node.kind = NodeKind::Seq(items);
            node.truncated = truncated;
            node
        }
        Frame::Map(mut node, pairs, _) => {
            node.kind = NodeKind::Map(pairs);
            node.truncated = truncated;
            node
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        node.as_scalar().unwrap_or("<not a scalar>")
    }

    #[test]
    fn scalars_stay_as_written() {
        let doc = parse("a: 3.10\nb: 010\nc: yes\nd: null\ne: 'null'\nf:\n");
        assert!(doc.error.is_none());
        let Some(Node { kind: NodeKind::Map(pairs), .. }) = doc.root else { panic!("not a map") };
        let values: Vec<_> = pairs.iter().map(|(_, v)| v.kind.clone()).collect();
        assert_eq!(
            values,
            vec![
                NodeKind::Scalar("3.10".into()),
                NodeKind::Scalar("010".into()),
                NodeKind::Scalar("yes".into()),
                NodeKind::Null,
                NodeKind::Scalar("null".into()),
                NodeKind::Null,
            ]
        );
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("Projects:\n  - id: 1\n    app-id: x\n");
        let Some(Node { kind: NodeKind::Map(pairs), .. }) = doc.root else { panic!("not a map") };
        let NodeKind::Seq(items) = &pairs[0].1.kind else { panic!("not a seq") };
        assert_eq!(items[0].pos, Pos { line: 2, column: 5 });
        let NodeKind::Map(entry) = &items[0].kind else { panic!("not a map") };
        assert_eq!(scalar(&entry[1].0), "app-id");
        assert_eq!(entry[1].1.pos, Pos { line: 3, column: 13 });
    }

    #[test]
    fn syntax_error_keeps_complete_entries() {
        let doc = parse("Projects:\n  - a: 1\n  - b: [unclosed\n");
        let err = doc.error.expect("an error");
        assert_eq!(err.pos.line, 4);
        let Some(Node { kind: NodeKind::Map(pairs), truncated: true, .. }) = doc.root else { panic!("no root") };
        let NodeKind::Seq(items) = &pairs[0].1.kind else { panic!("not a seq") };
        assert!(!items[0].truncated);
        assert!(items.len() == 1 || items[1].truncated);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).error.is_some());
    }
}
