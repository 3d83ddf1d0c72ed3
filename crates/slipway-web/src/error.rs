//! One place maps errors to answers. 4xx answers say what to do; 5xx answers say only "internal error" and the
//! details are logged once. Pages answer HTML ([`PageError`]), the API answers JSON ([`ApiError`]).

use askama::Template;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use slipway_store::StoreError;

#[derive(Debug)]
pub(crate) enum WebError {
    /// The request itself is wrong (an unreadable payload, say): the answer says what.
    BadRequest(String),
    NotFound(String),
    /// No valid credentials: the answer says how to give them.
    Unauthorized(String),
    /// Credentials, but this is refused (a form without its CSRF value, say).
    Forbidden(String),
    Conflict(String),
    Unavailable(String),
    /// Logged where it is made; the answer says only "internal error".
    Internal,
}

impl WebError {
    pub(crate) fn internal(err: &dyn std::fmt::Display) -> WebError {
        tracing::error!(error = %err, "internal error");
        WebError::Internal
    }

    fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &str {
        match self {
            WebError::BadRequest(m)
            | WebError::NotFound(m)
            | WebError::Unauthorized(m)
            | WebError::Forbidden(m)
            | WebError::Conflict(m)
            | WebError::Unavailable(m) => m,
            WebError::Internal => "internal error",
        }
    }
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> WebError {
        match err {
            StoreError::NotFound { entity, key } => WebError::NotFound(format!("{entity} {key} does not exist")),
            other => WebError::internal(&other),
        }
    }
}

/// An error answered as an HTML page.
#[derive(Debug)]
pub(crate) struct PageError(pub(crate) WebError);

impl<E: Into<WebError>> From<E> for PageError {
    fn from(err: E) -> PageError {
        PageError(err.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
    login: bool,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let page = ErrorPage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or(""),
            message: self.0.message(),
            login: status == StatusCode::UNAUTHORIZED,
        };
        match page.render() {
            Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
            Err(err) => {
                tracing::error!(error = %err, "rendering the error page");
                (status, self.0.message().to_string()).into_response()
            }
        }
    }
}

/// An error answered as `{"error": {"status": 404, "message": "…"}}`.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(err: E) -> ApiError {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = serde_json::json!({ "error": { "status": status.as_u16(), "message": self.0.message() } });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Unknown paths: JSON under the API, a page elsewhere.
pub(crate) async fn not_found(uri: axum::http::Uri) -> Response {
    let message = format!("nothing at {}", uri.path());
    if uri.path().starts_with("/api/") {
        ApiError(WebError::NotFound(message)).into_response()
    } else {
        PageError(WebError::NotFound(message)).into_response()
    }
}
