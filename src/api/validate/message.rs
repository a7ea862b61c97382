//! The rules for `POST /v1/messages`.

use super::fields::{Fields, UnknownKeys, as_object, type_name};
use super::rules::*;
use crate::api::error::FieldError;
use crate::api::message::{CHANNELS, CONTENT_KEYS, MESSAGE_TYPES, SendMessage};
use crate::api::template::is_positional;
use serde_json::Value;

pub const SEND_MESSAGE_KEYS: &[&str] = &[
    "to",
    "channel",
    "messageType",
    "text",
    "content",
    "idempotencyKey",
    "metadata",
    "fallbackEnabled",
    "subject",
    "htmlBody",
    "replyTo",
    "voiceLanguage",
    "attachments",
];

fn is_chat_recipient(s: &str) -> bool {
    // A numeric chat id (Telegram, Instagram, Messenger) or a WhatsApp business-scoped user
    // id such as `US.13491208655302741918`.
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    digits(s) || matches!(s.split_once('.'), Some((cc, id)) if is_country_code(cc) && digits(id))
}

/// Checks a `POST /v1/messages` body against the contract.
pub fn send_message(body: &Value, unknown: UnknownKeys) -> Result<SendMessage, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(SEND_MESSAGE_KEYS, unknown);
    let to = f.string("to");
    match &to {
        None if f.get("to").is_none() => f.fail(&["to"], "required"),
        Some(t) if !(is_e164(t) || is_email(t) || is_chat_recipient(t)) => f.fail(
            &["to"],
            format!("{t:?} is not an E.164 phone number, an email address or a chat id"),
        ),
        _ => {}
    }
    let channel = f.string("channel");
    if let Some(c) = &channel
        && !CHANNELS.contains(&c.as_str())
    {
        f.fail(
            &["channel"],
            format!("must be one of {} (got {c:?})", CHANNELS.join(", ")),
        );
    }
    let message_type = f.string("messageType");
    if let Some(t) = &message_type
        && !MESSAGE_TYPES.contains(&t.as_str())
    {
        f.fail(
            &["messageType"],
            format!("must be one of {} (got {t:?})", MESSAGE_TYPES.join(", ")),
        );
    }
    let text = f.string("text");
    let content = f.object("content");
    let kind = message_type.as_deref().unwrap_or("text");
    if kind == "text" && text.as_deref().is_none_or(str::is_empty) {
        f.fail(&["text"], "required for a text message");
    }
    if kind == "template" {
        match content.and_then(|c| c.get("templateId")) {
            Some(Value::String(_)) => {}
            Some(other) => f.fail(
                &["content", "templateId"],
                format!("expected a string, got {}", type_name(other)),
            ),
            None => f.fail(
                &["content", "templateId"],
                "required for a template message",
            ),
        }
    }
    if let Some(c) = content {
        if unknown == UnknownKeys::Reject {
            for key in c.keys() {
                if !CONTENT_KEYS.contains(&key.as_str()) {
                    let hint = suggest(key, CONTENT_KEYS)
                        .map(|s| format!(" — did you mean `{s}`?"))
                        .unwrap_or_default();
                    f.errors.push(FieldError::new(
                        &["content", key],
                        format!("unknown content key{hint}"),
                    ));
                }
            }
        }
        for map_key in [
            "templateVariables",
            "templateHeaderVariables",
            "templateButtonVariables",
        ] {
            match c.get(map_key) {
                None | Some(Value::Null) => {}
                Some(Value::Object(m)) => {
                    for (k, v) in m {
                        if !v.is_string() {
                            f.errors.push(FieldError::new(
                                &["content", map_key, k],
                                format!("expected a string, got {}", type_name(v)),
                            ));
                        }
                    }
                    let n_positional = m.keys().filter(|k| is_positional(k)).count();
                    if map_key == "templateVariables" && n_positional > 0 && n_positional < m.len()
                    {
                        f.fail(
                            &["content", map_key],
                            "use positional keys (\"1\", \"2\") or named keys, not both",
                        );
                    }
                }
                Some(other) => f.fail(
                    &["content", map_key],
                    format!("expected an object, got {}", type_name(other)),
                ),
            }
        }
    }
    let idempotency_key = f.string("idempotencyKey");
    if let Some(k) = &idempotency_key
        && !(1..=255).contains(&k.len())
    {
        f.fail(&["idempotencyKey"], "must be 1 to 255 characters");
    }
    let metadata = f.object("metadata").map(|m| {
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in m {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                other => f.errors.push(FieldError::new(
                    &["metadata", k],
                    format!("expected a string, got {}", type_name(other)),
                )),
            }
        }
        out
    });
    let fallback_enabled = f.boolean("fallbackEnabled");
    let subject = f.string("subject");
    let html_body = f.string("htmlBody");
    let reply_to = f.string("replyTo");
    let voice_language = f.string("voiceLanguage");
    let attachments = match f.get("attachments") {
        None => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(other) => {
            let msg = format!("expected an array, got {}", type_name(other));
            f.fail(&["attachments"], msg);
            None
        }
    };
    let to_email = to.as_deref().is_some_and(is_email);
    if (channel.as_deref() == Some("email") || (channel.is_none() && to_email)) && subject.is_none()
    {
        f.fail(&["subject"], "required for an email message");
    }
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    Ok(SendMessage {
        to: to.unwrap_or_default(),
        channel,
        message_type,
        text,
        content: content.cloned(),
        idempotency_key,
        metadata,
        fallback_enabled,
        subject,
        html_body,
        reply_to,
        voice_language,
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_send_needs_a_template_id_and_string_variables() {
        let body = json!({"to": "+14155551234", "messageType": "template",
            "content": {"templateVariables": {"1": 2}}});
        let errs = send_message(&body, UnknownKeys::Reject).unwrap_err();
        let fields: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            ["content.templateId", "content.templateVariables.1"]
        );
        let ok = json!({"to": "+14155551234", "channel": "whatsapp", "messageType": "template",
            "content": {"templateId": "tmpl_xyz789", "templateVariables": {"1": "John"}}});
        assert!(send_message(&ok, UnknownKeys::Reject).is_ok());
    }
}
