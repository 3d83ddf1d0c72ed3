//! The tag scheme: which tags a build writes in its repository, from `:test` to the release tags.
//!
//! A project `app/job:desired` is delivered to `REGISTRY/app/job`. Its staging tags are `test` and `rc`; where
//! several index entries share that repository (`centos/centos:7` and `centos/centos:latest`), an entry whose
//! desired tag is not `latest` qualifies them with it (`7-test`, `7-rc`) so the entries never overwrite each
//! other's candidates. The release tags are the desired tag, `vX.Y.Z` when the built commit carries that semver
//! git tag, and an identity tag that no later build reuses: `<branch>-<commit:12>-b<build number>` (qualified the
//! same way).

use slipway_index::ImageRef;

/// The longest tag the distribution spec allows.
const MAX_TAG_LEN: usize = 128;

/// What a build's tags depend on.
#[derive(Debug, Clone)]
pub struct TagInputs<'a> {
    pub image: &'a ImageRef,
    /// Another index entry delivers to the same repository.
    pub shared_repository: bool,
    pub branch: &'a str,
    pub commit: &'a str,
    /// Semver tags on the built commit, highest first (`v1.2.3` or `1.2.3`).
    pub semver_tags: &'a [String],
    pub build_number: i64,
}

/// Every tag a build may write, by tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTags {
    pub test: String,
    pub rc: String,
    /// The desired tag, then the semver tag (if any), then the identity tag.
    pub release: Vec<String>,
}

impl BuildTags {
    pub fn identity(&self) -> &str {
        self.release.last().map_or("", String::as_str)
    }
}

pub fn build_tags(inputs: &TagInputs<'_>) -> BuildTags {
    let desired = inputs.image.tag();
    let qualifier = (inputs.shared_repository && desired != "latest").then_some(desired);
    let qualify = |tag: &str| match qualifier {
        Some(q) => format!("{q}-{tag}"),
        None => tag.to_string(),
    };
    let mut release = vec![desired.to_string()];
    if let Some(version) = inputs.semver_tags.first() {
        let version = if version.starts_with('v') { version.clone() } else { format!("v{version}") };
        let tag = qualify(&sanitize(&version));
        if !release.contains(&tag) {
            release.push(tag);
        }
    }
    let short = &inputs.commit[..inputs.commit.len().min(12)];
    // The branch is shortened, never the commit and build number that make the tag unique.
    let end = format!("-{short}-b{}", inputs.build_number);
    let room = MAX_TAG_LEN.saturating_sub(end.len() + qualifier.map_or(0, |q| q.len() + 1));
    let branch = sanitize(inputs.branch);
    let mut identity = qualify(&format!("{}{end}", &branch[..branch.len().min(room)]));
    if identity.len() > MAX_TAG_LEN {
        // Only a desired tag near the limit gets here: shorten it instead.
        identity = format!("{}{end}", &identity[..MAX_TAG_LEN - end.len()]);
    }
    release.push(identity);
    BuildTags { test: qualify("test"), rc: qualify("rc"), release }
}

/// A tag from free text: `[A-Za-z0-9_][A-Za-z0-9_.-]*`, other characters (a branch's `/`) become `-`.
fn sanitize(text: &str) -> String {
    let mut tag: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '-' }).collect();
    if tag.starts_with(['.', '-']) || tag.is_empty() {
        tag.insert(0, '_');
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(image: &str, shared: bool, branch: &str, semver: &[&str]) -> BuildTags {
        let image: ImageRef = image.parse().expect("image");
        let semver: Vec<String> = semver.iter().map(|s| s.to_string()).collect();
        build_tags(&TagInputs {
            image: &image,
            shared_repository: shared,
            branch,
            commit: "1a2b3c4d5e6f7a8b9c0d",
            semver_tags: &semver,
            build_number: 12,
        })
    }

    #[test]
    fn plain_project() {
        let t = tags("demo/web:latest", false, "main", &[]);
        assert_eq!(t.test, "test");
        assert_eq!(t.rc, "rc");
        assert_eq!(t.release, ["latest", "main-1a2b3c4d5e6f-b12"]);
        assert_eq!(t.identity(), "main-1a2b3c4d5e6f-b12");
    }

    #[test]
    fn semver_tag_released_with_a_v() {
        assert_eq!(
            tags("demo/web:latest", false, "main", &["1.2.3"]).release,
            ["latest", "v1.2.3", "main-1a2b3c4d5e6f-b12"]
        );
        assert_eq!(tags("demo/web:latest", false, "main", &["v2.0.0"]).release[1], "v2.0.0");
    }

    #[test]
    fn shared_repository_qualifies_staging_and_identity_tags() {
        let t = tags("centos/centos:7", true, "master", &["v7.9.0"]);
        assert_eq!(t.test, "7-test");
        assert_eq!(t.rc, "7-rc");
        assert_eq!(t.release, ["7", "7-v7.9.0", "7-master-1a2b3c4d5e6f-b12"]);
        let latest = tags("centos/centos:latest", true, "master", &[]);
        assert_eq!((latest.test.as_str(), latest.rc.as_str()), ("test", "rc"));
    }

    #[test]
    fn a_desired_tag_that_is_a_version_is_not_repeated() {
        assert_eq!(tags("demo/tools:v1.0.0", false, "main", &["v1.0.0"]).release, ["v1.0.0", "main-1a2b3c4d5e6f-b12"]);
    }

    #[test]
    fn branch_names_become_valid_tags() {
        assert_eq!(tags("demo/web:latest", false, "feature/x+y", &[]).identity(), "feature-x-y-1a2b3c4d5e6f-b12");
        assert_eq!(tags("demo/web:latest", false, ".hidden", &[]).identity(), "_.hidden-1a2b3c4d5e6f-b12");
        let long = "b".repeat(300);
        let identity = tags("demo/web:latest", false, &long, &[]).identity().to_string();
        assert!(identity.len() <= MAX_TAG_LEN, "{identity}");
        assert!(identity.ends_with("-b12"), "{identity}");
        assert!(slipway_oci_name::is_tag(&identity), "{identity}");
        let long_desired = format!("{}:{}", "demo/web", "t".repeat(128));
        let identity = tags(&long_desired, true, "main", &[]).identity().to_string();
        assert!(identity.len() <= MAX_TAG_LEN && identity.ends_with("-1a2b3c4d5e6f-b12"), "{identity}");
    }
}
