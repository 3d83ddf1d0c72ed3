//! The OCI distribution grammar (distribution/reference) for the parts of an image reference. The index and
//! the registry client each turn a `false` into their own typed error.

/// One path component of a repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn is_path_component(value: &str) -> bool {
    let bytes = value.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut separators = value.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()).filter(|s| !s.is_empty());
    separators.all(|s| s == "." || s == "_" || s == "__" || s.bytes().all(|b| b == b'-'))
}

/// A repository name: path components joined by `/`, at most 255 characters.
pub fn is_repository_name(value: &str) -> bool {
    value.len() <= 255 && value.split('/').all(is_path_component)
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(value: &str) -> bool {
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && value.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The reference's first component is a registry host (`host.domain/…`, `host:port/…`, `localhost/…`), as
/// distribution/reference decides it; otherwise the name is one only a daemon (or Docker Hub) knows.
pub fn names_registry(reference: &str) -> bool {
    reference.split_once('/').is_some_and(|(host, _)| host.contains(['.', ':']) || host == "localhost")
}

/// A registry host: DNS labels joined by `.`, with an optional `:port`.
pub fn is_registry_host(value: &str) -> bool {
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (value, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && host.split('.').all(label)
}

/// Docker's rule for the first component of a reference: it is a registry host when it has a `.` or a `:`,
/// or is `localhost`.
pub fn looks_like_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_is_named_by_a_dot_a_port_or_localhost() {
        assert!(names_registry("127.0.0.1:5555/a/b:1"));
        assert!(names_registry("quay.io/a/b"));
        assert!(names_registry("localhost/a"));
        assert!(!names_registry("slipway/busybox:latest"));
        assert!(!names_registry("busybox"));
    }

    #[test]
    fn components() {
        for ok in ["a", "centos", "s2i-core", "a__b", "a.b", "a---b", "x1"] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a..b", "a___b", "a/b", "a b", "a.-b", "é", "Centos"] {
            assert!(!is_path_component(bad), "{bad}");
        }
        assert!(is_repository_name("demo/web/api"));
        assert!(!is_repository_name("demo//web"));
    }

    #[test]
    fn tags() {
        for ok in ["latest", "3.10", "010", "v1.2.3", "_x", "CentOS-7"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"x".repeat(129)] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        for ok in ["127.0.0.1:5555", "quay.io", "localhost", "registry-1.example.org:443"] {
            assert!(is_registry_host(ok), "{ok}");
        }
        for bad in ["bad_host.io", "h:", "h:123456", "-h.io", "h..io"] {
            assert!(!is_registry_host(bad), "{bad}");
        }
    }
}
