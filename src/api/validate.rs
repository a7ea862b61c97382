//! The contract's rules for request bodies, applied to raw JSON so that every problem is
//! reported at once, each with the path of the field it concerns.
//!
//! The sandbox answers 400 with these errors in `details.errors`; scripts and campaigns run
//! the same checks before a request leaves, so a bad row never costs a round trip. Unknown
//! keys are a choice of the caller: the server ignores them (as real APIs do), scripts
//! reject them (a misspelt key is a bug the user wants to hear about).

use super::invitation::CreateInvitation;
use super::message::{CHANNELS, MESSAGE_TYPES, SendMessage};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One problem with one field: `{"path": ["expiresInDays"], "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub path: Vec<Value>,
    pub message: String,
}

impl FieldError {
    pub fn new(path: &[&str], message: impl Into<String>) -> Self {
        FieldError {
            path: path
                .iter()
                .map(|p| Value::String((*p).to_string()))
                .collect(),
            message: message.into(),
        }
    }

    /// The path as a script user would write it: `allowedPhoneCountries[1]`.
    pub fn field(&self) -> String {
        let mut out = String::new();
        for p in &self.path {
            match p {
                Value::Number(n) => out.push_str(&format!("[{n}]")),
                Value::String(s) if out.is_empty() => out.push_str(s),
                Value::String(s) => {
                    out.push('.');
                    out.push_str(s);
                }
                other => out.push_str(&other.to_string()),
            }
        }
        if out.is_empty() { "(body)".into() } else { out }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field(), self.message)
    }
}

/// Joins errors into one line for a message: `clientEmail: not an email address; ...`.
pub fn summarize(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What to do with keys the contract does not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownKeys {
    Ignore,
    Reject,
}

pub const CREATE_INVITATION_KEYS: &[&str] = &[
    "clientName",
    "clientEmail",
    "clientPhone",
    "expiresInDays",
    "allowedPhoneCountries",
    "phoneNumberId",
    "connectionType",
];

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

pub const CONNECTION_TYPES: &[&str] = &["whatsapp_waba", "messenger"];
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
pub const EXPIRES_IN_DAYS: std::ops::RangeInclusive<i64> = 1..=30;
pub const DEFAULT_EXPIRES_IN_DAYS: i64 = 7;
pub const LIST_LIMIT: std::ops::RangeInclusive<i64> = 1..=100;
pub const DEFAULT_LIST_LIMIT: i64 = 50;

/// E.164: a plus, a non-zero digit, at most 15 digits in all.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A pragmatic email check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Deliverability is the server's business; this catches typos and swapped columns.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
}

/// An ISO 3166-1 alpha-2 shape: exactly two ASCII letters.
pub fn is_country_code(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Normalised key for matching a client across runs: the email lower-cased, or the phone
/// with only its plus and digits.
pub fn normalize_email(s: &str) -> String {
    s.trim().to_lowercase()
}

pub fn normalize_phone(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collects errors while reading fields out of one JSON object.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Value> {
        // An explicit null is the same as leaving the field out.
        self.obj.get(key).filter(|v| !v.is_null())
    }

    fn fail(&mut self, path: &[&str], message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.fail(
                    &[key],
                    format!("expected a string, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn integer(&mut self, key: &str) -> Option<i64> {
        let v = self.get(key)?;
        if let Some(i) = v.as_i64() {
            return Some(i);
        }
        if let Some(f) = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15) {
            return Some(f as i64);
        }
        self.fail(&[key], format!("expected an integer, got {}", type_name(v)));
        None
    }

    fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.fail(
                    &[key],
                    format!("expected a boolean, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m),
            other => {
                self.fail(
                    &[key],
                    format!("expected an object, got {}", type_name(other)),
                );
                None
            }
        }
    }

    fn unknown_keys(&mut self, known: &[&str], policy: UnknownKeys) {
        if policy == UnknownKeys::Ignore {
            return;
        }
        for key in self.obj.keys() {
            if !known.contains(&key.as_str()) {
                let hint = suggest(key, known)
                    .map(|s| format!(" — did you mean `{s}`?"))
                    .unwrap_or_default();
                self.errors.push(FieldError::new(
                    &[key],
                    format!("unknown key{hint} (valid keys: {})", known.join(", ")),
                ));
            }
        }
    }
}

/// The closest known name to a misspelt one, if any is close enough to be a typo.
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let lower = word.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn as_object(body: &Value) -> Result<&Map<String, Value>, Vec<FieldError>> {
    match body {
        Value::Object(m) => Ok(m),
        other => Err(vec![FieldError {
            path: vec![],
            message: format!("expected a JSON object, got {}", type_name(other)),
        }]),
    }
}

/// Checks a `POST /v1/invitations` body against the contract.
pub fn create_invitation(
    body: &Value,
    unknown: UnknownKeys,
) -> Result<CreateInvitation, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(CREATE_INVITATION_KEYS, unknown);
    let client_name = f.string("clientName");
    if let Some(n) = &client_name {
        let len = n.chars().count();
        if len > MAX_CLIENT_NAME_CHARS {
            f.fail(
                &["clientName"],
                format!("must be at most {MAX_CLIENT_NAME_CHARS} characters (got {len})"),
            );
        }
    }
    let client_email = f.string("clientEmail");
    if let Some(e) = &client_email
        && !is_email(e)
    {
        f.fail(&["clientEmail"], format!("{e:?} is not an email address"));
    }
    let client_phone = f.string("clientPhone");
    if let Some(p) = &client_phone
        && !is_e164(p)
    {
        f.fail(
            &["clientPhone"],
            format!("{p:?} is not an E.164 phone number (like +14155551234)"),
        );
    }
    let expires_in_days = f.integer("expiresInDays");
    if let Some(d) = expires_in_days
        && !EXPIRES_IN_DAYS.contains(&d)
    {
        f.fail(
            &["expiresInDays"],
            format!("must be between 1 and 30 (got {d})"),
        );
    }
    let allowed_phone_countries = match f.get("allowedPhoneCountries") {
        None => None,
        Some(Value::Array(items)) => {
            let mut codes = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if is_country_code(s) => codes.push(s.to_ascii_uppercase()),
                    Value::String(s) => f.errors.push(FieldError {
                        path: vec!["allowedPhoneCountries".into(), i.into()],
                        message: format!(
                            "{s:?} is not a 2-letter ISO 3166-1 country code (like \"US\")"
                        ),
                    }),
                    other => f.errors.push(FieldError {
                        path: vec!["allowedPhoneCountries".into(), i.into()],
                        message: format!("expected a string, got {}", type_name(other)),
                    }),
                }
            }
            Some(codes)
        }
        Some(other) => {
            let msg = format!("expected an array of strings, got {}", type_name(other));
            f.fail(&["allowedPhoneCountries"], msg);
            None
        }
    };
    let phone_number_id = f.string("phoneNumberId");
    let connection_type = f.string("connectionType");
    if let Some(c) = &connection_type {
        if !CONNECTION_TYPES.contains(&c.as_str()) {
            f.fail(
                &["connectionType"],
                format!("must be one of {} (got {c:?})", CONNECTION_TYPES.join(", ")),
            );
        } else if c == "messenger" {
            if phone_number_id.is_some() {
                f.fail(
                    &["phoneNumberId"],
                    "not allowed with connectionType messenger",
                );
            }
            if allowed_phone_countries.is_some() {
                f.fail(
                    &["allowedPhoneCountries"],
                    "not allowed with connectionType messenger",
                );
            }
        }
    }
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    Ok(CreateInvitation {
        client_name,
        client_email,
        client_phone,
        expires_in_days,
        allowed_phone_countries,
        phone_number_id,
        connection_type,
    })
}

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
    if let Some(vars) = content.and_then(|c| c.get("templateVariables")) {
        match vars {
            Value::Object(m) => {
                for (k, v) in m {
                    if !v.is_string() {
                        f.errors.push(FieldError::new(
                            &["content", "templateVariables", k],
                            format!("expected a string, got {}", type_name(v)),
                        ));
                    }
                }
                let positional = m.keys().filter(|k| k.bytes().all(|b| b.is_ascii_digit()));
                let n_positional = positional.count();
                if n_positional > 0 && n_positional < m.len() {
                    f.fail(
                        &["content", "templateVariables"],
                        "use positional keys (\"1\", \"2\") or named keys, not both",
                    );
                }
            }
            other => f.fail(
                &["content", "templateVariables"],
                format!("expected an object, got {}", type_name(other)),
            ),
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

/// Checks a list call's `limit`.
pub fn list_limit(limit: Option<i64>) -> Result<i64, FieldError> {
    match limit {
        None => Ok(DEFAULT_LIST_LIMIT),
        Some(l) if LIST_LIMIT.contains(&l) => Ok(l),
        Some(l) => Err(FieldError::new(
            &["limit"],
            format!("must be between 1 and 100 (got {l})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_docs_example() {
        let body = json!({"clientName": "Acme Corp", "clientEmail": "contact@acme.com",
            "expiresInDays": 7, "allowedPhoneCountries": ["US", "MX"]});
        let c = create_invitation(&body, UnknownKeys::Reject).unwrap();
        assert_eq!(c.expires_in_days, Some(7));
        assert_eq!(c.allowed_phone_countries.unwrap(), vec!["US", "MX"]);
    }

    #[test]
    fn reports_every_bad_field_with_its_path() {
        let body = json!({"clientName": 5, "clientEmail": "nope", "clientPhone": "555",
            "expiresInDays": 31, "allowedPhoneCountries": ["USA", 1], "clientEmial": "x"});
        let errs = create_invitation(&body, UnknownKeys::Reject).unwrap_err();
        let fields: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(
            fields,
            [
                "clientEmial",
                "clientName",
                "clientEmail",
                "clientPhone",
                "expiresInDays",
                "allowedPhoneCountries[0]",
                "allowedPhoneCountries[1]"
            ]
        );
        assert!(errs[0].message.contains("did you mean `clientEmail`"));
        assert!(
            create_invitation(&body, UnknownKeys::Ignore)
                .unwrap_err()
                .len()
                == 6
        );
    }

    #[test]
    fn name_limit_counts_characters_not_bytes() {
        let ok = json!({"clientName": "é".repeat(100)});
        assert!(create_invitation(&ok, UnknownKeys::Reject).is_ok());
        let long = json!({"clientName": "é".repeat(101)});
        assert!(create_invitation(&long, UnknownKeys::Reject).is_err());
    }

    #[test]
    fn messenger_excludes_phone_fields() {
        let body = json!({"connectionType": "messenger", "phoneNumberId": "pn_abc123"});
        let errs = create_invitation(&body, UnknownKeys::Reject).unwrap_err();
        assert_eq!(errs[0].field(), "phoneNumberId");
    }

    #[test]
    fn phone_and_email_shapes() {
        assert!(is_e164("+14155551234"));
        assert!(!is_e164("14155551234"));
        assert!(!is_e164("+04155551234"));
        assert!(!is_e164("+1415555123456789"));
        assert!(is_email("contact@acme.com"));
        assert!(!is_email("contact@acme"));
        assert!(!is_email("a b@acme.com"));
        assert!(!is_email("@acme.com"));
    }

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
