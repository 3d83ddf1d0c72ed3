//! The refs a remote advertises, read into branches and tags. Annotated tags come with a peeled entry
//! (`refs/tags/v1^{}`) naming the commit they point at; lightweight tags name it directly.

use std::collections::HashMap;

use git2::Oid;

/// A tag ref and the object it names (a tag object for an annotated tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TagRef {
    pub name: String,
    pub target: Oid,
}

#[derive(Debug, Default)]
pub(crate) struct Advertised {
    branches: Vec<(String, Oid)>,
    tags: Vec<TagRef>,
    peeled: HashMap<String, Oid>,
}

impl Advertised {
    pub fn read<'a>(heads: impl IntoIterator<Item = (&'a str, Oid)>) -> Advertised {
        let mut advertised = Advertised::default();
        for (name, oid) in heads {
            if let Some(branch) = name.strip_prefix("refs/heads/") {
                advertised.branches.push((branch.to_string(), oid));
            } else if let Some(tag) = name.strip_prefix("refs/tags/") {
                match tag.strip_suffix("^{}") {
                    Some(tag) => {
                        advertised.peeled.insert(tag.to_string(), oid);
                    }
                    None => advertised.tags.push(TagRef { name: tag.to_string(), target: oid }),
                }
            }
        }
        advertised
    }

    pub fn branch(&self, name: &str) -> Option<Oid> {
        self.branches.iter().find(|(branch, _)| branch == name).map(|(_, oid)| *oid)
    }

    /// Branch names, sorted, for an error message.
    pub fn branch_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.branches.iter().map(|(name, _)| name.clone()).collect();
        names.sort();
        names
    }

    /// The tags whose commit is `commit`.
    pub fn tags_at(&self, commit: Oid) -> Vec<TagRef> {
        self.tags
            .iter()
            .filter(|tag| self.peeled.get(&tag.name).copied().unwrap_or(tag.target) == commit)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap_or(Oid::ZERO_SHA1)
    }

    #[test]
    fn reads_branches_and_tags_at_a_commit() {
        let heads = [
            ("HEAD", oid(1)),
            ("refs/heads/main", oid(1)),
            ("refs/heads/dev", oid(2)),
            ("refs/tags/v1.2.3", oid(9)), // annotated, peels to main
            ("refs/tags/v1.2.3^{}", oid(1)),
            ("refs/tags/light", oid(1)), // lightweight on main
            ("refs/tags/v0.9.0", oid(8)),
            ("refs/tags/v0.9.0^{}", oid(2)),
            ("refs/pull/1/head", oid(3)),
        ];
        let advertised = Advertised::read(heads);
        assert_eq!(advertised.branch("main"), Some(oid(1)));
        assert_eq!(advertised.branch("mian"), None);
        assert_eq!(advertised.branch_names(), ["dev", "main"]);
        assert_eq!(
            advertised.tags_at(oid(1)),
            [TagRef { name: "v1.2.3".into(), target: oid(9) }, TagRef { name: "light".into(), target: oid(1) }]
        );
        assert_eq!(advertised.tags_at(oid(2)), [TagRef { name: "v0.9.0".into(), target: oid(8) }]);
        assert!(advertised.tags_at(oid(3)).is_empty());
    }
}
