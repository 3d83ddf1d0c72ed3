//! `.dockerignore` with Docker's semantics, which are not git's.
//!
//! Docker (moby/patternmatcher) reads one pattern per line, relative to the context root: `#` lines and blank
//! lines are skipped, a leading `!` re-includes, a leading `/` or `./` means nothing, and `*` never crosses `/`
//! while `**` spans any number of directories. A path is excluded by the *last* pattern that matches it or one of
//! its parent directories, so `docs` + `!docs/keep.txt` sends only `docs/keep.txt`, whereas git could not
//! re-include a file below an ignored directory.
//!
//! Each pattern is compiled on its own as an *anchored* gitignore glob (the `ignore` crate does the globbing) and
//! tested with `matched_path_or_any_parents`; the rule order is applied here, as Docker does it.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// A parsed `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    /// The cleaned pattern, as Docker would use it (for messages and debugging).
    pattern: String,
    /// `false` for a `!` exception.
    exclude: bool,
    matcher: Gitignore,
}

/// A pattern the glob engine rejects (Docker rejects it too, so the build would fail anyway).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: invalid pattern `{pattern}`: {message}")]
pub struct PatternError {
    pub line: usize,
    pub pattern: String,
    pub message: String,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`.
    pub fn parse(text: &str) -> Result<DockerIgnore, PatternError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(rest) => (false, rest.trim()),
                None => (true, line),
            };
            let Some(pattern) = clean(pattern) else { continue };
            let mut builder = GitignoreBuilder::new("");
            let error = |message: String| PatternError { line: index + 1, pattern: raw.trim().to_string(), message };
            builder.add_line(None, &format!("/{}", literal_braces(&pattern))).map_err(|err| error(err.to_string()))?;
            let matcher = builder.build().map_err(|err| error(err.to_string()))?;
            rules.push(Rule { pattern, exclude, matcher });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `rel` (relative to the context root, `/`-separated) is left out of the context.
    pub fn is_excluded(&self, rel: &Path, is_dir: bool) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            // Like Docker: an exclusion only matters while the path is included, an exception while excluded.
            if rule.exclude == excluded {
                continue;
            }
            if rule.matcher.matched_path_or_any_parents(rel, is_dir).is_ignore() {
                excluded = rule.exclude;
            }
        }
        excluded
    }

    /// Whether a `!` pattern might bring back something below the excluded directory `dir`, so it must still be
    /// walked. Conservative: a pattern with a wildcard in the compared part counts as "might".
    pub fn may_reinclude_below(&self, dir: &Path) -> bool {
        self.rules.iter().filter(|rule| !rule.exclude).any(|rule| {
            rule.pattern
                .split('/')
                .zip(dir.iter())
                .all(|(pattern, name)| pattern.contains(['*', '?', '[', '\\']) || std::ffi::OsStr::new(pattern) == name)
        })
    }

    /// The cleaned patterns in order, `!` kept, as Docker would apply them.
    pub fn patterns(&self) -> Vec<String> {
        self.rules.iter().map(|r| if r.exclude { r.pattern.clone() } else { format!("!{}", r.pattern) }).collect()
    }
}

/// Docker has no `{a,b}` alternation, so braces are matched literally (`[{]`), outside character classes.
fn literal_braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                out.extend(chars.next());
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' | '}' if !in_class => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// Go's `filepath.Clean` on a slash path, with the leading `/` dropped as Docker does. `None` for a pattern that
/// cannot match anything inside the context (`.`, `/`, or one climbing out with `..`).
fn clean(pattern: &str) -> Option<String> {
    let rooted = pattern.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    if parts.is_empty() || parts[0] == ".." {
        return None;
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (dockerignore text, path, is_dir, excluded?)
    const CASES: &[(&str, &str, bool, bool)] = &[
        // node_modules at the root only
        ("node_modules", "node_modules", true, true),
        ("node_modules", "node_modules/left-pad/index.js", false, true),
        ("node_modules", "web/node_modules/x.js", false, false),
        // *.md, but README.md
        ("*.md\n!README.md", "CHANGES.md", false, true),
        ("*.md\n!README.md", "README.md", false, false),
        ("*.md\n!README.md", "docs/guide.md", false, false),
        // a directory, but one file in it
        ("docs\n!docs/keep.txt", "docs/keep.txt", false, false),
        ("docs\n!docs/keep.txt", "docs/other.txt", false, true),
        ("docs\n!docs/keep.txt", "docs/sub/keep.txt", false, true),
        // the last matching pattern wins, parents included
        ("!docs/keep.txt\ndocs", "docs/keep.txt", false, true),
        // ** spans directories, including none
        ("**/*.tmp", "a.tmp", false, true),
        ("**/*.tmp", "src/deep/b.tmp", false, true),
        ("**/*.tmp", "src/b.tmpx", false, false),
        ("src/**/gen", "src/gen/x.rs", false, true),
        ("src/**/gen", "src/a/b/gen", true, true),
        // leading / and ./ and trailing / mean nothing
        ("/build/", "build/out.o", false, true),
        ("/build/", "src/build/out.o", false, false),
        ("./target", "target/debug/x", false, true),
        ("build/", "build", false, true),
        // * does not cross /
        ("*/temp*", "somedir/temporary.txt", false, true),
        ("*/temp*", "somedir/sub/temp.txt", false, false),
        ("temp?", "tempa", false, true),
        // comments and blank lines
        ("# comment\n\n   \nsecret.txt", "secret.txt", false, true),
        ("# secret.txt", "secret.txt", false, false),
        ("  secret.txt  ", "secret.txt", false, true),
        // cleaned away or out of the context: no effect
        ("../outside\n.\n/", "outside", false, false),
        ("a/../b", "b", false, true),
        ("\u{feff}bom.txt", "bom.txt", false, true),
        // no brace alternation: braces are literal
        ("{a,b}", "a", false, false),
        ("{a,b}", "{a,b}", false, true),
        ("x[{]", "x{", false, true),
        // an exception with nothing excluded changes nothing
        ("!keep", "keep", false, false),
        // exclude everything, then bring one directory back
        ("*\n!src", "src/main.rs", false, false),
        ("*\n!src", "README", false, true),
    ];

    #[test]
    fn docker_semantics() {
        for &(text, path, is_dir, want) in CASES {
            let ignore = DockerIgnore::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(ignore.is_excluded(Path::new(path), is_dir), want, "patterns {text:?}, path {path:?}");
        }
    }

    #[test]
    fn cleaning() {
        let cases = [
            ("/build/", Some("build")),
            ("./a//b/./c", Some("a/b/c")),
            ("a/../../b", None),
            ("/../b", Some("b")),
            (".", None),
            ("/", None),
        ];
        for (pattern, want) in cases {
            assert_eq!(clean(pattern).as_deref(), want, "{pattern}");
        }
    }

    #[test]
    fn patterns_are_reported_cleaned() {
        let ignore = DockerIgnore::parse("# c\n/a/\n!./b").unwrap_or_default();
        assert_eq!(ignore.patterns(), ["a", "!b"]);
    }

    #[test]
    fn excluded_directories_are_walked_only_when_an_exception_may_reach_inside() {
        let cases = [
            ("node_modules\n!README.md", "node_modules", false),
            ("docs\n!docs/keep.txt", "docs", true),
            ("docs\n!docs/keep.txt", "docs/sub", false),
            ("docs\n!docs/sub/keep.txt", "docs/sub", true),
            ("build\n!**/keep", "build", true),
            ("build\n!*/keep", "build", true),
            ("build", "build", false),
        ];
        for (text, dir, want) in cases {
            let ignore = DockerIgnore::parse(text).unwrap_or_default();
            assert_eq!(ignore.may_reinclude_below(Path::new(dir)), want, "{text:?} {dir}");
        }
    }

    #[test]
    fn invalid_glob_names_its_line() {
        let err = DockerIgnore::parse("ok\n[z-a]").err();
        assert_eq!(err.map(|e| (e.line, e.pattern)), Some((2, "[z-a]".to_string())));
    }
}
