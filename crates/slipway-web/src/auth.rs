//! Who is asking. Writes need an API token (`Authorization: Bearer …`) or, in the UI, a login session whose
//! forms carry its CSRF value. Reading is open unless the configuration says otherwise. Tokens and session
//! cookies are random 256-bit secrets; the store keeps only their SHA-256.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, WebError};
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "slipway_session";
/// Prefix of API tokens, so a leaked one is recognisable (and found by secret scanners).
const TOKEN_PREFIX: &str = "slw_";

/// A new random secret: `slw_` and 43 URL-safe characters.
pub fn new_secret() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// What the store keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The caller, if it proved who it is.
#[derive(Clone)]
pub(crate) enum Caller {
    Anonymous,
    /// A bearer token, by name.
    Token(String),
    /// A login session: the token name it was opened with, and its CSRF value.
    Session {
        id: i64,
        name: String,
        csrf: String,
    },
}

impl Caller {
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(name) | Caller::Session { name, .. } => Some(name),
        }
    }

    /// The CSRF value the page's forms must carry.
    pub(crate) fn csrf(&self) -> Option<&str> {
        match self {
            Caller::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }

    /// Reading is allowed: open, or the configuration wants a login and there is one.
    pub(crate) fn may_read(&self, state: &AppState) -> Result<(), WebError> {
        if state.config().read_requires_login && matches!(self, Caller::Anonymous) {
            return Err(WebError::Unauthorized(
                "this Slipway requires a login to read: sign in at /login, or send `Authorization: Bearer <token>`"
                    .into(),
            ));
        }
        Ok(())
    }

    /// An API write: only a bearer token will do.
    pub(crate) fn api_writer(&self) -> Result<&str, WebError> {
        match self {
            Caller::Token(name) => Ok(name),
            _ => Err(WebError::Unauthorized(
                "writes need `Authorization: Bearer <token>`; `slipway token create NAME` makes one".into(),
            )),
        }
    }

    /// A form post from the UI: a session, and the form's CSRF value must be the session's.
    pub(crate) fn form_writer(&self, sent_csrf: Option<&str>) -> Result<&str, WebError> {
        match self {
            Caller::Session { name, csrf, .. } => {
                if sent_csrf.is_some_and(|sent| constant_time_eq(sent.as_bytes(), csrf.as_bytes())) {
                    Ok(name)
                } else {
                    Err(WebError::Forbidden(
                        "the form's CSRF value is missing or stale: reload the page and try again".into(),
                    ))
                }
            }
            _ => Err(WebError::Unauthorized("sign in at /login to do this".into())),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return Err(ApiError(WebError::Unauthorized(
                    "the Authorization header must be `Bearer <token>`".into(),
                )));
            };
            return match state.store().use_token(&hash_secret(token)).await? {
                Some(found) => Ok(Caller::Token(found.name)),
                None => Err(ApiError(WebError::Unauthorized("this token is unknown or revoked".into()))),
            };
        }
        if let Some(secret) = cookie(parts, SESSION_COOKIE)
            && let Some(session) = state.store().session(&hash_secret(&secret)).await?
        {
            return Ok(Caller::Session { id: session.id, name: session.token_name, csrf: session.csrf });
        }
        Ok(Caller::Anonymous)
    }
}

/// A cookie's value from the request.
pub(crate) fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashes_hex() {
        let (a, b) = (new_secret().unwrap_or_default(), new_secret().unwrap_or_default());
        assert!(a.starts_with("slw_") && a.len() == 47, "{a}");
        assert_ne!(a, b);
        let hash = hash_secret(&a);
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&a[4..]));
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn csrf_must_match() {
        let caller = Caller::Session { id: 1, name: "alice".into(), csrf: "abc".into() };
        assert!(caller.form_writer(Some("abc")).is_ok());
        assert!(matches!(caller.form_writer(Some("abd")), Err(WebError::Forbidden(_))));
        assert!(matches!(caller.form_writer(None), Err(WebError::Forbidden(_))));
        assert!(matches!(Caller::Anonymous.form_writer(Some("abc")), Err(WebError::Unauthorized(_))));
        assert!(matches!(Caller::Token("t".into()).form_writer(Some("abc")), Err(WebError::Unauthorized(_))));
        assert_eq!(Caller::Token("t".into()).api_writer().ok(), Some("t"));
    }
}
