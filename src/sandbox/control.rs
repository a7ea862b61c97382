//! The control plane under `/_sandbox/`: what in real life the invited client, WhatsApp's
//! template review and the passage of time do, driven by a test or a person — view,
//! start, complete or fail an invitation; approve or reject a submitted template; move
//! the clock; set faults; reset; read counters and the webhook's delivery log. Not part of
//! the Zavu API; faults never apply here. Every status change driven here is announced to
//! the project webhook. The invite page drives the same transitions through [`drive`].

use super::body::{Id, JsonBody};
use super::lifecycle::{self, Refused};
use super::reply::{ApiFailure, json_response};
use super::seeds::connected_whatsapp;
use super::state::{AppState, lock};
use super::store::random_id;
use super::templates::{ReviewError, review};
use crate::api::{ConnectedAccount, FieldError, Invitation, InvitationEnvelope, Sender};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::sync::Arc;

type App = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_sandbox/health", get(health))
        .route("/_sandbox/invitations/{id}/view", post(view))
        .route("/_sandbox/invitations/{id}/start", post(start))
        .route("/_sandbox/invitations/{id}/complete", post(complete))
        .route("/_sandbox/invitations/{id}/fail", post(fail))
        .route("/_sandbox/templates/{id}/approve", post(approve_template))
        .route("/_sandbox/templates/{id}/reject", post(reject_template))
        .route("/_sandbox/clock", get(clock).post(advance_clock))
        .route("/_sandbox/faults", get(faults).post(set_faults))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/stats", get(stats))
        .route(
            "/_sandbox/webhook/deliveries",
            get(super::webhook::deliveries),
        )
}

/// A client-side step in an invitation's life.
#[derive(Clone, Debug)]
pub enum Action {
    View,
    Start,
    Complete,
    Fail(String),
}

/// Why [`drive`] did not happen.
pub enum DriveError {
    NotFound,
    Refused(Refused),
}

impl From<DriveError> for ApiFailure {
    fn from(e: DriveError) -> Self {
        match e {
            DriveError::NotFound => ApiFailure::new(
                StatusCode::NOT_FOUND,
                crate::api::error::codes::NOT_FOUND,
                "Invitation not found",
            ),
            DriveError::Refused(r) => ApiFailure::bad_request(r.0),
        }
    }
}

/// Applies one client-side step to an invitation; completing creates the sender the real
/// signup would create.
pub fn drive(app: &AppState, id: &str, action: Action) -> Result<Invitation, DriveError> {
    let now = app.clock.now();
    let mut store = app.store();
    let phone_for = |store: &super::store::Store, inv: &Invitation| {
        inv.phone_number_id
            .as_deref()
            .and_then(|pn| store.phone_number(pn))
            .map(|p| p.phone_number.clone())
    };
    let inv = store.invitation(id).ok_or(DriveError::NotFound)?.clone();
    let mut next = inv.clone();
    match action {
        Action::View => lifecycle::view(&mut next, now),
        Action::Start => lifecycle::start(&mut next, now),
        Action::Fail(reason) => lifecycle::fail(&mut next, now, &reason),
        Action::Complete => {
            let messenger = inv.connection_type.as_deref() == Some("messenger");
            let account_id = format!("1{:014}", fastrand::u64(..100_000_000_000_000));
            let phone = phone_for(&store, &inv)
                .unwrap_or_else(|| format!("+1555{:07}", fastrand::u32(..10_000_000)));
            let name = inv
                .client_name
                .clone()
                .unwrap_or_else(|| format!("Client {}", inv.id));
            let sender = Sender {
                id: format!("snd_{}", random_id(16)),
                name: name.clone(),
                phone_number: if messenger {
                    String::new()
                } else {
                    phone.clone()
                },
                channels: Some(vec![
                    if messenger { "messenger" } else { "whatsapp" }.into(),
                ]),
                is_default: Some(false),
                whatsapp: (!messenger).then(|| connected_whatsapp(&account_id, &phone)),
                created_at: Some(now),
                updated_at: Some(now),
                ..Default::default()
            };
            let account = ConnectedAccount {
                id: account_id,
                channel: if messenger { "messenger" } else { "whatsapp" }.into(),
                name: Some(name),
            };
            let done = lifecycle::complete(&mut next, now, &sender.id, account);
            if done.is_ok() {
                // A pre-assigned number now belongs to the sender the signup created.
                if let Some(pn) = inv.phone_number_id.as_deref().filter(|_| !messenger)
                    && let Some(number) = store.phone_number_mut(pn)
                {
                    number.sender_id = Some(sender.id.clone());
                    number.updated_at = Some(now);
                }
                store.insert_sender(sender);
            }
            done
        }
    }
    .map_err(DriveError::Refused)?;
    store.replace_invitation(next.clone(), now);
    drop(store);
    app.touched();
    Ok(lifecycle::render(&next, now))
}

