//! `/v1/messages`: send (with `Zavu-Sender` as a header), get, list. A template send is
//! checked against the template like the real service checks it — approved, a body for
//! the channel, exactly the variables that body declares. Delivery progresses by itself
//! on the sandbox clock: `queued` → `sent` (1 s) → `delivered` (2 s), and `updatedAt`
//! moves with each step.

use super::body::{Id, JsonBody, QueryParams};
use super::reply::{ApiFailure, ConnDrop, answer_write, json_response, page_response};
use super::state::AppState;
use super::store::random_id;
use crate::api::error::codes;
use crate::api::message::{CHANNELS, LIST_STATUSES, resolve_channel};
use crate::api::validate::{self, UnknownKeys};
use crate::api::{Message, MessageEnvelope, Timestamp};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

type App = State<Arc<AppState>>;

/// Delivery steps of an outbound message: (age in ms, status).
const STEPS: [(i64, &str); 3] = [(0, "queued"), (1_000, "sent"), (2_000, "delivered")];

/// The message as it is answered at `now`: its delivery status from its age, and
/// `updatedAt` at the moment it reached that status.
fn render(msg: &Message, now: Timestamp) -> Message {
    let mut out = msg.clone();
    if out.direction == "outbound" && out.status == "queued" {
        let age = now.millis() - msg.created_at.millis();
        if let Some((at, status)) = STEPS.iter().rev().find(|(at, _)| age >= *at) {
            out.status = status.to_string();
            out.updated_at = Some(Timestamp::from_millis(msg.created_at.millis() + at));
        }
    }
    out
}

pub async fn send(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req = validate::send_message(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let sender_header = match headers.get("zavu-sender") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiFailure::bad_request("Zavu-Sender header is not valid text"))?
                .trim()
                .to_string(),
        ),
    };
    let now = app.clock.now();
    let message = {
        let mut store = app.store();
        let sender = match &sender_header {
            Some(id) => store
                .sender(id)
                .ok_or_else(|| ApiFailure::not_found("Sender", id))?,
            None => store
                .default_sender()
                .ok_or_else(|| ApiFailure::bad_request("The project has no default sender"))?,
        }
        .clone();
        let message_type = req.message_type.clone().unwrap_or_else(|| "text".into());
        let channel = resolve_channel(req.channel.as_deref(), &req.to, &message_type);
        if message_type == "template" {
            let content = req.content.clone().unwrap_or_default();
            let id = content
                .get("templateId")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let template = store
                .template(id)
                .ok_or_else(|| ApiFailure::not_found("Template", id))?;
            if template.status.as_deref() != Some("approved") {
                return Err(ApiFailure::bad_request(format!(
                    "Template '{id}' is not approved (status {}); only approved templates can be sent",
                    template.status.as_deref().unwrap_or("unknown")
                )));
            }
            validate::template_send(template, &channel, &content).map_err(ApiFailure::invalid)?;
        } else if channel == "whatsapp" {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                codes::WHATSAPP_WINDOW_CLOSED,
                format!(
                    "The 24-hour WhatsApp window with {} is closed: start the conversation with an approved template",
                    req.to
                ),
            ));
        }
        if let Some(key) = &req.idempotency_key
            && let Some(existing) = store.message_by_idempotency_key(key)
        {
            return Err(ApiFailure::new(
                StatusCode::CONFLICT,
                codes::CONFLICT,
                format!("A message with idempotencyKey '{key}' was already sent"),
            )
            .with_details(json!({ "messageId": existing })));
        }
        let from = if channel == "email" {
            sender.email_address.clone()
        } else {
            Some(sender.phone_number.clone())
        };
        let message = Message {
            id: format!("msg_{}", random_id(20)),
            to: req.to.clone(),
            status: "queued".into(),
            channel,
            message_type,
            direction: "outbound".into(),
            from: from.filter(|f| !f.is_empty()),
            sender_id: Some(sender.id.clone()),
            text: req.text.clone(),
            content: req.content.clone(),
            metadata: req.metadata.clone(),
            error_code: None,
            error_message: None,
            cost: None,
            cost_provider: None,
            cost_total: None,
            conversation_id: Some(format!("conv_{}", random_id(16))),
            provider_message_id: None,
            created_at: now,
            updated_at: Some(now),
        };
        store.insert_message(message.clone(), req.idempotency_key.clone());
        message
    };
    app.touched();
    Ok(answer_write(
        &app,
        conn,
        StatusCode::ACCEPTED,
        &MessageEnvelope { message },
    )
    .await)
}

pub async fn get(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    let store = app.store();
    let msg = store
        .message(&id)
        .ok_or_else(|| ApiFailure::not_found("Message", &id))?;
    let message = render(msg, now);
    Ok(json_response(StatusCode::OK, &MessageEnvelope { message }))
}

pub async fn list(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let status = q.one_of("status", LIST_STATUSES)?;
    let channel = q.one_of("channel", &CHANNELS[1..])?;
    let to = q.get("to").map(str::to_string);
    let now = app.clock.now();
    let page = app.store().list_messages(q.get("cursor"), limit, |m| {
        let shown = render(m, now);
        let keep = status.as_deref().is_none_or(|s| shown.status == s)
            && channel.as_deref().is_none_or(|c| shown.channel == c)
            && to.as_deref().is_none_or(|t| shown.to == t);
        keep.then_some(shown)
    })?;
    Ok(page_response(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_updated_at_move_together() {
        let t0 = Timestamp::from_millis(10_000);
        let msg = Message {
            id: "m".into(),
            to: "+14155551234".into(),
            status: "queued".into(),
            channel: "sms".into(),
            message_type: "text".into(),
            direction: "outbound".into(),
            from: None,
            sender_id: None,
            text: None,
            content: None,
            metadata: None,
            error_code: None,
            error_message: None,
            cost: None,
            cost_provider: None,
            cost_total: None,
            conversation_id: None,
            provider_message_id: None,
            created_at: t0,
            updated_at: Some(t0),
        };
        let at = |ms: i64| render(&msg, Timestamp::from_millis(10_000 + ms));
        assert_eq!(
            (at(500).status.as_str(), at(500).updated_at),
            ("queued", Some(t0))
        );
        assert_eq!(at(1_500).status, "sent");
        assert_eq!(at(1_500).updated_at, Some(Timestamp::from_millis(11_000)));
        assert_eq!(at(9_000).status, "delivered");
        assert_eq!(at(9_000).updated_at, Some(Timestamp::from_millis(12_000)));
    }
}
