//! The sandbox's HTTP surface: the `/v1` API, the gate every request passes (auth, faults,
//! rate limit, counters, "every answer is JSON"), and the router that ties in the control
//! plane and the invite page.
//!
//! Handlers apply the contract; the store keeps data; lifecycle decides transitions. A
//! handler never panics on input: every bad request becomes a 4xx JSON answer.

use super::clock::real_now_ms;
use super::faults::DEFAULT_WINDOW_SECONDS;
use super::reply::{
    ApiFailure, Id, JsonBody, MAX_BODY_BYTES, QueryParams, json_response, too_large,
};
use super::state::{AppState, bearer, lock};
use super::store::random_id;
use super::{control, lifecycle, page};
use crate::api::error::codes;
use crate::api::message::{CHANNELS, LIST_STATUSES};
use crate::api::validate::{self, DEFAULT_EXPIRES_IN_DAYS, UnknownKeys};
use crate::api::{
    FieldError, Invitation, InvitationEnvelope, InvitationStatus, Message, MessageEnvelope, Page,
    Timestamp,
};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Notify;

type App = State<Arc<AppState>>;

/// Lets a handler close its own connection without answering (see `dropAfterCommitRate`).
#[derive(Clone)]
pub struct ConnDrop(pub Arc<Notify>);

pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/v1/invitations",
            post(create_invitation).get(list_invitations),
        )
        .route("/v1/invitations/{id}", get(get_invitation))
        .route("/v1/invitations/{id}/cancel", post(cancel_invitation))
        .route("/v1/messages", post(send_message).get(list_messages))
        .route("/v1/messages/{id}", get(get_message))
        .route("/v1/senders", get(list_senders))
        .route("/v1/senders/{id}", get(get_sender))
        .route("/v1/templates", get(list_templates))
        .route("/v1/templates/{id}", get(get_template))
        .merge(control::router())
        .merge(page::router())
        .fallback(unknown_route)
        // JsonBody enforces the limit itself, after draining, so the client hears the 413.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

async fn unknown_route(req: Request) -> ApiFailure {
    ApiFailure::new(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        format!("No such endpoint: {} {}", req.method(), req.uri().path()),
    )
}

/// Every request passes here. `/v1`: latency, auth, rate limit, injected errors, counters.
/// `/_sandbox` (but health): auth. Everywhere but the invite page: an answer some layer
/// produced without a JSON body (a 405, a rejected extractor) is rewritten as the
/// contract's error body.
async fn gate(State(app): App, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let is_api = path == "/v1" || path.starts_with("/v1/");
    let is_control = path.starts_with("/_sandbox/") && path != "/_sandbox/health";
    let is_page = path.starts_with("/invite/");
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);

    if !is_api {
        let key = bearer(req.headers());
        let resp = if is_control && !key.is_some_and(|k| app.accepts(&k)) {
            ApiFailure::unauthorized().into_response()
        } else if too_big {
            super::reply::drain(req.into_body()).await;
            too_large().into_response()
        } else {
            next.run(req).await
        };
        return if is_page { resp } else { ensure_json(resp) };
    }

    let faults = app.faults();
    if let Some(ms) = faults.latency_ms.filter(|ms| *ms > 0) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let mut decision = None;
    let resp = match bearer(req.headers()).filter(|k| app.accepts(k)) {
        None => ApiFailure::unauthorized().into_response(),
        Some(key) => {
            if let Some(limit) = faults.rate_limit_per_minute {
                let window = faults
                    .rate_limit_window_seconds
                    .unwrap_or(DEFAULT_WINDOW_SECONDS);
                decision = Some(lock(&app.windows).check(&key, limit, window, real_now_ms()));
            }
            match decision {
                Some(d) if !d.allowed => {
                    let mut resp = ApiFailure::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        codes::RATE_LIMITED,
                        format!(
                            "Rate limit of {} requests per window exceeded; retry in {} s",
                            d.limit, d.retry_after_s
                        ),
                    )
                    .with_details(json!({ "retryAfter": d.reset_ms }))
                    .into_response();
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(d.retry_after_s));
                    resp
                }
                _ => match faults.roll_error() {
                    Some(status) => {
                        let status =
                            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                        let mut f = ApiFailure::for_status(status);
                        f.body.message = format!("Injected fault: {}", f.body.message);
                        f.into_response()
                    }
                    None if too_big => {
                        super::reply::drain(req.into_body()).await;
                        too_large().into_response()
                    }
                    None => ensure_json(next.run(req).await),
                },
            }
        }
    };
    let mut resp = resp;
    if let Some(d) = decision {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_ms));
    }
    lock(&app.stats).record(resp.status().as_u16());
    resp
}

fn ensure_json(resp: Response) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || resp.status().is_redirection() {
        resp
    } else {
        ApiFailure::for_status(resp.status()).into_response()
    }
}

/// Answers a committed write — or, when `dropAfterCommitRate` says so, closes the
/// connection without a word, the ambiguous failure clients must survive.
async fn answer_write<T: serde::Serialize>(
    app: &AppState,
    conn: Option<Extension<ConnDrop>>,
    status: StatusCode,
    body: &T,
) -> Response {
    if app.faults().roll_drop()
        && let Some(Extension(ConnDrop(notify))) = conn
    {
        lock(&app.stats).record_drop();
        notify.notify_one();
        // The connection task drops this future together with the connection.
        std::future::pending::<()>().await;
    }
    json_response(status, body)
}

// ---- invitations ----

