//! The calls a partner makes right after onboarding, as the REPL documents them: senders
//! (name, default, webhook), templates (create, submit for review), phone numbers (to
//! pre-assign one), `me` and the balance. Data only, in the shapes of
//! [`super::api_rules`]; [`super::api_docs`] serves it with the rest.

use super::api_rules::{LIST_PAGE, MethodDoc, Rule, p};
use crate::api::phone_number::STATUSES as PHONE_STATUSES;
use crate::api::sender::{SIGNATURE_VERSIONS, WEBHOOK_EVENTS};
use crate::api::template::{CATEGORIES, HEADER_TYPES};

pub const AFTER_ONBOARDING: &[MethodDoc] = &[
    MethodDoc {
        resource: "senders",
        method: "get",
        summary: "Fetches one sender (the bare sender, not wrapped).",
        http: "GET /v1/senders/{senderId}",
        params: &[p("senderId", "string", Rule::Id("sender"))],
        example: r#"zavu.senders.get(inv.senderId).phoneNumber"#,
    },
    MethodDoc {
        resource: "senders",
        method: "list",
        summary: "One page of the project's senders.",
        http: "GET /v1/senders",
        params: LIST_PAGE,
        example: r#"zavu.senders.list()"#,
    },
    MethodDoc {
        resource: "senders",
        method: "update",
        summary: "Changes a sender: its name, whether it is the project's default, its webhook (URL, events, active, signature scheme), email and channel switches. Every parameter is optional; the answer is the sender, with the webhook's secret only when this call created the webhook.",
        http: "PATCH /v1/senders/{senderId}",
        params: &[
            p(
                "senderId",
                "string",
                Rule::Text("the sender's id (or pass it first: update(id, #{ … }))"),
            ),
            p(
                "name",
                "string",
                Rule::Text("a new name, at most 100 characters"),
            ),
            p(
                "setAsDefault",
                "bool",
                Rule::Text("true makes it the project's default sender"),
            ),
            p(
                "webhookUrl",
                "string",
                Rule::Text(
                    "an HTTPS URL that receives the sender's events; \"\" removes the webhook",
                ),
            ),
            p(
                "webhookEvents",
                "array",
                Rule::OneOf(
                    "events to receive (required when the webhook is first set up)",
                    WEBHOOK_EVENTS,
                ),
            ),
            p(
                "webhookActive",
                "bool",
                Rule::Text("false pauses deliveries"),
            ),
            p(
                "webhookSignatureVersion",
                "string",
                Rule::OneOf(
                    "the X-Zavu-Signature scheme (v1 to v2 goes through v1+v2)",
                    SIGNATURE_VERSIONS,
                ),
            ),
            p(
                "emailAddress",
                "string",
                Rule::Text("an email address to send from (adds the email channel)"),
            ),
            p(
                "emailCatchAllEnabled",
                "bool",
                Rule::Text("receive any address at the domain (needs emailReceivingEnabled)"),
            ),
            p(
                "emailDomainId",
                "string",
                Rule::Text("the verified email domain to use"),
            ),
            p(
                "emailFromName",
                "string",
                Rule::Text("the name recipients see"),
            ),
            p(
                "emailReceivingEnabled",
                "bool",
                Rule::Text("receive inbound email"),
            ),
            p(
                "enableSmsOneway",
                "bool",
                Rule::Text("turn the one-way SMS channel on or off"),
            ),
            p(
                "enableVoice",
                "bool",
                Rule::Text("turn the voice channel on or off (needs a phone number)"),
            ),
        ],
        example: r#"zavu.senders.update(inv.senderId, #{ name: "Acme Corp", webhookUrl: "https://acme.example/zavu", webhookEvents: ["message.inbound"] })"#,
    },
    MethodDoc {
        resource: "senders",
        method: "delete",
        summary: "Deletes a sender. The project's default sender cannot be deleted (HTTP 400): make another one the default first.",
        http: "DELETE /v1/senders/{senderId}",
        params: &[p("senderId", "string", Rule::Id("sender"))],
        example: r#"zavu.senders.delete(old.id)"#,
    },
    MethodDoc {
        resource: "templates",
        method: "get",
        summary: "Fetches one template (the bare template). Only approved templates can be sent.",
        http: "GET /v1/templates/{templateId}",
        params: &[p("templateId", "string", Rule::Id("template"))],
        example: r#"zavu.templates.get("tmpl_xyz789").status"#,
    },
    MethodDoc {
        resource: "templates",
        method: "list",
        summary: "One page of the project's message templates.",
        http: "GET /v1/templates",
        params: LIST_PAGE,
        example: r#"zavu.templates.list(#{ limit: 20 })"#,
    },
    MethodDoc {
        resource: "templates",
        method: "create",
        summary: "Creates a message template as a draft. Its body declares variables positionally ({{1}}, {{2}}, numbered without gaps) or by name ({{customer_name}}), never both; a send must then give exactly those. Submit it for review before sending.",
        http: "POST /v1/templates",
        params: &[
            p(
                "name",
                "string",
                Rule::Text("required: lower-case letters, digits and _, like order_confirmation"),
            ),
            p(
                "language",
                "string",
                Rule::Text("required: a language code, like en or pt_BR"),
            ),
            p(
                "body",
                "string",
                Rule::Text(
                    "required: the text, at most 1024 characters, with {{1}}… or {{name}} variables",
                ),
            ),
            p(
                "whatsappCategory",
                "string",
                Rule::OneOf("the category (default UTILITY)", CATEGORIES),
            ),
            p(
                "variables",
                "array",
                Rule::Text("names of the variables, for documentation"),
            ),
            p(
                "buttons",
                "array",
                Rule::Text(
                    "up to 3: #{ type: quick_reply | url | phone | otp | request_contact_info, text, url (one {{1}} at most), phoneNumber, otpType }",
                ),
            ),
            p(
                "headerType",
                "string",
                Rule::OneOf("a header", HEADER_TYPES),
            ),
            p(
                "headerContent",
                "string",
                Rule::Text("the header's text (may hold {{1}}) or media URL"),
            ),
            p(
                "footer",
                "string",
                Rule::Text("a footer, at most 60 characters"),
            ),
            p(
                "smsBody",
                "string",
                Rule::Text("the body on SMS (default: body)"),
            ),
            p(
                "telegramBody",
                "string",
                Rule::Text("the body on Telegram (default: body)"),
            ),
            p(
                "instagramBody",
                "string",
                Rule::Text("the body on Instagram (default: body)"),
            ),
            p(
                "addSecurityRecommendation",
                "bool",
                Rule::Text("AUTHENTICATION only: add \"do not share this code\""),
            ),
            p(
                "codeExpirationMinutes",
                "integer",
                Rule::Text("AUTHENTICATION only: 1 to 90"),
            ),
        ],
        example: r#"let t = zavu.templates.create(#{ name: "order_update", language: "en", body: "Hi {{1}}, order {{2}} shipped", whatsappCategory: "UTILITY" });"#,
    },
    MethodDoc {
        resource: "templates",
        method: "submit",
        summary: "Submits a draft template for WhatsApp's review through a sender with a WhatsApp Business Account: draft → pending; review then approves or rejects it (in the sandbox: sandbox::approve_template / sandbox::reject_template).",
        http: "POST /v1/templates/{templateId}/submit",
        params: &[
            p(
                "templateId",
                "string",
                Rule::Text("the template's id (or pass it first: submit(id, #{ … }))"),
            ),
            p(
                "senderId",
                "string",
                Rule::Text("required: a sender with a WhatsApp Business Account"),
            ),
            p(
                "category",
                "string",
                Rule::OneOf(
                    "the category to submit under (default: the template's)",
                    CATEGORIES,
                ),
            ),
        ],
        example: r#"zavu.templates.submit(t.id, #{ senderId: "snd_default" }).status"#,
    },
    MethodDoc {
        resource: "phoneNumbers",
        method: "get",
        summary: "Fetches one of the project's phone numbers, wrapped as #{ phoneNumber }.",
        http: "GET /v1/phone-numbers/{phoneNumberId}",
        params: &[p("phoneNumberId", "string", Rule::Id("phone number"))],
        example: r#"zavu.phoneNumbers.get("pn_abc123").phoneNumber.phoneNumber"#,
    },
    MethodDoc {
        resource: "phoneNumbers",
        method: "list",
        summary: "One page of the project's phone numbers — find the one to pre-assign to an invitation with phoneNumberId.",
        http: "GET /v1/phone-numbers",
        params: &[
            p(
                "status",
                "string",
                Rule::OneOf("only numbers with this status", PHONE_STATUSES),
            ),
            p("limit", "integer", Rule::Limit),
            p("cursor", "string", Rule::Cursor),
        ],
        example: r#"let free = zavu.phoneNumbers.list(#{ status: "active" }).items.filter(|n| n.senderId == ());"#,
    },
    MethodDoc {
        resource: "me",
        method: "get",
        summary: "Who the key belongs to: its id (never the key), whether it is a test key, the project and team.",
        http: "GET /v1/me",
        params: &[],
        example: r#"if zavu.me.get().isTestMode { print("test mode"); }"#,
    },
    MethodDoc {
        resource: "balance",
        method: "get",
        summary: "The project's balance, in cents.",
        http: "GET /v1/balance",
        params: &[],
        example: r#"let b = zavu.balance.get(); print(`${b.balance / 100} ${b.currency}`);"#,
    },
];
