//! What the crate needs to know about a git URL without parsing it fully: how to show it (password
//! redacted), whether its transport can fetch shallow, and the mirror directory it maps to.

/// `scheme://user:password@host/…` with the password replaced by `***`; every other URL as given.
/// A user name alone stays visible (`git@host`, `https://user@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => url.to_string(),
    }
}

/// Whether libgit2 can fetch `url` with a depth: the network transports can; its local transport
/// (`file://` and plain paths) fails with "shallow fetch is not supported by the local transport".
pub fn supports_shallow(url: &str) -> bool {
    match url.split_once("://") {
        Some((scheme, _)) => {
            matches!(scheme.to_ascii_lowercase().as_str(), "git" | "http" | "https" | "ssh" | "git+ssh" | "ssh+git")
        }
        None => is_scp_like(url),
    }
}

/// `user@host:path` or `host:path`: git's ssh shorthand, told apart from a local path by a `:` that comes
/// before any `/`.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), Some(slash)) => colon > 0 && colon < slash,
        (Some(colon), None) => colon > 0,
        _ => false,
    }
}

/// The longest readable part of a mirror directory name.
const MAX_READABLE: usize = 64;

/// A directory name for `url`'s mirror: the host and path made filesystem-safe (readable, credentials left
/// out), then a hash of the whole URL so that URLs that sanitize alike never share a mirror.
pub fn mirror_name(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = without_scheme.find('/').unwrap_or(without_scheme.len());
    let (authority, path) = without_scheme.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let mut readable = String::with_capacity(host.len() + path.len());
    for c in host.chars().chain(path.chars()) {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') { c } else { '_' };
        if !(c == '_' && readable.ends_with('_')) {
            readable.push(c);
        }
    }
    let readable = readable.trim_matches(|c| c == '_' || c == '.');
    let readable = &readable[..readable.len().min(MAX_READABLE)];
    let readable = if readable.is_empty() { "repo" } else { readable };
    format!("{readable}-{:016x}", fnv1a64(url.as_bytes()))
}

/// FNV-1a, 64 bits: stable across Rust releases (unlike `DefaultHasher`), so mirror names survive upgrades.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_passwords() {
        let cases = [
            ("https://user:secret@example.com/a/b.git", "https://user:***@example.com/a/b.git"),
            ("https://user:p@ss@example.com/a", "https://user:***@example.com/a"),
            ("https://token@example.com/a", "https://token@example.com/a"),
            ("git://127.0.0.1:9418/demo/base", "git://127.0.0.1:9418/demo/base"),
            ("https://example.com/a@b", "https://example.com/a@b"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("/srv/git/repo", "/srv/git/repo"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn shallow_only_over_network_transports() {
        let cases = [
            ("git://127.0.0.1/demo", true),
            ("https://example.com/a.git", true),
            ("HTTP://example.com/a.git", true),
            ("ssh://git@example.com/a.git", true),
            ("git@github.com:org/repo.git", true),
            ("file:///srv/git/repo", false),
            ("/srv/git/repo", false),
            ("relative/repo", false),
            ("./a:b", false),
        ];
        for (url, shallow) in cases {
            assert_eq!(supports_shallow(url), shallow, "{url}");
        }
    }

    #[test]
    fn mirror_names_are_readable_and_distinct() {
        let cases = [
            ("git://127.0.0.1:9418/demo/base", "127.0.0.1_9418_demo_base-"),
            ("https://user:secret@example.com/a/b.git", "example.com_a_b.git-"),
            ("file:///srv/git/repo", "srv_git_repo-"),
            ("/srv/git/../repo", "srv_git_.._repo-"),
            ("..", "repo-"),
            ("", "repo-"),
        ];
        for (url, prefix) in cases {
            let name = mirror_name(url);
            assert!(name.starts_with(prefix), "{url} -> {name}");
            assert!(!name.contains("secret"), "{name}");
            assert!(!name.starts_with('.'), "{name}");
        }
        assert_ne!(mirror_name("git://h/a/b"), mirror_name("git://h/a_b"));
        assert_eq!(mirror_name("git://h/a/b"), mirror_name("git://h/a/b"));
        assert!(mirror_name(&format!("git://h/{}", "x".repeat(500))).len() <= MAX_READABLE + 17);
    }
}
