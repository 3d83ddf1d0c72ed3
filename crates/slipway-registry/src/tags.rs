//! Tags: listing with pagination, and deletion that never takes another tag with it.
//!
//! The distribution spec's `DELETE /v2/<name>/manifests/<tag>` removes one tag, but CNCF distribution 2.8
//! refuses it, and deleting by digest removes every tag of that digest. Where the registry refuses, the tag is
//! first re-pointed at a manifest made for this one deletion (a tombstone: an empty OCI artifact with a unique
//! annotation), and that tombstone is deleted by its digest: only the one tag goes, the image it pointed at and
//! its other tags stay.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::client::{RegistryClient, Request, delete_scope, header, pull_scope};
use crate::digest::Digest;
use crate::error::{RegistryError, server_message};
use crate::manifest::Manifest;
use crate::manifests::{json_bytes, manifest_error, manifest_path};
use crate::media;
use crate::reference::{Reference, Repository, Target};

/// How a tag was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    /// The registry deleted the tag itself.
    Tag,
    /// The registry refuses tag deletes; the tag was moved to a tombstone and the tombstone deleted.
    Tombstone,
    /// A digest reference: the manifest is deleted, with the tags that pointed at it.
    Manifest { removed_tags: Vec<String> },
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// Every tag of `repository`, following the `Link` header page by page.
    pub async fn list_tags(&self, repository: &Repository) -> Result<Vec<String>, RegistryError> {
        let mut tags = Vec::new();
        let page = self.config.tag_page_size.max(1);
        let mut next = Some(format!("/v2/{}/tags/list?n={page}", repository.name()));
        while let Some(target) = next.take() {
            let request = Request::new(
                Method::GET,
                repository.registry(),
                target,
                vec![pull_scope(repository.name())],
                format!("list tags of {repository}"),
            );
            let response = self.send(request).await?;
            let status = response.status();
            if !status.is_success() {
                let message = server_message(status, &response.bytes().await.unwrap_or_default());
                if status == StatusCode::NOT_FOUND {
                    return Err(RegistryError::NameUnknown { repository: repository.to_string() });
                }
                return Err(RegistryError::Rejected {
                    registry: repository.registry().to_string(),
                    what: format!("tag list of {repository}"),
                    status: status.as_u16(),
                    code: message.code,
                    message: message.message,
                });
            }
            next = next_page(&header(&response, "link"));
            let body = response.bytes().await.unwrap_or_default();
            let page: TagList = serde_json::from_slice(&body).map_err(|e| RegistryError::Protocol {
                registry: repository.registry().to_string(),
                message: format!("unreadable tag list of {repository}: {e}"),
            })?;
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(tags)
    }

    /// The tags of `repository` that point at `digest`.
    pub async fn tags_of(&self, repository: &Repository, digest: &Digest) -> Result<Vec<String>, RegistryError> {
        let mut found = Vec::new();
        for tag in self.list_tags(repository).await? {
            let reference = Reference::from_parts(repository, Target::Tag(tag.clone()));
            if self.head_manifest(&reference).await?.is_some_and(|r| &r.digest == digest) {
                found.push(tag);
            }
        }
        Ok(found)
    }

    /// Removes one tag and nothing else. A digest reference deletes the manifest, which removes every tag
    /// pointing at it: refused when there are such tags, unless `force`.
    pub async fn untag(&self, reference: &Reference, force: bool) -> Result<Untagged, RegistryError> {
        let repository = reference.repository();
        match reference.target() {
            Target::Digest(digest) => {
                let removed_tags = self.tags_of(repository, digest).await?;
                if !removed_tags.is_empty() && !force {
                    return Err(RegistryError::WouldRemoveTags {
                        reference: reference.to_string(),
                        tags: removed_tags,
                    });
                }
                self.delete_manifest(reference).await?;
                Ok(Untagged::Manifest { removed_tags })
            }
            Target::Tag(tag) => {
                if self.head_manifest(reference).await?.is_none() {
                    return Err(RegistryError::ManifestUnknown { reference: reference.to_string() });
                }
                if self.delete_manifest(reference).await.is_ok() {
                    return Ok(Untagged::Tag);
                }
                let tombstone = self.tombstone(repository, tag).await?;
                self.put_manifest(repository, reference.target(), &tombstone).await?;
                self.delete_manifest(&repository.digest(tombstone.digest)).await?;
                Ok(Untagged::Tombstone)
            }
        }
    }

    /// `DELETE /v2/<name>/manifests/<tag or digest>`.
    pub async fn delete_manifest(&self, reference: &Reference) -> Result<(), RegistryError> {
        let request = Request::new(
            Method::DELETE,
            reference.registry(),
            manifest_path(reference.repository(), reference.target()),
            vec![delete_scope(reference.name())],
            format!("DELETE manifest {reference}"),
        );
        let response = self.send(request).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(manifest_error(reference, response).await)
    }

    /// An empty OCI artifact unique to this deletion, its config blob uploaded.
    async fn tombstone(&self, repository: &Repository, tag: &str) -> Result<Manifest, RegistryError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let config = self.put_blob(repository, Bytes::from_static(media::OCI_EMPTY_JSON)).await?;
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let unique = format!("{tag} {nanos} {} {}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed));
        let body = json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "artifactType": "application/vnd.slipway.tombstone.v1",
            "config": {"mediaType": media::OCI_EMPTY, "digest": config, "size": media::OCI_EMPTY_JSON.len()},
            "layers": [{"mediaType": media::OCI_EMPTY, "digest": config, "size": media::OCI_EMPTY_JSON.len()}],
            "annotations": {"io.slipway.tombstone": unique},
        });
        Ok(Manifest::new(media::OCI_MANIFEST, json_bytes(&body)))
    }
}

/// The next page from a `Link: </v2/x/tags/list?n=..&last=..>; rel="next"` header.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find(|part| part.contains("rel=\"next\"")).and_then(|part| {
        let start = part.find('<')? + 1;
        let end = part.find('>')?;
        Some(part[start..end].to_string())
    })
}

impl Reference {
    pub fn from_parts(repository: &Repository, target: Target) -> Reference {
        match target {
            Target::Digest(digest) => repository.digest(digest),
            Target::Tag(tag) => repository.tag_unchecked(tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_pagination() {
        assert_eq!(
            next_page(r#"</v2/demo/web/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/demo/web/tags/list?last=b&n=2")
        );
        assert_eq!(next_page(""), None);
    }

    #[test]
    fn an_unknown_manifest_message_keeps_its_code() {
        let message =
            server_message(StatusCode::NOT_FOUND, br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}"#);
        assert_eq!(message.code, crate::error::ErrorCode::ManifestUnknown);
    }
}
