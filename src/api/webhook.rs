//! The project webhook on the wire: its configuration (`/v1/invitations/webhook`), the
//! `invitation.status_changed` event a delivery carries, and the `X-Zavu-Signature` header
//! that proves a delivery came from the project —
//! `t=<unix seconds>,v1=<hex>,v2=<hex>`, where v1 = HMAC-SHA256(secret, raw body) and
//! v2 = HMAC-SHA256(secret, "<t>.<raw body>"). The sandbox signs with [`sign`]; a receiver
//! checks with [`verify`] (v2 preferred, v1 accepted, a timestamp tolerance against replays,
//! constant-time comparison). Shapes and pure functions only: no I/O, no clock.

use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = hmac::Hmac<Sha256>;

/// The one event type there is.
pub const STATUS_CHANGED: &str = "invitation.status_changed";
/// The events a project webhook may subscribe to.
pub const PROJECT_EVENTS: &[&str] = &[STATUS_CHANGED];
/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "X-Zavu-Signature";
/// How old a delivery's `t` may be, by default, before it is taken for a replay.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// `{"webhook": {url, events, secret, active}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEnvelope {
    pub webhook: Webhook,
}

/// `POST /v1/invitations/webhook`, checked: create the project webhook, or replace its
/// URL and events (the secret is kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigureWebhook {
    pub url: String,
    pub events: Vec<String>,
}

/// `PATCH /v1/invitations/webhook`, checked: each field left out is left as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A delivery's body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_<ms>_<rand>`.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix milliseconds.
    pub timestamp: i64,
    pub project_id: String,
    pub data: StatusChange,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub invitation_id: String,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub client_email: Option<String>,
    #[serde(default)]
    pub connection_type: Option<String>,
    pub previous_status: String,
    pub current_status: String,
    /// On completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_account: Option<serde_json::Value>,
    /// On failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    for p in parts {
        m.update(p);
    }
    m
}

/// The `X-Zavu-Signature` value for `body` sent at unix second `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let v1 = hex::encode(mac(secret, &[body]).finalize().into_bytes());
    let stamp = t.to_string();
    let v2 = hex::encode(
        mac(secret, &[stamp.as_bytes(), b".", body])
            .finalize()
            .into_bytes(),
    );
    format!("t={t},v1={v1},v2={v2}")
}

/// Which scheme a good signature used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    V1,
    V2,
}

/// Why a delivery is not to be trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no {SIGNATURE_HEADER} header")]
    Missing,
    #[error("the {SIGNATURE_HEADER} header is malformed: {0}")]
    Malformed(String),
    #[error("the signature's timestamp is {age} s away from now (tolerance {tolerance} s)")]
    Stale { age: i64, tolerance: i64 },
    #[error("the signature does not match the body (wrong secret, or the body was changed)")]
    Mismatch,
}

/// Checks a delivery: the header's v2 (bound to its timestamp) when present, else its v1;
/// `t` within `tolerance` seconds of `now` (unix seconds) either way.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
    tolerance: i64,
) -> Result<Scheme, Refused> {
    let header = header.map(str::trim).filter(|h| !h.is_empty());
    let Some(header) = header else {
        return Err(Refused::Missing);
    };
    let (mut t, mut v1, mut v2) = (None, vec![], vec![]);
    for part in header.split(',').filter(|p| !p.trim().is_empty()) {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(Refused::Malformed(format!("`{part}` is not key=value")));
        };
        match k.trim() {
            "t" => {
                t = Some(
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| Refused::Malformed(format!("t=`{v}` is not a unix time")))?,
                )
            }
            "v1" => v1.push(v.trim()),
            "v2" => v2.push(v.trim()),
            // Schemes to come are ignored, as receivers of versioned signatures do.
            _ => {}
        }
    }
    let Some(t) = t else {
        return Err(Refused::Malformed("no t=".into()));
    };
    if v1.is_empty() && v2.is_empty() {
        return Err(Refused::Malformed("no v1= or v2= signature".into()));
    }
    let age = (now - t).abs();
    if age > tolerance {
        return Err(Refused::Stale { age, tolerance });
    }
    let stamp = t.to_string();
    let matches = |candidates: &[&str], parts: &[&[u8]]| {
        candidates.iter().any(|sig| {
            hex::decode(sig)
                .ok()
                .is_some_and(|bytes| mac(secret, parts).verify_slice(&bytes).is_ok())
        })
    };
    if !v2.is_empty() {
        return if matches(&v2, &[stamp.as_bytes(), b".", body]) {
            Ok(Scheme::V2)
        } else {
            Err(Refused::Mismatch)
        };
    }
    if matches(&v1, &[body]) {
        Ok(Scheme::V1)
    } else {
        Err(Refused::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1_a","type":"invitation.status_changed"}"#;

    #[test]
    fn a_signed_body_verifies_with_v2_and_only_as_sent() {
        let header = sign(SECRET, 1_000, BODY);
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(
            verify(Some(&header), BODY, SECRET, 1_010, 300),
            Ok(Scheme::V2)
        );
        let mut tampered = BODY.to_vec();
        tampered[3] = b'X';
        assert_eq!(
            verify(Some(&header), &tampered, SECRET, 1_010, 300),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), BODY, "whsec_other", 1_010, 300),
            Err(Refused::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), BODY, SECRET, 2_000, 300),
            Err(Refused::Stale {
                age: 1_000,
                tolerance: 300
            })
        );
        assert_eq!(
            verify(None, BODY, SECRET, 1_000, 300),
            Err(Refused::Missing)
        );
    }

    #[test]
    fn v1_alone_is_accepted_and_a_v2_bound_to_another_time_is_not() {
        let full = sign(SECRET, 1_000, BODY);
        let v1 = full.split(',').find(|p| p.starts_with("v1=")).unwrap();
        assert_eq!(
            verify(Some(&format!("t=1000,{v1}")), BODY, SECRET, 1_000, 300),
            Ok(Scheme::V1)
        );
        // A v2 from t=1000 moved to t=1100 (to dodge the tolerance) no longer matches.
        let v2 = full.split(',').find(|p| p.starts_with("v2=")).unwrap();
        assert_eq!(
            verify(Some(&format!("t=1100,{v2}")), BODY, SECRET, 1_100, 300),
            Err(Refused::Mismatch)
        );
        assert!(matches!(
            verify(Some("t=abc,v1=00"), BODY, SECRET, 0, 300),
            Err(Refused::Malformed(_))
        ));
        assert!(matches!(
            verify(Some("t=1"), BODY, SECRET, 1, 300),
            Err(Refused::Malformed(_))
        ));
    }
}
