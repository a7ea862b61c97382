//! The URLs the client builds on: the default base URL, a user's base URL checked and
//! normalised (http or https, a path prefix allowed, no query), and ids percent-encoded as
//! path segments so `a/b c` can never reach another route.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub const DEFAULT_BASE_URL: &str = "https://api.zavu.dev";

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
