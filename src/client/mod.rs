//! The Zavu API client: one async method per endpoint, over one `reqwest` connection pool.
//!
//! Every request passes the key's shared [`rate::RateBudget`] before it is sent, and the
//! retry rules in [`retry`] after it comes back. The client never re-sends a request that
//! may already have taken effect: such failures come back as
//! [`ClientError::OutcomeUnknown`] for the caller to reconcile. It knows nothing of Rhai,
//! journals or terminals; `--debug` output goes through `tracing` with the key redacted.

pub mod control;
pub mod error;
pub mod key;
pub mod rate;
pub mod retry;

pub use error::{ApiError, ClientError};
pub use key::ApiKey;

use crate::api::{
    CreateInvitation, ErrorBody, Invitation, InvitationEnvelope, InvitationStatus, ListInvitations,
    ListMessages, ListPage, Message, MessageEnvelope, Page, SendMessage, Sender, Template,
    Timestamp,
};
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rate::{Observed, RateBudget};
use reqwest::Method;
use retry::{Safety, Verdict};
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// 429s are retried beyond the normal retry count: the server said it did nothing, and
/// the budget already waits out the window.
const MAX_RATE_LIMIT_RETRIES: u32 = 10;

pub const DEFAULT_BASE_URL: &str = "https://api.zavu.dev";

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub base_url: String,
    pub api_key: ApiKey,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries after the first attempt, as the official SDKs count them (default 2).
    pub max_retries: u32,
    /// `--rate N`: never more than N requests a minute on this key, whatever the server allows.
    pub rate_cap_per_minute: Option<u32>,
}

impl ClientOptions {
    pub fn new(base_url: impl Into<String>, api_key: ApiKey) -> Self {
        ClientOptions {
            base_url: base_url.into(),
            api_key,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            max_retries: 2,
            rate_cap_per_minute: None,
        }
    }
}

#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    budget: Arc<RateBudget>,
    max_retries: u32,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.inner.base)
            .field("key", &self.inner.key)
            .finish()
    }
}

/// A base URL that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[error("invalid base URL {url:?}: {reason}")]
pub struct BadBaseUrl {
    pub url: String,
    pub reason: String,
}

