//! The rules for `POST /v1/invitations`.

use super::fields::{Fields, UnknownKeys, as_object, type_name};
use super::rules::*;
use crate::api::error::FieldError;
use crate::api::invitation::CreateInvitation;
use serde_json::Value;

pub const CREATE_INVITATION_KEYS: &[&str] = &[
    "clientName",
    "clientEmail",
    "clientPhone",
    "expiresInDays",
    "allowedPhoneCountries",
    "phoneNumberId",
    "connectionType",
];

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
}
