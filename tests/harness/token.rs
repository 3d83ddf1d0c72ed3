//! A token server for distribution's `auth: token` mode, inside the test process: it issues real ES256 JWTs
//! that distribution 2.8 verifies against a self-signed certificate (made with the `openssl` CLI) listed in
//! the registry's `rootcertbundle`, and records every request so a test can see what its client asked for.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};

/// The `service` the harness registries announce and the tokens' `aud`.
pub const SERVICE: &str = "slipway-test-registry";
/// The tokens' `iss`, which the registries trust.
pub const ISSUER: &str = "slipway-test-issuer";
/// How long an issued token lives, in seconds.
const LIFETIME: u64 = 300;

/// `n` random bytes as lower-case hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).expect("the system random generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is before 1970").as_secs()
}

/// `secs` since the epoch as RFC 3339 UTC (`2026-01-02T03:04:05Z`).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

/// One `access` entry of a token, or one parsed `scope` (`repository:slipway-test/a:push,pull`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `repository` or `registry` (for `registry:catalog:*`).
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Access {
    pub fn repository(name: &str, actions: &[&str]) -> Access {
        Access {
            resource_type: "repository".to_string(),
            name: name.to_string(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Parses a scope `type:name:actions` (the name may hold `:`, as in `host:port/name`).
    pub fn parse(scope: &str) -> Option<Access> {
        let (resource_type, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let actions = actions.split(',').filter(|a| !a.is_empty()).map(str::to_string).collect();
        Some(Access { resource_type: resource_type.to_string(), name: name.to_string(), actions })
    }

    fn to_json(&self) -> Value {
        json!({"type": self.resource_type, "name": self.name, "actions": self.actions})
    }
}

/// A request the token server answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `GET` (Docker's usual) or `POST` (OAuth2 form).
    pub method: String,
    /// The user that presented credentials; None for an anonymous request.
    pub user: Option<String>,
    /// The credentials matched (always false for anonymous requests).
    pub authenticated: bool,
    /// The HTTP status answered: 200, 401 for wrong credentials, 400 for a malformed request.
    pub status: u16,
    pub service: Option<String>,
    /// Every scope asked for, as sent (several `scope=` parameters, or one space-separated list).
    pub scopes: Vec<String>,
    /// What the issued token grants.
    pub granted: Vec<Access>,
}

impl TokenRequest {
    /// Whether this request asked for `action` on repository `name` (`slipway-test/a-1-2`, no registry host).
    pub fn asks(&self, name: &str, action: &str) -> bool {
        self.scopes
            .iter()
            .filter_map(|s| Access::parse(s))
            .any(|a| a.resource_type == "repository" && a.name == name && a.actions.iter().any(|x| x == action))
    }

    /// Whether the token issued grants `action` on repository `name`.
    pub fn grants(&self, name: &str, action: &str) -> bool {
        self.granted.iter().any(|a| {
            a.resource_type == "repository" && a.name == name && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

/// The ES256 key and its self-signed certificate.
struct Signer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    rng: SystemRandom,
}

fn pem_body(pem: &str, label: &str, path: &Path) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let body: String = pem
        .split_once(&begin)
        .and_then(|(_, rest)| rest.split_once(&end))
        .map(|(body, _)| body.split_whitespace().collect())
        .unwrap_or_else(|| panic!("{} holds no {label} PEM block:\n{pem}", path.display()));
    STANDARD.decode(body).unwrap_or_else(|e| panic!("the {label} in {} is not base64: {e}", path.display()))
}

impl Signer {
    /// Makes a P-256 key and a self-signed certificate (CN = the issuer) in `dir` with the `openssl` CLI.
    fn generate(dir: &Path) -> (Signer, PathBuf) {
        let key_path = dir.join("token-key.pem");
        let cert_path = dir.join("token-cert.pem");
        let output = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days"])
            .args(["2", "-subj", &format!("/CN={ISSUER}"), "-keyout"])
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl: {e}; install it (apt-get install openssl)"));
        assert!(
            output.status.success(),
            "openssl could not make the token signing key and certificate in {} ({}): {}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let read = |path: &Path| {
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        };
        let pkcs8 = pem_body(&read(&key_path), "PRIVATE KEY", &key_path);
        let cert_der = pem_body(&read(&cert_path), "CERTIFICATE", &cert_path);
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).unwrap_or_else(|e| {
            panic!("ring rejects the P-256 PKCS#8 key openssl wrote to {}: {e}", key_path.display())
        });
        (Signer { key, cert_der, rng }, cert_path)
    }

    /// A compact JWS: header `{typ: JWT, alg: ES256, x5c: [cert]}`, the claims, and the raw r||s signature.
    fn sign(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.key.sign(&self.rng, input.as_bytes()).expect("ES256 signing failed");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

struct ServerState {
    signer: Signer,
    username: String,
    password: String,
    requests: Mutex<Vec<TokenRequest>>,
}

/// Percent-decoding of `application/x-www-form-urlencoded` (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

impl ServerState {
    fn issue(&self, subject: &str, access: &[Access]) -> (String, u64) {
        let now = now();
        let claims = json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE, // distribution 2.8 reads `aud` as one string, not a list
            "exp": now + LIFETIME,
            "nbf": now,
            "iat": now,
            "jti": random_hex(16),
            "access": access.iter().map(Access::to_json).collect::<Vec<_>>(),
        });
        (self.signer.sign(&claims), now)
    }

    fn handle(&self, method: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Response {
        let mut params = form_pairs(query.unwrap_or(""));
        if method == Method::POST {
            params.extend(form_pairs(&String::from_utf8_lossy(body)));
        }
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let scopes: Vec<String> = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();

        // Credentials: HTTP Basic, or the OAuth2 password grant's form fields.
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
            .and_then(|b64| STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())));
        let form = match (param("username"), param("password")) {
            (Some(u), Some(p)) if method == Method::POST => Some((u, p)),
            _ => None,
        };
        let credentials = basic.or(form);
        let user = credentials.as_ref().map(|(u, _)| u.clone());
        let authenticated = credentials.as_ref().is_some_and(|(u, p)| *u == self.username && *p == self.password);

        let mut record = TokenRequest {
            method: method.to_string(),
            user: user.clone(),
            authenticated,
            status: 200,
            service: param("service"),
            scopes: scopes.clone(),
            granted: Vec::new(),
        };
        let response = if credentials.is_some() && !authenticated {
            record.status = 401;
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({"errors": [{"code": "UNAUTHORIZED", "message": "wrong username or password"}]}),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"slipway-test-token\""),
            );
            response
        } else if method == Method::POST && param("grant_type").as_deref() == Some("refresh_token") {
            record.status = 400;
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "unsupported_grant_type", "error_description": "this server issues no refresh tokens"}),
            )
        } else {
            // Authenticated: every action asked for. Anonymous: only `pull` on repositories.
            let granted: Vec<Access> = scopes
                .iter()
                .filter_map(|s| Access::parse(s))
                .filter_map(|mut a| {
                    if !authenticated {
                        if a.resource_type != "repository" {
                            return None;
                        }
                        a.actions.retain(|x| x == "pull");
                    }
                    (!a.actions.is_empty()).then_some(a)
                })
                .collect();
            let (token, issued) = self.issue(user.as_deref().filter(|_| authenticated).unwrap_or(""), &granted);
            record.granted = granted;
            let mut body = json!({
                "token": token,
                "access_token": token,
                "expires_in": LIFETIME,
                "issued_at": rfc3339(issued),
            });
            if method == Method::POST {
                body["scope"] = json!(scopes.join(" "));
            }
            json_response(StatusCode::OK, &body)
        };
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(record);
        response
    }
}

