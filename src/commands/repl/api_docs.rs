//! The `zavu` API's methods as the REPL documents them: each method's parameters with
//! its rule in words, and an example. The method forms come from `zavu::RESOURCES`; tests
//! check that every method there is documented here and that every documented key is one
//! the engine accepts. Data only: `help` renders it, completion reads its keys.
//!
//! This file holds the invitation and message methods and the lookups;
//! [`super::api_docs_after`] the calls a partner makes after onboarding, and
//! [`super::api_docs_webhook`] the project webhook's.

use super::api_docs_after::AFTER_ONBOARDING;
use super::api_docs_webhook::WEBHOOK;
pub use super::api_rules::MethodDoc;
use super::api_rules::{Rule, p};
use crate::api::validate::MAX_CLIENT_NAME_CHARS;
use crate::engine::modules::zavu::RESOURCES;

/// The invitation and message methods; the rest are in [`super::api_docs_after`].
const INVITATIONS_AND_MESSAGES: &[MethodDoc] = &[
    MethodDoc {
        resource: "invitations",
        method: "create",
        summary: "Creates a partner invitation: a link the client opens to connect their WhatsApp Business account. Every parameter is optional.",
        http: "POST /v1/invitations",
        params: &[
            p(
                "clientName",
                "string",
                Rule::MaxChars(MAX_CLIENT_NAME_CHARS),
            ),
            p("clientEmail", "string", Rule::Email),
            p("clientPhone", "string", Rule::E164),
            p("expiresInDays", "integer", Rule::Days),
            p("allowedPhoneCountries", "array", Rule::CountryCodes),
            p(
                "phoneNumberId",
                "string",
                Rule::Text("a Zavu phone number to pre-assign, like pn_abc123"),
            ),
            p("connectionType", "string", Rule::ConnectionType),
        ],
        example: r#"let inv = zavu.invitations.create(#{ clientName: "Acme Corp", clientEmail: "contact@acme.com", expiresInDays: 14 });
print(inv.url);"#,
    },
    MethodDoc {
        resource: "invitations",
        method: "get",
        summary: "Fetches one invitation; an unknown id is a 404.",
        http: "GET /v1/invitations/{invitationId}",
        params: &[p("invitationId", "string", Rule::Id("invitation"))],
        example: r#"zavu.invitations.get(inv.id).invitation.status"#,
    },
    MethodDoc {
        resource: "invitations",
        method: "list",
        summary: "One page of invitations, newest first.",
        http: "GET /v1/invitations",
        params: &[
            p("status", "string", Rule::InvitationStatus),
            p("limit", "integer", Rule::Limit),
            p("cursor", "string", Rule::Cursor),
        ],
        example: r#"let page = zavu.invitations.list(#{ status: "pending", limit: 20 });
let next = zavu.invitations.list(#{ status: "pending", cursor: page.nextCursor });"#,
    },
    MethodDoc {
        resource: "invitations",
        method: "cancel",
        summary: "Cancels an invitation: its link stops working. A completed or cancelled (or expired) invitation cannot be cancelled (HTTP 400).",
        http: "POST /v1/invitations/{invitationId}/cancel",
        params: &[p("invitationId", "string", Rule::Id("invitation"))],
        example: r#"for inv in zavu.invitations.all(#{ status: "pending" }) { zavu.invitations.cancel(inv.id); }"#,
    },
    MethodDoc {
        resource: "invitations",
        method: "all",
        summary: "Every invitation, fetched page by page as a `for` loop reaches them.",
        http: "GET /v1/invitations (repeated with nextCursor)",
        params: &[
            p("status", "string", Rule::InvitationStatus),
            p(
                "limit",
                "integer",
                Rule::Text("page size for each request, 1 to 100, default 50"),
            ),
        ],
        example: r#"let n = 0; for inv in zavu.invitations.all(#{ status: "expired" }) { n += 1; } n"#,
    },
    MethodDoc {
        resource: "messages",
        method: "send",
        summary: "Sends a message. First contact on WhatsApp must be an approved template.",
        http: "POST /v1/messages",
        params: &[
            p(
                "to",
                "string",
                Rule::Text("required: an E.164 phone number, an email address or a chat id"),
            ),
            p("channel", "string", Rule::Channel { with_auto: true }),
            p("messageType", "string", Rule::MessageType),
            p(
                "text",
                "string",
                Rule::Text("the text; required for a text message"),
            ),
            p(
                "content",
                "map",
                Rule::Text(
                    "for templates: #{ templateId, templateVariables: #{ \"1\": \"John\" }, templateHeaderVariables, templateButtonVariables: #{ \"0\": … } } — exactly the variables the template's body declares (checked before sending)",
                ),
            ),
            p(
                "idempotencyKey",
                "string",
                Rule::Text("1 to 255 characters; the same key again is not sent twice (HTTP 409)"),
            ),
            p(
                "metadata",
                "map",
                Rule::Text("string keys to string values, kept with the message"),
            ),
            p(
                "fallbackEnabled",
                "bool",
                Rule::Text("fall back to another channel on failure"),
            ),
            p(
                "subject",
                "string",
                Rule::Text("email: required for an email message"),
            ),
            p("htmlBody", "string", Rule::Text("email: the HTML body")),
            p(
                "replyTo",
                "string",
                Rule::Text("email: the Reply-To address"),
            ),
            p(
                "voiceLanguage",
                "string",
                Rule::Text("voice: the language to speak"),
            ),
            p("attachments", "array", Rule::Text("email: attachments")),
            p(
                "Zavu-Sender",
                "string",
                Rule::Text(
                    "the sender to send from (sent as the Zavu-Sender header, not in the body); default: the project's default sender",
                ),
            ),
        ],
        example: r#"zavu.messages.send(#{ to: "+14155551234", messageType: "template", content: #{ templateId: "tmpl_xyz789", templateVariables: #{ "1": "John" } }, "Zavu-Sender": inv.senderId })"#,
    },
    MethodDoc {
        resource: "messages",
        method: "get",
        summary: "Fetches one message with its delivery status.",
        http: "GET /v1/messages/{messageId}",
        params: &[p("messageId", "string", Rule::Id("message"))],
        example: r#"zavu.messages.get(sent.message.id).message.status"#,
    },
    MethodDoc {
        resource: "messages",
        method: "list",
        summary: "One page of messages, newest first.",
        http: "GET /v1/messages",
        params: &[
            p("status", "string", Rule::MessageStatus),
            p(
                "to",
                "string",
                Rule::Text("only messages to this recipient"),
            ),
            p("channel", "string", Rule::Channel { with_auto: false }),
            p("limit", "integer", Rule::Limit),
            p("cursor", "string", Rule::Cursor),
        ],
        example: r#"zavu.messages.list(#{ channel: "whatsapp", limit: 10 })"#,
    },
];

pub fn is_resource(name: &str) -> bool {
    RESOURCES.iter().any(|r| r.name == name)
}

/// Whether a method is also called as `method(id, #{ … })`.
pub fn takes_id_then_map(resource: &str, method: &str) -> bool {
    RESOURCES
        .iter()
        .filter(|r| r.name == resource)
        .flat_map(|r| r.methods)
        .any(|(m, form)| *m == method && form.contains("(id, #{"))
}

/// Every documented method, in `zavu::RESOURCES` order.
pub fn methods() -> impl Iterator<Item = &'static MethodDoc> {
    INVITATIONS_AND_MESSAGES
        .iter()
        .chain(AFTER_ONBOARDING)
        .chain(WEBHOOK)
}

