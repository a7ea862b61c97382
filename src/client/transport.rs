//! One request to the API, start to finish: wait for the key's shared rate budget, send
//! with the key (redacted in `--debug` logs), and apply the retry rules of [`super::retry`]
//! to what comes back — never re-sending what may already have taken effect, which comes
//! back as [`ClientError::OutcomeUnknown`] instead. Also turns bodies into types and error
//! bodies into [`ApiError`]s. The endpoint files say which path and which body; this file
//! knows no endpoint.

use super::api_client::ApiClient;
use super::error::{ApiError, ClientError};
use super::rate::Observed;
use super::retry::{self, Safety, Verdict};
use crate::api::{ErrorBody, Timestamp};
use bytes::Bytes;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Instant, SystemTime};

/// 429s are retried beyond the normal retry count: the server said it did nothing, and
/// the budget already waits out the window.
const MAX_RATE_LIMIT_RETRIES: u32 = 10;

/// A successful exchange's status and body.
pub(super) struct Exchange {
    pub status: u16,
    pub body: Bytes,
}

/// A failed exchange, and whether an earlier attempt of it may have taken effect.
pub(super) struct Failure {
    pub error: ClientError,
    pub after_ambiguity: bool,
}

impl From<Failure> for ClientError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_string()
    }
}

/// A list call's query string from its parameters: every field that is set, in the
/// parameters' own (camelCase) names; an empty `cursor` counts as none.
pub(super) fn query_of<P: Serialize>(params: &P) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(params) else {
        return vec![];
    };
    fields
        .into_iter()
        .filter_map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            (!(k == "cursor" && text.is_empty())).then_some((k, text))
        })
        .collect()
}

