//! From a source row to a planned create: light coercion of CSV text into the API's types
//! (`US|MX` → `["US","MX"]`, `"14"` → `14`), the contract's validation with unknown keys
//! refused, and the row key that identifies the client across runs (by default the
//! normalised email, else the phone). A row that cannot be planned becomes a problem with
//! its line, field and reason; the rest of the campaign goes on.

use crate::api::validate::{
    self, CREATE_INVITATION_KEYS, UnknownKeys, normalize_email, normalize_phone,
};
use crate::api::{CreateInvitation, FieldError};
use serde_json::{Map, Value};

/// A row ready to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub line: u64,
    pub key: String,
    pub params: CreateInvitation,
    /// Normalised, for reconciliation.
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A row that will not be sent, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub line: u64,
    pub key: Option<String>,
    /// The client's name, when the row gave one (for reports).
    pub name: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

/// One row of the campaign's source, planned or not.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceRow {
    Ready(Planned),
    Invalid(Problem),
}

/// A row key, hashed: how a run remembers which clients it has already seen without
/// keeping every key twice.
pub fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// CSV cells are text; the API wants arrays and integers. `allowedPhoneCountries` given as
/// text is split on `|` (or `,`/`;`); a numeric `expiresInDays` text becomes an integer.
/// Anything else is left for validation to judge.
pub fn coerce(params: &mut Map<String, Value>) {
    if let Some(Value::String(s)) = params.get("allowedPhoneCountries") {
        let codes: Vec<Value> = s
            .split(['|', ',', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| Value::String(c.to_ascii_uppercase()))
            .collect();
        params.insert("allowedPhoneCountries".into(), Value::Array(codes));
    }
    if let Some(Value::String(s)) = params.get("expiresInDays")
        && let Ok(n) = s.trim().parse::<i64>()
    {
        params.insert("expiresInDays".into(), Value::from(n));
    }
}

/// With no params function, the CSV columns must be invitation fields: an unknown column
/// would otherwise be silently ignored, or refuse every row.
pub fn check_columns(headers: &[String]) -> Result<(), String> {
    for h in headers {
        if !CREATE_INVITATION_KEYS.contains(&h.as_str()) {
            let hint = validate::suggest(h, CREATE_INVITATION_KEYS)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "column `{h}` is not an invitation field{hint}; name the columns like the API ({}) or map rows yourself with `params: |row| #{{ … }}`",
                CREATE_INVITATION_KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

/// The default row key: the normalised email, else the normalised phone.
pub fn default_key(params: &CreateInvitation) -> Option<String> {
    params
        .client_email
        .as_deref()
        .map(normalize_email)
        .filter(|e| !e.is_empty())
        .or_else(|| {
            params
                .client_phone
                .as_deref()
                .map(normalize_phone)
                .filter(|p| !p.is_empty())
        })
}

fn problem(line: u64, key: Option<String>, name: Option<String>, errors: &[FieldError]) -> Problem {
    Problem {
        line,
        key,
        name,
        field: errors.first().map(FieldError::field),
        message: validate::summarize(errors),
    }
}

/// Validates a row's parameters and picks its key. `key` is the caller's own key for the
/// row, if it gave one.
pub fn plan(line: u64, mut params: Map<String, Value>, key: Option<String>) -> SourceRow {
    coerce(&mut params);
    // For the report: who the refused row was about, when that much is readable.
    let raw_key = || {
        let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
        text("clientEmail")
            .map(|e| normalize_email(&e))
            .or_else(|| text("clientPhone").map(|p| normalize_phone(&p)))
            .filter(|k| !k.is_empty())
    };
    let known_key = key.clone().or_else(raw_key);
    let name = params
        .get("clientName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let checked = validate::create_invitation(&Value::Object(params.clone()), UnknownKeys::Reject);
    let params = match checked {
        Ok(p) => p,
        Err(errors) => {
            return SourceRow::Invalid(problem(line, known_key, name, &errors));
        }
    };
    let key = match key.or_else(|| default_key(&params)) {
        Some(k) if !k.trim().is_empty() => k,
        _ => {
            return SourceRow::Invalid(Problem {
                line,
                key: None,
                name,
                field: Some("clientEmail".into()),
                message: "no clientEmail or clientPhone to tell this client apart from others; add one, or give the campaign a `key` function".into(),
            });
        }
    };
    SourceRow::Ready(Planned {
        line,
        email: params.client_email.as_deref().map(normalize_email),
        phone: params.client_phone.as_deref().map(normalize_phone),
        key,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn csv_text_becomes_api_types() {
        let row = plan(
            2,
            obj(
                json!({"clientEmail": "Contact@Acme.com", "allowedPhoneCountries": "us| MX", "expiresInDays": "14"}),
            ),
            None,
        );
        let SourceRow::Ready(p) = row else {
            panic!("{row:?}")
        };
        assert_eq!(p.key, "contact@acme.com");
        assert_eq!(p.params.allowed_phone_countries.unwrap(), ["US", "MX"]);
        assert_eq!(p.params.expires_in_days, Some(14));
    }

    #[test]
    fn a_bad_row_names_line_field_and_reason() {
        let row = plan(
            7,
            obj(json!({"clientEmail": "nope", "expiresInDays": "soon"})),
            None,
        );
        let SourceRow::Invalid(p) = row else { panic!() };
        assert_eq!(p.line, 7);
        assert_eq!(p.field.as_deref(), Some("clientEmail"));
        assert!(
            p.message.contains("expiresInDays: expected an integer"),
            "{}",
            p.message
        );
    }

    #[test]
    fn a_row_needs_something_to_key_on() {
        let SourceRow::Invalid(p) = plan(3, obj(json!({"clientName": "Acme"})), None) else {
            panic!()
        };
        assert!(p.message.contains("key"));
        let SourceRow::Ready(p) =
            plan(3, obj(json!({"clientName": "Acme"})), Some("acme-1".into()))
        else {
            panic!()
        };
        assert_eq!(p.key, "acme-1");
        let SourceRow::Ready(p) = plan(4, obj(json!({"clientPhone": "+1 (415) 555-1234"})), None)
        else {
            // E.164 is required; a formatted phone is refused by validation.
            return;
        };
        panic!("{p:?}");
    }

    #[test]
    fn unknown_columns_are_refused_up_front() {
        assert!(check_columns(&["clientEmail".into(), "clientName".into()]).is_ok());
        let e = check_columns(&["clientEmial".into()]).unwrap_err();
        assert!(e.contains("did you mean `clientEmail`"), "{e}");
    }
}
