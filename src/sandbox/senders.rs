//! `/v1/senders`: list, get, update (name, default flag, webhook, email and channel
//! switches), delete. Every answer is the bare Sender. A webhook's secret is answered
//! once, when an update creates the webhook.

use super::body::{Id, JsonBody, QueryParams};
use super::reply::{ApiFailure, json_response, page_response};
use super::state::AppState;
use super::store::random_id;
use crate::api::sender::DEFAULT_SIGNATURE_VERSION;
use crate::api::validate::{self, UnknownKeys};
use crate::api::{FieldError, Sender, SenderWebhook, UpdateSender, WebhookUrl};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type App = State<Arc<AppState>>;

/// A sender as answered: the webhook's secret is kept, never shown again after the answer
/// that created it.
fn shown(sender: &Sender) -> Sender {
    let mut out = sender.clone();
    if let Some(w) = &mut out.webhook {
        w.secret = None;
    }
    out
}

pub async fn list(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let mut page = app.store().list_senders(q.get("cursor"), limit)?;
    page.items = page.items.iter().map(shown).collect();
    Ok(page_response(page))
}

pub async fn get(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let store = app.store();
    let sender = store
        .sender(&id)
        .ok_or_else(|| ApiFailure::not_found("Sender", &id))?;
    Ok(json_response(StatusCode::OK, &shown(sender)))
}

fn set_channel(sender: &mut Sender, channel: &str, on: bool) {
    let channels = sender.channels.get_or_insert_with(Vec::new);
    channels.retain(|c| c != channel);
    if on {
        channels.push(channel.to_string());
    }
}

/// Applies a checked update to a sender. Returns the secret of a webhook it created.
fn apply(sender: &mut Sender, u: UpdateSender) -> Result<Option<String>, ApiFailure> {
    let refuse = |path: &str, msg: String| ApiFailure::invalid(vec![FieldError::new(&[path], msg)]);
    let mut created_secret = None;
    match u.webhook_url {
        WebhookUrl::Remove => sender.webhook = None,
        WebhookUrl::Set(url) => match &mut sender.webhook {
            Some(w) => w.url = url,
            None => {
                let events = u.webhook_events.clone().ok_or_else(|| {
                    refuse(
                        "webhookEvents",
                        "required when a webhook is first set up: the events it receives".into(),
                    )
                })?;
                let secret = format!("whsec_{}", random_id(32));
                created_secret = Some(secret.clone());
                sender.webhook = Some(SenderWebhook {
                    url,
                    events,
                    active: true,
                    signature_version: DEFAULT_SIGNATURE_VERSION.into(),
                    secret: Some(secret),
                });
            }
        },
        WebhookUrl::Unchanged => {}
    }
    let wants_webhook = u.webhook_events.is_some()
        || u.webhook_active.is_some()
        || u.webhook_signature_version.is_some();
    match &mut sender.webhook {
        None if wants_webhook => {
            return Err(refuse(
                "webhookUrl",
                format!("sender {} has no webhook: set webhookUrl first", sender.id),
            ));
        }
        None => {}
        Some(w) => {
            if let Some(events) = u.webhook_events {
                w.events = events;
            }
            if let Some(active) = u.webhook_active {
                w.active = active;
            }
            if let Some(v) = u.webhook_signature_version {
                if w.signature_version == "v1" && v == "v2" {
                    return Err(refuse(
                        "webhookSignatureVersion",
                        "cannot move from v1 straight to v2: set v1+v2 first, deploy a verifier that reads v2, then set v2".into(),
                    ));
                }
                w.signature_version = v;
            }
        }
    }
    if let Some(name) = u.name {
        sender.name = name;
    }
    if u.set_as_default == Some(false) && sender.is_default == Some(true) {
        return Err(refuse(
            "setAsDefault",
            "a project always has a default sender: make another sender the default instead".into(),
        ));
    }
    if let Some(on) = u.enable_sms_oneway {
        set_channel(sender, "sms_oneway", on);
    }
    if let Some(on) = u.enable_voice {
        if on && sender.phone_number.is_empty() {
            return Err(refuse(
                "enableVoice",
                format!("sender {} has no phone number to take calls on", sender.id),
            ));
        }
        set_channel(sender, "voice", on);
    }
    if let Some(email) = u.email_address {
        sender.email_address = Some(email);
        set_channel(sender, "email", true);
    }
    if let Some(on) = u.email_receiving_enabled {
        sender.email_receiving_enabled = Some(on);
    }
    if let Some(on) = u.email_catch_all_enabled {
        // Catch-all means nothing without receiving: it reads as false then.
        sender.email_catch_all_enabled = Some(on && sender.email_receiving_enabled == Some(true));
    }
    Ok(created_secret)
}

pub async fn update(
    State(app): App,
    Id(id): Id,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req = validate::update_sender(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let now = app.clock.now();
    let make_default = req.set_as_default == Some(true);
    let answer = {
        let mut store = app.store();
        let sender = store
            .sender_mut(&id)
            .ok_or_else(|| ApiFailure::not_found("Sender", &id))?;
        // Checked on a copy: a refused update changes nothing.
        let mut next = sender.clone();
        let created_secret = apply(&mut next, req)?;
        // updatedAt moves when something stored changed, not on every PATCH.
        if next != *sender {
            next.updated_at = Some(now);
        }
        *sender = next;
        if make_default {
            store.set_default_sender(&id, now);
        }
        let mut answer = store.sender(&id).map(shown).unwrap_or_default();
        if let Some(w) = &mut answer.webhook {
            w.secret = created_secret;
        }
        answer
    };
    app.touched();
    Ok(json_response(StatusCode::OK, &answer))
}

pub async fn delete(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    {
        let mut store = app.store();
        let sender = store
            .sender(&id)
            .ok_or_else(|| ApiFailure::not_found("Sender", &id))?;
        if sender.is_default == Some(true) {
            return Err(ApiFailure::bad_request(format!(
                "Cannot delete sender {id}: it is the project's default sender. Make another sender the default first."
            )));
        }
        store.remove_sender(&id, now);
    }
    app.touched();
    Ok(StatusCode::NO_CONTENT.into_response())
}
