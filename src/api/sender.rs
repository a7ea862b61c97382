//! Senders: the identities messages go out from. Completing an invitation creates one.
//! Every sender call answers a bare Sender, not an envelope; every field the SDKs declare
//! optional (not nullable) is left out when unset.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The events a sender's webhook may subscribe to.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "message.queued",
    "message.sent",
    "message.delivered",
    "message.read",
    "message.status",
    "message.failed",
    "message.inbound",
    "message.unsupported",
    "broadcast.status_changed",
    "conversation.new",
    "template.status_changed",
    "invitation.status_changed",
    "call.initiated",
    "call.answered",
    "call.completed",
    "call.failed",
    "domain.verified",
    "domain.failed",
];

/// `X-Zavu-Signature` schemes. `v2` is the default for a new webhook; moving from `v1`
/// straight to `v2` is refused (`v1+v2` first).
pub const SIGNATURE_VERSIONS: &[&str] = &["v1", "v1+v2", "v2"];
pub const DEFAULT_SIGNATURE_VERSION: &str = "v2";

/// A sender's webhook. `secret` is only answered when the webhook is created (or its
/// secret regenerated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub signature_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_send_templates: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_status: Option<String>,
}

/// Present only when a WhatsApp Business Account is connected.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderWhatsapp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub id: String,
    pub name: String,
    /// E.164; empty for a sender with no phone (a Messenger page).
    pub phone_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_receiving_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_catch_all_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<SenderWhatsapp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<SenderWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// What a webhook URL change asks for: set it, remove it (`null` on the wire), or leave it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum WebhookUrl {
    #[default]
    Unchanged,
    Remove,
    Set(String),
}

/// `PATCH /v1/senders/{id}` body, checked. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpdateSender {
    pub name: Option<String>,
    pub set_as_default: Option<bool>,
    pub webhook_url: WebhookUrl,
    pub webhook_events: Option<Vec<String>>,
    pub webhook_active: Option<bool>,
    pub webhook_signature_version: Option<String>,
    pub email_address: Option<String>,
    pub email_catch_all_enabled: Option<bool>,
    pub email_domain_id: Option<String>,
    pub email_from_name: Option<String>,
    pub email_receiving_enabled: Option<bool>,
    pub enable_sms_oneway: Option<bool>,
    pub enable_voice: Option<bool>,
}

impl UpdateSender {
    /// The body as it travels: only the fields that are set, and `webhookUrl: null` to
    /// remove the webhook.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let mut out = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                out.insert(k.to_string(), v);
            }
        };
        put("name", self.name.as_ref().map(|v| json!(v)));
        put("setAsDefault", self.set_as_default.map(Value::Bool));
        put(
            "webhookUrl",
            match &self.webhook_url {
                WebhookUrl::Unchanged => None,
                WebhookUrl::Remove => Some(Value::Null),
                WebhookUrl::Set(u) => Some(json!(u)),
            },
        );
        put(
            "webhookEvents",
            self.webhook_events.as_ref().map(|v| json!(v)),
        );
        put("webhookActive", self.webhook_active.map(Value::Bool));
        put(
            "webhookSignatureVersion",
            self.webhook_signature_version.as_ref().map(|v| json!(v)),
        );
        put(
            "emailAddress",
            self.email_address.as_ref().map(|v| json!(v)),
        );
        put(
            "emailCatchAllEnabled",
            self.email_catch_all_enabled.map(Value::Bool),
        );
        put(
            "emailDomainId",
            self.email_domain_id.as_ref().map(|v| json!(v)),
        );
        put(
            "emailFromName",
            self.email_from_name.as_ref().map(|v| json!(v)),
        );
        put(
            "emailReceivingEnabled",
            self.email_receiving_enabled.map(Value::Bool),
        );
        put("enableSmsOneway", self.enable_sms_oneway.map(Value::Bool));
        put("enableVoice", self.enable_voice.map(Value::Bool));
        Value::Object(out)
    }
}

/// A phone number as a person reads it on a WhatsApp profile (`+1 415-555-0100` for the
/// North American plan, the E.164 text otherwise) — the one display form the sandbox uses.
pub fn display_phone(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("+1 {}-{}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => e164.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_left_out_and_display_phones_are_one_form() {
        let s = Sender {
            id: "snd_1".into(),
            name: "A".into(),
            phone_number: "+14155550100".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 3, "{json}");
        assert_eq!(display_phone("+14155550100"), "+1 415-555-0100");
        assert_eq!(display_phone("+5215512345678"), "+5215512345678");
    }
}
