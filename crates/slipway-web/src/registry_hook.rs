//! `POST /hooks/registry`: the CNCF registry's notifications (its `notifications.endpoints` pointed here, with
//! the shared secret in an `Authorization: Bearer SECRET` header). What the rules do is
//! `slipway_engine::registry_events`; this answers 200 with each event's outcome, or 503 when handling failed
//! half-way so the registry sends the event again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use slipway_engine::{EventOutcome, EventRules, RegistryEventError, constant_time_eq, handle_notification};

use crate::error::{ApiError, WebError};
use crate::state::AppState;

/// How the server takes registry notifications.
#[derive(Clone)]
pub struct RegistryEvents {
    /// What the registry sends as `Authorization: Bearer SECRET`.
    pub secret: String,
    pub rules: EventRules,
}

#[derive(Debug, Serialize)]
pub(crate) struct EventsAnswer {
    events: Vec<EventOutcome>,
}

pub(crate) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<EventsAnswer>, ApiError> {
    let Some(config) = &state.config().registry_events else {
        let hint = "registry events are off: start slipway serve with --registry-event-secret";
        return Err(WebError::NotFound(hint.into()).into());
    };
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let given = given.strip_prefix("Bearer ").unwrap_or_default();
    if given.is_empty() || !constant_time_eq(given.as_bytes(), config.secret.as_bytes()) {
        let hint = "give the shared secret as `Authorization: Bearer SECRET` in the registry's notifications \
                    endpoint `headers`";
        return Err(WebError::Unauthorized(hint.into()).into());
    }
    let Some(client) = &state.inner.registry else {
        return Err(WebError::Unavailable("this server has no registry client".into()).into());
    };
    let registry = &state.config().registry;
    match handle_notification(state.store(), client, registry, &config.rules, &body).await {
        Ok(events) => {
            for event in &events {
                tracing::info!(
                    repository = %event.repository, tag = %event.tag, digest = %event.digest,
                    outcome = %event.outcome, "registry event"
                );
            }
            state.dashboard_changed();
            Ok(Json(EventsAnswer { events }))
        }
        Err(RegistryEventError::Envelope(err)) => Err(WebError::BadRequest(err.to_string()).into()),
        Err(err @ RegistryEventError::Failed { .. }) => {
            tracing::warn!(error = %err, "registry event not handled");
            Err(WebError::Unavailable(err.to_string()).into())
        }
        Err(RegistryEventError::Store(err)) => Err(WebError::from(err).into()),
    }
}
