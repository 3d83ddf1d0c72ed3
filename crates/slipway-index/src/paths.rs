//! Paths inside a project's repository. Every path field is resolved against the repository root and must
//! stay inside it: the pipeline later opens these files on a checkout, and a `../` that climbs out of the
//! repository would reach the worker's own files.

use std::fmt;

/// A normalised path relative to the repository root: no leading `/`, no `.` or `..` components.
/// The empty path is the root itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RepoPath(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("`{path}` climbs out of the repository (`..` beyond its root)")]
    Escapes { path: String },
    #[error("`{path}` contains a character that is not allowed in a path (NUL, a control character or `\\`)")]
    BadCharacter { path: String },
}

impl RepoPath {
    pub fn root() -> Self {
        RepoPath(String::new())
    }

    /// Resolves `relative` against `self`. A leading `/` means the repository root.
    pub fn join(&self, relative: &str) -> Result<RepoPath, PathError> {
        if relative.chars().any(|c| c.is_control() || c == '\\') {
            return Err(PathError::BadCharacter { path: relative.to_string() });
        }
        let (mut parts, rest): (Vec<&str>, &str) = match relative.strip_prefix('/') {
            Some(rest) => (Vec::new(), rest),
            None => (self.0.split('/').filter(|p| !p.is_empty()).collect(), relative),
        };
        for part in rest.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(PathError::Escapes { path: relative.to_string() });
                    }
                }
                other => parts.push(other),
            }
        }
        Ok(RepoPath(parts.join("/")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("/") } else { write!(f, "/{}", self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(base: &str, path: &str) -> Result<String, PathError> {
        RepoPath::root().join(base)?.join(path).map(|p| p.0)
    }

    #[test]
    fn resolves_inside_the_repository() {
        assert_eq!(resolve("/", "Dockerfile"), Ok("Dockerfile".into()));
        assert_eq!(resolve("docker/", "./"), Ok("docker".into()));
        assert_eq!(resolve("a/b/c", "../../"), Ok("a".into()));
        assert_eq!(resolve("a/b", "../.."), Ok(String::new()));
        assert_eq!(resolve("a/b", "/x/y"), Ok("x/y".into()));
        assert_eq!(resolve("./a/./b/", "c//d"), Ok("a/b/c/d".into()));
    }

    #[test]
    fn refuses_to_leave_it() {
        assert!(matches!(resolve("a", "../.."), Err(PathError::Escapes { .. })));
        assert!(matches!(resolve("..", "x"), Err(PathError::Escapes { .. })));
        assert!(matches!(resolve("a", "b/../../../etc/passwd"), Err(PathError::Escapes { .. })));
        assert!(matches!(resolve("a", "x\0y"), Err(PathError::BadCharacter { .. })));
    }
}
