//! Registry errors, parsed into typed codes so callers can match `ManifestUnknown` or `Denied`, each saying
//! what failed and where.

use reqwest::StatusCode;
use serde::Deserialize;

use crate::digest::Digest;

/// The distribution spec's error codes (`{"errors":[{"code": ...}]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    Other(String),
}

impl ErrorCode {
    fn parse(code: &str) -> ErrorCode {
        match code {
            "BLOB_UNKNOWN" => ErrorCode::BlobUnknown,
            "BLOB_UPLOAD_INVALID" => ErrorCode::BlobUploadInvalid,
            "BLOB_UPLOAD_UNKNOWN" => ErrorCode::BlobUploadUnknown,
            "DIGEST_INVALID" => ErrorCode::DigestInvalid,
            "MANIFEST_BLOB_UNKNOWN" => ErrorCode::ManifestBlobUnknown,
            "MANIFEST_INVALID" => ErrorCode::ManifestInvalid,
            "MANIFEST_UNKNOWN" => ErrorCode::ManifestUnknown,
            "NAME_INVALID" => ErrorCode::NameInvalid,
            "NAME_UNKNOWN" => ErrorCode::NameUnknown,
            "SIZE_INVALID" => ErrorCode::SizeInvalid,
            "TAG_INVALID" => ErrorCode::TagInvalid,
            "UNAUTHORIZED" => ErrorCode::Unauthorized,
            "DENIED" => ErrorCode::Denied,
            "UNSUPPORTED" => ErrorCode::Unsupported,
            "TOOMANYREQUESTS" => ErrorCode::TooManyRequests,
            other => ErrorCode::Other(other.to_string()),
        }
    }
}

/// What the registry said, as parsed from an error answer.
#[derive(Debug, Clone)]
pub struct ServerMessage {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry}: not authorized for `{scope}` ({message}); check the credentials configured for {registry}")]
    Unauthorized { registry: String, scope: String, message: String },
    #[error("{registry}: access to `{scope}` denied ({message}); the credentials lack that permission")]
    Denied { registry: String, scope: String, message: String },
    #[error("manifest {reference} not found")]
    ManifestUnknown { reference: String },
    #[error("blob {digest} not found in {repository}")]
    BlobUnknown { repository: String, digest: Digest },
    #[error("repository {repository} not found")]
    NameUnknown { repository: String },
    #[error("{registry} rejected {what}: {code:?} {message}")]
    Rejected { registry: String, what: String, status: u16, code: ErrorCode, message: String },
    #[error("{what} answered {status} from {registry} after {attempts} attempt(s): {message}")]
    Server { registry: String, what: String, status: u16, attempts: u32, message: String },
    #[error("cannot reach {registry} for {what} after {attempts} attempt(s): {source}")]
    Connect {
        registry: String,
        what: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    #[error("{reference}: the registry sent content with digest {actual}, not the expected {expected}")]
    DigestMismatch { reference: String, expected: Digest, actual: Digest },
    #[error("{reference} is a manifest of type `{media_type}`, which Slipway does not handle")]
    UnsupportedMediaType { reference: String, media_type: String },
    #[error("{reference}: invalid manifest: {message}")]
    InvalidManifest { reference: String, message: String },
    #[error(
        "deleting {reference} would also remove the tags {tags:?} that point at the same digest; untag by tag, or force it"
    )]
    WouldRemoveTags { reference: String, tags: Vec<String> },
    #[error("{registry}: {message}")]
    Protocol { registry: String, message: String },
    #[error("reading {path}: {message}")]
    Credentials { path: String, message: String },
}

impl RegistryError {
    /// Whether the error means "it is not there" (a tag, manifest, blob or repository).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            RegistryError::ManifestUnknown { .. }
                | RegistryError::BlobUnknown { .. }
                | RegistryError::NameUnknown { .. }
        )
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    code: String,
    #[serde(default)]
    message: String,
}

/// Parses an error answer's body; an empty or foreign body gives the status text.
pub(crate) fn server_message(status: StatusCode, body: &[u8]) -> ServerMessage {
    let first = serde_json::from_slice::<ErrorBody>(body).ok().and_then(|b| b.errors.into_iter().next());
    match first {
        Some(entry) => ServerMessage { code: ErrorCode::parse(&entry.code), message: entry.message },
        None => {
            let text = String::from_utf8_lossy(body).trim().chars().take(200).collect::<String>();
            let message = if text.is_empty() { status.canonical_reason().unwrap_or("").to_string() } else { text };
            ServerMessage { code: ErrorCode::Other(status.as_u16().to_string()), message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_codes() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let parsed = server_message(StatusCode::NOT_FOUND, body);
        assert_eq!(parsed.code, ErrorCode::ManifestUnknown);
        assert_eq!(parsed.message, "manifest unknown");
        let parsed = server_message(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(parsed.code, ErrorCode::Other("502".into()));
        assert_eq!(parsed.message, "Bad Gateway");
    }
}