async fn create_invitation(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req =
        validate::create_invitation(&body, UnknownKeys::Ignore).map_err(ApiFailure::invalid)?;
    let base = app.public_base(&headers);
    let now = app.clock.now();
    let invitation = {
        let mut store = app.store();
        if let Some(pn) = &req.phone_number_id
            && store.phone_number(pn).is_none()
        {
            return Err(ApiFailure::invalid(vec![FieldError::new(
                &["phoneNumberId"],
                format!("unknown phone number id {pn:?}"),
            )]));
        }
        let token = random_id(32);
        let days = req.expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS);
        let inv = Invitation {
            id: random_id(20),
            url: format!("{base}/invite/{token}"),
            token,
            status: InvitationStatus::Pending,
            client_name: req.client_name,
            client_email: req.client_email,
            client_phone: req.client_phone,
            phone_number_id: req.phone_number_id,
            connection_type: Some(
                req.connection_type
                    .unwrap_or_else(|| "whatsapp_waba".to_string()),
            ),
            sender_id: None,
            connected_account: None,
            expires_at: Timestamp::from_millis(now.millis() + days * 86_400_000),
            created_at: now,
            updated_at: now,
            viewed_at: None,
            started_at: None,
            completed_at: None,
            failed_at: None,
            failure_reason: None,
        };
        store.insert_invitation(inv).clone()
    };
    app.touched();
    Ok(answer_write(
        &app,
        conn,
        StatusCode::CREATED,
        &InvitationEnvelope { invitation },
    )
    .await)
}

async fn get_invitation(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    let store = app.store();
    let inv = store
        .invitation(&id)
        .ok_or_else(|| ApiFailure::not_found("Invitation", &id))?;
    let invitation = lifecycle::render(inv, now);
    Ok(json_response(
        StatusCode::OK,
        &InvitationEnvelope { invitation },
    ))
}

async fn list_invitations(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let status = q.one_of("status", &InvitationStatus::NAMES)?;
    let now = app.clock.now();
    let page = app
        .store()
        .list_invitations(status.as_deref(), q.get("cursor"), limit, now);
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    ))
}

async fn cancel_invitation(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    Id(id): Id,
) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    let invitation = {
        let mut store = app.store();
        let inv = store
            .invitation_mut(&id)
            .ok_or_else(|| ApiFailure::not_found("Invitation", &id))?;
        lifecycle::cancel(inv, now).map_err(|r| ApiFailure::bad_request(r.0))?;
        lifecycle::render(inv, now)
    };
    app.touched();
    Ok(answer_write(
        &app,
        conn,
        StatusCode::OK,
        &InvitationEnvelope { invitation },
    )
    .await)
}

// ---- messages ----

/// The channel a send goes out on when the caller did not pick one (or picked `auto`).
fn resolve_channel(channel: Option<&str>, to: &str, message_type: &str) -> String {
    match channel {
        Some(c) if c != "auto" => c.to_string(),
        _ if validate::is_email(to) => "email".into(),
        _ if message_type == "text" => "sms".into(),
        _ => "whatsapp".into(),
    }
}

/// Messages move on by themselves in the real service; here their status is derived from
/// their age on the sandbox clock, so moving the clock moves them too.
fn message_status(msg: &Message, now: Timestamp) -> &'static str {
    match now.millis() - msg.created_at.millis() {
        age if age < 1_000 => "queued",
        age if age < 2_000 => "sent",
        _ => "delivered",
    }
}

fn render_message(msg: &Message, now: Timestamp) -> Message {
    let mut out = msg.clone();
    if out.direction == "outbound" && out.status == "queued" {
        out.status = message_status(msg, now).to_string();
    }
    out
}

async fn send_message(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req = validate::send_message(&body, UnknownKeys::Ignore).map_err(ApiFailure::invalid)?;
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
            let id = req
                .content
                .as_ref()
                .and_then(|c| c.get("templateId"))
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
            from,
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

async fn get_message(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    let store = app.store();
    let msg = store
        .message(&id)
        .ok_or_else(|| ApiFailure::not_found("Message", &id))?;
    let message = render_message(msg, now);
    Ok(json_response(StatusCode::OK, &MessageEnvelope { message }))
}

async fn list_messages(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let status = q.one_of("status", LIST_STATUSES)?;
    let channel = q.one_of("channel", CHANNELS)?;
    let to = q.get("to").map(str::to_string);
    let now = app.clock.now();
    let page = app.store().list_messages(q.get("cursor"), limit, |m| {
        let shown = render_message(m, now);
        let keep = status.as_deref().is_none_or(|s| shown.status == s)
            && channel.as_deref().is_none_or(|c| shown.channel == c)
            && to.as_deref().is_none_or(|t| shown.to == t);
        keep.then_some(shown)
    });
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    ))
}

// ---- senders and templates ----

async fn list_senders(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let page = app.store().list_senders(q.get("cursor"), limit);
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    ))
}

async fn get_sender(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let store = app.store();
    let sender = store
        .sender(&id)
        .ok_or_else(|| ApiFailure::not_found("Sender", &id))?;
    Ok(json_response(StatusCode::OK, sender))
}

async fn list_templates(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let page = app.store().list_templates(q.get("cursor"), limit);
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    ))
}

async fn get_template(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let store = app.store();
    let template = store
        .template(&id)
        .ok_or_else(|| ApiFailure::not_found("Template", &id))?;
    Ok(json_response(StatusCode::OK, template))
}
