//! Registry credentials and the two auth schemes of the distribution spec: HTTP Basic, and bearer tokens
//! fetched from the realm a `WWW-Authenticate: Bearer` challenge names, cached per scope set.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::RegistryError;

/// A username and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials { username: username.into(), password: password.into() }
    }

    pub(crate) fn basic_header(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.username, self.password)))
    }

    /// The password, for handing to another client of the same registry (the Docker daemon's push); never
    /// for logging.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

/// How a registry wants to be authenticated, learnt from its first `401`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// Parses `WWW-Authenticate`, e.g. `Bearer realm="https://auth/token",service="registry",scope="..."`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(params);
    let realm = params.get("realm")?.clone();
    Some(Challenge::Bearer { realm, service: params.get("service").cloned() })
}

/// `key="value",key=value` pairs; quoted values may hold commas.
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_string());
        rest = remaining.trim_start_matches([',', ' ']);
    }
    params
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
pub(crate) struct Token {
    pub value: String,
    pub expires: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("value", &"<redacted>").field("expires", &self.expires).finish()
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    /// The token, valid a little less long than the server says so it is never sent stale.
    pub fn into_token(self) -> Option<Token> {
        let value = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        let lifetime = Duration::from_secs(self.expires_in.unwrap_or(60).max(10));
        Some(Token { value, expires: Instant::now() + lifetime - Duration::from_secs(5) })
    }
}

/// Credentials from a docker `config.json` (`auths`: `auth` as base64 `user:password`, or `username` and
/// `password`), keyed by registry host. Credential helpers (`credsStore`) are not consulted.
pub fn docker_config_credentials(path: &Path) -> Result<HashMap<String, Credentials>, RegistryError> {
    #[derive(Deserialize)]
    struct DockerConfig {
        #[serde(default)]
        auths: HashMap<String, DockerAuth>,
    }
    #[derive(Deserialize)]
    struct DockerAuth {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    let error = |message: String| RegistryError::Credentials { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| error(format!("not a docker config: {e}")))?;
    let mut credentials = HashMap::new();
    for (server, auth) in config.auths {
        let host = server.trim_start_matches("https://").trim_start_matches("http://");
        let host = host.split('/').next().unwrap_or(host).to_string();
        let pair = match (auth.auth, auth.username, auth.password) {
            (Some(encoded), _, _) if !encoded.is_empty() => {
                let decoded =
                    STANDARD.decode(encoded.trim()).map_err(|_| error(format!("`auth` of {server} is not base64")))?;
                let decoded =
                    String::from_utf8(decoded).map_err(|_| error(format!("`auth` of {server} is not UTF-8")))?;
                let (user, password) =
                    decoded.split_once(':').ok_or_else(|| error(format!("`auth` of {server} is not user:password")))?;
                Credentials::new(user, password)
            }
            (_, Some(username), Some(password)) => Credentials::new(username, password),
            _ => continue,
        };
        credentials.insert(host, pair);
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let header = r#"Bearer realm="http://127.0.0.1:1/token",service="registry, test",scope="repository:a/b:pull""#;
        assert_eq!(
            parse_challenge(header),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some("registry, test".into())
            })
        );
        assert_eq!(parse_challenge(r#"Basic realm="basic-realm""#), Some(Challenge::Basic));
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn credentials_never_print_the_password() {
        let credentials = Credentials::new("bot", "s3cret-pa55");
        let shown = format!("{credentials:?}");
        assert!(shown.contains("bot") && !shown.contains("s3cret"), "{shown}");
        let token = Token { value: "tok-123".into(), expires: Instant::now() };
        assert!(!format!("{token:?}").contains("tok-123"));
    }

    #[test]
    fn docker_config_auths() {
        let dir = std::env::temp_dir().join(format!("slipway-docker-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("config.json");
        let encoded = STANDARD.encode("alice:pw:with:colons");
        let text = format!(
            r#"{{"auths": {{"https://r.example.org/v1/": {{"auth": "{encoded}"}}, "127.0.0.1:5556": {{"username": "bob", "password": "pw2"}}, "empty.io": {{}}}}}}"#
        );
        std::fs::write(&path, text).expect("write");
        let found = docker_config_credentials(&path).expect("parses");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found.get("r.example.org"), Some(&Credentials::new("alice", "pw:with:colons")));
        assert_eq!(found.get("127.0.0.1:5556"), Some(&Credentials::new("bob", "pw2")));
        assert!(!found.contains_key("empty.io"));
    }
}
