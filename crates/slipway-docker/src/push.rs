//! `docker push` of exactly one tag, returning the manifest digest the registry stored.

use std::fmt;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;

use crate::client::Docker;
use crate::error::{DockerError, message_of};
use crate::log::StatusFilter;

/// Credentials for the registry pushed to. `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

impl RegistryAuth {
    /// What the daemon sends `registry` (`X-Registry-Auth`).
    pub(crate) fn for_registry(&self, registry: &str) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        }
    }
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(
        "cannot reach registry {registry} to push {image}: {message}; check that the registry is up and that the \
         Docker daemon can reach it"
    )]
    Unreachable { registry: String, image: String, message: String },
    #[error(
        "registry {registry} refused the push of {image}: {message}; check the credentials configured for {registry} \
         and that they may push to this repository"
    )]
    Denied { registry: String, image: String, message: String },
    #[error("there is no local image {image} to push; build and tag it first")]
    NoSuchImage { image: String },
    #[error("pushing {image} to {registry} failed: {message}")]
    Failed { registry: String, image: String, message: String },
    #[error("pushed {image}, but neither the push output nor the local image names its digest; push again")]
    NoDigest { image: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

impl Docker {
    /// Pushes `repository:tag` (and only that tag) and returns the manifest digest (`sha256:…`), passing each
    /// change of push status to `log` ("Preparing", "Pushed", …; bollard's model drops the layer ids, so
    /// per-chunk "Pushing" ticks collapse into one line). The digest is the one the push reported, checked
    /// against the image's repo digests afterwards (the latter is used if the push output named none).
    pub async fn push(
        &self,
        repository: &str,
        tag: &str,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, PushError> {
        self.push_with_auth(repository, tag, None, log).await
    }

    /// [`Docker::push`] with credentials for the registry (otherwise the daemon pushes anonymously).
    pub async fn push_with_auth(
        &self,
        repository: &str,
        tag: &str,
        auth: Option<&RegistryAuth>,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, PushError> {
        let image = format!("{repository}:{tag}");
        let registry = registry_of(repository);
        // Without `tag`, the daemon would push every local tag of the repository.
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let credentials = auth.map(|a| a.for_registry(&registry));
        let mut stream = self.api().push_image(repository, Some(options), credentials);
        let mut statuses = StatusFilter::default();
        let mut reported = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|err| self.push_error(err, &registry, &image))?;
            let Some(status) = info.status else { continue };
            if let Some(digest) = digest_in(&status) {
                reported = Some(digest.to_string());
            }
            if statuses.changed(&status) {
                log(&status);
            }
        }
        let local = self.repo_digests(&image, repository).await?;
        let digest = match reported {
            Some(digest) => {
                if !local.is_empty() && !local.contains(&digest) {
                    tracing::warn!(image = %image, image.digest = %digest, local = ?local, "pushed digest not among the image's repo digests");
                }
                digest
            }
            None => local.first().cloned().ok_or(PushError::NoDigest { image: image.clone() })?,
        };
        if self.engine().is_podman() && !local.contains(&digest) {
            // Podman 4.3 does not record the digest it pushed on the local image (dockerd does), and later
            // stages run `repository@digest`. Its layers are all here: the pull only records the reference.
            let by_digest = format!("{repository}@{digest}");
            self.pull_with_auth(&by_digest, auth, &mut |_| {}).await.map_err(|err| PushError::Failed {
                registry: registry.clone(),
                image: image.clone(),
                message: format!("pushed as {digest}, but recording that digest on the local image failed: {err}"),
            })?;
        }
        tracing::info!(image = %image, image.digest = %digest, "pushed");
        Ok(digest)
    }

    /// The digests the daemon recorded for `repository` on this image (`repo@sha256:…` entries).
    async fn repo_digests(&self, image: &str, repository: &str) -> Result<Vec<String>, PushError> {
        let inspect = self
            .api()
            .inspect_image(image)
            .await
            .map_err(|err| PushError::Docker(self.ctx("inspect a pushed image").classify(err, Some(image))))?;
        let prefix = format!("{repository}@");
        Ok(inspect
            .repo_digests
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.strip_prefix(&prefix))
            .filter(|d| is_digest(d))
            .map(str::to_string)
            .collect())
    }

    fn push_error(&self, err: BollardError, registry: &str, image: &str) -> PushError {
        if matches!(err, BollardError::DockerResponseServerError { status_code: 404, .. }) {
            return PushError::NoSuchImage { image: image.to_string() };
        }
        if !matches!(err, BollardError::DockerStreamError { .. } | BollardError::DockerResponseServerError { .. }) {
            return PushError::Docker(self.ctx("push an image").classify(err, Some(image)));
        }
        let message = message_of(&err);
        let (registry, image) = (registry.to_string(), image.to_string());
        match kind_of(&message) {
            Kind::Unreachable => PushError::Unreachable { registry, image, message },
            Kind::Denied => PushError::Denied { registry, image, message },
            Kind::NoSuchImage => PushError::NoSuchImage { image },
            Kind::Other => PushError::Failed { registry, image, message },
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Unreachable,
    Denied,
    NoSuchImage,
    Other,
}

/// Sorts the daemon's push error message (it reports registry trouble as text).
fn kind_of(message: &str) -> Kind {
    let lower = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if any(&["does not exist locally", "no such image"]) {
        Kind::NoSuchImage
    } else if any(&["denied", "unauthorized", "authentication required", "no basic auth credentials", "forbidden"]) {
        Kind::Denied
    } else if any(&[
        "connection refused",
        "no such host",
        "dial tcp",
        "i/o timeout",
        "network is unreachable",
        "connection reset",
        "http response to https client",
        "tls: ",
    ]) {
        Kind::Unreachable
    } else {
        Kind::Other
    }
}

/// The registry host of a repository name: its first component when that looks like a host, else Docker Hub.
pub(crate) fn registry_of(repository: &str) -> String {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// `test: digest: sha256:… size: 528` → the digest.
fn digest_in(status: &str) -> Option<&str> {
    let (_, rest) = status.split_once("digest: ")?;
    let digest = rest.split_whitespace().next()?;
    is_digest(digest).then_some(digest)
}

fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn digest_from_status() {
        let cases = [
            (format!("test: digest: {DIGEST} size: 528"), Some(DIGEST)),
            ("Pushed".to_string(), None),
            ("x: digest: sha256:short size: 1".to_string(), None),
        ];
        for (status, want) in &cases {
            assert_eq!(digest_in(status), *want, "{status}");
        }
    }

    #[test]
    fn registries() {
        let cases = [
            ("127.0.0.1:5555/app/web", "127.0.0.1:5555"),
            ("quay.io/centos/centos", "quay.io"),
            ("localhost/x", "localhost"),
            ("library/busybox", "docker.io"),
            ("busybox", "docker.io"),
        ];
        for (repo, want) in cases {
            assert_eq!(registry_of(repo), want, "{repo}");
        }
    }

    #[test]
    fn error_kinds() {
        let cases = [
            ("Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused", Kind::Unreachable),
            ("denied: requested access to the resource is denied", Kind::Denied),
            ("unauthorized: authentication required", Kind::Denied),
            ("An image does not exist locally with the tag: 127.0.0.1:5555/x", Kind::NoSuchImage),
            ("blob upload invalid", Kind::Other),
        ];
        for (message, want) in cases {
            assert_eq!(kind_of(message), want, "{message}");
        }
    }

    #[test]
    fn auth_debug_hides_the_password() {
        let auth = RegistryAuth { username: "deployer".into(), password: "hunter2".into() };
        let shown = format!("{auth:?}");
        assert!(shown.contains("deployer") && !shown.contains("hunter2"), "{shown}");
    }
}
