//! The rules for the project webhook's configuration (`POST` and `PATCH
//! /v1/invitations/webhook`): where deliveries go and which events they carry. A URL is
//! HTTPS, or plain HTTP to this machine's loopback address — the one place a receiver
//! without a certificate can be reached from, which is what the sandbox and a local
//! `zavu-script listen` need.

use super::fields::{Fields, UnknownKeys, as_object, type_name};
use super::sender::MAX_WEBHOOK_URL_CHARS;
use crate::api::error::FieldError;
use crate::api::webhook::{ConfigureWebhook, PROJECT_EVENTS, UpdateWebhook};
use serde_json::Value;

pub const CONFIGURE_WEBHOOK_KEYS: &[&str] = &["url", "events"];
pub const UPDATE_WEBHOOK_KEYS: &[&str] = &["url", "events", "active"];

/// Where a project webhook may deliver: `https://` anywhere, `http://` only to loopback.
pub fn is_delivery_url(s: &str) -> bool {
    let Ok(u) = url::Url::parse(s) else {
        return false;
    };
    match (u.scheme(), u.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

fn url(f: &mut Fields<'_>) -> Option<String> {
    let u = f.string("url")?;
    if u.chars().count() > MAX_WEBHOOK_URL_CHARS {
        f.fail(
            &["url"],
            format!("must be at most {MAX_WEBHOOK_URL_CHARS} characters"),
        );
        None
    } else if !is_delivery_url(&u) {
        f.fail(
            &["url"],
            format!(
                "{u:?} is not an HTTPS URL (like https://example.com/zavu/webhook); plain http:// only to this machine (localhost, 127.0.0.1, [::1])"
            ),
        );
        None
    } else {
        Some(u)
    }
}

fn events(f: &mut Fields<'_>) -> Option<Vec<String>> {
    let items = match f.get("events")? {
        Value::Array(items) => items,
        other => {
            let msg = format!("expected an array of event names, got {}", type_name(other));
            f.fail(&["events"], msg);
            return None;
        }
    };
    if items.is_empty() {
        f.fail(
            &["events"],
            format!(
                "must name at least one event ({})",
                PROJECT_EVENTS.join(", ")
            ),
        );
        return None;
    }
    let mut out: Vec<String> = vec![];
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let problem = match item.as_str() {
            Some(e) if PROJECT_EVENTS.contains(&e) => {
                if !out.iter().any(|o| o == e) {
                    out.push(e.to_string());
                }
                continue;
            }
            Some(e) => format!(
                "{e:?} is not an event of the project webhook (events: {})",
                PROJECT_EVENTS.join(", ")
            ),
            None => format!("expected a string, got {}", type_name(item)),
        };
        ok = false;
        f.errors.push(FieldError {
            path: vec!["events".into(), i.into()],
            message: problem,
        });
    }
    ok.then_some(out)
}

/// Checks a `POST /v1/invitations/webhook` body: `url` and `events`, both required.
pub fn configure_webhook(
    body: &Value,
    unknown: UnknownKeys,
) -> Result<ConfigureWebhook, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(CONFIGURE_WEBHOOK_KEYS, unknown);
    let had_url = f.get("url").is_some();
    let url = url(&mut f);
    if !had_url {
        f.fail(&["url"], "required: where deliveries are posted");
    }
    let had_events = f.get("events").is_some();
    let events = events(&mut f);
    if !had_events {
        f.fail(
            &["events"],
            format!(
                "required: the events to deliver ({})",
                PROJECT_EVENTS.join(", ")
            ),
        );
    }
    match (url, events) {
        (Some(url), Some(events)) if f.errors.is_empty() => Ok(ConfigureWebhook { url, events }),
        _ => Err(f.errors),
    }
}

/// Checks a `PATCH /v1/invitations/webhook` body: any of `url`, `events`, `active`.
pub fn update_webhook(
    body: &Value,
    unknown: UnknownKeys,
) -> Result<UpdateWebhook, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(UPDATE_WEBHOOK_KEYS, unknown);
    let update = UpdateWebhook {
        url: url(&mut f),
        events: events(&mut f),
        active: f.boolean("active"),
    };
    if f.errors.is_empty() {
        Ok(update)
    } else {
        Err(f.errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delivery_urls_are_https_or_loopback_http() {
        assert!(is_delivery_url("https://acme.example/hooks/zavu"));
        assert!(is_delivery_url("http://127.0.0.1:8787/webhooks/zavu"));
        assert!(is_delivery_url("http://localhost/x"));
        assert!(is_delivery_url("http://[::1]:9/x"));
        assert!(!is_delivery_url("http://acme.example/hooks"));
        assert!(!is_delivery_url("http://10.0.0.1/hooks"));
        assert!(!is_delivery_url("ftp://acme.example/"));
        assert!(!is_delivery_url("acme.example/hooks"));
    }

    #[test]
    fn configure_needs_a_url_and_known_events() {
        let ok = configure_webhook(
            &json!({"url": "https://a.example/h", "events": ["invitation.status_changed", "invitation.status_changed"]}),
            UnknownKeys::Reject,
        )
        .unwrap();
        assert_eq!(ok.events, ["invitation.status_changed"]);
        let errs = configure_webhook(&json!({"uri": "x"}), UnknownKeys::Reject).unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(got, ["uri", "url", "events"]);
        assert!(errs[0].message.contains("did you mean `url`"));
        let errs = configure_webhook(
            &json!({"url": "http://a.example/h", "events": ["message.inbound", 3]}),
            UnknownKeys::Reject,
        )
        .unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(got, ["url", "events[0]", "events[1]"]);
        assert!(
            configure_webhook(
                &json!({"url": "https://a.example", "events": []}),
                UnknownKeys::Reject
            )
            .is_err()
        );
    }

    #[test]
    fn update_takes_any_subset() {
        assert_eq!(
            update_webhook(&json!({}), UnknownKeys::Reject).unwrap(),
            UpdateWebhook::default()
        );
        let u = update_webhook(&json!({"active": false}), UnknownKeys::Reject).unwrap();
        assert_eq!(u.active, Some(false));
        let errs =
            update_webhook(&json!({"active": "no", "url": 1}), UnknownKeys::Reject).unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(got, ["url", "active"]);
    }
}
