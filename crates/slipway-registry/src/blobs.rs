//! Blobs: existence, small uploads, cross-repository mount, and streaming copy across registries (a layer
//! flows from one connection into the other and is never held whole in memory).

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};

use crate::client::{RegistryClient, Request, header, pull_scope, push_scope};
use crate::digest::Digest;
use crate::error::{ErrorCode, RegistryError, server_message};
use crate::reference::Repository;

/// How a blob reached its target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCopy {
    /// The target already had it.
    Present,
    /// Mounted from the source repository on the same registry: no bytes moved.
    Mounted,
    /// Streamed from the source; this many bytes moved.
    Streamed(u64),
}

impl RegistryClient {
    pub async fn blob_exists(&self, repository: &Repository, digest: &Digest) -> Result<bool, RegistryError> {
        let request = Request::new(
            Method::HEAD,
            repository.registry(),
            format!("/v2/{}/blobs/{digest}", repository.name()),
            vec![pull_scope(repository.name())],
            format!("HEAD blob {repository}@{digest}"),
        );
        let response = self.send(request).await?;
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(rejected(repository, &format!("blob {digest}"), response).await),
        }
    }

    /// A blob small enough to hold in memory (a config, a report), refused beyond `max_bytes`.
    pub async fn get_blob(
        &self,
        repository: &Repository,
        digest: &Digest,
        max_bytes: u64,
    ) -> Result<Bytes, RegistryError> {
        let response = self.open_blob(repository, digest).await?;
        let size: u64 = header(&response, "content-length").parse().unwrap_or(0);
        if size > max_bytes {
            return Err(RegistryError::Protocol {
                registry: repository.registry().to_string(),
                message: format!("blob {digest} is {size} bytes, more than the {max_bytes} expected"),
            });
        }
        let bytes = response.bytes().await.map_err(|source| connect(repository, "reading a blob", source))?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            let reference = format!("{repository}@{digest}");
            return Err(RegistryError::DigestMismatch { reference, expected: digest.clone(), actual });
        }
        Ok(bytes)
    }

    async fn open_blob(&self, repository: &Repository, digest: &Digest) -> Result<Response, RegistryError> {
        let request = Request::new(
            Method::GET,
            repository.registry(),
            format!("/v2/{}/blobs/{digest}", repository.name()),
            vec![pull_scope(repository.name())],
            format!("GET blob {repository}@{digest}"),
        );
        let response = self.send(request).await?;
        match response.status() {
            status if status.is_success() => Ok(response),
            StatusCode::NOT_FOUND => {
                Err(RegistryError::BlobUnknown { repository: repository.to_string(), digest: digest.clone() })
            }
            _ => Err(rejected(repository, &format!("blob {digest}"), response).await),
        }
    }

    /// Uploads a small blob (monolithic), unless the repository has it already.
    pub async fn put_blob(&self, repository: &Repository, bytes: Bytes) -> Result<Digest, RegistryError> {
        let digest = Digest::of(&bytes);
        if self.blob_exists(repository, &digest).await? {
            return Ok(digest);
        }
        let location =
            self.start_upload(repository, None).await?.ok_or_else(|| protocol(repository, "no upload started"))?;
        let request = Request::new(
            Method::PUT,
            repository.registry(),
            with_digest(&location, &digest),
            vec![push_scope(repository.name())],
            format!("PUT blob {repository}@{digest}"),
        )
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(bytes);
        let response = self.send(request).await?;
        if response.status() != StatusCode::CREATED {
            return Err(rejected(repository, &format!("blob {digest}"), response).await);
        }
        Ok(digest)
    }

    /// Starts an upload in `repository`. With `mount_from`, asks the registry to mount the blob from that
    /// repository instead: `Ok(None)` means it did (201), `Ok(Some(location))` that it opened an upload.
    async fn start_upload(
        &self,
        repository: &Repository,
        mount_from: Option<(&Repository, &Digest)>,
    ) -> Result<Option<String>, RegistryError> {
        let mut scopes = vec![push_scope(repository.name())];
        let mut target = format!("/v2/{}/blobs/uploads/", repository.name());
        if let Some((source, digest)) = mount_from {
            // The token must also allow reading the source, or the registry answers with a plain upload.
            scopes.push(pull_scope(source.name()));
            target.push_str(&format!("?mount={digest}&from={}", source.name()));
        }
        let request =
            Request::new(Method::POST, repository.registry(), target, scopes, format!("POST upload {repository}"))
                .header(CONTENT_LENGTH, "0");
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::CREATED if mount_from.is_some() => Ok(None),
            StatusCode::ACCEPTED => {
                let location = header(&response, LOCATION.as_str());
                if location.is_empty() {
                    return Err(protocol(repository, "an upload answer without Location"));
                }
                Ok(Some(location))
            }
            _ => Err(rejected(repository, "an upload", response).await),
        }
    }

    /// Copies one blob from `source` to `target`: nothing when the target has it, a mount within one registry
    /// (falling back to a copy when the registry opens an upload instead), otherwise a streamed copy.
    pub async fn copy_blob(
        &self,
        source: &Repository,
        target: &Repository,
        digest: &Digest,
        size: u64,
    ) -> Result<BlobCopy, RegistryError> {
        if self.blob_exists(target, digest).await? {
            return Ok(BlobCopy::Present);
        }
        let same_registry = source.registry() == target.registry();
        let policy = self.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mount = same_registry.then_some((source, digest));
            let outcome = match self.start_upload(target, mount).await {
                Ok(None) => return Ok(BlobCopy::Mounted),
                Ok(Some(location)) => self.stream_blob(source, target, digest, size, &location).await,
                Err(err) => Err(err),
            };
            match outcome {
                Ok(moved) => return Ok(BlobCopy::Streamed(moved)),
                // A dropped connection mid-stream cannot be resumed: start this blob again.
                Err(RegistryError::Connect { .. }) if attempt < policy.attempts => {
                    tokio::time::sleep(policy.backoff(attempt)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Streams the source blob into the open upload at `location`.
    async fn stream_blob(
        &self,
        source: &Repository,
        target: &Repository,
        digest: &Digest,
        size: u64,
        location: &str,
    ) -> Result<u64, RegistryError> {
        let download = self.open_blob(source, digest).await?;
        let length = download.content_length().unwrap_or(size);
        let url = with_digest(location, digest);
        let url = if url.starts_with('/') { format!("{}{url}", self.base_url(target.registry())) } else { url };
        let mut upload = self
            .http(&url)?
            .put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(download.bytes_stream()));
        if let Some(auth) = self.authorization(target.registry(), &[push_scope(target.name())]).await? {
            upload = upload.header(AUTHORIZATION, auth);
        }
        let response = upload.send().await.map_err(|source| connect(target, "streaming a blob", source))?;
        if response.status() != StatusCode::CREATED {
            return Err(rejected(target, &format!("blob {digest}"), response).await);
        }
        Ok(length)
    }
}

/// Appends `digest=` to an upload location, which may already carry a query.
fn with_digest(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

fn connect(repository: &Repository, what: &str, source: reqwest::Error) -> RegistryError {
    RegistryError::Connect { registry: repository.registry().to_string(), what: what.to_string(), attempts: 1, source }
}

fn protocol(repository: &Repository, message: &str) -> RegistryError {
    RegistryError::Protocol { registry: repository.registry().to_string(), message: format!("{repository}: {message}") }
}

async fn rejected(repository: &Repository, what: &str, response: Response) -> RegistryError {
    let status = response.status();
    let message = server_message(status, &response.bytes().await.unwrap_or_default());
    if message.code == ErrorCode::NameUnknown {
        return RegistryError::NameUnknown { repository: repository.to_string() };
    }
    RegistryError::Rejected {
        registry: repository.registry().to_string(),
        what: format!("{what} in {repository}"),
        status: status.as_u16(),
        code: message.code,
        message: message.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_added_to_the_upload_location() {
        let digest = Digest::of(b"x");
        assert_eq!(with_digest("/v2/a/blobs/uploads/u1", &digest), format!("/v2/a/blobs/uploads/u1?digest={digest}"));
        assert_eq!(
            with_digest("http://h/v2/a/blobs/uploads/u1?_state=s", &digest),
            format!("http://h/v2/a/blobs/uploads/u1?_state=s&digest={digest}")
        );
    }
}
