//! What an image is: its digest, type and size, its platforms, its labels, and what is attached to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::RegistryClient;
use crate::digest::Digest;
use crate::error::RegistryError;
use crate::manifest::{Contents, Descriptor};
use crate::reference::Reference;

/// Image configs are small; anything bigger than this is not one.
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub reference: String,
    pub digest: Digest,
    pub media_type: String,
    /// Size of the manifest plus everything it references (config and layers), in bytes.
    pub size: u64,
    pub platforms: Vec<PlatformInfo>,
    pub labels: BTreeMap<String, String>,
    pub referrers: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlatformInfo {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub digest: Digest,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(Deserialize, Default)]
struct RunConfig {
    #[serde(default, rename = "Labels")]
    labels: Option<BTreeMap<String, String>>,
}

impl RegistryClient {
    pub async fn inspect(&self, reference: &Reference) -> Result<ImageInfo, RegistryError> {
        let manifest = self.get_manifest(reference).await?;
        let repository = reference.repository();
        let invalid = |message: String| RegistryError::InvalidManifest { reference: reference.to_string(), message };
        let mut info = ImageInfo {
            reference: reference.to_string(),
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            size: manifest.bytes.len() as u64,
            platforms: Vec::new(),
            labels: BTreeMap::new(),
            referrers: self.referrers(repository, &manifest.digest, None).await?,
        };
        match manifest.contents().map_err(invalid)? {
            Contents::Index { manifests } => {
                for child in manifests {
                    info.size += child.size;
                    let platform = child.platform.clone();
                    info.platforms.push(PlatformInfo {
                        os: platform.as_ref().map(|p| p.os.clone()).unwrap_or_default(),
                        architecture: platform.as_ref().map(|p| p.architecture.clone()).unwrap_or_default(),
                        variant: platform.and_then(|p| p.variant),
                        digest: child.digest,
                    });
                }
            }
            Contents::Image { config, layers, .. } => {
                info.size += config.size + layers.iter().map(|l| l.size).sum::<u64>();
                let bytes = self.get_blob(repository, &config.digest, MAX_CONFIG_BYTES).await?;
                // Artifacts have configs that are not image configs (`{}`): they simply have no platform.
                let image: ImageConfig = serde_json::from_slice(&bytes).unwrap_or_default();
                info.labels = image.config.and_then(|c| c.labels).unwrap_or_default();
                if !image.os.is_empty() {
                    info.platforms.push(PlatformInfo {
                        os: image.os,
                        architecture: image.architecture,
                        variant: image.variant,
                        digest: manifest.digest.clone(),
                    });
                }
            }
        }
        Ok(info)
    }
}
