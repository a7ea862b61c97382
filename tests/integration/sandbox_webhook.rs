//! The sandbox's project webhook: the four `/v1/invitations/webhook` routes, read as
//! strictly as every `/v1` route; an `invitation.status_changed` event signed and delivered
//! for each stored status change (control plane, invite page, API cancel) and for nothing
//! else; retries on the sandbox's clock; the delivery log; and the delivery faults.

use crate::support::{KEY, Receiver, TestSandbox, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use zavu_script::api::CreateInvitation;
use zavu_script::api::webhook::{self, Scheme};

async fn invite(sb: &TestSandbox, name: &str) -> String {
    sb.client()
        .create_invitation(&CreateInvitation {
            client_name: Some(name.into()),
            client_email: Some(format!("{}@example.com", name.to_lowercase())),
            ..Default::default()
        })
        .await
        .unwrap()
        .id
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_routes_configure_get_update_and_delete_strictly() {
    let sb = TestSandbox::start().await;
    let call = |method: Method, body: Option<Value>| {
        let mut r = sb.raw(method, "/v1/invitations/webhook").bearer_auth(KEY);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let resp = call(Method::GET, None).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "not_found");
    let anonymous = sb
        .raw(Method::GET, "/v1/invitations/webhook")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("x-ratelimit-limit"));

    let body =
        json!({"url": "https://acme.example/hooks/zavu", "events": ["invitation.status_changed"]});
    let created = call(Method::POST, Some(body.clone())).await.unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().contains_key("x-ratelimit-remaining"));
    let created: Value = created.json().await.unwrap();
    let secret = created["webhook"]["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["webhook"]["active"], true);

    // Replacing keeps the secret (and reactivates).
    call(Method::PATCH, Some(json!({"active": false})))
        .await
        .unwrap();
    let replaced = call(
        Method::POST,
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["invitation.status_changed"]})),
    )
    .await
    .unwrap();
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(
        replaced["webhook"],
        json!({"url": "http://127.0.0.1:9/hook", "events": ["invitation.status_changed"], "secret": secret, "active": true})
    );
    let got: Value = call(Method::GET, None).await.unwrap().json().await.unwrap();
    assert_eq!(got, replaced);

    // Strict bodies: every problem named by its path, nothing changed.
    for (bad, paths) in [
        (
            json!({"url": "http://acme.example/h", "events": ["invitation.status_changed"]}),
            vec![json!(["url"])],
        ),
        (
            json!({"url": "https://acme.example/h", "events": ["message.inbound"], "secret": "mine"}),
            vec![json!(["secret"]), json!(["events", 0])],
        ),
        (
            json!({"url": "https://acme.example/h"}),
            vec![json!(["events"])],
        ),
        (json!([1]), vec![json!([])]),
    ] {
        let resp = call(Method::POST, Some(bad.clone())).await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        let err: Value = resp.json().await.unwrap();
        let seen: Vec<Value> = err["details"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["path"].clone())
            .collect();
        assert_eq!(seen, paths, "{err}");
    }
    let dup = sb
        .raw(Method::PATCH, "/v1/invitations/webhook")
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(r#"{"active": true, "active": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 400);
    let bad_patch = call(Method::PATCH, Some(json!({"active": "no"})))
        .await
        .unwrap();
    assert_eq!(bad_patch.status(), 400);
    let got: Value = call(Method::GET, None).await.unwrap().json().await.unwrap();
    assert_eq!(got, replaced, "a refused request changed nothing");

    let patched: Value = call(
        Method::PATCH,
        Some(json!({"url": "https://acme.example/v2", "active": false})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(patched["webhook"]["url"], "https://acme.example/v2");
    assert_eq!(patched["webhook"]["active"], false);
    assert_eq!(patched["webhook"]["secret"], secret.as_str());

    assert_eq!(call(Method::DELETE, None).await.unwrap().status(), 204);
    assert_eq!(call(Method::DELETE, None).await.unwrap().status(), 404);
    assert_eq!(
        call(Method::PATCH, Some(json!({"active": true})))
            .await
            .unwrap()
            .status(),
        404
    );
    // A new webhook gets a new secret; the invitation routes are untouched.
    let again: Value = call(Method::POST, Some(body))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(again["webhook"]["secret"], secret.as_str());
    let missing = sb
        .raw(Method::GET, "/v1/invitations/nope")
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stored_status_change_is_delivered_signed_and_nothing_else() {
    let sb = TestSandbox::start().await;
    let rx = Receiver::start().await;
    let secret = sb.configure_webhook(&rx.url).await;
    let client = sb.client();

    let a = invite(&sb, "Acme").await;
    sb.control(&format!("invitations/{a}/view"), json!({}))
        .await;
    sb.control(&format!("invitations/{a}/start"), json!({}))
        .await;
    sb.control(&format!("invitations/{a}/start"), json!({}))
        .await; // the same status again
    sb.control(
        &format!("invitations/{a}/fail"),
        json!({"reason": "fb_cancelled"}),
    )
    .await;
    sb.control(&format!("invitations/{a}/start"), json!({}))
        .await;
    let sender = sb.complete(&a).await["invitation"]["senderId"].clone();
    let b = invite(&sb, "Globex").await;
    client.cancel_invitation(&b).await.unwrap();
    // The invite page drives the same transitions.
    let c = client
        .get_invitation(&invite(&sb, "Initech").await)
        .await
        .unwrap();
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = page.get(&c.url).send().await.unwrap();
    assert_eq!(opened.status(), 200);
    page.post(format!("{}/start", c.url)).send().await.unwrap();
    // Expiry is derived, never stored: moving the clock past it sends nothing.
    invite(&sb, "Hooli").await;
    sb.advance_clock(8 * 86_400).await;

    let log = sb.settled(6).await;
    assert_eq!(log["delivered"], 6);
    let got = rx.got();
    let changes: Vec<(String, String, String)> = got
        .iter()
        .map(|d| {
            let e = d.json();
            (
                e["data"]["invitationId"].as_str().unwrap().to_string(),
                e["data"]["previousStatus"].as_str().unwrap().to_string(),
                e["data"]["currentStatus"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        changes,
        [
            (a.clone(), s("pending"), s("in_progress")),
            (a.clone(), s("in_progress"), s("failed")),
            (a.clone(), s("failed"), s("in_progress")),
            (a.clone(), s("in_progress"), s("completed")),
            (b.clone(), s("pending"), s("cancelled")),
            (c.id.clone(), s("pending"), s("in_progress")),
        ],
        "{got:#?}"
    );
    let mut ids = std::collections::HashSet::new();
    for d in &got {
        let header = d.signature.as_deref();
        assert_eq!(
            webhook::verify(header, d.body.as_bytes(), &secret, now_s(), 300),
            Ok(Scheme::V2)
        );
        let e = d.json();
        assert!(
            ids.insert(e["id"].as_str().unwrap().to_string()),
            "ids are unique"
        );
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(e["type"], "invitation.status_changed");
        assert_eq!(e["projectId"], "prj_sandbox");
        assert!(e["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    }
    let failed = got[1].json();
    assert_eq!(failed["data"]["failureReason"], "fb_cancelled");
    assert!(failed["data"].get("senderId").is_none());
    let completed = got[3].json();
    assert_eq!(completed["data"]["senderId"], sender);
    assert_eq!(completed["data"]["connectedAccount"]["channel"], "whatsapp");
    assert_eq!(completed["data"]["clientName"], "Acme");
    assert_eq!(completed["data"]["clientEmail"], "acme@example.com");
    assert_eq!(completed["data"]["connectionType"], "whatsapp_waba");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_delivery_is_retried_when_the_clock_moves_and_logged() {
    let sb = TestSandbox::start().await;
    let rx = Receiver::start().await;
    sb.configure_webhook(&rx.url).await;
    rx.answer(&[500, 401]);
    let a = invite(&sb, "Acme").await;
    sb.complete(&a).await;
    let log = eventually("the first failed attempt", async || {
        let log = sb.deliveries().await;
        (log["failedAttempts"] == 1).then_some(log)
    })
    .await;
    let first = &log["deliveries"][0];
    assert_eq!(first["outcome"], "retry");
    assert_eq!(first["status"], 500);
    assert_eq!(first["url"], rx.url.as_str());
    assert!(first["error"].as_str().unwrap().starts_with("HTTP 500"));
    assert_eq!(log["pending"], 1);
    // Retries wait on the sandbox's clock: 5 s after the first failure, then 30 s.
    sb.advance_clock(5).await;
    eventually("the second failed attempt", async || {
        (sb.deliveries().await["failedAttempts"] == 2).then_some(())
    })
    .await;
    sb.advance_clock(30).await;
    let log = sb.settled(3).await;
    let attempts: Vec<(Value, Value)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].clone(), d["outcome"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (json!(1), json!("retry")),
            (json!(2), json!("retry")),
            (json!(3), json!("delivered"))
        ]
    );
    let got = rx.got();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|d| d.body == got[0].body),
        "the same event each time"
    );

    // A receiver that is down: the connection error is logged and retried too.
    let gone = "http://127.0.0.1:9/hook";
    sb.configure_webhook(gone).await;
    let b = invite(&sb, "Globex").await;
    sb.complete(&b).await;
    let log = eventually("a refused connection", async || {
        let log = sb.deliveries().await;
        (log["failedAttempts"] == 3).then_some(log)
    })
    .await;
    let last = log["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["status"], Value::Null);
    assert!(last["error"].as_str().unwrap().contains("onnect"), "{last}");
    assert!(last["nextAttemptAt"].is_string());
    // Deleting the webhook abandons what was queued for it.
    sb.client().delete_webhook().await.unwrap();
    sb.advance_clock(5).await;
    let log = sb.deliveries().await;
    assert_eq!(log["pending"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_faults_duplicate_reorder_delay_missign_and_drop() {
    let sb = TestSandbox::start().await;
    let rx = Receiver::start().await;
    let secret = sb.configure_webhook(&rx.url).await;

    // Duplicate: each event twice, same id and body, both signed.
    sb.faults(json!({"webhookDuplicateRate": 1.0})).await;
    let a = invite(&sb, "Acme").await;
    sb.complete(&a).await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].body, got[1].body);
    assert!(got.iter().all(|d| {
        webhook::verify(
            d.signature.as_deref(),
            d.body.as_bytes(),
            &secret,
            now_s(),
            300,
        )
        .is_ok()
    }));
    let log = sb.settled(2).await;
    assert_eq!(log["deliveries"][1]["fault"], "duplicate");

    // Reorder: held and sent newest first.
    sb.faults(json!({"webhookDuplicateRate": null, "webhookReorderMs": 1000}))
        .await;
    let b = invite(&sb, "Globex").await;
    sb.control(&format!("invitations/{b}/start"), json!({}))
        .await;
    sb.complete(&b).await;
    let got = rx.wait_for(4).await;
    let order: Vec<Value> = got[2..]
        .iter()
        .map(|d| d.json()["data"]["currentStatus"].clone())
        .collect();
    assert_eq!(order, [json!("completed"), json!("in_progress")]);
    let log = sb.settled(4).await;
    assert_eq!(log["deliveries"][3]["fault"], "reordered");

    // Delay and a wrong signature: refused by a verifier, retried, then good.
    sb.faults(
        json!({"webhookReorderMs": null, "webhookDelayMs": 50, "webhookWrongSignatureRate": 1.0}),
    )
    .await;
    rx.answer(&[401]);
    let c = invite(&sb, "Initech").await;
    sb.complete(&c).await;
    let got = rx.wait_for(5).await;
    assert_eq!(
        webhook::verify(
            got[4].signature.as_deref(),
            got[4].body.as_bytes(),
            &secret,
            now_s(),
            300
        ),
        Err(webhook::Refused::Mismatch)
    );
    let log = eventually("the missigned attempt logged", async || {
        let log = sb.deliveries().await;
        (log["failedAttempts"] == 1).then_some(log)
    })
    .await;
    let missigned = log["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(missigned["fault"], "wrong_signature");
    assert_eq!(missigned["status"], 401);
    sb.faults(json!({"webhookWrongSignatureRate": null})).await;
    sb.advance_clock(5).await;
    let got = rx.wait_for(6).await;
    assert!(
        webhook::verify(
            got[5].signature.as_deref(),
            got[5].body.as_bytes(),
            &secret,
            now_s(),
            300
        )
        .is_ok()
    );
    let log = sb.settled(6).await;
    assert_eq!(log["deliveries"][5]["fault"], "delayed");

    // Drop: lost for good, logged, nothing sent.
    sb.faults(json!({"webhookDelayMs": null, "webhookDropRate": 1.0}))
        .await;
    let d = invite(&sb, "Hooli").await;
    sb.complete(&d).await;
    let log = sb.settled(7).await;
    assert_eq!(log["dropped"], 1);
    assert_eq!(log["deliveries"][6]["outcome"], "dropped");
    sb.advance_clock(86_400).await;
    assert_eq!(rx.got().len(), 6);

    // Bad fault values are refused, naming them.
    let resp = sb
        .raw(Method::POST, "/_sandbox/faults")
        .bearer_auth(KEY)
        .json(&json!({"webhookDropRate": 2, "webhookDelayMs": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_and_its_queue_survive_a_restart_and_a_reset_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let opts = || zavu_script::sandbox::SandboxOptions {
        state_file: Some(state.clone()),
        ..Default::default()
    };
    let sb = TestSandbox::start_with(opts()).await;
    let secret = sb.configure_webhook("http://127.0.0.1:9/hook").await;
    let a = invite(&sb, "Acme").await;
    sb.complete(&a).await;
    eventually("a failed attempt", async || {
        (sb.deliveries().await["failedAttempts"] == 1).then_some(())
    })
    .await;
    sb.sandbox.shutdown().await.unwrap();

    let sb = TestSandbox::start_with(opts()).await;
    let rx = Receiver::start().await;
    let hook = sb
        .client()
        .update_webhook(&json!({"url": rx.url}))
        .await
        .unwrap();
    assert_eq!(hook.secret, secret);
    sb.advance_clock(5).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].json()["data"]["invitationId"], a.as_str());

    sb.control("reset", json!({})).await;
    let gone = sb.client().get_webhook().await.unwrap_err();
    assert!(gone.to_string().contains("404"), "{gone}");
    assert_eq!(sb.deliveries().await["deliveries"], json!([]));
}
