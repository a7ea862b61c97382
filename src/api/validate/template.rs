//! The rules for templates: `POST /v1/templates` (create) and
//! `POST /v1/templates/{id}/submit`. A send checked against its template is in
//! `template_send`.

use super::fields::{Fields, UnknownKeys, as_object, type_name};
use super::rules::is_e164;
use crate::api::error::FieldError;
use crate::api::template::{
    BUTTON_TYPES, CATEGORIES, CreateTemplate, HEADER_TYPES, OTP_TYPES, SubmitTemplate,
    TemplateButton, is_positional, placeholders,
};
use serde_json::Value;

pub const CREATE_TEMPLATE_KEYS: &[&str] = &[
    "name",
    "language",
    "body",
    "whatsappCategory",
    "variables",
    "buttons",
    "headerType",
    "headerContent",
    "footer",
    "smsBody",
    "telegramBody",
    "instagramBody",
    "addSecurityRecommendation",
    "codeExpirationMinutes",
];

pub const SUBMIT_TEMPLATE_KEYS: &[&str] = &["senderId", "category"];

const BUTTON_KEYS: &[&str] = &[
    "type",
    "text",
    "url",
    "phoneNumber",
    "example",
    "otpType",
    "packageName",
    "signatureHash",
];

pub const MAX_TEMPLATE_NAME_CHARS: usize = 512;
pub const MAX_TEMPLATE_BODY_CHARS: usize = 1024;
pub const MAX_FOOTER_CHARS: usize = 60;
pub const MAX_BUTTONS: usize = 3;
pub const CODE_EXPIRATION_MINUTES: std::ops::RangeInclusive<i64> = 1..=90;

