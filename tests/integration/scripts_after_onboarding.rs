//! The after-onboarding calls as scripts write them — `zavu.senders`, `zavu.templates`,
//! `zavu.phoneNumbers`, `zavu.me`, `zavu.balance` — through the real binary, with the
//! same parameter checks and errors as the invitation calls.

use crate::support::{TestSandbox, Zs, script};
use serde_json::json;
use std::ffi::OsStr;

async fn run(sb: &TestSandbox, text: &str) -> crate::support::Done {
    let (_dir, path) = script(text);
    Zs::against(sb)
        .args([OsStr::new("run"), path.as_os_str()])
        .run()
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_reads_like_the_sdk_docs() {
    let sb = TestSandbox::start().await;
    let done = run(
        &sb,
        r#"
let me = zavu.me.get();
print(`test mode ${me.isTestMode}, project ${me.project.name}`);
print(`balance ${zavu.balance.get().balance} cents`);

// Find a free number and pre-assign it.
let free = zavu.phoneNumbers.list(#{ status: "active" }).items.filter(|n| n.senderId == ())[0];
let inv = zavu.invitations.create(#{ clientName: "Acme Corp", phoneNumberId: free.id });
sandbox::complete(inv.id);
let sender_id = zavu.invitations.get(inv.id).invitation.senderId;
print(zavu.phoneNumbers.get(free.id).phoneNumber.senderId == sender_id);

// Point the new sender's webhook at the partner's server, then take it away again.
let s = zavu.senders.update(sender_id, #{ webhookUrl: "https://acme.example/zavu",
    webhookEvents: ["message.inbound", "message.failed"] });
print(`${s.webhook.url} ${s.webhook.events.len()} ${s.webhook.secret.sub_string(0, 6)}`);
print(zavu.senders.update(#{ senderId: sender_id, webhookUrl: "" }).webhook == ());

// A template of our own: create, submit, approve (the sandbox stands in for WhatsApp), send.
let t = zavu.templates.create(#{ name: "acme_welcome", language: "en",
    body: "Hi {{1}}, welcome to {{2}}" });
print(zavu.templates.submit(t.id, #{ senderId: sender_id }).status);
sandbox::approve_template(t.id);
let sent = zavu.messages.send(#{ to: "+14155551234", messageType: "template",
    content: #{ templateId: t.id, templateVariables: #{ "1": "Ana", "2": "Acme" } },
    "Zavu-Sender": sender_id });
print(sent.message.status);
print(zavu.templates.list().items.len());
zavu.senders.update(sender_id, #{ setAsDefault: true });
zavu.senders.delete("snd_default");
print(zavu.senders.list().items.len());
"#,
    )
    .await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "test mode true, project Sandbox Project",
            "balance 10000 cents",
            "true",
            "https://acme.example/zavu 2 whsec_",
            "true",
            "pending",
            "queued",
            "3",
            "1",
        ]
    );
    assert_eq!(sb.stats().await["messages"], json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn mistakes_are_named_before_anything_is_sent() {
    let sb = TestSandbox::start().await;
    for (text, expected) in [
        (
            r#"zavu.senders.update("snd_default", #{ webhookUrI: "https://x.example" });"#,
            "webhookUrI: unknown key — did you mean `webhookUrl`?",
        ),
        (
            r#"zavu.senders.update("snd_default", #{ webhookUrl: "http://x.example" });"#,
            "webhookUrl: \"http://x.example\" is not an HTTPS URL",
        ),
        (
            r#"zavu.senders.update(#{ name: "x" });"#,
            "senderId: required",
        ),
        (
            r#"zavu.templates.create(#{ name: "Order Update", language: "en", body: "Hi {{1}} {{3}}" });"#,
            "positional variables must be numbered {{1}} to {{2}} without gaps",
        ),
        (
            r#"zavu.templates.submit("tmpl_xyz789", #{});"#,
            "senderId: required",
        ),
        (
            r#"zavu.phoneNumbers.list(#{ status: "gone" });"#,
            "status: must be one of active, suspended, pending",
        ),
        (
            r#"zavu.me.get(#{ verbose: true });"#,
            "verbose: unknown key",
        ),
        (
            r#"zavu.phoneNumber.list();"#,
            "did you mean `zavu.phoneNumbers`?",
        ),
        (
            r#"zavu.senders.remove("x");"#,
            "zavu.senders has no method `remove` (methods: get, list, update, delete)",
        ),
    ] {
        let done = run(&sb, text).await;
        done.expect_code(1);
        assert!(done.stderr.contains(expected), "{text}\n{}", done.stderr);
    }
    assert_eq!(sb.stats().await["requests"], json!(0), "nothing was sent");
    // What the API refuses comes back as an API error (exit 3), with its place.
    let done = run(&sb, "zavu.senders.delete(\"snd_default\");").await;
    done.expect_code(3);
    assert!(
        done.stderr.contains(
            "zavu.senders.delete: HTTP 400 invalid_request: Cannot delete sender snd_default"
        ),
        "{}",
        done.stderr
    );
}
