//! Registry references: `host[:port]/name[:tag|@digest]`. The registry host is always written out: Slipway
//! never guesses Docker Hub.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Tag(String),
    Digest(Digest),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tag(tag) => f.write_str(tag),
            Target::Digest(digest) => write!(f, "{digest}"),
        }
    }
}

/// A repository on a registry: `host[:port]/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository {
    registry: String,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    repository: Repository,
    target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{0}` has no registry host; write it as host[:port]/name[:tag|@digest], e.g. 127.0.0.1:5555/demo/web:rc")]
    MissingRegistry(String),
    #[error("`{0}` has an invalid registry host")]
    InvalidRegistry(String),
    #[error(
        "`{0}` is not a valid repository name: lower-case components separated by `/`, each `[a-z0-9]+` joined by `.`, `_`, `__` or dashes"
    )]
    InvalidName(String),
    #[error("`{0}` is not a valid tag: up to 128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`")]
    InvalidTag(String),
    #[error(transparent)]
    InvalidDigest(#[from] DigestError),
    #[error("`{0}` names no tag or digest")]
    MissingTarget(String),
}

impl Repository {
    pub fn new(registry: &str, name: &str) -> Result<Self, ReferenceError> {
        check_registry(registry)?;
        check_name(name)?;
        Ok(Repository { registry: registry.to_string(), name: name.to_string() })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        check_tag(tag)?;
        Ok(Reference { repository: self.clone(), target: Target::Tag(tag.to_string()) })
    }

    pub fn digest(&self, digest: Digest) -> Reference {
        Reference { repository: self.clone(), target: Target::Digest(digest) }
    }

    /// A tag reference for a tag the registry itself reported.
    pub(crate) fn tag_unchecked(&self, tag: String) -> Reference {
        Reference { repository: self.clone(), target: Target::Tag(tag) }
    }
}

impl FromStr for Repository {
    type Err = ReferenceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (registry, name) = split_registry(value)?;
        Repository::new(registry, name)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

impl Reference {
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn registry(&self) -> &str {
        &self.repository.registry
    }

    pub fn name(&self) -> &str {
        &self.repository.name
    }

    pub fn tag(&self) -> Option<&str> {
        match &self.target {
            Target::Tag(tag) => Some(tag),
            Target::Digest(_) => None,
        }
    }

    pub fn digest(&self) -> Option<&Digest> {
        match &self.target {
            Target::Digest(digest) => Some(digest),
            Target::Tag(_) => None,
        }
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let (registry, rest) = split_registry(value)?;
        let (name, target) = if let Some((name, digest)) = rest.split_once('@') {
            (name, Target::Digest(digest.parse()?))
        } else {
            match rest.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => {
                    check_tag(tag)?;
                    (name, Target::Tag(tag.to_string()))
                }
                _ => return Err(ReferenceError::MissingTarget(value.to_string())),
            }
        };
        Ok(Reference { repository: Repository::new(registry, name)?, target })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Target::Tag(tag) => write!(f, "{}:{tag}", self.repository),
            Target::Digest(digest) => write!(f, "{}@{digest}", self.repository),
        }
    }
}

fn split_registry(value: &str) -> Result<(&str, &str), ReferenceError> {
    match value.split_once('/') {
        Some((host, rest)) if slipway_oci_name::looks_like_registry(host) => Ok((host, rest)),
        _ => Err(ReferenceError::MissingRegistry(value.to_string())),
    }
}

fn check_registry(registry: &str) -> Result<(), ReferenceError> {
    if slipway_oci_name::is_registry_host(registry) {
        Ok(())
    } else {
        Err(ReferenceError::InvalidRegistry(registry.to_string()))
    }
}

fn check_name(name: &str) -> Result<(), ReferenceError> {
    if slipway_oci_name::is_repository_name(name) { Ok(()) } else { Err(ReferenceError::InvalidName(name.to_string())) }
}

pub(crate) fn check_tag(tag: &str) -> Result<(), ReferenceError> {
    if slipway_oci_name::is_tag(tag) { Ok(()) } else { Err(ReferenceError::InvalidTag(tag.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for text in ["127.0.0.1:5555/demo/web:rc", "localhost/x:1", "quay.io/a/b/c:v1.2", &format!("r.io/a@{digest}")] {
            let parsed: Reference = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.to_string(), text);
        }
        let parsed: Reference = "127.0.0.1:5555/demo/web:rc".parse().expect("parses");
        assert_eq!((parsed.registry(), parsed.name(), parsed.tag()), ("127.0.0.1:5555", "demo/web", Some("rc")));
    }

    #[test]
    fn each_rule_has_its_error() {
        type Expect = fn(&ReferenceError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("demo/web:rc", |e| matches!(e, ReferenceError::MissingRegistry(_))),
            ("web:rc", |e| matches!(e, ReferenceError::MissingRegistry(_))),
            ("r.io/Demo/web:rc", |e| matches!(e, ReferenceError::InvalidName(_))),
            ("r.io/demo//web:rc", |e| matches!(e, ReferenceError::InvalidName(_))),
            ("r.io/demo/web:-rc", |e| matches!(e, ReferenceError::InvalidTag(_))),
            ("r.io/demo/web", |e| matches!(e, ReferenceError::MissingTarget(_))),
            ("r.io/demo/web@sha256:12", |e| matches!(e, ReferenceError::InvalidDigest(_))),
            ("bad_host.io:1/x:1", |e| matches!(e, ReferenceError::InvalidRegistry(_))),
        ];
        for (text, expected) in cases {
            let err = text.parse::<Reference>().expect_err(text);
            assert!(expected(&err), "{text}: {err:?}");
        }
    }
}
