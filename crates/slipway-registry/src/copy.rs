//! Copying images between repositories and registries: blobs first (mounted or streamed, several at once,
//! those already there skipped), then the manifest's exact bytes, so the digest is the same on both sides.
//! An index copies every platform's manifest before itself.

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::blobs::BlobCopy;
use crate::client::RegistryClient;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{Contents, Manifest};
use crate::reference::{Reference, Repository, Target};

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub digest: Option<Digest>,
    pub manifests: usize,
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub blobs_streamed: usize,
    pub bytes_streamed: u64,
}

impl CopyReport {
    /// Nothing needed to move: every blob was there already.
    pub fn moved_nothing(&self) -> bool {
        self.blobs_mounted == 0 && self.blobs_streamed == 0
    }

    fn add(&mut self, other: &CopyReport) {
        self.manifests += other.manifests;
        self.blobs_present += other.blobs_present;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_streamed += other.blobs_streamed;
        self.bytes_streamed += other.bytes_streamed;
    }
}

impl RegistryClient {
    /// Copies the image `source` names to `target` (a tag, or a digest to store it by digest only).
    pub async fn copy(&self, source: &Reference, target: &Reference) -> Result<CopyReport, RegistryError> {
        let manifest = self.get_manifest(source).await?;
        let target_ref = match target.target() {
            Target::Digest(digest) if digest != &manifest.digest => {
                return Err(RegistryError::DigestMismatch {
                    reference: target.to_string(),
                    expected: digest.clone(),
                    actual: manifest.digest,
                });
            }
            other => other.clone(),
        };
        let mut report = self.copy_contents(source.repository(), target.repository(), &manifest).await?;
        self.put_manifest(target.repository(), &target_ref, &manifest).await?;
        report.digest = Some(manifest.digest);
        Ok(report)
    }

    /// Everything `manifest` references, recursively for an index; the manifest itself is left to the caller
    /// but counted in the report.
    async fn copy_contents(
        &self,
        source: &Repository,
        target: &Repository,
        manifest: &Manifest,
    ) -> Result<CopyReport, RegistryError> {
        let invalid = |message: String| RegistryError::InvalidManifest {
            reference: format!("{source}@{}", manifest.digest),
            message,
        };
        match manifest.contents().map_err(invalid)? {
            Contents::Index { manifests } => {
                let mut report = CopyReport::default();
                for child in manifests {
                    let child_manifest = self.get_manifest(&source.digest(child.digest.clone())).await?;
                    report.add(&Box::pin(self.copy_contents(source, target, &child_manifest)).await?);
                    self.put_manifest(target, &Target::Digest(child.digest), &child_manifest).await?;
                }
                report.manifests += 1;
                Ok(report)
            }
            Contents::Image { config, layers, .. } => {
                let blobs: Vec<_> = std::iter::once(*config).chain(layers).collect();
                let outcomes: Vec<(BlobCopy, u64)> = stream::iter(blobs)
                    .map(|blob| async move {
                        let outcome = self.copy_blob(source, target, &blob.digest, blob.size).await?;
                        Ok::<_, RegistryError>((outcome, blob.size))
                    })
                    .buffer_unordered(self.config.parallel_blobs.max(1))
                    .try_collect()
                    .await?;
                let mut report = CopyReport { manifests: 1, ..CopyReport::default() };
                for (outcome, _) in outcomes {
                    match outcome {
                        BlobCopy::Present => report.blobs_present += 1,
                        BlobCopy::Mounted => report.blobs_mounted += 1,
                        BlobCopy::Streamed(bytes) => {
                            report.blobs_streamed += 1;
                            report.bytes_streamed += bytes;
                        }
                    }
                }
                Ok(report)
            }
        }
    }
}
