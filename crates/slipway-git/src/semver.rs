//! Which git tags are release versions: `vX.Y.Z` or `X.Y.Z` with an optional `-pre` part, ordered by semver
//! precedence. Build metadata (`+build`) is refused because `+` cannot appear in an image tag.

use std::cmp::Ordering;

/// A parsed version, compared by semver precedence (pre-releases before their release).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version<'a> {
    core: [u64; 3],
    pre: Vec<&'a str>,
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => compare_pre(&self.pre, &other.pre),
        })
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Identifier by identifier: numbers numerically and below words, words in ASCII order, a shorter list first.
fn compare_pre(a: &[&str], b: &[&str]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

fn parse(tag: &str) -> Option<Version<'_>> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let (core_text, pre_text) = match text.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (text, None),
    };
    let mut parts = core_text.split('.');
    let mut core = [0u64; 3];
    for slot in &mut core {
        *slot = numeric(parts.next()?)?;
    }
    if parts.next().is_some() {
        return None;
    }
    let pre = match pre_text {
        None => Vec::new(),
        Some(pre) => pre.split('.').map(identifier).collect::<Option<Vec<_>>>()?,
    };
    Some(Version { core, pre })
}

/// A version number: digits without a leading zero.
fn numeric(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// A pre-release identifier: `[0-9A-Za-z-]+`, numeric ones without a leading zero.
fn identifier(text: &str) -> Option<&str> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) && numeric(text).is_none() {
        return None;
    }
    Some(text)
}

/// The semver tags among `tags`, highest first; equal versions (`v1.2.3`, `1.2.3`) by name.
pub fn semver_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut versions: Vec<(Version<'a>, &'a str)> =
        tags.into_iter().filter_map(|tag| parse(tag).map(|version| (version, tag))).collect();
    versions.sort_by(|(va, a), (vb, b)| vb.cmp(va).then_with(|| a.cmp(b)));
    versions.dedup_by(|(_, a), (_, b)| a == b);
    versions.into_iter().map(|(_, tag)| tag.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_semver_tags() {
        let cases = [
            ("v1.2.3", true),
            ("1.2.3", true),
            ("v0.0.0", true),
            ("v1.2.3-rc.1", true),
            ("v1.2.3-alpha-2.x", true),
            ("v1.2", false),
            ("v1.2.3.4", false),
            ("v01.2.3", false),
            ("v1.2.3-", false),
            ("v1.2.3-rc..1", false),
            ("v1.2.3-rc.01", false),
            ("v1.2.3+build", false),
            ("V1.2.3", false),
            ("release-1.2.3", false),
            ("vv1.2.3", false),
            ("v1.2.x", false),
            ("v99999999999999999999.0.0", false),
            ("", false),
        ];
        for (tag, ok) in cases {
            assert_eq!(parse(tag).is_some(), ok, "{tag}");
        }
    }

    #[test]
    fn sorts_highest_first() {
        let tags = [
            "v1.2.3",
            "latest",
            "v1.10.0",
            "1.2.3",
            "v1.10.0-rc.1",
            "v1.10.0-rc.10",
            "v1.10.0-rc.2",
            "v1.10.0-alpha",
            "v1.10.0-1",
            "v2.0.0-beta",
            "v1.2.3",
        ];
        assert_eq!(
            semver_tags(tags),
            [
                "v2.0.0-beta",
                "v1.10.0",
                "v1.10.0-rc.10",
                "v1.10.0-rc.2",
                "v1.10.0-rc.1",
                "v1.10.0-alpha",
                "v1.10.0-1",
                "1.2.3",
                "v1.2.3",
            ]
        );
    }
}
