//! The HTTP core: one `send` that authenticates (Basic, or a bearer token for the request's scopes, cached
//! per scope set), retries connection errors, 5xx and 429, and turns 401/403 into errors that name the
//! registry and scope. The operations (manifests, blobs, tags, referrers, copy) are built on it.

use crate::stats::record_error;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use crate::auth::{Challenge, Credentials, Token, TokenAnswer, parse_challenge};
use crate::error::{RegistryError, server_message};
use crate::retry::{RetryPolicy, is_retryable};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Credentials by registry host (`host[:port]`).
    pub credentials: HashMap<String, Credentials>,
    /// Registries reached over plain HTTP even though they are not on loopback.
    pub insecure: HashSet<String>,
    pub retry: RetryPolicy,
    /// Blobs copied at once by one copy.
    pub parallel_blobs: usize,
    /// Tags written at once by one retag with several tags.
    pub parallel_tags: usize,
    /// Tags asked for per page when listing.
    pub tag_page_size: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            credentials: HashMap::new(),
            insecure: HashSet::new(),
            retry: RetryPolicy::default(),
            parallel_blobs: 4,
            parallel_tags: 4,
            tag_page_size: 1000,
        }
    }
}

/// An OCI distribution client. Cheap to clone; clones share connections, challenges and tokens.
#[derive(Clone)]
pub struct RegistryClient {
    /// For `http://` URLs: built without loading the system's root certificates, which costs a CLI call on a
    /// loopback registry more than the retag itself.
    plain: reqwest::Client,
    /// For `https://` URLs, built (with the platform's roots) on first use.
    secure: Arc<OnceLock<reqwest::Client>>,
    pub(crate) config: Arc<ClientConfig>,
    challenges: Arc<Mutex<HashMap<String, Challenge>>>,
    tokens: Arc<Mutex<HashMap<(String, String), Token>>>,
}

/// One request to a registry. `body` is kept as bytes so the request can be sent again.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub registry: &'a str,
    /// A path on the registry (`/v2/...`) or an absolute URL (an upload location).
    pub target: String,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<Bytes>,
    /// Token scopes, e.g. `repository:demo/web:pull,push`.
    pub scopes: Vec<String>,
    /// What is being done, for error messages: "GET manifest 127.0.0.1:5555/demo/web:rc".
    pub what: String,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, registry: &'a str, target: String, scopes: Vec<String>, what: String) -> Self {
        Request { method, registry, target, headers: Vec::new(), body: None, scopes, what }
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

