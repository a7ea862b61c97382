//! What a partner looks up right after onboarding: the project's phone numbers (to find
//! the one to pre-assign with `phoneNumberId`), who the key belongs to (`/v1/me`: is this
//! a test key, which project) and the balance. Phone numbers list bare and travel wrapped
//! one at a time; `me` and `balance` are bare.

use super::body::{Id, QueryParams};
use super::reply::{ApiFailure, json_response, page_response};
use super::state::{AppState, bearer};
use crate::api::account::{KeyRef, ProjectRef, TeamRef};
use crate::api::phone_number::STATUSES;
use crate::api::{Balance, Me, PhoneNumberEnvelope};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::Arc;

type App = State<Arc<AppState>>;

/// The sandbox project's balance: $100.00, nothing spent (sends are free here).
const BALANCE_CENTS: i64 = 10_000;

pub async fn list_phone_numbers(State(app): App, q: QueryParams) -> Result<Response, ApiFailure> {
    let limit = q.limit()?;
    let status = q.one_of("status", STATUSES)?;
    let page = app
        .store()
        .list_phone_numbers(status.as_deref(), q.get("cursor"), limit)?;
    Ok(page_response(page))
}

pub async fn get_phone_number(State(app): App, Id(id): Id) -> Result<Response, ApiFailure> {
    let store = app.store();
    let phone_number = store
        .phone_number(&id)
        .ok_or_else(|| ApiFailure::not_found("Phone number", &id))?
        .clone();
    Ok(json_response(
        StatusCode::OK,
        &PhoneNumberEnvelope { phone_number },
    ))
}

pub async fn me(State(app): App, headers: HeaderMap) -> Response {
    // The gate let the request through, so the key is one the sandbox accepts.
    let key = bearer(&headers).unwrap_or_default();
    let digest = Sha256::digest(key.as_bytes());
    let body = Me {
        api_key: KeyRef {
            id: format!("key_{}", hex::encode(&digest[..8])),
        },
        is_test_mode: key.starts_with("zv_test_"),
        project: ProjectRef {
            id: super::seeds::PROJECT_ID.into(),
            is_sub_account: false,
            name: Some(app.project_name.clone()),
        },
        team: TeamRef {
            id: "team_sandbox".into(),
            name: Some("Sandbox Team".into()),
        },
    };
    json_response(StatusCode::OK, &body)
}

pub async fn balance() -> Response {
    json_response(
        StatusCode::OK,
        &Balance {
            balance: BALANCE_CENTS,
            currency: "USD".into(),
            credit_limit: None,
            is_sub_account: Some(false),
            total_spent: Some(0),
        },
    )
}
