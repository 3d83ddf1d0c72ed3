//! Slipway's web side: the pages people read (dashboard, project, build, the failure view and live logs), the
//! JSON API under `/api/v1`, login and tokens, and `/healthz`, `/readyz`, `/metrics`.
//!
//! Everything here reads the store and never holds a whole log: logs are served chunk by chunk from the
//! database (raw with HTTP Range, live over SSE), and the build page shows only the end of a stage's log.

mod actions;
mod api;
mod auth;
mod error;
mod hooks;
mod logs;
mod metrics;
mod pages;
mod registry_hook;
mod render;
mod state;
mod views;

use std::future::Future;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

pub use auth::{hash_secret, new_secret};
pub use registry_hook::RegistryEvents;
pub use slipway_engine::hmac_sha256_hex;
pub use state::{AppState, IndexProblem, IndexProblems, IndexRepository, Probe, WebConfig};

/// Every route: pages, actions, logs, the API and operations.
pub fn router(state: AppState) -> Router {
    let project = "/projects/{app}/{job}/{tag}";
    let build = "/projects/{app}/{job}/{tag}/builds/{number}";
    Router::new()
        .route("/", get(pages::dashboard::page))
        .route(project, get(pages::project::page))
        .route(&format!("{project}/{{action}}"), post(pages::actions::submit_image))
        .route(build, get(pages::build::page))
        .route(&format!("{build}/logs/{{stage}}"), get(logs::raw_page))
        .route(&format!("{build}/logs/{{stage}}/stream"), get(logs::stream_page))
        .route(&format!("{build}/{{action}}"), post(pages::actions::submit))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/hooks/registry", post(registry_hook::receive))
        .route("/hooks/{forge}", post(hooks::receive))
        .route("/healthz", get(metrics::healthz))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api::router())
        .fallback(error::not_found)
        .with_state(state)
}

/// Serves until `shutdown` resolves; open log streams end then too, so the server stops promptly.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = state.clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            stopping.stop_streams();
        })
        .await
}
