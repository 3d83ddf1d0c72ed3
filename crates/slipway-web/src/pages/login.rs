//! `/login`: an API token opens a session (an HttpOnly, SameSite=Strict cookie). The token is checked and
//! forgotten; the session is a new random secret of its own.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{Caller, SESSION_COOKIE, hash_secret, new_secret};
use crate::error::{PageError, WebError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    user: Option<&'a str>,
}

pub(crate) async fn form(caller: Caller) -> Result<Html<String>, PageError> {
    let html = LoginPage { error: None, user: caller.name() }.render().map_err(|e| WebError::internal(&e))?;
    Ok(Html(html))
}

#[derive(Deserialize)]
pub(crate) struct Credentials {
    token: String,
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    Form(form): Form<Credentials>,
) -> Result<Response, PageError> {
    let Some(token) = state.store().use_token(&hash_secret(form.token.trim())).await? else {
        let html = LoginPage { error: Some("that token is unknown or revoked"), user: None }
            .render()
            .map_err(|e| WebError::internal(&e))?;
        return Ok((StatusCode::UNAUTHORIZED, Html(html)).into_response());
    };
    let secret = new_secret().map_err(|_| WebError::internal(&"the system's random source failed"))?;
    let csrf = new_secret().map_err(|_| WebError::internal(&"the system's random source failed"))?;
    let lifetime = state.config().session_lifetime;
    let expires = chrono::Utc::now() + chrono::TimeDelta::from_std(lifetime).unwrap_or(chrono::TimeDelta::hours(12));
    state.store().create_session(&token, &hash_secret(&secret), &csrf, expires).await?;
    let secure = if state.config().secure_cookies { "; Secure" } else { "" };
    let cookie =
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", lifetime.as_secs());
    let mut response = Redirect::to("/").into_response();
    let value = HeaderValue::from_str(&cookie).map_err(|e| WebError::internal(&e))?;
    response.headers_mut().insert(SET_COOKIE, value);
    tracing::info!(token.name = %token.name, "signed in");
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: Option<String>,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    caller.form_writer(form.csrf.as_deref())?;
    if let Caller::Session { id, .. } = caller {
        state.store().end_session(id).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_static("slipway_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    Ok(response)
}
