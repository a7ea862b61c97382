//! The client itself: its settings, its connection pool, its key and the key's shared rate
//! budget, the templates it checks sends against — and the one place the key is written
//! into a request header.

use super::key::ApiKey;
use super::rate::RateBudget;
use super::url::{BadBaseUrl, normalize_base_url};
use crate::api::Template;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) key: ApiKey,
    pub(super) budget: Arc<RateBudget>,
    pub(super) max_retries: u32,
    /// Templates fetched lately, by id, to check sends against (see `templates.rs`).
    pub(super) templates: Mutex<HashMap<String, (Instant, Template)>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.inner.base)
            .field("key", &self.inner.key)
            .finish()
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
                templates: Mutex::new(HashMap::new()),
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

    /// A request to `url` carrying this client's key — the one place the key is written
    /// into a header.
    pub(crate) fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.inner.http.request(method, url).header(
            "authorization",
            format!("Bearer {}", self.inner.key.expose()),
        )
    }
}
