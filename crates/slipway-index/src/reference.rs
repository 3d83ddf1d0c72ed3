//! Image names in the OCI distribution grammar, and the `[registry/]namespace/name:tag` references that
//! `depends-on` uses.

use std::fmt;
use std::str::FromStr;

/// Why a name, tag or reference is outside the grammar. Each message says what the rule is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{0}` is empty")]
    Empty(&'static str),
    #[error("`{value}` has upper-case letters; image names are lower-case")]
    UpperCase { value: String },
    #[error(
        "`{value}` is not a valid name component: use lower-case letters and digits, separated by one `.`, \
         one or two `_`, or `-`"
    )]
    Component { value: String },
    #[error("`{value}` is not a valid tag: up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`")]
    Tag { value: String },
    #[error("`{value}` has no tag; write it as `namespace/name:tag`")]
    MissingTag { value: String },
    #[error("`{value}` is a digest reference; depends-on names a tag (`namespace/name:tag`)")]
    Digest { value: String },
    #[error("`{value}` must be `[registry/]namespace/name:tag` (two name components)")]
    Shape { value: String },
    #[error("`{value}` is not a valid registry host (`host[:port]`)")]
    Registry { value: String },
    #[error("`{value}` is longer than 255 characters")]
    TooLong { value: String },
}

/// One path component of an image name; upper case gets its own error, as the commonest slip.
pub fn check_component(value: &str) -> Result<(), ReferenceError> {
    if value.is_empty() {
        return Err(ReferenceError::Empty("name"));
    }
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::UpperCase { value: value.to_string() });
    }
    if slipway_oci_name::is_path_component(value) {
        Ok(())
    } else {
        Err(ReferenceError::Component { value: value.to_string() })
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_tag(value: &str) -> Result<(), ReferenceError> {
    match value {
        "" => Err(ReferenceError::Empty("tag")),
        _ if slipway_oci_name::is_tag(value) => Ok(()),
        _ => Err(ReferenceError::Tag { value: value.to_string() }),
    }
}

fn check_registry(value: &str) -> Result<(), ReferenceError> {
    if slipway_oci_name::is_registry_host(value) {
        Ok(())
    } else {
        Err(ReferenceError::Registry { value: value.to_string() })
    }
}

/// A reference to an image by tag, as `depends-on` writes it: `[registry/]namespace/name:tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: Option<String>,
    namespace: String,
    name: String,
    tag: String,
}

impl ImageRef {
    pub fn new(namespace: &str, name: &str, tag: &str) -> Result<Self, ReferenceError> {
        check_component(namespace)?;
        check_component(name)?;
        check_tag(tag)?;
        // The distribution spec caps a repository name at 255 characters.
        if namespace.len() + 1 + name.len() > 255 {
            return Err(ReferenceError::TooLong { value: format!("{namespace}/{name}") });
        }
        Ok(ImageRef { registry: None, namespace: namespace.into(), name: name.into(), tag: tag.into() })
    }

    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// `namespace/name:tag` without the registry: the key an index project is known by.
    pub fn key(&self) -> String {
        format!("{}/{}:{}", self.namespace, self.name, self.tag)
    }

    /// The repository path in a registry; the `library` namespace has none.
    pub fn repository(&self) -> String {
        if self.namespace == "library" { self.name.clone() } else { format!("{}/{}", self.namespace, self.name) }
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.is_empty() {
            return Err(ReferenceError::Empty("reference"));
        }
        if value.len() > 255 {
            return Err(ReferenceError::TooLong { value: value.to_string() });
        }
        if value.contains('@') {
            return Err(ReferenceError::Digest { value: value.to_string() });
        }
        let (path, tag) = match value.rsplit_once(':') {
            Some((path, tag)) if !tag.contains('/') => (path, tag),
            _ => return Err(ReferenceError::MissingTag { value: value.to_string() }),
        };
        let parts: Vec<&str> = path.split('/').collect();
        let (registry, namespace, name) = match parts.as_slice() {
            [namespace, name] => (None, *namespace, *name),
            [registry, namespace, name] if slipway_oci_name::looks_like_registry(registry) => {
                (Some(*registry), *namespace, *name)
            }
            _ => return Err(ReferenceError::Shape { value: value.to_string() }),
        };
        if let Some(registry) = registry {
            check_registry(registry)?;
        }
        let mut reference = ImageRef::new(namespace, name, tag)?;
        reference.registry = registry.map(str::to_string);
        Ok(reference)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        write!(f, "{}/{}:{}", self.namespace, self.name, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_case_and_empty_get_their_own_errors() {
        assert!(matches!(check_component("Centos"), Err(ReferenceError::UpperCase { .. })));
        assert_eq!(check_component(""), Err(ReferenceError::Empty("name")));
        assert_eq!(check_tag(""), Err(ReferenceError::Empty("tag")));
        assert!(matches!(check_tag("-x"), Err(ReferenceError::Tag { .. })));
    }

    #[test]
    fn references_round_trip() {
        for text in ["centos/centos:7", "registry.centos.org/centos/centos:7", "localhost:5000/a/b:c"] {
            let parsed: ImageRef = text.parse().expect(text);
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn reference_errors_name_the_rule() {
        type Expect = fn(&ReferenceError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("centos/centos", |e| matches!(e, ReferenceError::MissingTag { .. })),
            ("centos:7", |e| matches!(e, ReferenceError::Shape { .. })),
            ("a/b/c:7", |e| matches!(e, ReferenceError::Shape { .. })),
            ("a/b@sha256:00", |e| matches!(e, ReferenceError::Digest { .. })),
            ("Centos/c:7", |e| matches!(e, ReferenceError::UpperCase { .. })),
            ("bad_host.x:99999999/a/b:c", |e| matches!(e, ReferenceError::Registry { .. })),
            ("a/b:", |e| matches!(e, ReferenceError::Empty("tag"))),
            (&format!("a/{}:1", "b".repeat(254)), |e| matches!(e, ReferenceError::TooLong { .. })),
        ];
        for (text, expected) in cases {
            let err = text.parse::<ImageRef>().expect_err(text);
            assert!(expected(&err), "{text}: {err:?}");
        }
    }
}
