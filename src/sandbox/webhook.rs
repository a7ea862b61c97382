//! `/v1/invitations/webhook`: the project webhook — configure (create, or replace the URL
//! and events keeping the secret), get, update (`url`, `events`, `active`), delete — and
//! the control plane's delivery log. Bodies are read as strictly as every `/v1` call's;
//! the events the webhook carries are queued by the store and sent by
//! [`super::deliver`].

use super::body::{JsonBody, QueryParams};
use super::reply::{ApiFailure, ConnDrop, answer_write, json_response};
use super::state::{AppState, lock};
use crate::api::error::codes;
use crate::api::validate::{self, UnknownKeys};
use crate::api::webhook::{Webhook, WebhookEnvelope};
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type App = State<Arc<AppState>>;

fn none_configured() -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        "No project webhook is configured (POST /v1/invitations/webhook sets one up)",
    )
}

async fn answer(
    app: &AppState,
    conn: Option<Extension<ConnDrop>>,
    status: StatusCode,
    webhook: Webhook,
) -> Response {
    app.touched();
    answer_write(app, conn, status, &WebhookEnvelope { webhook }).await
}

/// `POST`: 201 when it creates the webhook, 200 when it replaces one.
pub async fn configure(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req =
        validate::configure_webhook(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let (created, webhook) = {
        let mut store = app.store();
        let created = store.hooks.configure(req.url, req.events);
        (created, store.hooks.config.clone())
    };
    let webhook = webhook.ok_or_else(none_configured)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(&app, conn, status, webhook).await)
}

pub async fn get(State(app): App) -> Result<Response, ApiFailure> {
    let webhook = app
        .store()
        .hooks
        .config
        .clone()
        .ok_or_else(none_configured)?;
    Ok(json_response(StatusCode::OK, &WebhookEnvelope { webhook }))
}

pub async fn update(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req = validate::update_webhook(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let webhook = {
        let mut store = app.store();
        let hook = store.hooks.config.as_mut().ok_or_else(none_configured)?;
        if let Some(url) = req.url {
            hook.url = url;
        }
        if let Some(events) = req.events {
            hook.events = events;
        }
        if let Some(active) = req.active {
            hook.active = active;
        }
        hook.clone()
    };
    Ok(answer(&app, conn, StatusCode::OK, webhook).await)
}

/// `DELETE`: 204. Events still queued for it are not delivered.
pub async fn delete(State(app): App) -> Result<Response, ApiFailure> {
    let dropped = app.store().hooks.remove().ok_or_else(none_configured)?;
    if !dropped.is_empty() {
        tracing::debug!(
            "sandbox: project webhook removed with {} event(s) undelivered",
            dropped.len()
        );
    }
    app.touched();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /_sandbox/webhook/deliveries[?eventId=…][&invitationId=…]`: every attempt.
pub async fn deliveries(State(app): App, q: QueryParams) -> Response {
    let pending = app.store().hooks.queue.len();
    let body = lock(&app.deliveries).to_json(pending, q.get("eventId"), q.get("invitationId"));
    json_response(StatusCode::OK, &body)
}
