//! What a request brings in, read the way the real API reads it: a JSON body (size limit,
//! read timeout, `Content-Type`, malformed JSON and duplicate keys refused with where they
//! are), the path's id, and the query string. Every rejection is a 4xx JSON answer, never
//! a framework default.

use super::reply::{ApiFailure, MAX_BODY_BYTES, too_large};
use super::state::AppState;
use crate::api::error::codes;
use crate::api::{FieldError, validate};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value, json};
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// How much of an oversized body is read and thrown away before answering 413, so that a
/// client still writing gets the answer instead of a broken pipe. Beyond this the
/// connection is simply closed.
const DRAIN_LIMIT_BYTES: usize = 32 * 1024 * 1024;

/// A request body parsed as JSON. An empty body reads as `{}` (some clients send no body
/// for "no parameters"), and so does a literal `null` (what an SDK sends for "no
/// parameters" passed as `null`). A body sent as something other than JSON, malformed
/// JSON, or an object with a key twice is a 400 naming the problem and where it is.
pub struct JsonBody(pub Value);

impl FromRequest<Arc<AppState>> for JsonBody {
    type Rejection = ApiFailure;

    async fn from_request(req: Request, app: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = tokio::time::timeout(app.body_timeout, read_limited(req.into_body()))
            .await
            .map_err(|_| {
                ApiFailure::new(
                    StatusCode::REQUEST_TIMEOUT,
                    codes::REQUEST_TIMEOUT,
                    format!(
                        "The request body did not arrive within {} ms",
                        app.body_timeout.as_millis()
                    ),
                )
            })??;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Value::Object(Map::new())));
        }
        if let Some(ct) = content_type.filter(|ct| !is_json_type(ct)) {
            return Err(ApiFailure::bad_request(format!(
                "The body must be JSON sent as Content-Type: application/json (got {ct:?})"
            )));
        }
        match parse_strict(&bytes) {
            Ok(Value::Null) => Ok(JsonBody(Value::Object(Map::new()))),
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => Err(e),
        }
    }
}

/// `application/json`, with or without parameters, or any `+json` type.
fn is_json_type(ct: &str) -> bool {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_limited(body: axum::body::Body) -> Result<Vec<u8>, ApiFailure> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
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
    Ok(bytes)
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

/// Parses JSON, refusing an object that names a key twice (which a lenient parser would
/// silently resolve to the last value), with the line, column and path of the problem.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, ApiFailure> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Seed {
        path: vec![],
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        match duplicate.into_inner() {
            Some(path) => {
                let err = FieldError {
                    path,
                    message: format!("appears twice in one object ({at})"),
                };
                ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    codes::INVALID_REQUEST,
                    format!(
                        "Invalid request: {}",
                        validate::summarize(std::slice::from_ref(&err))
                    ),
                )
                .with_details(json!({ "errors": [err] }))
            }
            None => ApiFailure::bad_request(format!("Malformed JSON body at {at}: {e}")),
        }
    })
}

/// Builds a `Value` like serde_json does, remembering the path, and stops at a duplicate
/// key.
struct Seed<'a> {
    path: Vec<Value>,
    duplicate: &'a RefCell<Option<Vec<Value>>>,
}

impl Seed<'_> {
    fn child(&self, step: Value) -> Self {
        let mut path = self.path.clone();
        path.push(step);
        Seed {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = vec![];
        while let Some(v) = seq.next_element_seed(self.child(out.len().into()))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let path = self.child(Value::String(key.clone())).path;
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let v = map.next_value_seed(self.child(Value::String(key.clone())))?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let ok = parse_strict(br#"{"a": [1, {"b": 2}], "c": 1.5}"#).unwrap();
        assert_eq!(ok, json!({"a": [1, {"b": 2}], "c": 1.5}));
        let dup = parse_strict(br#"{"a": [1, {"b": 2, "b": 3}]}"#).unwrap_err();
        assert_eq!(
            dup.body.details.unwrap()["errors"][0]["path"],
            json!(["a", 1, "b"])
        );
        let top = parse_strict(br#"{"clientName": "x", "clientName": "y"}"#).unwrap_err();
        assert!(
            top.body.message.contains("clientName"),
            "{}",
            top.body.message
        );
        let bad = parse_strict(b"{\"a\": 1} trailing").unwrap_err();
        assert!(bad.body.message.contains("line 1"), "{}", bad.body.message);
        assert!(is_json_type("application/json; charset=utf-8"));
        assert!(is_json_type("application/merge-patch+json"));
        assert!(!is_json_type("text/plain"));
    }
}
