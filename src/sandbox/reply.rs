//! How the sandbox answers: JSON bodies with the contract's status codes, the flat error
//! body, a page of a list, and a committed write's answer — which a fault may drop on
//! purpose, closing the connection without a word.

use super::cursor::{BadCursor, PageOut};
use super::state::{AppState, lock};
use crate::api::error::codes;
use crate::api::{ErrorBody, FieldError, Page, validate};
use axum::Extension;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;

/// Largest request body accepted; beyond it the answer is 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut resp = (status, bytes).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            format!("could not encode the answer: {e}"),
        )
        .into_response(),
    }
}

/// An error answer: status plus `{"code","message","details"?}`.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiFailure {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiFailure {
            status,
            body: ErrorBody {
                code: code.to_string(),
                message: message.into(),
                details: None,
            },
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.body.details = Some(details);
        self
    }

    /// 400 `invalid_request` listing every field error in `details.errors`.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let message = format!("Invalid request: {}", validate::summarize(&errors));
        ApiFailure::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
            .with_details(json!({ "errors": errors }))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiFailure::new(StatusCode::BAD_REQUEST, codes::INVALID_REQUEST, message)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiFailure::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("{what} '{id}' not found"),
        )
    }

    pub fn unauthorized() -> Self {
        ApiFailure::new(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "Missing or invalid API key. Send it as `Authorization: Bearer <key>`.",
        )
    }

    /// A generic body for a status some lower layer produced without one.
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status.as_u16() {
            400 => codes::INVALID_REQUEST,
            401 => codes::UNAUTHORIZED,
            404 => codes::NOT_FOUND,
            405 => codes::METHOD_NOT_ALLOWED,
            408 => codes::REQUEST_TIMEOUT,
            413 => codes::PAYLOAD_TOO_LARGE,
            429 => codes::RATE_LIMITED,
            503 => codes::SERVICE_UNAVAILABLE,
            s if s >= 500 => codes::INTERNAL,
            _ => codes::INVALID_REQUEST,
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        ApiFailure::new(status, code, reason)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

pub fn too_large() -> ApiFailure {
    ApiFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than the {MAX_BODY_BYTES}-byte limit"),
    )
}

impl From<BadCursor> for ApiFailure {
    fn from(e: BadCursor) -> Self {
        ApiFailure::invalid(vec![FieldError::new(&["cursor"], e.0)])
    }
}

/// A page of a list, as every list call answers it: `{"items": [...], "nextCursor": …}`.
pub fn page_response<T: Serialize>(page: PageOut<T>) -> Response {
    json_response(
        StatusCode::OK,
        &Page {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    )
}

/// Lets a handler close its own connection without answering (see `dropAfterCommitRate`).
#[derive(Clone)]
pub struct ConnDrop(pub Arc<Notify>);

/// Answers a committed write — or, when `dropAfterCommitRate` says so, closes the
/// connection without a word, the ambiguous failure clients must survive.
pub async fn answer_write<T: Serialize>(
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
