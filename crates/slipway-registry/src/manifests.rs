//! Manifest operations: GET keeping the exact bytes (verified against their digest), HEAD to resolve a tag,
//! PUT of the same bytes under a tag, and retag: build once, promote by digest.

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Response, StatusCode};

use crate::client::{RegistryClient, Request, header, pull_scope, push_scope};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, server_message};
use crate::manifest::Manifest;
use crate::media::MANIFEST_ACCEPT;
use crate::reference::{Reference, Repository, Target, check_tag};

/// What a tag or digest resolves to, without the manifest's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// The outcome of a retag: the digest every new tag now points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub digest: Digest,
    pub tags: Vec<String>,
}

impl RegistryClient {
    /// The manifest `reference` names, exactly as stored. A digest reference is checked against the bytes
    /// received; a tag's answer is checked against the registry's `Docker-Content-Digest`.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<Manifest, RegistryError> {
        let request = Request::new(
            Method::GET,
            reference.registry(),
            manifest_path(reference.repository(), reference.target()),
            vec![pull_scope(reference.name())],
            format!("GET manifest {reference}"),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let response = self.send(request).await?;
        if !response.status().is_success() {
            return Err(manifest_error(reference, response).await);
        }
        let content_type = header(&response, "content-type");
        let announced = header(&response, "docker-content-digest");
        let bytes = response.bytes().await.map_err(|source| RegistryError::Connect {
            registry: reference.registry().to_string(),
            what: format!("reading manifest {reference}"),
            attempts: 1,
            source,
        })?;
        let manifest = Manifest::new(Manifest::media_type_of(&content_type, &bytes), bytes);
        let expected = match reference.target() {
            Target::Digest(digest) => Some(digest.clone()),
            Target::Tag(_) => announced.parse::<Digest>().ok(),
        };
        if let Some(expected) = expected
            && expected != manifest.digest
        {
            return Err(RegistryError::DigestMismatch {
                reference: reference.to_string(),
                expected,
                actual: manifest.digest,
            });
        }
        Ok(manifest)
    }

    /// What `reference` points at, or `None` when there is no such tag or manifest.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Option<Resolved>, RegistryError> {
        let request = Request::new(
            Method::HEAD,
            reference.registry(),
            manifest_path(reference.repository(), reference.target()),
            vec![pull_scope(reference.name())],
            format!("HEAD manifest {reference}"),
        )
        .header(ACCEPT, MANIFEST_ACCEPT);
        let response = self.send(request).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(manifest_error(reference, response).await);
        }
        let digest = match header(&response, "docker-content-digest").parse::<Digest>() {
            Ok(digest) => digest,
            // A registry that does not announce the digest: fall back to reading the manifest.
            Err(_) => return Ok(Some(resolved(&self.get_manifest(reference).await?))),
        };
        let size = header(&response, "content-length").parse().unwrap_or(0);
        let media_type = header(&response, "content-type");
        Ok(Some(Resolved { digest, media_type, size }))
    }

    /// Stores `manifest`'s exact bytes in `repository` under `target` (a tag, or its own digest).
    pub async fn put_manifest(
        &self,
        repository: &Repository,
        target: &Target,
        manifest: &Manifest,
    ) -> Result<Digest, RegistryError> {
        let request = Request::new(
            Method::PUT,
            repository.registry(),
            manifest_path(repository, target),
            vec![push_scope(repository.name())],
            format!("PUT manifest {repository}:{target}"),
        )
        .header(CONTENT_TYPE, manifest.media_type.clone())
        .body(manifest.bytes.clone());
        let response = self.send(request).await?;
        if response.status() != StatusCode::CREATED && !response.status().is_success() {
            let status = response.status();
            let message = server_message(status, &response.bytes().await.unwrap_or_default());
            return Err(RegistryError::Rejected {
                registry: repository.registry().to_string(),
                what: format!("manifest {repository}:{target}"),
                status: status.as_u16(),
                code: message.code,
                message: message.message,
            });
        }
        let stored = header(&response, "docker-content-digest");
        if let Ok(stored) = stored.parse::<Digest>()
            && stored != manifest.digest
        {
            return Err(RegistryError::DigestMismatch {
                reference: format!("{repository}:{target}"),
                expected: manifest.digest.clone(),
                actual: stored,
            });
        }
        Ok(manifest.digest.clone())
    }

    /// Writes the manifest `source` names under each of `tags` in the same repository: one GET, then the same
    /// bytes PUT under every tag. No layer moves, and the digest is the one read, whatever happens to the
    /// source tag meanwhile.
    pub async fn tag(&self, source: &Reference, tags: &[String]) -> Result<Tagged, RegistryError> {
        for tag in tags {
            check_tag(tag).map_err(|e| RegistryError::Rejected {
                registry: source.registry().to_string(),
                what: format!("tag `{tag}`"),
                status: 0,
                code: ErrorCode::TagInvalid,
                message: e.to_string(),
            })?;
        }
        let manifest = self.get_manifest(source).await?;
        self.put_tags(source.repository(), &manifest, tags).await
    }

    /// PUTs `manifest` under each of `tags`, a few at a time (`ClientConfig::parallel_tags`). On an error the
    /// tags already written stay written; the error names the one that failed.
    pub async fn put_tags(
        &self,
        repository: &Repository,
        manifest: &Manifest,
        tags: &[String],
    ) -> Result<Tagged, RegistryError> {
        // Owned items: a closure over `&String` makes the future's `Send` depend on a lifetime the compiler
        // cannot name, and the future could not be spawned.
        stream::iter(tags.iter().cloned().map(Target::Tag))
            .map(|target| async move { self.put_manifest(repository, &target, manifest).await })
            .buffer_unordered(self.config.parallel_tags.max(1))
            .try_for_each(|_| async { Ok(()) })
            .await?;
        Ok(Tagged { digest: manifest.digest.clone(), tags: tags.to_vec() })
    }
}

fn resolved(manifest: &Manifest) -> Resolved {
    Resolved {
        digest: manifest.digest.clone(),
        media_type: manifest.media_type.clone(),
        size: manifest.bytes.len() as u64,
    }
}

pub(crate) fn manifest_path(repository: &Repository, target: &Target) -> String {
    format!("/v2/{}/manifests/{target}", repository.name())
}

/// A failed manifest answer as a typed error.
pub(crate) async fn manifest_error(reference: &Reference, response: Response) -> RegistryError {
    let status = response.status();
    let message = server_message(status, &response.bytes().await.unwrap_or_default());
    match message.code {
        ErrorCode::ManifestUnknown => RegistryError::ManifestUnknown { reference: reference.to_string() },
        ErrorCode::NameUnknown => RegistryError::NameUnknown { repository: reference.repository().to_string() },
        _ if status == StatusCode::NOT_FOUND => RegistryError::ManifestUnknown { reference: reference.to_string() },
        code => RegistryError::Rejected {
            registry: reference.registry().to_string(),
            what: format!("manifest {reference}"),
            status: status.as_u16(),
            code,
            message: message.message,
        },
    }
}

/// The bytes of a small body (a manifest or an index we build), for `Request::body`.
pub(crate) fn json_bytes(value: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}
