//! The sandbox's HTTP surface in one table: every `/v1` route the official SDKs call for
//! invitations, messages, senders, templates, phone numbers, `me` and `balance`, the
//! project webhook, plus the control plane and the invite page, all behind the
//! [`super::gate`].
//!
//! Handlers live one file per resource; they apply the contract, the store keeps data,
//! lifecycle decides transitions. A handler never panics on input: every bad request
//! becomes a 4xx JSON answer.

use super::reply::ApiFailure;
use super::state::AppState;
use super::{account, control, gate, invitations, messages, page, senders, templates, webhook};
use crate::api::error::codes;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use std::sync::Arc;

pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1/invitations",
            post(invitations::create).get(invitations::list),
        )
        // A fixed segment wins over `{id}`: no invitation id is `webhook`.
        .route(
            "/v1/invitations/webhook",
            post(webhook::configure)
                .get(webhook::get)
                .patch(webhook::update)
                .delete(webhook::delete),
        )
        .route("/v1/invitations/{id}", get(invitations::get))
        .route("/v1/invitations/{id}/cancel", post(invitations::cancel))
        .route("/v1/messages", post(messages::send).get(messages::list))
        .route("/v1/messages/{id}", get(messages::get))
        .route("/v1/senders", get(senders::list))
        .route(
            "/v1/senders/{id}",
            get(senders::get)
                .patch(senders::update)
                .delete(senders::delete),
        )
        .route(
            "/v1/templates",
            get(templates::list).post(templates::create),
        )
        .route("/v1/templates/{id}", get(templates::get))
        .route("/v1/templates/{id}/submit", post(templates::submit))
        .route("/v1/phone-numbers", get(account::list_phone_numbers))
        .route("/v1/phone-numbers/{id}", get(account::get_phone_number))
        .route("/v1/me", get(account::me))
        .route("/v1/balance", get(account::balance))
        .merge(control::router())
        .merge(page::router())
        .fallback(unknown_route)
        // JsonBody enforces the limit itself, after draining, so the client hears the 413.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(app.clone(), gate::gate))
        .with_state(app)
}

async fn unknown_route(req: Request) -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        format!("No such endpoint: {} {}", req.method(), req.uri().path()),
    )
}
