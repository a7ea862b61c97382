//! `/v1/invitations`: create, get, list, cancel. Expiry is derived when read (see
//! [`super::lifecycle`]); a create or cancel answers through the drop-after-commit fault,
//! and a cancel is announced to the project webhook.

use super::body::{Id, JsonBody, QueryParams};
use super::lifecycle;
use super::reply::{ApiFailure, ConnDrop, answer_write, json_response, page_response};
use super::state::AppState;
use super::store::random_id;
use crate::api::validate::{self, DEFAULT_EXPIRES_IN_DAYS, UnknownKeys};
use crate::api::{FieldError, Invitation, InvitationEnvelope, InvitationStatus, Timestamp};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

type App = State<Arc<AppState>>;

pub async fn create(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiFailure> {
    let req =
        validate::create_invitation(&body, UnknownKeys::Reject).map_err(ApiFailure::invalid)?;
    let base = app.public_base(&headers);
    let now = app.clock.now();
    let invitation = {
        let mut store = app.store();
        if let Some(pn) = &req.phone_number_id
            && store.phone_number(pn).is_none()
        {
            return Err(ApiFailure::invalid(vec![FieldError::new(
                &["phoneNumberId"],
                format!(
                    "unknown phone number id {pn:?} (GET /v1/phone-numbers lists the project's numbers)"
                ),
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

pub async fn get(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
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

pub async fn list(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let status = q.one_of("status", &InvitationStatus::NAMES)?;
    let now = app.clock.now();
    let page = app
        .store()
        .list_invitations(status.as_deref(), q.get("cursor"), limit, now)?;
    Ok(page_response(page))
}

pub async fn cancel(
    State(app): App,
    conn: Option<Extension<ConnDrop>>,
    Id(id): Id,
) -> Result<Response, ApiFailure> {
    let now = app.clock.now();
    let invitation = {
        let mut store = app.store();
        let mut inv = store
            .invitation(&id)
            .ok_or_else(|| ApiFailure::not_found("Invitation", &id))?
            .clone();
        lifecycle::cancel(&mut inv, now).map_err(|r| ApiFailure::bad_request(r.0))?;
        let shown = lifecycle::render(&inv, now);
        store.replace_invitation(inv, now);
        shown
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
