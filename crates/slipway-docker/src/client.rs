//! The connection to one Docker daemon, and the small calls that need no module of their own.

use std::sync::Arc;

use bollard::query_parameters::RemoveImageOptions;

use crate::engine::Engine;
use crate::error::{DockerError, ErrorContext};

/// The oldest Engine API Slipway relies on (Docker 20.10): `network_mode: container:<id>`, wait conditions, OOM state.
const MIN_API: (usize, usize) = (1, 41);

/// Where bollard looks when neither a URL nor `DOCKER_HOST` is given.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A handle on one Docker daemon. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Docker {
    inner: bollard::Docker,
    endpoint: Arc<str>,
    engine: Arc<Engine>,
}

impl Docker {
    /// Connects and negotiates the API version down to the daemon's (bollard speaks a newer one than 20.10).
    ///
    /// `url`: `None` uses `DOCKER_HOST` or the local socket; otherwise `unix:///path`, a bare socket path,
    /// `tcp://host:port` or `http://host:port`. Fails if the daemon does not answer or is older than API 1.41.
    pub async fn connect(url: Option<&str>) -> Result<Docker, DockerError> {
        let (client, endpoint) = match url {
            None => {
                let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
                (bollard::Docker::connect_with_defaults(), endpoint)
            }
            Some(path) if path.starts_with('/') => {
                let endpoint = format!("unix://{path}");
                (bollard::Docker::connect_with_host(&endpoint), endpoint)
            }
            Some(url) => (bollard::Docker::connect_with_host(url), url.to_string()),
        };
        let client = client.map_err(|err| match err {
            bollard::errors::Error::SocketNotFoundError(_) => DockerError::Unreachable {
                endpoint: endpoint.clone(),
                operation: "connect".to_string(),
                reason: err.to_string(),
            },
            err => DockerError::InvalidSpec {
                field: "Docker URL",
                message: format!(
                    "`{endpoint}`: {err}; use unix:///path/to/docker.sock, tcp://host:port or http://host:port"
                ),
            },
        })?;
        let timeout_secs = client.timeout().as_secs();
        let ctx = ErrorContext { endpoint: &endpoint, operation: "negotiate the API version", timeout_secs };
        let client = client.negotiate_version().await.map_err(|err| ctx.classify(err, None))?;
        // The daemon passes its client's agent on to registries (`UpstreamClient(slipway/…)`), so Slipway's own
        // pushes are known as such in registry notifications.
        let client = client.with_request_modifier(|mut request| {
            let agent = http::HeaderValue::from_static(concat!("slipway/", env!("CARGO_PKG_VERSION")));
            request.headers_mut().insert(http::header::USER_AGENT, agent);
            request
        });
        let version = client.client_version();
        if (version.major_version, version.minor_version) < MIN_API {
            return Err(DockerError::Api {
                endpoint,
                operation: "negotiate the API version".to_string(),
                status: None,
                message: format!(
                    "the daemon speaks API {}.{}, older than {}.{} (Docker 20.10) that Slipway needs; upgrade Docker",
                    version.major_version, version.minor_version, MIN_API.0, MIN_API.1
                ),
            });
        }
        // Asked once: the engine does not change under a connection, and builders choose by it.
        let ctx = ErrorContext { endpoint: &endpoint, operation: "ask for its version", timeout_secs };
        let engine = Engine::from_version(&client.version().await.map_err(|err| ctx.classify(err, None))?);
        tracing::info!(docker.endpoint = %endpoint, engine = %engine, "container engine connected");
        Ok(Docker { inner: client, endpoint: endpoint.into(), engine: Arc::new(engine) })
    }

    /// The engine behind the socket (Docker or Podman, its version and API version), read at connect.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The daemon's version (e.g. `20.10.24+dfsg1`): proves it answers and says what it is.
    pub async fn ping(&self) -> Result<String, DockerError> {
        let version = self.inner.version().await.map_err(|err| self.ctx("ask for its version").classify(err, None))?;
        Ok(version.version.unwrap_or_else(|| "unknown".to_string()))
    }

    /// Removes an image (by name or id) even if tagged more than once. An image that is already gone is fine,
    /// so cleanup paths can call this unconditionally.
    pub async fn remove_image(&self, image: &str) -> Result<(), DockerError> {
        let options = RemoveImageOptions { force: true, noprune: false, ..Default::default() };
        match self.inner.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(err) => Err(self.ctx("remove an image").classify(err, Some(image))),
        }
    }

    /// Where this daemon is (`unix:///var/run/docker.sock`), for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The underlying bollard client, for calls this crate does not wrap (tests use it to look for leftovers).
    pub fn api(&self) -> &bollard::Docker {
        &self.inner
    }

    pub(crate) fn ctx<'a>(&'a self, operation: &'a str) -> ErrorContext<'a> {
        ErrorContext { endpoint: &self.endpoint, operation, timeout_secs: self.inner.timeout().as_secs() }
    }
}
