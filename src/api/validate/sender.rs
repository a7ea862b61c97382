//! The rules for `PATCH /v1/senders/{id}`: a name, the default flag, the webhook (URL,
//! events, active, signature scheme) and the email and channel switches. Every field is
//! optional; `webhookUrl: null` removes the webhook.

use super::fields::{Fields, UnknownKeys, as_object, type_name};
use super::rules::is_email;
use crate::api::error::FieldError;
use crate::api::sender::{SIGNATURE_VERSIONS, UpdateSender, WEBHOOK_EVENTS, WebhookUrl};
use serde_json::Value;

pub const UPDATE_SENDER_KEYS: &[&str] = &[
    "name",
    "setAsDefault",
    "webhookUrl",
    "webhookEvents",
    "webhookActive",
    "webhookSignatureVersion",
    "emailAddress",
    "emailCatchAllEnabled",
    "emailDomainId",
    "emailFromName",
    "emailReceivingEnabled",
    "enableSmsOneway",
    "enableVoice",
];

pub const MAX_SENDER_NAME_CHARS: usize = 100;
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;

/// An HTTPS URL with a host: what a webhook may point at.
pub fn is_https_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some())
}

/// Checks a `PATCH /v1/senders/{id}` body against the contract.
pub fn update_sender(body: &Value, unknown: UnknownKeys) -> Result<UpdateSender, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(UPDATE_SENDER_KEYS, unknown);
    let name = f.string("name");
    if let Some(n) = &name {
        let len = n.chars().count();
        if n.trim().is_empty() {
            f.fail(&["name"], "must not be empty");
        } else if len > MAX_SENDER_NAME_CHARS {
            f.fail(
                &["name"],
                format!("must be at most {MAX_SENDER_NAME_CHARS} characters (got {len})"),
            );
        }
    }
    let webhook_url = match f.obj.get("webhookUrl") {
        None => WebhookUrl::Unchanged,
        Some(Value::Null) => WebhookUrl::Remove,
        Some(Value::String(u)) if u.len() <= MAX_WEBHOOK_URL_CHARS && is_https_url(u) => {
            WebhookUrl::Set(u.clone())
        }
        Some(Value::String(u)) => {
            f.fail(
                &["webhookUrl"],
                format!(
                    "{u:?} is not an HTTPS URL (like https://example.com/zavu/webhook); null removes the webhook"
                ),
            );
            WebhookUrl::Unchanged
        }
        Some(other) => {
            let msg = format!("expected a string or null, got {}", type_name(other));
            f.fail(&["webhookUrl"], msg);
            WebhookUrl::Unchanged
        }
    };
    let webhook_events = match f.get("webhookEvents") {
        None => None,
        Some(Value::Array(items)) => {
            let mut out: Vec<String> = vec![];
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(e) if WEBHOOK_EVENTS.contains(&e) => {
                        if !out.iter().any(|o| o == e) {
                            out.push(e.to_string());
                        }
                    }
                    Some(e) => f.errors.push(FieldError {
                        path: vec!["webhookEvents".into(), i.into()],
                        message: format!(
                            "{e:?} is not a webhook event (events: {})",
                            WEBHOOK_EVENTS.join(", ")
                        ),
                    }),
                    None => f.errors.push(FieldError {
                        path: vec!["webhookEvents".into(), i.into()],
                        message: format!("expected a string, got {}", type_name(item)),
                    }),
                }
            }
            if items.is_empty() {
                f.fail(&["webhookEvents"], "must name at least one event");
            }
            Some(out)
        }
        Some(other) => {
            let msg = format!("expected an array of event names, got {}", type_name(other));
            f.fail(&["webhookEvents"], msg);
            None
        }
    };
    let webhook_active = f.boolean("webhookActive");
    let webhook_signature_version = f.string("webhookSignatureVersion");
    if let Some(v) = &webhook_signature_version
        && !SIGNATURE_VERSIONS.contains(&v.as_str())
    {
        f.fail(
            &["webhookSignatureVersion"],
            format!(
                "must be one of {} (got {v:?})",
                SIGNATURE_VERSIONS.join(", ")
            ),
        );
    }
    let email_address = f.string("emailAddress");
    if let Some(e) = &email_address
        && !is_email(e)
    {
        f.fail(&["emailAddress"], format!("{e:?} is not an email address"));
    }
    let update = UpdateSender {
        name,
        set_as_default: f.boolean("setAsDefault"),
        webhook_url,
        webhook_events,
        webhook_active,
        webhook_signature_version,
        email_address,
        email_catch_all_enabled: f.boolean("emailCatchAllEnabled"),
        email_domain_id: f.string("emailDomainId"),
        email_from_name: f.string("emailFromName"),
        email_receiving_enabled: f.boolean("emailReceivingEnabled"),
        enable_sms_oneway: f.boolean("enableSmsOneway"),
        enable_voice: f.boolean("enableVoice"),
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
    fn webhook_fields_are_checked_and_null_removes() {
        let ok = json!({"webhookUrl": "https://example.com/hook",
            "webhookEvents": ["message.inbound", "invitation.status_changed"],
            "webhookSignatureVersion": "v1+v2"});
        let u = update_sender(&ok, UnknownKeys::Reject).unwrap();
        assert_eq!(
            u.webhook_url,
            WebhookUrl::Set("https://example.com/hook".into())
        );
        let remove = update_sender(&json!({"webhookUrl": null}), UnknownKeys::Reject).unwrap();
        assert_eq!(remove.webhook_url, WebhookUrl::Remove);
        assert_eq!(
            update_sender(&json!({}), UnknownKeys::Reject).unwrap(),
            UpdateSender::default()
        );
        let bad = json!({"webhookUrl": "http://example.com", "webhookEvents": ["message.nope"],
            "webhookSignatureVersion": "v3", "name": "", "webhookUrI": 1});
        let errs = update_sender(&bad, UnknownKeys::Reject).unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(
            got,
            [
                "webhookUrI",
                "name",
                "webhookUrl",
                "webhookEvents[0]",
                "webhookSignatureVersion"
            ]
        );
        assert!(errs[0].message.contains("did you mean `webhookUrl`"));
    }
}
