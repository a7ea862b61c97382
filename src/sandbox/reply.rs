//! How the sandbox answers: JSON bodies with the contract's status codes, the flat error
//! body, and extractors that turn bad input (malformed JSON, oversized bodies, odd path
//! segments or query values) into a 400/413 JSON answer instead of a framework default.

use crate::api::error::codes;
use crate::api::{ErrorBody, FieldError, validate};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

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

/// A request body parsed as JSON. An empty body reads as `{}` (some clients send no body
/// for "no parameters"); anything else that is not JSON is a 400 naming line and column.
pub struct JsonBody(pub Value);

/// How much of an oversized body is read and thrown away before answering 413, so that a
/// client still writing gets the answer instead of a broken pipe. Beyond this the
/// connection is simply closed.
const DRAIN_LIMIT_BYTES: usize = 32 * 1024 * 1024;

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        use futures::StreamExt;
        let mut stream = req.into_body().into_data_stream();
        let mut bytes = Vec::new();
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                ApiFailure::bad_request(format!("Could not read the request body: {e}"))
            })?;
            seen += chunk.len();
            if seen > DRAIN_LIMIT_BYTES {
                return Err(too_large());
            }
            if seen <= MAX_BODY_BYTES {
                bytes.extend_from_slice(&chunk);
            }
        }
        if seen > MAX_BODY_BYTES {
            return Err(too_large());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiFailure::bad_request(format!(
                "Malformed JSON body at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })
    }
}

/// Reads and discards what a client is still sending (up to the drain limit) so that it
/// hears our early answer instead of a broken pipe.
pub async fn drain(body: axum::body::Body) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > DRAIN_LIMIT_BYTES {
            break;
        }
    }
}

pub fn too_large() -> ApiFailure {
    ApiFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        codes::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than the {MAX_BODY_BYTES}-byte limit"),
    )
}

/// The single path parameter of a route, percent-decoded; a segment that does not decode
/// to UTF-8 is a 400, not a framework error page.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| Id(p.0))
            .map_err(|rej| ApiFailure::bad_request(format!("Bad path parameter: {rej}")))
    }
}

/// Query parameters, decoded leniently: repeated keys keep the last value.
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `limit`, checked against the contract (1–100, default 50).
    pub fn limit(&self) -> Result<usize, ApiFailure> {
        let parsed = match self.get("limit") {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
                ApiFailure::invalid(vec![FieldError::new(
                    &["limit"],
                    format!("expected an integer, got {raw:?}"),
                )])
            })?),
        };
        validate::list_limit(parsed)
            .map(|l| l as usize)
            .map_err(|e| ApiFailure::invalid(vec![e]))
    }

    /// A filter that must be one of `allowed`.
    pub fn one_of(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiFailure> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(ApiFailure::invalid(vec![FieldError::new(
                &[key],
                format!("must be one of {} (got {v:?})", allowed.join(", ")),
            )])),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let pairs = parts
            .uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(QueryParams(pairs))
    }
}
