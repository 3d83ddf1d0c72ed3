//! Manifests kept as the exact bytes the registry sent (their digest is the image's identity), with a parsed
//! view of what they reference.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::media;

/// A manifest: its bytes, its media type, and the digest of those bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: String,
    pub digest: Digest,
    pub bytes: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// What a manifest references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    Image { config: Box<Descriptor>, layers: Vec<Descriptor>, subject: Option<Box<Descriptor>> },
    Index { manifests: Vec<Descriptor> },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parsed {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
}

impl Manifest {
    /// A manifest from bytes received or built; its digest is computed here.
    pub fn new(media_type: impl Into<String>, bytes: Bytes) -> Self {
        Manifest { media_type: media_type.into(), digest: Digest::of(&bytes), bytes }
    }

    /// The media type an answer's `Content-Type` gives, or failing that the one the body declares.
    pub(crate) fn media_type_of(content_type: &str, bytes: &[u8]) -> String {
        let content_type = content_type.split(';').next().unwrap_or("").trim();
        if media::is_known_manifest(content_type) {
            return content_type.to_string();
        }
        serde_json::from_slice::<Parsed>(bytes)
            .ok()
            .and_then(|p| p.media_type)
            .unwrap_or_else(|| content_type.to_string())
    }

    pub fn contents(&self) -> Result<Contents, String> {
        let parsed: Parsed = serde_json::from_slice(&self.bytes).map_err(|e| format!("not a manifest: {e}"))?;
        if media::is_index(&self.media_type) {
            return Ok(Contents::Index { manifests: parsed.manifests.unwrap_or_default() });
        }
        match (parsed.config, parsed.layers) {
            (Some(config), layers) => Ok(Contents::Image {
                config: Box::new(config),
                layers: layers.unwrap_or_default(),
                subject: parsed.subject.map(Box::new),
            }),
            (None, _) => Err("an image manifest without a config".to_string()),
        }
    }

    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA2: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
      "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7,"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
      "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":9,"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]}"#;

    #[test]
    fn the_digest_is_of_the_exact_bytes() {
        let manifest = Manifest::new(media::DOCKER_MANIFEST, Bytes::from_static(SCHEMA2.as_bytes()));
        assert_eq!(manifest.digest, Digest::of(SCHEMA2.as_bytes()));
        let Ok(Contents::Image { config, layers, subject: None }) = manifest.contents() else { panic!("an image") };
        assert_eq!((config.size, layers.len()), (7, 1));
    }

    #[test]
    fn media_type_from_header_or_body() {
        assert_eq!(Manifest::media_type_of("application/json", SCHEMA2.as_bytes()), media::DOCKER_MANIFEST);
        assert_eq!(Manifest::media_type_of(&format!("{}; charset=utf-8", media::OCI_INDEX), b"{}"), media::OCI_INDEX);
    }
}
