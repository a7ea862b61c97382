//! Message templates: the object, its lifecycle statuses, and what a template body says —
//! which variables it declares (`{{1}}`, `{{customer_name}}`) and which body a channel
//! uses. Only `approved` templates can be sent; first contact on WhatsApp must be one.
//! `GET /v1/templates/{id}` answers a bare Template. Every field the SDKs declare optional
//! (not nullable) is left out when unset.

use super::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const CATEGORIES: &[&str] = &["UTILITY", "MARKETING", "AUTHENTICATION"];

/// A template's lifecycle: created as `draft`, `pending` once submitted, then `approved`
/// or `rejected` by review.
pub const STATUSES: &[&str] = &["draft", "pending", "approved", "rejected"];

pub const BUTTON_TYPES: &[&str] = &["quick_reply", "url", "phone", "otp", "request_contact_info"];
pub const OTP_TYPES: &[&str] = &["COPY_CODE", "ONE_TAP"];
pub const HEADER_TYPES: &[&str] = &["text", "image", "video", "document"];

/// Channels a template carries a body for: WhatsApp uses `body`; SMS, Telegram and
/// Instagram use their own body when set and fall back to `body`. Email, Messenger and
/// voice have no template body, so a template cannot be sent there.
pub const TEMPLATE_CHANNELS: &[&str] = &["whatsapp", "sms", "sms_oneway", "telegram", "instagram"];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateButton {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otp_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_hash: Option<String>,
}

impl TemplateButton {
    /// A URL button whose link takes a value at send time (`…/track/{{1}}`).
    pub fn is_dynamic_url(&self) -> bool {
        self.kind.as_deref() == Some("url") && self.url.as_deref().is_some_and(|u| u.contains("{{"))
    }
}

/// What WhatsApp's review knows of the template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateWhatsapp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    pub body: String,
    pub category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<TemplateButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_security_recommendation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expiration_minutes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<TemplateWhatsapp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

impl Template {
    /// The body a send on `channel` uses, or `None` when the template has none for it.
    pub fn body_for(&self, channel: &str) -> Option<&str> {
        let own = match channel {
            "whatsapp" => None,
            "sms" | "sms_oneway" => self.sms_body.as_deref(),
            "telegram" => self.telegram_body.as_deref(),
            "instagram" => self.instagram_body.as_deref(),
            _ => return None,
        };
        Some(own.unwrap_or(&self.body))
    }

    /// The text header, when the template has one.
    pub fn text_header(&self) -> Option<&str> {
        match self.header_type.as_deref() {
            Some("text") => self.header_content.as_deref(),
            _ => None,
        }
    }
}

/// The variables a template text declares, in order of first appearance, each once:
/// `"Hi {{1}}, order {{2}}"` → `["1", "2"]`; `"Hi {{ customer_name }}"` →
/// `["customer_name"]`. Anything between `{{` and `}}` that is not a name (letters,
/// digits, `_`, `.`) is literal text, not a variable.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if is_name && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// A positional variable name: `1`, `2`, … (digits only).
pub fn is_positional(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// `POST /v1/templates` body, as the sandbox stores it once checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTemplate {
    pub name: String,
    pub language: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whatsapp_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<TemplateButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_security_recommendation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_expiration_minutes: Option<i64>,
}

/// `POST /v1/templates/{id}/submit` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitTemplate {
    pub sender_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_in_order_once_each() {
        assert_eq!(placeholders("Hi {{1}}, order {{2}} for {{1}}"), ["1", "2"]);
        assert_eq!(
            placeholders("Hi {{ customer_name }} / {{contact.first_name}}"),
            ["customer_name", "contact.first_name"]
        );
        assert!(placeholders("no {{ }} vars {{a b}} {{").is_empty());
        assert!(is_positional("12") && !is_positional("a1") && !is_positional(""));
    }

    #[test]
    fn channel_bodies_fall_back_to_the_default() {
        let t = Template {
            body: "wa {{1}}".into(),
            sms_body: Some("sms {{1}}".into()),
            ..Default::default()
        };
        assert_eq!(t.body_for("whatsapp"), Some("wa {{1}}"));
        assert_eq!(t.body_for("sms_oneway"), Some("sms {{1}}"));
        assert_eq!(t.body_for("telegram"), Some("wa {{1}}"));
        assert_eq!(t.body_for("email"), None);
        let json = serde_json::to_value(&t).unwrap();
        assert!(json.get("status").is_none() && json.get("footer").is_none());
    }
}
