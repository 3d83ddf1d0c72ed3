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

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn check_component(value: &str) -> Result<(), ReferenceError> {
    if value.is_empty() {
        return Err(ReferenceError::Empty("name"));
    }
    if value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(ReferenceError::UpperCase { value: value.to_string() });
    }
    let bad = || ReferenceError::Component { value: value.to_string() };
    let bytes = value.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(bad());
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &value[start..i];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(separator == "." || separator == "_" || separator == "__" || dashes) {
            return Err(bad());
        }
    }
    Ok(())
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_tag(value: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Tag { value: value.to_string() };
    let mut chars = value.chars();
    match chars.next() {
        None => Err(ReferenceError::Empty("tag")),
        Some(first) if !(first.is_ascii_alphanumeric() || first == '_') => Err(bad()),
        Some(_) if value.len() > 128 => Err(bad()),
        Some(_) if chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) => Ok(()),
        Some(_) => Err(bad()),
    }
}

fn check_registry(value: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Registry { value: value.to_string() };
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (value, None),
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if host.split('.').all(label_ok) { Ok(()) } else { Err(bad()) }
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
            [registry, namespace, name] if is_registry(registry) => (Some(*registry), *namespace, *name),
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

/// Docker's rule: a first component with a `.` or `:`, or `localhost`, is a registry host.
fn is_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
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
    fn components() {
        for ok in ["a", "centos", "s2i-core", "a__b", "a.b", "a---b", "x1"] {
            assert_eq!(check_component(ok), Ok(()), "{ok}");
        }
        for bad in ["-a", "a-", "a..b", "a___b", "a/b", "a b", "a.-b", "é"] {
            assert!(check_component(bad).is_err(), "{bad}");
        }
        assert!(matches!(check_component("Centos"), Err(ReferenceError::UpperCase { .. })));
    }

    #[test]
    fn tags() {
        for ok in ["latest", "3.10", "010", "v1.2.3", "_x", "CentOS-7"] {
            assert_eq!(check_tag(ok), Ok(()), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"x".repeat(129)] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
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
