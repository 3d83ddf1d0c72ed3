//! Mirroring (Zuul's mirror job): keep images or whole repositories of one registry copied to another.
//! Idempotent: a tag whose target already holds the same digest is left alone, so a second run moves
//! nothing and says so.

use crate::client::RegistryClient;
use crate::copy::CopyReport;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::reference::{Reference, Repository, Target};

/// One line of a mirror configuration: an image (`host/name:tag`) or a repository (`host/name`, all tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorSource {
    Image(Reference),
    Repository(Repository),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorEntry {
    pub from: MirrorSource,
    /// An image reference for an image, a repository for a repository.
    pub to: Repository,
    /// The tag to write for an image source; a repository keeps its tag names.
    pub to_tag: Option<String>,
}

/// One tag to bring over, and whether it needs to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorStep {
    pub source: Reference,
    pub target: Reference,
    pub digest: Digest,
    pub up_to_date: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorOutcome {
    pub copied: Vec<(MirrorStep, CopyReport)>,
    pub up_to_date: Vec<MirrorStep>,
}

impl RegistryClient {
    /// What mirroring `entries` would do: every source tag with its digest, and whether the target has it.
    pub async fn mirror_plan(&self, entries: &[MirrorEntry]) -> Result<Vec<MirrorStep>, RegistryError> {
        let mut steps = Vec::new();
        for entry in entries {
            let pairs: Vec<(Reference, String)> = match &entry.from {
                MirrorSource::Image(image) => {
                    let tag = entry
                        .to_tag
                        .clone()
                        .or_else(|| image.tag().map(str::to_string))
                        .unwrap_or_else(|| "latest".into());
                    vec![(image.clone(), tag)]
                }
                MirrorSource::Repository(repository) => {
                    let mut tags = self.list_tags(repository).await?;
                    tags.sort();
                    tags.into_iter()
                        .map(|tag| (Reference::from_parts(repository, Target::Tag(tag.clone())), tag))
                        .collect()
                }
            };
            for (source, tag) in pairs {
                let Some(resolved) = self.head_manifest(&source).await? else {
                    return Err(RegistryError::ManifestUnknown { reference: source.to_string() });
                };
                let target = Reference::from_parts(&entry.to, Target::Tag(tag));
                let current = self.head_manifest(&target).await?;
                let up_to_date = current.is_some_and(|c| c.digest == resolved.digest);
                steps.push(MirrorStep { source, target, digest: resolved.digest, up_to_date });
            }
        }
        Ok(steps)
    }

    /// Carries out a plan: copies each step not up to date, by the digest the plan read.
    pub async fn mirror(&self, plan: Vec<MirrorStep>) -> Result<MirrorOutcome, RegistryError> {
        let mut outcome = MirrorOutcome::default();
        for step in plan {
            if step.up_to_date {
                outcome.up_to_date.push(step);
                continue;
            }
            let pinned = step.source.repository().digest(step.digest.clone());
            let report = self.copy(&pinned, &step.target).await?;
            outcome.copied.push((step, report));
        }
        Ok(outcome)
    }
}