/// A WhatsApp template name: lower-case letters, digits and underscores.
pub fn is_template_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_TEMPLATE_NAME_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A language code: `en`, `pt_BR`, `es_MX`.
pub fn is_language(s: &str) -> bool {
    let (lang, region) = match s.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

/// A template text's variables must be all positional (`{{1}}`…`{{n}}`, numbered from 1
/// without gaps) or all named.
fn check_text_variables(f: &mut Fields, key: &str, text: &str) {
    let vars = placeholders(text);
    let positional: Vec<&String> = vars.iter().filter(|v| is_positional(v)).collect();
    if !positional.is_empty() && positional.len() < vars.len() {
        f.fail(
            &[key],
            "use positional variables ({{1}}, {{2}}) or named ones ({{customer_name}}), not both",
        );
        return;
    }
    let mut numbers: Vec<u64> = positional.iter().filter_map(|v| v.parse().ok()).collect();
    numbers.sort_unstable();
    if numbers.iter().enumerate().any(|(i, n)| *n != i as u64 + 1) {
        let listed: Vec<String> = numbers.iter().map(|n| format!("{{{{{n}}}}}")).collect();
        f.fail(
            &[key],
            format!(
                "positional variables must be numbered {{{{1}}}} to {{{{{}}}}} without gaps (found {})",
                numbers.len(),
                listed.join(", ")
            ),
        );
    }
}

fn bounded_text(f: &mut Fields, key: &str, max: usize, required: bool) -> Option<String> {
    let value = f.string(key);
    match &value {
        None if required && f.get(key).is_none() => f.fail(&[key], "required"),
        Some(v) if v.trim().is_empty() => f.fail(&[key], "must not be empty"),
        Some(v) if v.chars().count() > max => f.fail(
            &[key],
            format!(
                "must be at most {max} characters (got {})",
                v.chars().count()
            ),
        ),
        _ => {}
    }
    value
}

fn enum_value(f: &mut Fields, key: &str, allowed: &[&str]) -> Option<String> {
    let v = f.string(key)?;
    if allowed.contains(&v.as_str()) {
        Some(v)
    } else {
        f.fail(
            &[key],
            format!("must be one of {} (got {v:?})", allowed.join(", ")),
        );
        None
    }
}

fn button(
    i: usize,
    v: &Value,
    unknown: UnknownKeys,
    errors: &mut Vec<FieldError>,
) -> TemplateButton {
    let Value::Object(obj) = v else {
        errors.push(FieldError {
            path: vec!["buttons".into(), i.into()],
            message: format!("expected an object, got {}", type_name(v)),
        });
        return TemplateButton::default();
    };
    let mut f = Fields {
        obj,
        errors: vec![],
    };
    f.unknown_keys(BUTTON_KEYS, unknown);
    let kind = enum_value(&mut f, "type", BUTTON_TYPES);
    if f.get("type").is_none() {
        f.fail(&["type"], "required");
    }
    let b = TemplateButton {
        kind,
        text: f.string("text"),
        url: f.string("url"),
        phone_number: f.string("phoneNumber"),
        example: f.string("example"),
        otp_type: enum_value(&mut f, "otpType", OTP_TYPES),
        package_name: f.string("packageName"),
        signature_hash: f.string("signatureHash"),
    };
    match b.kind.as_deref() {
        Some("url") => match b.url.as_deref() {
            None => f.fail(&["url"], "required for a url button"),
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => {
                f.fail(&["url"], format!("{u:?} is not an http(s) URL"))
            }
            Some(u) => {
                let vars = placeholders(u);
                if vars.len() > 1 || vars.iter().any(|v| v != "1") || u.matches("{{").count() > 1 {
                    f.fail(&["url"], "a URL may hold one variable, written {{1}}");
                }
            }
        },
        Some("phone") => match b.phone_number.as_deref() {
            Some(p) if is_e164(p) => {}
            Some(p) => f.fail(
                &["phoneNumber"],
                format!("{p:?} is not an E.164 phone number (like +14155551234)"),
            ),
            None => f.fail(&["phoneNumber"], "required for a phone button"),
        },
        Some("otp") if b.otp_type.is_none() && f.get("otpType").is_none() => {
            f.fail(&["otpType"], "required for an otp button")
        }
        _ => {}
    }
    if matches!(b.kind.as_deref(), Some("quick_reply" | "url" | "phone"))
        && b.text.as_deref().is_none_or(|t| t.trim().is_empty())
    {
        f.fail(&["text"], "required: the button's label");
    }
    for e in f.errors {
        let mut path: Vec<Value> = vec!["buttons".into(), i.into()];
        path.extend(e.path);
        errors.push(FieldError {
            path,
            message: e.message,
        });
    }
    b
}

/// Checks a `POST /v1/templates` body against the contract.
pub fn create_template(
    body: &Value,
    unknown: UnknownKeys,
) -> Result<CreateTemplate, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(CREATE_TEMPLATE_KEYS, unknown);
    let name = f.string("name");
    match &name {
        None if f.get("name").is_none() => f.fail(&["name"], "required"),
        Some(n) if !is_template_name(n) => f.fail(
            &["name"],
            format!(
                "{n:?} is not a template name: lower-case letters, digits and underscores, at most {MAX_TEMPLATE_NAME_CHARS} characters (like \"order_confirmation\")"
            ),
        ),
        _ => {}
    }
    let language = f.string("language");
    match &language {
        None if f.get("language").is_none() => f.fail(&["language"], "required"),
        Some(l) if !is_language(l) => f.fail(
            &["language"],
            format!("{l:?} is not a language code (like \"en\" or \"pt_BR\")"),
        ),
        _ => {}
    }
    let body_text = bounded_text(&mut f, "body", MAX_TEMPLATE_BODY_CHARS, true);
    let mut texts = vec![];
    if let Some(b) = &body_text {
        texts.push(("body", b.clone()));
    }
    let mut channel_body = |f: &mut Fields, key: &'static str| {
        let v = bounded_text(f, key, MAX_TEMPLATE_BODY_CHARS, false);
        if let Some(t) = &v {
            texts.push((key, t.clone()));
        }
        v
    };
    let sms_body = channel_body(&mut f, "smsBody");
    let telegram_body = channel_body(&mut f, "telegramBody");
    let instagram_body = channel_body(&mut f, "instagramBody");
    let category = enum_value(&mut f, "whatsappCategory", CATEGORIES);
    let variables = match f.get("variables") {
        None => None,
        Some(Value::Array(items)) => {
            let mut out = vec![];
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.clone()),
                    other => f.errors.push(FieldError {
                        path: vec!["variables".into(), i.into()],
                        message: format!("expected a string, got {}", type_name(other)),
                    }),
                }
            }
            Some(out)
        }
        Some(other) => {
            let msg = format!("expected an array of strings, got {}", type_name(other));
            f.fail(&["variables"], msg);
            None
        }
    };
    let buttons = match f.get("buttons") {
        None => None,
        Some(Value::Array(items)) => {
            if items.len() > MAX_BUTTONS {
                f.fail(
                    &["buttons"],
                    format!("at most {MAX_BUTTONS} buttons (got {})", items.len()),
                );
            }
            let mut errors = vec![];
            let out: Vec<TemplateButton> = items
                .iter()
                .enumerate()
                .map(|(i, v)| button(i, v, unknown, &mut errors))
                .collect();
            f.errors.extend(errors);
            Some(out)
        }
        Some(other) => {
            let msg = format!("expected an array of buttons, got {}", type_name(other));
            f.fail(&["buttons"], msg);
            None
        }
    };
    let header_type = enum_value(&mut f, "headerType", HEADER_TYPES);
    let header_content = f.string("headerContent");
    if f.get("headerType").is_some() && header_content.is_none() && f.get("headerContent").is_none()
    {
        f.fail(&["headerContent"], "required with headerType");
    }
    if header_content.is_some() && f.get("headerType").is_none() {
        f.fail(&["headerType"], "required with headerContent");
    }
    if let (Some("text"), Some(h)) = (header_type.as_deref(), &header_content) {
        texts.push(("headerContent", h.clone()));
    }
    let footer = bounded_text(&mut f, "footer", MAX_FOOTER_CHARS, false);
    let add_security_recommendation = f.boolean("addSecurityRecommendation");
    let code_expiration_minutes = f.integer("codeExpirationMinutes");
    if let Some(m) = code_expiration_minutes
        && !CODE_EXPIRATION_MINUTES.contains(&m)
    {
        f.fail(
            &["codeExpirationMinutes"],
            format!("must be between 1 and 90 (got {m})"),
        );
    }
    if category.as_deref() != Some("AUTHENTICATION") {
        for key in ["addSecurityRecommendation", "codeExpirationMinutes"] {
            if f.get(key).is_some() {
                f.fail(
                    &[key],
                    "only for AUTHENTICATION templates (whatsappCategory)",
                );
            }
        }
    }
    for (key, text) in &texts {
        check_text_variables(&mut f, key, text);
    }
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    Ok(CreateTemplate {
        name: name.unwrap_or_default(),
        language: language.unwrap_or_default(),
        body: body_text.unwrap_or_default(),
        whatsapp_category: category,
        variables,
        buttons,
        header_type,
        header_content,
        footer,
        sms_body,
        telegram_body,
        instagram_body,
        add_security_recommendation,
        code_expiration_minutes,
    })
}