impl ApiClient {
    /// Sends one request with pacing and retries. Success statuses come back as raw bytes;
    /// error statuses as [`ClientError::Api`].
    pub(super) async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&serde_json::Value>,
        headers: &[(&str, String)],
        safety: Safety,
    ) -> Result<Exchange, Failure> {
        let inner = &self.inner;
        let mut url = format!("{}{}", inner.base, path);
        if !query.is_empty() {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .finish();
            url.push('?');
            url.push_str(&q);
        }
        let body_bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let mut retries = 0u32;
        let mut rate_retries = 0u32;
        let mut after_ambiguity = false;
        let fail = |error: ClientError, after_ambiguity: bool| Failure {
            error,
            after_ambiguity,
        };
        loop {
            let permit = inner.budget.acquire().await;
            let sent_at = Timestamp(chrono::Utc::now());
            let mut req = self
                .request(method.clone(), &url)
                .header("accept", "application/json");
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            if let Some(b) = &body_bytes {
                req = req
                    .header("content-type", "application/json")
                    .body(b.clone());
            }
            tracing::debug!(
                target: "zavu_script::http",
                "→ {method} {url} authorization: Bearer {}{}{}",
                inner.key.redacted(),
                headers.iter().map(|(k, v)| format!(" {k}: {v}")).collect::<String>(),
                body_bytes.as_deref().map(|b| format!(" body: {}", snippet(b))).unwrap_or_default(),
            );
            let started = Instant::now();
            let response = req.send().await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    let sent = !e.is_connect();
                    let reason = describe(&e);
                    tracing::debug!(target: "zavu_script::http", "✗ {method} {url}: {reason}");
                    match retry::after_transport(safety, sent) {
                        Verdict::Retry if retries < inner.max_retries => {
                            after_ambiguity |= sent;
                            tokio::time::sleep(retry::backoff(
                                retries,
                                0.75 + fastrand::f64() / 4.0,
                            ))
                            .await;
                            retries += 1;
                            continue;
                        }
                        Verdict::Unknown => {
                            return Err(fail(
                                ClientError::OutcomeUnknown {
                                    method: method.to_string(),
                                    path: path.to_string(),
                                    sent_at,
                                    reason,
                                    status: None,
                                },
                                true,
                            ));
                        }
                        _ if !sent => {
                            return Err(fail(
                                ClientError::Unreachable {
                                    url: inner.base.clone(),
                                    reason,
                                },
                                after_ambiguity,
                            ));
                        }
                        _ => {
                            return Err(fail(
                                ClientError::Network {
                                    method: method.to_string(),
                                    path: path.to_string(),
                                    attempts: retries + rate_retries + 1,
                                    reason,
                                },
                                after_ambiguity,
                            ));
                        }
                    }
                }
            };
            let status = response.status().as_u16();
            let resp_headers = response.headers().clone();
            let delay = retry::server_delay(&resp_headers, SystemTime::now());
            permit.observe(Observed::from_headers(status, &resp_headers, delay));
            let bytes = response.bytes().await;
            let elapsed = started.elapsed().as_millis();
            let bytes = match bytes {
                Ok(b) => {
                    tracing::debug!(
                        target: "zavu_script::http",
                        "← {status} {method} {url} ({elapsed} ms) body: {}",
                        snippet(&b)
                    );
                    b
                }
                Err(e) => {
                    let reason = format!("HTTP {status}, then the body was lost: {}", describe(&e));
                    tracing::debug!(target: "zavu_script::http", "✗ {method} {url}: {reason}");
                    let took_effect_maybe = !(400..500).contains(&status);
                    if safety == Safety::Unsafe && took_effect_maybe {
                        return Err(fail(
                            ClientError::OutcomeUnknown {
                                method: method.to_string(),
                                path: path.to_string(),
                                sent_at,
                                reason,
                                status: Some(status),
                            },
                            true,
                        ));
                    }
                    if retries < inner.max_retries {
                        after_ambiguity = true;
                        tokio::time::sleep(retry::backoff(retries, 0.75 + fastrand::f64() / 4.0))
                            .await;
                        retries += 1;
                        continue;
                    }
                    return Err(fail(
                        ClientError::Network {
                            method: method.to_string(),
                            path: path.to_string(),
                            attempts: retries + rate_retries + 1,
                            reason,
                        },
                        after_ambiguity,
                    ));
                }
            };
            if (200..300).contains(&status) {
                return Ok(Exchange {
                    status,
                    body: bytes,
                });
            }
            let api_error = parse_error(&method, path, status, &bytes);
            match retry::after_status(safety, status, &resp_headers) {
                Verdict::Retry if status == 429 && rate_retries < MAX_RATE_LIMIT_RETRIES => {
                    // The budget now holds every request on this key until the server's
                    // Retry-After; acquiring again waits for it.
                    rate_retries += 1;
                    continue;
                }
                Verdict::Retry if retries < inner.max_retries => {
                    after_ambiguity |= status >= 500;
                    let wait = delay
                        .unwrap_or_else(|| retry::backoff(retries, 0.75 + fastrand::f64() / 4.0));
                    tokio::time::sleep(wait).await;
                    retries += 1;
                    continue;
                }
                Verdict::Unknown => {
                    return Err(fail(
                        ClientError::OutcomeUnknown {
                            method: method.to_string(),
                            path: path.to_string(),
                            sent_at,
                            reason: format!(
                                "HTTP {status} {}: {}",
                                api_error.code, api_error.message
                            ),
                            status: Some(status),
                        },
                        true,
                    ));
                }
                _ => return Err(fail(ClientError::Api(Box::new(api_error)), after_ambiguity)),
            }
        }
    }

    /// `GET path?query`, decoded.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, ClientError> {
        let ex = self
            .exchange(Method::GET, path, query, None, &[], Safety::Idempotent)
            .await?;
        decode(&Method::GET, path, &ex)
    }
}

pub(crate) fn parse_error(method: &Method, path: &str, status: u16, body: &[u8]) -> ApiError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => ApiError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            code: e.code,
            message: e.message,
            details: e.details,
        },
        Err(_) => ApiError {
            method: method.to_string(),
            path: path.to_string(),
            status,
            code: format!("http_{status}"),
            message: {
                let reason = http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error");
                let text = snippet(body);
                if text.is_empty() {
                    reason.to_string()
                } else {
                    format!("{reason}: {text}")
                }
            },
            details: None,
        },
    }
}

pub(super) fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    ex: &Exchange,
) -> Result<T, ClientError> {
    let de = &mut serde_json::Deserializer::from_slice(&ex.body);
    serde_path_to_error::deserialize(de).map_err(|e| ClientError::InvalidResponse {
        method: method.to_string(),
        path: path.to_string(),
        status: ex.status,
        reason: format!("at {}: {}", e.path(), e.inner()),
    })
}

/// Like [`decode`], for a write that succeeded: an unreadable answer means it took effect
/// and we cannot tell what it made, which is an unknown outcome, not a plain error.
pub(super) fn decode_write<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    ex: &Exchange,
) -> Result<T, ClientError> {
    decode(method, path, ex).map_err(|e| ClientError::OutcomeUnknown {
        method: method.to_string(),
        path: path.to_string(),
        sent_at: Timestamp(chrono::Utc::now()),
        reason: format!("the server accepted it but its answer could not be read ({e})"),
        status: Some(ex.status),
    })
}
