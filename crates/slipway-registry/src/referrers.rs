//! OCI 1.1 referrers: an artifact (a test report, an attestation) attached to an image digest through the
//! manifest's `subject`, found again through the referrers API, or, on registries without it (CNCF
//! distribution 2.8), through the tag schema: an index tagged `sha256-<hex>` listing the referrers.

use std::collections::BTreeMap;

use bytes::Bytes;
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::client::{RegistryClient, Request, pull_scope};
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{Contents, Descriptor, Manifest};
use crate::manifests::json_bytes;
use crate::media;
use crate::reference::{Reference, Repository, Target};

/// An artifact to attach: its type (e.g. `application/vnd.in-toto+json`), its content and annotations.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: String,
    /// The media type of `data` (the artifact's one layer).
    pub media_type: String,
    pub data: Bytes,
    pub annotations: BTreeMap<String, String>,
}

impl RegistryClient {
    /// Attaches `artifact` to the manifest `subject` names, returning the artifact manifest's digest.
    pub async fn attach(&self, subject: &Reference, artifact: &Artifact) -> Result<Digest, RegistryError> {
        let repository = subject.repository();
        let subject_manifest = self.get_manifest(subject).await?;
        let config = self.put_blob(repository, Bytes::from_static(media::OCI_EMPTY_JSON)).await?;
        let layer = self.put_blob(repository, artifact.data.clone()).await?;
        let body = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "artifactType": artifact.artifact_type,
            "config": {"mediaType": media::OCI_EMPTY, "digest": config, "size": media::OCI_EMPTY_JSON.len()},
            "layers": [{"mediaType": artifact.media_type, "digest": layer, "size": artifact.data.len()}],
            "subject": {
                "mediaType": subject_manifest.media_type,
                "digest": subject_manifest.digest,
                "size": subject_manifest.bytes.len(),
            },
            "annotations": artifact.annotations,
        });
        let manifest = Manifest::new(media::OCI_MANIFEST, json_bytes(&body));
        let digest = self.put_manifest(repository, &Target::Digest(manifest.digest.clone()), &manifest).await?;
        if !self.has_referrers_api(repository, &subject_manifest.digest).await? {
            let mut descriptor = manifest.descriptor();
            descriptor.artifact_type = Some(artifact.artifact_type.clone());
            descriptor.annotations = (!artifact.annotations.is_empty()).then(|| artifact.annotations.clone());
            self.add_to_fallback_index(repository, &subject_manifest.digest, descriptor).await?;
        }
        Ok(digest)
    }

    /// The artifacts attached to `digest` in `repository`, of `artifact_type` when given.
    pub async fn referrers(
        &self,
        repository: &Repository,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, RegistryError> {
        let found = match self.referrers_api(repository, digest).await? {
            Some(found) => found,
            None => self.fallback_index(repository, digest).await?.map(|(_, found)| found).unwrap_or_default(),
        };
        // A registry may ignore the filter: apply it here too.
        Ok(found.into_iter().filter(|d| artifact_type.is_none_or(|t| d.artifact_type.as_deref() == Some(t))).collect())
    }

    async fn has_referrers_api(&self, repository: &Repository, digest: &Digest) -> Result<bool, RegistryError> {
        Ok(self.referrers_api(repository, digest).await?.is_some())
    }

    /// `GET /v2/<name>/referrers/<digest>`; `None` when the registry has no such endpoint.
    async fn referrers_api(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let request = Request::new(
            Method::GET,
            repository.registry(),
            format!("/v2/{}/referrers/{digest}", repository.name()),
            vec![pull_scope(repository.name())],
            format!("GET referrers of {repository}@{digest}"),
        )
        .header(ACCEPT, media::OCI_INDEX);
        let response = self.send(request).await?;
        let is_index = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(media::OCI_INDEX.as_bytes()));
        if response.status() != StatusCode::OK || !is_index {
            return Ok(None);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let manifest = Manifest::new(media::OCI_INDEX, bytes);
        match manifest.contents() {
            Ok(Contents::Index { manifests }) => Ok(Some(manifests)),
            _ => Ok(None),
        }
    }

    /// The tag-schema index `sha256-<hex>` and its referrers, if it exists.
    async fn fallback_index(
        &self,
        repository: &Repository,
        digest: &Digest,
    ) -> Result<Option<(Manifest, Vec<Descriptor>)>, RegistryError> {
        let reference = repository.tag(&fallback_tag(digest)).map_err(|e| RegistryError::Protocol {
            registry: repository.registry().to_string(),
            message: e.to_string(),
        })?;
        match self.get_manifest(&reference).await {
            Ok(index) => match index.contents() {
                Ok(Contents::Index { manifests }) => Ok(Some((index, manifests))),
                _ => Err(RegistryError::InvalidManifest {
                    reference: reference.to_string(),
                    message: "the referrers tag does not hold an index".into(),
                }),
            },
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn add_to_fallback_index(
        &self,
        repository: &Repository,
        subject: &Digest,
        descriptor: Descriptor,
    ) -> Result<(), RegistryError> {
        let mut manifests = self.fallback_index(repository, subject).await?.map(|(_, m)| m).unwrap_or_default();
        manifests.retain(|existing| existing.digest != descriptor.digest);
        manifests.push(descriptor);
        let body = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": manifests});
        let index = Manifest::new(media::OCI_INDEX, json_bytes(&body));
        self.put_manifest(repository, &Target::Tag(fallback_tag(subject)), &index).await?;
        Ok(())
    }
}

/// The referrers tag schema's tag for a digest: `sha256-<hex>`.
pub fn fallback_tag(digest: &Digest) -> String {
    format!("sha256-{}", digest.hex())
}
