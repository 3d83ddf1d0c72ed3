//! Manifest media types, and the `Accept` list that asks for all of them.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI 1.1 empty descriptor's media type (`{}`), used as the config of artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_EMPTY_JSON: &[u8] = b"{}";

/// Every manifest type Slipway reads, for the `Accept` header.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Whether a manifest of this type lists other manifests (an index or manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

pub fn is_known_manifest(media_type: &str) -> bool {
    matches!(media_type, OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST)
}