fn envelope(invitation: Invitation) -> Response {
    json_response(StatusCode::OK, &InvitationEnvelope { invitation })
}

async fn health() -> Response {
    json_response(StatusCode::OK, &json!({"ok": true}))
}

async fn view(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    Ok(envelope(drive(&app, &id, Action::View)?))
}

async fn start(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    Ok(envelope(drive(&app, &id, Action::Start)?))
}

async fn complete(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    Ok(envelope(drive(&app, &id, Action::Complete)?))
}

async fn fail(
    State(app): App,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let reason = match body.get("reason") {
        None | Some(Value::Null) => "signup_abandoned".to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(ApiFailure::invalid(vec![FieldError::new(
                &["reason"],
                "expected a non-empty string such as \"signup_abandoned\"",
            )]));
        }
    };
    Ok(envelope(drive(&app, &id, Action::Fail(reason))?))
}

fn reviewed(app: &AppState, id: &str, approve: bool) -> Result<Response, ApiFailure> {
    match review(app, id, approve) {
        Ok(t) => Ok(json_response(StatusCode::OK, &t)),
        Err(ReviewError::NotFound) => Err(ApiFailure::not_found("Template", id)),
        Err(ReviewError::NotPending(why)) => Err(ApiFailure::bad_request(why)),
    }
}

async fn approve_template(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    reviewed(&app, &id, true)
}

async fn reject_template(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    reviewed(&app, &id, false)
}

fn clock_json(app: &AppState) -> Value {
    json!({
        "now": app.clock.now(),
        "offsetSeconds": app.clock.offset_ms() / 1000,
    })
}

async fn clock(State(app): App) -> Response {
    json_response(StatusCode::OK, &clock_json(&app))
}

async fn advance_clock(State(app): App, JsonBody(body): JsonBody) -> Result<Response, ApiFailure> {
    let seconds = match body.get("advanceSeconds") {
        Some(v) => v.as_i64().filter(|s| (0..=10 * 365 * 86_400).contains(s)),
        None => None,
    };
    let Some(seconds) = seconds else {
        return Err(ApiFailure::invalid(vec![FieldError::new(
            &["advanceSeconds"],
            "required: a whole number of seconds from 0 to 315360000 (the clock only moves forward)",
        )]));
    };
    app.clock.advance(seconds);
    app.touched();
    Ok(json_response(StatusCode::OK, &clock_json(&app)))
}

async fn faults(State(app): App) -> Response {
    json_response(StatusCode::OK, &app.faults().to_json())
}

async fn set_faults(State(app): App, JsonBody(body): JsonBody) -> Result<Response, ApiFailure> {
    let next = app.faults().apply(&body).map_err(ApiFailure::invalid)?;
    *lock(&app.faults) = next.clone();
    lock(&app.windows).clear();
    Ok(json_response(StatusCode::OK, &next.to_json()))
}

/// Forgets invitations, messages, created senders and templates and the project webhook
/// (with its queue and delivery log), undoes changes to the seeds, restores the clock,
/// clears faults and counters.
async fn reset(State(app): App) -> Response {
    app.store().reset();
    app.clock.restore();
    *lock(&app.faults) = Default::default();
    {
        let mut windows = lock(&app.windows);
        windows.clear();
        windows.clear_history();
    }
    lock(&app.stats).clear();
    lock(&app.deliveries).clear();
    app.touched();
    json_response(StatusCode::OK, &json!({"ok": true}))
}

async fn stats(State(app): App) -> Response {
    let now = app.clock.now();
    let (counts, messages) = {
        let store = app.store();
        (store.invitation_counts(now), store.message_total())
    };
    let invitations: Map<String, Value> = counts.into_iter().map(|(k, v)| (k, json!(v))).collect();
    let windows: Vec<Value> = lock(&app.windows)
        .history()
        .into_iter()
        .map(|(start, allowed, limited)| {
            json!({"start": crate::api::Timestamp::from_millis(start), "allowed": allowed, "limited": limited})
        })
        .collect();
    let mut body = lock(&app.stats).to_json(invitations, messages);
    body["rateWindows"] = Value::Array(windows);
    json_response(StatusCode::OK, &body)
}