/// Checks a `POST /v1/templates/{id}/submit` body.
pub fn submit_template(
    body: &Value,
    unknown: UnknownKeys,
) -> Result<SubmitTemplate, Vec<FieldError>> {
    let mut f = Fields {
        obj: as_object(body)?,
        errors: vec![],
    };
    f.unknown_keys(SUBMIT_TEMPLATE_KEYS, unknown);
    let sender_id = f.string("senderId");
    match &sender_id {
        None if f.get("senderId").is_none() => f.fail(
            &["senderId"],
            "required: the sender whose WhatsApp Business Account reviews the template",
        ),
        Some(s) if s.is_empty() => f.fail(&["senderId"], "must not be empty"),
        _ => {}
    }
    let category = enum_value(&mut f, "category", CATEGORIES);
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    Ok(SubmitTemplate {
        sender_id: sender_id.unwrap_or_default(),
        category,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_checks_names_bodies_and_buttons() {
        let ok = json!({"name": "order_confirmation", "language": "en",
            "body": "Hi {{1}}, your order {{2}} has shipped", "whatsappCategory": "UTILITY",
            "buttons": [{"type": "url", "text": "Track", "url": "https://x.test/t/{{1}}"}]});
        let t = create_template(&ok, UnknownKeys::Reject).unwrap();
        assert_eq!(t.buttons.unwrap().len(), 1);
        let errs = create_template(&json!({}), UnknownKeys::Reject).unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(got, ["name", "language", "body"]);
        let bad = json!({"name": "Order Confirmation", "language": "english",
            "body": "Hi {{1}} and {{3}}", "smsBody": "{{1}} {{name}}",
            "buttons": [{"type": "url"}, {"type": "otp"}, {"type": "nope"}, {"type": "phone"}],
            "codeExpirationMinutes": 5});
        let errs = create_template(&bad, UnknownKeys::Reject).unwrap_err();
        let got: Vec<String> = errs.iter().map(FieldError::field).collect();
        assert_eq!(
            got,
            [
                "name",
                "language",
                "buttons",
                "buttons[0].url",
                "buttons[0].text",
                "buttons[1].otpType",
                "buttons[2].type",
                "buttons[3].phoneNumber",
                "buttons[3].text",
                "codeExpirationMinutes",
                "body",
                "smsBody"
            ]
        );
        assert!(submit_template(&json!({}), UnknownKeys::Reject).is_err());
    }
}
