//! The resources of the `zavu` object and their methods, with the form each is called in:
//! the one table behind dispatch errors, REPL completion and `:help`.

/// A resource of the `zavu` object, its Rhai type name, and its methods with their forms —
/// the one table behind dispatch errors, REPL completion and help.
pub struct ResourceSpec {
    pub name: &'static str,
    pub type_name: &'static str,
    pub methods: &'static [(&'static str, &'static str)],
}

pub const RESOURCES: &[ResourceSpec] = &[
    ResourceSpec {
        name: "invitations",
        type_name: "Invitations",
        methods: &[
            ("create", "create(params) → invitation"),
            ("get", "get(id) or get(#{ invitationId }) → #{ invitation }"),
            (
                "list",
                "list() or list(#{ status, limit, cursor }) → #{ items, nextCursor }",
            ),
            (
                "cancel",
                "cancel(id) or cancel(#{ invitationId }) → #{ invitation }",
            ),
            (
                "all",
                "all() or all(#{ status, limit }) → every invitation, page by page, for `for`",
            ),
        ],
    },
    ResourceSpec {
        name: "messages",
        type_name: "Messages",
        methods: &[
            (
                "send",
                "send(#{ to, channel, messageType, text, content, idempotencyKey, \"Zavu-Sender\", … }) → #{ message }",
            ),
            ("get", "get(id) or get(#{ messageId }) → #{ message }"),
            (
                "list",
                "list() or list(#{ status, to, channel, limit, cursor }) → #{ items, nextCursor }",
            ),
        ],
    },
    ResourceSpec {
        name: "senders",
        type_name: "Senders",
        methods: &[
            ("get", "get(id) or get(#{ senderId }) → sender"),
            (
                "list",
                "list() or list(#{ limit, cursor }) → #{ items, nextCursor }",
            ),
            (
                "update",
                "update(id, #{ name, setAsDefault, webhookUrl, webhookEvents, … }) or update(#{ senderId, … }) → sender",
            ),
            ("delete", "delete(id) or delete(#{ senderId }) → ()"),
        ],
    },
    ResourceSpec {
        name: "templates",
        type_name: "Templates",
        methods: &[
            ("get", "get(id) or get(#{ templateId }) → template"),
            (
                "list",
                "list() or list(#{ limit, cursor }) → #{ items, nextCursor }",
            ),
            (
                "create",
                "create(#{ name, language, body, whatsappCategory, … }) → template (a draft)",
            ),
            (
                "submit",
                "submit(id, #{ senderId, category }) or submit(#{ templateId, senderId, category }) → template (pending review)",
            ),
        ],
    },
    ResourceSpec {
        name: "phoneNumbers",
        type_name: "PhoneNumbers",
        methods: &[
            (
                "get",
                "get(id) or get(#{ phoneNumberId }) → #{ phoneNumber }",
            ),
            (
                "list",
                "list() or list(#{ status, limit, cursor }) → #{ items, nextCursor }",
            ),
        ],
    },
    ResourceSpec {
        name: "me",
        type_name: "Me",
        methods: &[("get", "get() → #{ apiKey, isTestMode, project, team }")],
    },
    ResourceSpec {
        name: "balance",
        type_name: "Balance",
        methods: &[(
            "get",
            "get() → #{ balance, currency, creditLimit, totalSpent } (cents)",
        )],
    },
    ResourceSpec {
        name: "webhook",
        type_name: "Webhook",
        methods: &[
            (
                "configure",
                "configure(url) or configure(#{ url, events }) → #{ webhook } (created, or replaced keeping its secret)",
            ),
            ("get", "get() → #{ webhook } (an ApiError 404 when none)"),
            ("update", "update(#{ url, events, active }) → #{ webhook }"),
            ("delete", "delete() → ()"),
            (
                "verify",
                "verify(header, body, secret) or verify(#{ header, body, secret, toleranceSeconds }) → #{ ok, scheme, code, reason, event }",
            ),
        ],
    },
];

pub fn resource_names() -> Vec<&'static str> {
    RESOURCES.iter().map(|r| r.name).collect()
}