/// Checks and normalises a base URL: http or https, no query, no trailing slash.
pub fn normalize_base_url(raw: &str) -> Result<String, BadBaseUrl> {
    let bad = |reason: &str| BadBaseUrl {
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

pub(crate) fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// A successful exchange's status and body.
struct Exchange {
    status: u16,
    body: Bytes,
}

/// A failed exchange, and whether an earlier attempt of it may have taken effect.
struct Failure {
    error: ClientError,
    after_ambiguity: bool,
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

impl ApiClient {
    pub fn new(opts: ClientOptions) -> Result<ApiClient, BadBaseUrl> {
        let base = normalize_base_url(&opts.base_url)?;
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .user_agent(concat!("zavu-script/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| BadBaseUrl {
                url: base.clone(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        let budget = RateBudget::shared(&base, &opts.api_key, opts.rate_cap_per_minute);
        Ok(ApiClient {
            inner: Arc::new(Inner {
                http,
                base,
                key: opts.api_key,
                budget,
                max_retries: opts.max_retries,
            }),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    pub fn key(&self) -> &ApiKey {
        &self.inner.key
    }

    pub fn budget(&self) -> &Arc<RateBudget> {
        &self.inner.budget
    }

    /// Sends one request with pacing and retries. Success statuses come back as raw bytes;
    /// error statuses as [`ClientError::Api`].
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
        headers: &[(&str, String)],
        safety: Safety,
    ) -> Result<Exchange, Failure> {
        let inner = &self.inner;
        let mut url = format!("{}{}", inner.base, path);
        if !query.is_empty() {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
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
            let mut req = inner
                .http
                .request(method.clone(), &url)
                .header("authorization", format!("Bearer {}", inner.key.expose()))
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

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let ex = self
            .exchange(Method::GET, path, query, None, &[], Safety::Idempotent)
            .await?;
        decode(&Method::GET, path, &ex)
    }

    // ---- invitations ----

    /// `POST /v1/invitations`. Never repeated after a failure that may have created it:
    /// that comes back as [`ClientError::OutcomeUnknown`].
    pub async fn create_invitation(
        &self,
        params: &CreateInvitation,
    ) -> Result<Invitation, ClientError> {
        let body = serde_json::to_value(params).unwrap_or_default();
        let path = "/v1/invitations";
        let ex = self
            .exchange(Method::POST, path, &[], Some(&body), &[], Safety::Unsafe)
            .await?;
        decode_write::<InvitationEnvelope>(&Method::POST, path, &ex).map(|e| e.invitation)
    }

    pub async fn get_invitation(&self, id: &str) -> Result<Invitation, ClientError> {
        let path = format!("/v1/invitations/{}", segment(id));
        self.get::<InvitationEnvelope>(&path, &[])
            .await
            .map(|e| e.invitation)
    }

    pub async fn list_invitations(
        &self,
        params: &ListInvitations,
    ) -> Result<Page<Invitation>, ClientError> {
        let mut q = vec![];
        if let Some(s) = &params.status {
            q.push(("status", s.clone()));
        }
        if let Some(l) = params.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = params.cursor.as_ref().filter(|c| !c.is_empty()) {
            q.push(("cursor", c.clone()));
        }
        self.get("/v1/invitations", &q).await
    }

    /// `POST /v1/invitations/{id}/cancel`. Safe to repeat: if a repeat finds the
    /// invitation already cancelled after an attempt whose answer was lost, that attempt
    /// did it, and the cancelled invitation is the answer.
    pub async fn cancel_invitation(&self, id: &str) -> Result<Invitation, ClientError> {
        let path = format!("/v1/invitations/{}/cancel", segment(id));
        match self
            .exchange(Method::POST, &path, &[], None, &[], Safety::Idempotent)
            .await
        {
            Ok(ex) => decode::<InvitationEnvelope>(&Method::POST, &path, &ex).map(|e| e.invitation),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 400 => match self.get_invitation(id).await {
                Ok(inv) if inv.status == InvitationStatus::Cancelled => Ok(inv),
                _ => Err(ClientError::Api(e)),
            },
            Err(f) => Err(f.error),
        }
    }

    /// Every invitation matching `params`, page by page, fetched as they are consumed.
    pub fn invitations_all(&self, params: ListInvitations) -> InvitationPager {
        InvitationPager {
            client: self.clone(),
            params,
            buffer: VecDeque::new(),
            done: false,
        }
    }

    // ---- messages ----

    /// `POST /v1/messages`, with `Zavu-Sender` as a header when given. With an
    /// `idempotencyKey` it is safe to repeat, and a repeat that meets its own earlier
    /// success (409) answers with that message.
    pub async fn send_message(
        &self,
        params: &SendMessage,
        sender: Option<&str>,
    ) -> Result<Message, ClientError> {
        let body = serde_json::to_value(params).unwrap_or_default();
        let path = "/v1/messages";
        let safety = if params.idempotency_key.is_some() {
            Safety::Idempotent
        } else {
            Safety::Unsafe
        };
        let headers: Vec<(&str, String)> = sender
            .map(|s| vec![("zavu-sender", s.to_string())])
            .unwrap_or_default();
        match self
            .exchange(Method::POST, path, &[], Some(&body), &headers, safety)
            .await
        {
            Ok(ex) => decode_write::<MessageEnvelope>(&Method::POST, path, &ex).map(|e| e.message),
            Err(Failure {
                error: ClientError::Api(e),
                after_ambiguity: true,
            }) if e.status == 409 => {
                let existing = e
                    .details
                    .as_ref()
                    .and_then(|d| d.get("messageId"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                match existing {
                    Some(id) => self.get_message(&id).await,
                    None => Err(ClientError::Api(e)),
                }
            }
            Err(f) => Err(f.error),
        }
    }

    pub async fn get_message(&self, id: &str) -> Result<Message, ClientError> {
        let path = format!("/v1/messages/{}", segment(id));
        self.get::<MessageEnvelope>(&path, &[])
            .await
            .map(|e| e.message)
    }

    pub async fn list_messages(&self, params: &ListMessages) -> Result<Page<Message>, ClientError> {
        let mut q = vec![];
        for (k, v) in [
            ("status", &params.status),
            ("to", &params.to),
            ("channel", &params.channel),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        if let Some(l) = params.limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = params.cursor.as_ref().filter(|c| !c.is_empty()) {
            q.push(("cursor", c.clone()));
        }
        self.get("/v1/messages", &q).await
    }

    // ---- senders and templates ----

    pub async fn get_sender(&self, id: &str) -> Result<Sender, ClientError> {
        self.get(&format!("/v1/senders/{}", segment(id)), &[]).await
    }

    pub async fn list_senders(&self, params: &ListPage) -> Result<Page<Sender>, ClientError> {
        self.get("/v1/senders", &page_query(params)).await
    }

    pub async fn get_template(&self, id: &str) -> Result<Template, ClientError> {
        self.get(&format!("/v1/templates/{}", segment(id)), &[])
            .await
    }

    pub async fn list_templates(&self, params: &ListPage) -> Result<Page<Template>, ClientError> {
        self.get("/v1/templates", &page_query(params)).await
    }
}

fn page_query(params: &ListPage) -> Vec<(&'static str, String)> {
    let mut q = vec![];
    if let Some(l) = params.limit {
        q.push(("limit", l.to_string()));
    }
    if let Some(c) = params.cursor.as_ref().filter(|c| !c.is_empty()) {
        q.push(("cursor", c.clone()));
    }
    q
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

fn decode<T: DeserializeOwned>(
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
fn decode_write<T: DeserializeOwned>(
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

/// Walks every page of `GET /v1/invitations`, fetching the next page only when the
/// current one is used up.
pub struct InvitationPager {
    client: ApiClient,
    params: ListInvitations,
    buffer: VecDeque<Invitation>,
    done: bool,
}

impl InvitationPager {
    pub async fn next(&mut self) -> Option<Result<Invitation, ClientError>> {
        loop {
            if let Some(inv) = self.buffer.pop_front() {
                return Some(Ok(inv));
            }
            if self.done {
                return None;
            }
            match self.client.list_invitations(&self.params).await {
                Ok(page) => {
                    match page.next() {
                        Some(c) => self.params.cursor = Some(c.to_string()),
                        None => self.done = true,
                    }
                    self.buffer.extend(page.items);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// The same walk as a `Stream`.
    pub fn into_stream(
        self,
    ) -> impl futures::Stream<Item = Result<Invitation, ClientError>> + Send {
        futures::stream::unfold(self, |mut pager| async move {
            pager.next().await.map(|item| (item, pager))
        })
    }
}
