//! Template sends held against their template everywhere a script can learn of a mistake:
//! the sandbox refuses them as the real service does (400 naming the variable), the client
//! refuses them before they leave, a script gets an `invalid_params` error at the call,
//! and `zavu-script check` finds the ones written out in the script before it runs.

use crate::support::{KEY, TestSandbox, Zs, script};
use reqwest::Method;
use serde_json::{Value, json};
use zavu_script::api::{CreateTemplate, SendMessage, SubmitTemplate};
use zavu_script::client::ClientError;

/// A template with named body variables, a text header with `{{1}}`, a quick reply and a
/// dynamic URL button; submitted and approved. Returns its id.
async fn rich_template(sb: &TestSandbox) -> String {
    let client = sb.client();
    let t = client
        .create_template(&CreateTemplate {
            name: "shipping_update".into(),
            language: "en".into(),
            body: "Hi {{customer_name}}, order {{order_id}} is on its way".into(),
            sms_body: Some("Order {{order_id}} shipped".into()),
            header_type: Some("text".into()),
            header_content: Some("Order {{1}}".into()),
            buttons: Some(
                serde_json::from_value(json!([
                    {"type": "quick_reply", "text": "Thanks"},
                    {"type": "url", "text": "Track", "url": "https://ship.example/t/{{1}}"}
                ]))
                .unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .submit_template(
            &t.id,
            &SubmitTemplate {
                sender_id: "snd_default".into(),
                category: None,
            },
        )
        .await
        .unwrap();
    sb.control(&format!("templates/{}/approve", t.id), json!({}))
        .await;
    t.id
}

fn errors_of(body: &Value) -> Vec<String> {
    body["details"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no details.errors in {body}"))
        .iter()
        .map(|e| {
            e["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().map(str::to_string).unwrap_or(p.to_string()))
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_refuses_variables_that_do_not_match_the_template() {
    let sb = TestSandbox::start().await;
    let id = rich_template(&sb).await;
    let send = |body: Value| {
        sb.raw(Method::POST, "/v1/messages")
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };
    let msg = |channel: &str, content: Value| json!({"to": "+14155551234", "channel": channel, "messageType": "template", "content": content});
    let cases = [
        // The seeded template's body has {{1}} only.
        (
            msg(
                "whatsapp",
                json!({"templateId": "tmpl_xyz789", "templateVariables": {}}),
            ),
            vec!["content.templateVariables.1"],
        ),
        (
            msg(
                "whatsapp",
                json!({"templateId": "tmpl_xyz789",
                "templateVariables": {"1": "John", "2": "extra"}}),
            ),
            vec!["content.templateVariables.2"],
        ),
        (
            msg(
                "whatsapp",
                json!({"templateId": "tmpl_xyz789",
                "templateVariables": {"1": "John", "name": "x"}}),
            ),
            vec!["content.templateVariables"],
        ),
        // Named variables, the URL button's value, an unknown header variable.
        (
            msg(
                "whatsapp",
                json!({"templateId": id,
                "templateVariables": {"customer_name": "Ana", "order": "A-1"},
                "templateHeaderVariables": {"2": "x"}}),
            ),
            vec![
                "content.templateVariables.order_id",
                "content.templateVariables.order",
                "content.templateHeaderVariables.2",
                "content.templateButtonVariables.1",
            ],
        ),
        // SMS has its own body, with one variable.
        (
            msg(
                "sms",
                json!({"templateId": id,
                "templateVariables": {"customer_name": "Ana", "order_id": "A-1"}}),
            ),
            vec!["content.templateVariables.customer_name"],
        ),
        // No template body for Messenger.
        (
            msg(
                "messenger",
                json!({"templateId": "tmpl_xyz789", "templateVariables": {"1": "J"}}),
            ),
            vec!["channel"],
        ),
    ];
    for (body, expected) in cases {
        let resp = send(body.clone()).await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["code"], "invalid_request");
        assert_eq!(errors_of(&answer), expected, "{body}");
    }
    let ok = send(msg(
        "whatsapp",
        json!({"templateId": id,
            "templateVariables": {"customer_name": "Ana", "order_id": "A-1"},
            "templateHeaderVariables": {"1": "A-1"},
            "templateButtonVariables": {"1": "A-1-track"}}),
    ))
    .await
    .unwrap();
    assert_eq!(ok.status(), 202);
    assert_eq!(sb.stats().await["messages"], json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_refuses_before_sending_and_scripts_learn_it_at_the_call() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let send = SendMessage {
        to: "+14155551234".into(),
        message_type: Some("template".into()),
        content: Some(
            json!({"templateId": "tmpl_xyz789", "templateVariables": {"2": "x"}})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..Default::default()
    };
    let before = sb.stats().await["requests"].as_u64().unwrap();
    let err = client.send_message(&send, None).await.unwrap_err();
    let ClientError::InvalidParams(errors) = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<String> = errors.iter().map(|e| e.field()).collect();
    assert_eq!(
        fields,
        ["content.templateVariables.1", "content.templateVariables.2"]
    );
    assert_eq!(err.code(), "invalid_params");
    // Only the template was fetched; no send reached the server. A second bad send uses
    // the template already fetched.
    let _ = client.send_message(&send, None).await.unwrap_err();
    let stats = sb.stats().await;
    assert_eq!(stats["requests"].as_u64().unwrap() - before, 1, "{stats}");
    assert_eq!(stats["messages"], json!(0));

    // In a script: caught as an ApiError with status 0, code invalid_params, at the call.
    let (_dir, path) = script(
        r#"let id = "tmpl_" + "xyz789";
try {
    zavu.messages.send(#{ to: "+14155551234", messageType: "template",
        content: #{ templateId: id, templateVariables: #{ "1": "John", "3": "x" } } });
} catch (err) {
    print(`${err.status} ${err.code}`);
    print(err.details.errors[0].path);
}
zavu.messages.send(#{ to: "+14155551234", messageType: "template",
    content: #{ templateId: id, templateVariables: #{} } });
"#,
    );
    let done = Zs::against(&sb)
        .args([std::ffi::OsStr::new("run"), path.as_os_str()])
        .run()
        .await;
    done.expect_code(1);
    assert_eq!(done.lines()[0], "0 invalid_params");
    assert!(done.lines()[1].contains("\"3\""), "{}", done.stdout);
    assert!(
        done.stderr
            .contains("content.templateVariables.1: missing: template \"tmpl_xyz789\""),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("test.rhai:9:15"), "{}", done.stderr);
    assert_eq!(sb.stats().await["messages"], json!(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_finds_the_template_sends_written_in_a_script() {
    let sb = TestSandbox::start().await;
    let text = r#"// A follow-up with two mistakes in its template sends.
fn welcome(to, name) {
    zavu.messages.send(#{ to: to, messageType: "template",
        content: #{ templateId: "tmpl_xyz789", templateVariables: #{ "1": name, "2": "extra" } } })
}
zavu.messages.send(#{ to: "+14155551234", messageType: "template",
    content: #{ templateId: "tmpl_missing", templateVariables: #{ "1": "x" } } });
zavu.messages.send(#{ to: "+14155551234", messageType: "template",
    content: #{ templateId: "tmpl_xyz789", templateVariables: #{ "1": "fine" } } });
"#;
    let (_dir, path) = script(text);
    let check = |zs: Zs| {
        zs.args([std::ffi::OsStr::new("check"), path.as_os_str()])
            .run()
    };
    let done = check(Zs::against(&sb)).await;
    done.expect_code(1);
    for needle in [
        "content.templateVariables.2: unknown variable: template \"tmpl_xyz789\" (whatsapp body) has {{1}}",
        // The caret points at the offending key, not at the call.
        "test.rhai:4:81",
        "content.templateId: no template \"tmpl_missing\"",
        "test.rhai:7:17",
    ] {
        assert!(
            done.stderr.contains(needle),
            "{needle:?} in\n{}",
            done.stderr
        );
    }
    assert!(
        !done.stderr.contains("test.rhai:8:"),
        "the good send passes"
    );
    assert_eq!(
        sb.stats().await["messages"],
        json!(0),
        "check sends nothing"
    );

    // With the built-in sandbox, the seeded templates are known too.
    let done = check(Zs::bare().args(["--sandbox"])).await;
    done.expect_code(1);
    assert!(done.stderr.contains("test.rhai:4:81"), "{}", done.stderr);

    // No target: the compile is checked and the note says the sends were not.
    let done = check(Zs::bare()).await;
    done.ok();
    assert!(
        done.stderr.contains("3 template sends not checked") && done.stderr.contains("ok"),
        "{}",
        done.stderr
    );
}
