//! Messages: the Message object, the send body and the list query. `Zavu-Sender` is an HTTP
//! header, never a body field, so it is not part of [`SendMessage`].

use super::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Delivery channels a send may name.
pub const CHANNELS: &[&str] = &[
    "auto",
    "sms",
    "sms_oneway",
    "whatsapp",
    "telegram",
    "email",
    "instagram",
    "messenger",
    "voice",
];

/// Message types a send may name.
pub const MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "buttons",
    "list",
    "cta_url",
    "request_contact_info",
    "location_request",
    "reaction",
    "template",
];

/// Statuses a list may filter on.
pub const LIST_STATUSES: &[&str] = &[
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "received",
];

/// The Message object. Fields the SDKs declare optional (not nullable) — `from`,
/// `senderId`, `text`, `content`, `metadata`, `conversationId`, `providerMessageId`,
/// `updatedAt` — are left out when unset; the nullable ones (`errorCode`, `errorMessage`,
/// `cost*`) are written as `null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: String,
    pub to: String,
    pub status: String,
    pub channel: String,
    pub message_type: String,
    pub direction: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub cost: Option<f64>,
    #[serde(default)]
    pub cost_provider: Option<f64>,
    #[serde(default)]
    pub cost_total: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// `{"message": Message}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageEnvelope {
    pub message: Message,
}

/// `POST /v1/messages` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessage {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<Value>>,
}

/// The channel a send goes out on when the caller did not pick one (or picked `auto`):
/// an email address → `email`; a text → `sms`; anything else (a template, media…) →
/// `whatsapp`. The API and the client's own checks decide it the same way.
pub fn resolve_channel(channel: Option<&str>, to: &str, message_type: &str) -> String {
    match channel {
        Some(c) if c != "auto" => c.to_string(),
        _ if crate::api::validate::is_email(to) => "email".into(),
        _ if message_type == "text" => "sms".into(),
        _ => "whatsapp".into(),
    }
}

/// The keys of a message's `content` (every one optional; which apply depends on the
/// message type).
pub const CONTENT_KEYS: &[&str] = &[
    "buttons",
    "contacts",
    "ctaDisplayText",
    "ctaHeaderMediaUrl",
    "ctaHeaderText",
    "ctaHeaderType",
    "ctaUrl",
    "emoji",
    "filename",
    "footerText",
    "latitude",
    "listButton",
    "locationAddress",
    "locationName",
    "longitude",
    "mediaId",
    "mediaUrl",
    "mimeType",
    "reactToMessageId",
    "referral",
    "replyToFrom",
    "replyToMessageId",
    "replyToMessageType",
    "replyToProviderMessageId",
    "replyToText",
    "sections",
    "templateButtonVariables",
    "templateHeaderVariables",
    "templateId",
    "templateVariables",
];

/// `GET /v1/messages` query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListMessages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
