//! A template send held against the template it names, as the API holds it: the channel
//! must have a body; `templateVariables` must give exactly the variables that body
//! declares; on WhatsApp, header and URL-button values must fit the template's header and
//! buttons. The sandbox answers 400 with these errors; the client refuses the send before
//! it leaves; `check` finds them in a script's source.

use super::rules::suggest;
use crate::api::error::FieldError;
use crate::api::template::{TEMPLATE_CHANNELS, Template, is_positional, placeholders};
use serde_json::{Map, Value};

/// Keys of a `{string: string}` map in a send's `content`, with a problem for each value
/// that is not a non-empty string.
fn string_map<'a>(
    content: &'a Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<&'a str> {
    match content.get(key) {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if v.as_str().is_some_and(|s| s.trim().is_empty()) {
                    errors.push(FieldError::new(&["content", key, k], "must not be empty"));
                }
            }
            m.keys().map(String::as_str).collect()
        }
        // The shape of the map itself is `send_message`'s concern.
        Some(_) => vec![],
    }
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return "no variables".into();
    }
    names
        .iter()
        .map(|n| format!("{{{{{n}}}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks a template send against the template it names: the channel must have a body,
/// `templateVariables` must give exactly the variables that body declares (no missing, no
/// unknown, positional and named never mixed), and on WhatsApp `templateHeaderVariables`
/// only the text header's and `templateButtonVariables` a value for each dynamic URL
/// button, keyed by the button's index.
pub fn template_send(
    template: &Template,
    channel: &str,
    content: &Map<String, Value>,
) -> Result<(), Vec<FieldError>> {
    let mut errors = vec![];
    let Some(body) = template.body_for(channel) else {
        return Err(vec![FieldError::new(
            &["channel"],
            format!(
                "template {:?} has no body for channel {channel}: templates are sent on {}",
                template.id,
                TEMPLATE_CHANNELS.join(", ")
            ),
        )]);
    };
    let declared = placeholders(body);
    let given = string_map(content, "templateVariables", &mut errors);
    let positional_given = given.iter().filter(|k| is_positional(k)).count();
    if positional_given > 0 && positional_given < given.len() {
        errors.push(FieldError::new(
            &["content", "templateVariables"],
            "use positional keys (\"1\", \"2\") or named keys, not both",
        ));
    } else {
        let names: Vec<&str> = declared.iter().map(String::as_str).collect();
        for name in &declared {
            if !given.contains(&name.as_str()) {
                errors.push(FieldError::new(
                    &["content", "templateVariables", name],
                    format!(
                        "missing: template {:?} ({channel} body) uses {{{{{name}}}}}",
                        template.id
                    ),
                ));
            }
        }
        for key in &given {
            if !declared.iter().any(|d| d == key) {
                // "3" for "2" is no typo; a misspelt name is.
                let hint = (!is_positional(key))
                    .then(|| suggest(key, &names))
                    .flatten()
                    .map(|s| format!(" — did you mean \"{s}\"?"))
                    .unwrap_or_default();
                errors.push(FieldError::new(
                    &["content", "templateVariables", key],
                    format!(
                        "unknown variable: template {:?} ({channel} body) has {}{hint}",
                        template.id,
                        listed(&declared)
                    ),
                ));
            }
        }
    }
    // Headers and buttons are WhatsApp's; other channels send the body alone.
    if channel != "whatsapp" {
        return if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        };
    }
    let header = template.text_header().map(placeholders).unwrap_or_default();
    for key in string_map(content, "templateHeaderVariables", &mut errors) {
        if !header.iter().any(|h| h == key) {
            errors.push(FieldError::new(
                &["content", "templateHeaderVariables", key],
                format!(
                    "unknown header variable: template {:?} has {} in its header",
                    template.id,
                    listed(&header)
                ),
            ));
        }
    }
    let buttons = template.buttons.as_deref().unwrap_or_default();
    let dynamic: Vec<String> = buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_dynamic_url())
        .map(|(i, _)| i.to_string())
        .collect();
    let given_buttons = string_map(content, "templateButtonVariables", &mut errors);
    for key in &given_buttons {
        if !dynamic.iter().any(|d| d == key) {
            errors.push(FieldError::new(
                &["content", "templateButtonVariables", key],
                format!(
                    "no dynamic URL button at index {key}: template {:?} takes button values for {}",
                    template.id,
                    if dynamic.is_empty() {
                        "no button".to_string()
                    } else {
                        format!("index {}", dynamic.join(", "))
                    }
                ),
            ));
        }
    }
    for index in &dynamic {
        if !given_buttons.contains(&index.as_str()) {
            errors.push(FieldError::new(
                &["content", "templateButtonVariables", index],
                format!(
                    "missing: button {index} of template {:?} is a URL with {{{{1}}}}",
                    template.id
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::template::TemplateButton;
    use serde_json::json;

    fn template(body: &str) -> Template {
        Template {
            id: "tmpl_1".into(),
            body: body.into(),
            ..Default::default()
        }
    }

    fn fields(r: Result<(), Vec<FieldError>>) -> Vec<String> {
        r.err()
            .unwrap_or_default()
            .iter()
            .map(FieldError::field)
            .collect()
    }

    fn content(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn variables_must_match_the_body_exactly() {
        let t = template("Hi {{1}}, order {{2}}");
        let ok = content(json!({"templateVariables": {"1": "John", "2": "A-1"}}));
        assert!(template_send(&t, "whatsapp", &ok).is_ok());
        let missing = content(json!({"templateVariables": {"1": "John"}}));
        assert_eq!(
            fields(template_send(&t, "whatsapp", &missing)),
            ["content.templateVariables.2"]
        );
        let extra = content(json!({"templateVariables": {"1": "a", "2": "b", "3": "c"}}));
        assert_eq!(
            fields(template_send(&t, "whatsapp", &extra)),
            ["content.templateVariables.3"]
        );
        let mixed = content(json!({"templateVariables": {"1": "a", "name": "b"}}));
        assert_eq!(
            fields(template_send(&t, "whatsapp", &mixed)),
            ["content.templateVariables"]
        );
        let named = template("Hi {{customer_name}}");
        let typo = content(json!({"templateVariables": {"customer_nam": "x"}}));
        let errs = template_send(&named, "whatsapp", &typo).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert!(
            errs[1].message.contains("did you mean \"customer_name\""),
            "{errs:?}"
        );
    }

    #[test]
    fn a_channel_without_a_body_and_buttons_and_headers() {
        let mut t = template("Hi {{1}}");
        let c = content(json!({"templateVariables": {"1": "x"}}));
        assert_eq!(fields(template_send(&t, "email", &c)), ["channel"]);
        t.sms_body = Some("Hi".into());
        assert_eq!(
            fields(template_send(&t, "sms", &c)),
            ["content.templateVariables.1"]
        );
        t.buttons = Some(vec![
            TemplateButton {
                kind: Some("quick_reply".into()),
                ..Default::default()
            },
            TemplateButton {
                kind: Some("url".into()),
                url: Some("https://x.test/t/{{1}}".into()),
                ..Default::default()
            },
        ]);
        t.header_type = Some("text".into());
        t.header_content = Some("Order {{1}}".into());
        let c = content(json!({"templateVariables": {"1": "x"},
            "templateHeaderVariables": {"2": "y"}, "templateButtonVariables": {"0": "z"}}));
        assert_eq!(
            fields(template_send(&t, "whatsapp", &c)),
            [
                "content.templateHeaderVariables.2",
                "content.templateButtonVariables.0",
                "content.templateButtonVariables.1"
            ]
        );
    }
}