pub fn method(resource: &str, method: &str) -> Option<&'static MethodDoc> {
    methods().find(|m| m.resource == resource && m.method == method)
}

/// The keys of a method's parameter map, in the order the contract lists them.
pub fn param_keys(resource: &str, name: &str) -> Vec<&'static str> {
    method(resource, name)
        .map(|m| m.params.iter().map(|p| p.key).collect())
        .unwrap_or_default()
}

/// The values a parameter may take, when the contract lists them (statuses, channels,
/// message types…), for completion inside its string.
pub fn param_values(resource: &str, name: &str, key: &str) -> Vec<&'static str> {
    method(resource, name)
        .and_then(|m| m.params.iter().find(|p| p.key == key))
        .map(|p| p.rule.values())
        .unwrap_or_default()
}

/// The keys of a map a parameter takes (`content` of a send), for completion inside it.
pub fn nested_keys(resource: &str, name: &str, key: &str) -> Vec<&'static str> {
    match (resource, name, key) {
        ("messages", "send", "content") => crate::api::message::CONTENT_KEYS.to_vec(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::bridge::Bridge;
    use crate::engine::{self, HostOptions, StdSink};
    use crate::stop::Stop;
    use std::sync::Arc;

    #[test]
    fn every_method_in_resources_has_docs_and_no_more() {
        let mut listed = 0;
        for spec in RESOURCES {
            for (m, _) in spec.methods {
                assert!(
                    method(spec.name, m).is_some(),
                    "no docs for zavu.{}.{m}",
                    spec.name
                );
                listed += 1;
            }
        }
        assert_eq!(listed, methods().count());
    }

    #[test]
    fn create_and_send_keys_are_the_validators() {
        use crate::api::validate::{CREATE_INVITATION_KEYS, SEND_MESSAGE_KEYS};
        assert_eq!(param_keys("invitations", "create"), CREATE_INVITATION_KEYS);
        let mut send = SEND_MESSAGE_KEYS.to_vec();
        send.push("Zavu-Sender");
        assert_eq!(param_keys("messages", "send"), send);
    }

    /// Each method refuses an unknown key before anything is sent, naming the keys it
    /// accepts: those must be exactly the keys documented here.
    #[test]
    fn documented_keys_are_what_the_engine_accepts() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let bridge = Arc::new(Bridge::new(rt.handle().clone(), Arc::new(Stop::default())));
        let engine = engine::build(HostOptions {
            limits: Default::default(),
            state_dir: None,
            shared_state: None,
            campaign: Default::default(),
            sink: Arc::new(StdSink),
            // Never contacted: every call below fails its parameter check first.
            api: Some(crate::client::ClientOptions::new(
                "http://127.0.0.1:9",
                crate::client::ApiKey::new("zv_test_docs"),
            )),
            bridge,
            memory: None,
        });
        for m in methods() {
            let err = engine
                .eval::<rhai::Dynamic>(&format!(
                    "zavu.{}.{}(#{{ zz_not_a_key: 1 }})",
                    m.resource, m.method
                ))
                .expect_err("an unknown key is refused");
            let text = crate::engine::diagnostics::message(&err);
            let keys = param_keys(m.resource, m.method).join(", ");
            assert!(
                text.contains(&format!("(valid keys: {keys})")),
                "zavu.{}.{}: {text}",
                m.resource,
                m.method
            );
        }
    }
}