async fn token_endpoint(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.handle(&method, uri.query(), &headers, &body)
}

/// The token server: `GET|POST http://127.0.0.1:PORT/token`, on its own thread and Tokio runtime (so it
/// serves whether the test is async or not). Dropping it stops it.
pub struct TokenServer {
    port: u16,
    cert_path: PathBuf,
    state: Arc<ServerState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TokenServer {
    /// Makes a signing key and certificate in `dir` and serves tokens; `username`/`password` is the one
    /// account accepted (HTTP Basic).
    pub fn start(dir: &Path, username: &str, password: &str) -> TokenServer {
        let (signer, cert_path) = Signer::generate(dir);
        let state = Arc::new(ServerState {
            signer,
            username: username.to_string(),
            password: password.to_string(),
            requests: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("the token server cannot listen on 127.0.0.1: {e}"));
        listener.set_nonblocking(true).expect("cannot make the token server's socket non-blocking");
        let port = listener.local_addr().expect("the token server's socket has no local address").port();
        let app = Router::new().route("/token", axum::routing::any(token_endpoint)).with_state(Arc::clone(&state));
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("token-server-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cannot build the token server's Tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("cannot hand the token server's socket to Tokio");
                    tokio::select! {
                        result = axum::serve(listener, app).into_future() => {
                            if let Err(e) = result {
                                eprintln!("harness: the token server on port {port} stopped: {e}");
                            }
                        }
                        _ = stopped => {}
                    }
                });
            })
            .expect("cannot start the token server's thread");
        TokenServer { port, cert_path, state, shutdown: Some(shutdown), thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/token`, the registry's `realm`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The PEM certificate the registry trusts (`rootcertbundle`).
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Forgets the recorded requests (e.g. after a setup push, before the step under test).
    pub fn clear_requests(&self) {
        self.state.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// A valid token for `subject` granting `access`, without an HTTP request (not recorded).
    pub fn issue(&self, subject: &str, access: &[Access]) -> String {
        self.state.issue(subject, access).0
    }

    /// Signs arbitrary `claims` with the trusted key, e.g. an expired token or one for another audience.
    pub fn sign(&self, claims: &Value) -> String {
        self.state.signer.sign(claims)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn scopes_parse_and_decode() {
        assert_eq!(decode("repository%3Aa%2Fb%3Apush%2Cpull"), "repository:a/b:push,pull");
        assert_eq!(Access::parse("repository:a/b:push,pull"), Some(Access::repository("a/b", &["push", "pull"])));
        let catalog = Access::parse("registry:catalog:*").expect("catalog scope parses");
        assert_eq!((catalog.resource_type.as_str(), catalog.name.as_str()), ("registry", "catalog"));
        assert_eq!(Access::parse("repository:127.0.0.1:5000/x:pull").map(|a| a.name), Some("127.0.0.1:5000/x".into()));
    }
}
