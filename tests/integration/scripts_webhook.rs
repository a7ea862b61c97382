//! `zavu.webhook` as scripts write it — configure, get, update, delete, and `verify` for a
//! delivery a script got itself — through the real binary against a sandbox, with the same
//! parameter checks and errors as every other call.

use crate::support::{Receiver, TestSandbox, Zs, script};
use serde_json::json;
use std::ffi::OsStr;

async fn run(sb: &TestSandbox, text: &str, args: &[&str]) -> crate::support::Done {
    let (_dir, path) = script(text);
    let mut all = vec![OsStr::new("run"), path.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    Zs::against(sb).args(all).run().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_script_configures_the_project_webhook_and_verifies_what_it_gets() {
    let sb = TestSandbox::start().await;
    let rx = Receiver::start().await;
    let done = run(
        &sb,
        r#"
let url = ARGS[0];
try { zavu.webhook.get(); } catch (err) { print(`${err.status} ${err.code}`); }
let hook = zavu.webhook.configure(url).webhook;
print(`${hook.url == url} ${hook.events} ${hook.active} ${hook.secret.sub_string(0, 6)}`);
let again = zavu.webhook.configure(#{ url: url, events: ["invitation.status_changed"] }).webhook;
print(again.secret == hook.secret);
print(zavu.webhook.update(#{ active: false }).webhook.active);
print(zavu.webhook.update(#{ active: true }).webhook.active);
print(zavu.webhook.get().webhook.url == url);
let inv = zavu.invitations.create(#{ clientName: "Acme Corp" });
sandbox::complete(inv.id);
print(hook.secret);
"#,
        &[&rx.url],
    )
    .await;
    done.ok();
    let lines = done.lines();
    assert_eq!(
        lines[..6],
        [
            "404 not_found",
            "true [\"invitation.status_changed\"] true whsec_",
            "true",
            "false",
            "true",
            "true",
        ]
    );
    let secret = lines[6];
    let delivery = rx.wait_for(1).await.remove(0);
    let header = delivery.signature.clone().unwrap();

    // verify: good, tampered, wrong secret, missing header, stale, malformed; the map form.
    let done = run(
        &sb,
        r#"
let header = ARGS[0]; let body = ARGS[1]; let secret = ARGS[2];
let ok = zavu.webhook.verify(header, body, secret);
print(`${ok.ok} ${ok.scheme} ${ok.event.data.currentStatus} ${ok.code}`);
let bad = zavu.webhook.verify(header, body + " ", secret);
print(`${bad.ok} ${bad.code}: ${bad.reason}`);
print(zavu.webhook.verify(header, body, "whsec_other").code);
print(zavu.webhook.verify((), body, secret).code);
print(zavu.webhook.verify("t=1,v2=00", body, secret).code);
print(zavu.webhook.verify("v2=00", body, secret).code);
let v1 = header.split(",v2=")[0];
print(zavu.webhook.verify(#{ header: v1, body: body.to_blob(), secret: secret, toleranceSeconds: 60 }).scheme);
"#,
        &[&header, &delivery.body, secret],
    )
    .await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "true v2 completed ",
            "false mismatch: the signature does not match the body (wrong secret, or the body was changed)",
            "mismatch",
            "missing",
            "stale",
            "malformed",
            "v1",
        ]
    );

    let done = run(
        &sb,
        "zavu.webhook.delete(); print(zavu.webhook.delete());",
        &[],
    )
    .await;
    done.expect_code(3);
    assert!(
        done.stderr
            .contains("zavu.webhook.delete: HTTP 404 not_found"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_mistakes_are_named_before_anything_is_sent() {
    let sb = TestSandbox::start().await;
    for (text, expected) in [
        (
            r#"zavu.webhook.configure(#{ uri: "https://acme.example/h" });"#,
            "uri: unknown key — did you mean `url`?",
        ),
        (
            r#"zavu.webhook.configure("http://acme.example/h");"#,
            "url: \"http://acme.example/h\" is not an HTTPS URL",
        ),
        (
            r#"zavu.webhook.configure(#{ url: "https://acme.example/h", events: ["message.inbound"] });"#,
            "events[0]: \"message.inbound\" is not an event of the project webhook",
        ),
        (
            r#"zavu.webhook.update(#{ active: "yes" });"#,
            "active: expected a boolean",
        ),
        (
            r#"zavu.webhook.get(#{ verbose: true });"#,
            "verbose: unknown key",
        ),
        (
            r#"zavu.webhook.verify(#{ header: "t=1,v2=00", body: "{}" });"#,
            "secret: required",
        ),
        (
            r#"zavu.webhook.verify("t=1,v2=00", #{ id: 1 }, "whsec_x");"#,
            "body: expected the raw body as a string or a blob",
        ),
        (r#"zavu.webhooks.get();"#, "did you mean `zavu.webhook`?"),
        (
            r#"zavu.webhook.create(#{ url: "https://acme.example/h" });"#,
            "(methods: configure, get, update, delete, verify)",
        ),
    ] {
        let done = run(&sb, text, &[]).await;
        done.expect_code(1);
        assert!(done.stderr.contains(expected), "{text}\n{}", done.stderr);
    }
    assert_eq!(sb.stats().await["requests"], json!(0), "nothing was sent");
}