impl RegistryClient {
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        // One TLS provider for the whole process; a second call finds it installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plain = http_client_builder()
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| RegistryError::Protocol { registry: "-".into(), message: format!("HTTP client: {e}") })?;
        Ok(RegistryClient {
            plain,
            secure: Arc::default(),
            config: Arc::new(config),
            challenges: Arc::default(),
            tokens: Arc::default(),
        })
    }

    /// The credentials configured for `registry` (`host[:port]`), if any.
    pub fn credentials(&self, registry: &str) -> Option<&Credentials> {
        self.config.credentials.get(registry)
    }

    /// The HTTP client for `url`: TLS with the platform's roots for `https`, the plain one otherwise.
    pub(crate) fn http(&self, url: &str) -> Result<&reqwest::Client, RegistryError> {
        if !url.starts_with("https://") {
            return Ok(&self.plain);
        }
        if let Some(client) = self.secure.get() {
            return Ok(client);
        }
        let client = http_client_builder().build().map_err(|e| RegistryError::Protocol {
            registry: url.to_string(),
            message: format!("TLS client (system root certificates): {e}"),
        })?;
        Ok(self.secure.get_or_init(|| client))
    }

    /// `http` for loopback registries and those configured insecure, `https` for the rest.
    pub fn base_url(&self, registry: &str) -> String {
        let host = registry
            .rsplit_once(':')
            .map_or(registry, |(host, port)| if port.bytes().all(|b| b.is_ascii_digit()) { host } else { registry });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let scheme = if loopback || self.config.insecure.contains(registry) { "http" } else { "https" };
        format!("{scheme}://{registry}")
    }

    /// Sends `request`, authenticating and retrying as needed. Answers other than 401, 403, 429 and 5xx are
    /// returned for the caller to judge.
    pub(crate) async fn send(&self, request: Request<'_>) -> Result<Response, RegistryError> {
        let url = if request.target.starts_with("http://") || request.target.starts_with("https://") {
            request.target.clone()
        } else {
            format!("{}{}", self.base_url(request.registry), request.target)
        };
        let policy = self.config.retry;
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self.http(&url)?.request(request.method.clone(), &url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if let Some(auth) = self.authorization(request.registry, &request.scopes).await? {
                builder = builder.header(AUTHORIZATION, auth);
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            let response = match builder.send().await {
                Ok(response) => response,
                Err(err) if attempt < policy.attempts && (err.is_connect() || err.is_timeout() || err.is_request()) => {
                    record_error(request.registry, None);
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    continue;
                }
                Err(source) => {
                    record_error(request.registry, None);
                    let (registry, what) = (request.registry.to_string(), request.what.clone());
                    return Err(RegistryError::Connect { registry, what, attempts: attempt, source });
                }
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !challenged {
                challenged = true;
                self.learn_challenge(request.registry, response.headers(), &request.scopes).await?;
                attempt -= 1;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                record_error(request.registry, Some(status.as_u16()));
                let message = server_message(status, &response.bytes().await.unwrap_or_default()).message;
                let (registry, scope) = (request.registry.to_string(), request.scopes.join(" "));
                return Err(if status == StatusCode::UNAUTHORIZED {
                    RegistryError::Unauthorized { registry, scope, message }
                } else {
                    RegistryError::Denied { registry, scope, message }
                });
            }
            if is_retryable(status) {
                record_error(request.registry, Some(status.as_u16()));
                if attempt < policy.attempts {
                    tokio::time::sleep(policy.retry_after(response.headers(), attempt)).await;
                    continue;
                }
                let message = server_message(status, &response.bytes().await.unwrap_or_default()).message;
                return Err(RegistryError::Server {
                    registry: request.registry.to_string(),
                    what: request.what.clone(),
                    status: status.as_u16(),
                    attempts: attempt,
                    message,
                });
            }
            return Ok(response);
        }
    }

    /// The `Authorization` header for a request to `registry` needing `scopes`, once its challenge is known.
    pub(crate) async fn authorization(
        &self,
        registry: &str,
        scopes: &[String],
    ) -> Result<Option<String>, RegistryError> {
        let challenge = self.challenges.lock().map_or(None, |c| c.get(registry).cloned());
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.config.credentials.get(registry).map(Credentials::basic_header)),
            Some(Challenge::Bearer { realm, service }) => {
                let key = (registry.to_string(), scope_key(scopes));
                let cached = self.tokens.lock().map_or(None, |t| t.get(&key).cloned());
                if let Some(token) = cached.filter(|t| t.expires > Instant::now()) {
                    return Ok(Some(format!("Bearer {}", token.value)));
                }
                let token = self.fetch_token(registry, &realm, service.as_deref(), scopes).await?;
                let header = format!("Bearer {}", token.value);
                if let Ok(mut tokens) = self.tokens.lock() {
                    tokens.insert(key, token);
                }
                Ok(Some(header))
            }
        }
    }

    async fn learn_challenge(
        &self,
        registry: &str,
        headers: &HeaderMap,
        scopes: &[String],
    ) -> Result<(), RegistryError> {
        let challenge =
            headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).find_map(parse_challenge);
        let Some(challenge) = challenge else {
            return Err(RegistryError::Unauthorized {
                registry: registry.to_string(),
                scope: scopes.join(" "),
                message: "the registry asked for credentials without saying how (no usable WWW-Authenticate)".into(),
            });
        };
        if let Ok(mut challenges) = self.challenges.lock() {
            challenges.insert(registry.to_string(), challenge);
        }
        // A stale token for these scopes is what got us here: drop it.
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&(registry.to_string(), scope_key(scopes)));
        }
        Ok(())
    }

    async fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token, RegistryError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = service {
            query.push(("service", service));
        }
        for scope in scopes {
            query.push(("scope", scope));
        }
        let mut builder = self.http(realm)?.get(realm).query(&query);
        if let Some(credentials) = self.config.credentials.get(registry) {
            builder = builder.basic_auth(&credentials.username, Some(credentials.password()));
        }
        let unauthorized = |message: String| RegistryError::Unauthorized {
            registry: registry.to_string(),
            scope: scopes.join(" "),
            message,
        };
        let response = builder.send().await.map_err(|source| RegistryError::Connect {
            registry: registry.to_string(),
            what: format!("token from {realm}"),
            attempts: 1,
            source,
        })?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(unauthorized(format!("the token server {realm} answered {status}")));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| unauthorized(format!("unreadable token answer: {e}")))?;
        answer.into_token().ok_or_else(|| unauthorized("the token server sent no token".into()))
    }
}

/// Scopes in a stable order, so the same set always finds the same cached token.
fn scope_key(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.join(" ")
}

pub(crate) fn pull_scope(name: &str) -> String {
    format!("repository:{name}:pull")
}

pub(crate) fn push_scope(name: &str) -> String {
    format!("repository:{name}:pull,push")
}

pub(crate) fn delete_scope(name: &str) -> String {
    format!("repository:{name}:delete,pull,push")
}

/// The header value, or an empty string when absent or not text.
pub(crate) fn header(response: &Response, name: &str) -> String {
    response.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).unwrap_or("").to_string()
}

/// An HTTP(S) client for Slipway's other outgoing calls (event webhooks): the same TLS provider and user
/// agent as the registry client, the platform's root certificates, and an overall `timeout` per request.
pub fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    http_client_builder().timeout(timeout).build().map_err(|e| format!("HTTP client: {e}"))
}

fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(10))
        .pool_max_idle_per_host(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_or_configured_registries() {
        let mut config = ClientConfig::default();
        config.insecure.insert("registry.lan:5000".into());
        let client = RegistryClient::new(config).expect("client");
        assert_eq!(client.base_url("127.0.0.1:5555"), "http://127.0.0.1:5555");
        assert_eq!(client.base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(client.base_url("[::1]:5000"), "http://[::1]:5000");
        assert_eq!(client.base_url("registry.lan:5000"), "http://registry.lan:5000");
        assert_eq!(client.base_url("quay.io"), "https://quay.io");
        assert_eq!(client.base_url("10.0.0.1:5000"), "https://10.0.0.1:5000");
    }

    #[test]
    fn scope_sets_are_order_independent() {
        let a = scope_key(&["repository:b:pull".into(), "repository:a:pull,push".into()]);
        let b = scope_key(&["repository:a:pull,push".into(), "repository:b:pull".into()]);
        assert_eq!(a, b);
    }
}
