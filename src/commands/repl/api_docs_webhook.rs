//! The project webhook's calls as the REPL documents them — configure, get, update,
//! delete, and `verify` for a delivery a script got itself. Data only, in the shapes of
//! [`super::api_rules`]; [`super::api_docs`] serves it with the rest.

use super::api_rules::{MethodDoc, Rule, p};
use crate::api::webhook::PROJECT_EVENTS;

pub const WEBHOOK: &[MethodDoc] = &[
    MethodDoc {
        resource: "webhook",
        method: "configure",
        summary: "Points the project webhook at a URL: every invitation status change is posted there, signed with the webhook's secret (X-Zavu-Signature). Creates the webhook, or replaces its URL and events and keeps its secret; it is active afterwards. `zavu-script listen` receives it.",
        http: "POST /v1/invitations/webhook",
        params: &[
            p(
                "url",
                "string",
                Rule::Text(
                    "required: an HTTPS URL, or http:// to this machine (localhost, 127.0.0.1) for a local receiver",
                ),
            ),
            p(
                "events",
                "array",
                Rule::OneOf(
                    "events to deliver (default: every status change)",
                    PROJECT_EVENTS,
                ),
            ),
        ],
        example: r#"let hook = zavu.webhook.configure(#{ url: "https://acme.example/zavu/webhook" }).webhook;
print(hook.secret);"#,
    },
    MethodDoc {
        resource: "webhook",
        method: "get",
        summary: "The project webhook: URL, events, secret, whether it is active. An ApiError with status 404 when none is configured.",
        http: "GET /v1/invitations/webhook",
        params: &[],
        example: r#"zavu.webhook.get().webhook.url"#,
    },
    MethodDoc {
        resource: "webhook",
        method: "update",
        summary: "Changes the project webhook's URL, events or whether it is active; what is left out stays.",
        http: "PATCH /v1/invitations/webhook",
        params: &[
            p(
                "url",
                "string",
                Rule::Text("an HTTPS URL, or http:// to this machine"),
            ),
            p(
                "events",
                "array",
                Rule::OneOf("events to deliver", PROJECT_EVENTS),
            ),
            p(
                "active",
                "bool",
                Rule::Text("false pauses deliveries; changes in the meantime are not sent"),
            ),
        ],
        example: r#"zavu.webhook.update(#{ active: false })"#,
    },
    MethodDoc {
        resource: "webhook",
        method: "delete",
        summary: "Removes the project webhook; nothing more is delivered.",
        http: "DELETE /v1/invitations/webhook",
        params: &[],
        example: r#"zavu.webhook.delete()"#,
    },
    MethodDoc {
        resource: "webhook",
        method: "verify",
        summary: "Checks a delivery against the secret, with no API call: the X-Zavu-Signature header's v2 (bound to its time) when present, else v1, and the time within the tolerance. Gives #{ ok, scheme, code, reason, event }: code is missing, malformed, stale or mismatch when not ok; event is the parsed body when ok.",
        http: "(no request)",
        params: &[
            p(
                "header",
                "string",
                Rule::Text("the X-Zavu-Signature header as it arrived, or () when there was none"),
            ),
            p(
                "body",
                "string",
                Rule::Text(
                    "required: the raw body as it arrived (a string or a blob), not a map parsed from it",
                ),
            ),
            p(
                "secret",
                "string",
                Rule::Text("required: the webhook's secret (whsec_…)"),
            ),
            p(
                "toleranceSeconds",
                "integer",
                Rule::Text("how far the signature's time may be from now, default 300"),
            ),
        ],
        example: r#"let v = zavu.webhook.verify(signature, raw_body, env("ZAVU_WEBHOOK_SECRET"));
if !v.ok { throw `refused: ${v.reason}`; }"#,
    },
];
