//! The calls a partner makes after onboarding, through the client against the sandbox:
//! senders (update, webhook, default, delete), templates (create → submit → review →
//! send), phone numbers (and the one a completed invitation was pre-assigned), `me` and
//! the balance — with the answers' shapes as the SDKs declare them.

use crate::support::{KEY, TestSandbox};
use reqwest::Method;
use serde_json::{Value, json};
use zavu_script::api::{
    CreateInvitation, CreateTemplate, ListPhoneNumbers, SendMessage, SubmitTemplate, UpdateSender,
    WebhookUrl,
};
use zavu_script::client::{ApiError, ClientError};

fn api_error(e: ClientError) -> ApiError {
    match e {
        ClientError::Api(a) => *a,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn raw_get(sb: &TestSandbox, path: &str) -> Value {
    sb.raw(Method::GET, path)
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn senders_update_their_webhook_default_and_name_and_delete() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client
        .create_invitation(&CreateInvitation {
            client_name: Some("Acme Corp".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    sb.complete(&inv.id).await;
    let id = client
        .get_invitation(&inv.id)
        .await
        .unwrap()
        .sender_id
        .unwrap();

    // A webhook needs its events the first time; the secret is answered once.
    let url_only = UpdateSender {
        webhook_url: WebhookUrl::Set("https://acme.example/zavu".into()),
        ..Default::default()
    };
    let err = api_error(client.update_sender(&id, &url_only).await.unwrap_err());
    assert_eq!(
        err.details.unwrap()["errors"][0]["path"],
        json!(["webhookEvents"])
    );
    sb.advance_clock(1).await;
    let created = client
        .update_sender(
            &id,
            &UpdateSender {
                webhook_events: Some(vec!["message.inbound".into()]),
                name: Some("Acme (WhatsApp)".into()),
                ..url_only.clone()
            },
        )
        .await
        .unwrap();
    let hook = created.webhook.clone().unwrap();
    assert!(hook.secret.as_deref().unwrap().starts_with("whsec_"));
    assert_eq!((hook.signature_version.as_str(), hook.active), ("v2", true));
    assert_eq!(created.name, "Acme (WhatsApp)");
    assert!(created.updated_at > created.created_at);
    let again = client.get_sender(&id).await.unwrap();
    assert_eq!(
        again.webhook.unwrap().secret,
        None,
        "the secret is shown once"
    );
    let raw = raw_get(&sb, &format!("/v1/senders/{id}")).await;
    assert!(raw["webhook"].get("secret").is_none(), "{raw}");

    // v1 → v2 goes through v1+v2.
    let to = |v: &str| UpdateSender {
        webhook_signature_version: Some(v.into()),
        ..Default::default()
    };
    client.update_sender(&id, &to("v1")).await.unwrap();
    let err = api_error(client.update_sender(&id, &to("v2")).await.unwrap_err());
    assert!(err.message.contains("v1+v2"), "{}", err.message);
    client.update_sender(&id, &to("v1+v2")).await.unwrap();
    client.update_sender(&id, &to("v2")).await.unwrap();

    // One default at a time; the default cannot be deleted.
    let made_default = UpdateSender {
        set_as_default: Some(true),
        ..Default::default()
    };
    assert_eq!(
        client
            .update_sender(&id, &made_default)
            .await
            .unwrap()
            .is_default,
        Some(true)
    );
    let seeded = client.get_sender("snd_default").await.unwrap();
    assert_eq!(seeded.is_default, Some(false));
    let err = api_error(client.delete_sender(&id).await.unwrap_err());
    assert_eq!(err.status, 400);
    client
        .update_sender("snd_default", &made_default)
        .await
        .unwrap();
    let removed = UpdateSender {
        webhook_url: WebhookUrl::Remove,
        ..Default::default()
    };
    assert!(
        client
            .update_sender(&id, &removed)
            .await
            .unwrap()
            .webhook
            .is_none()
    );
    client.delete_sender(&id).await.unwrap();
    assert_eq!(
        api_error(client.get_sender(&id).await.unwrap_err()).status,
        404
    );
    let page = client.list_senders(&Default::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    // Sending from a deleted sender is a 404.
    let send = SendMessage {
        to: "+14155551234".into(),
        text: Some("hi".into()),
        ..Default::default()
    };
    let err = api_error(client.send_message(&send, Some(&id)).await.unwrap_err());
    assert_eq!(err.status, 404);
    // An update that changes nothing leaves updatedAt where it was.
    let before = client.get_sender("snd_default").await.unwrap();
    sb.advance_clock(60).await;
    let same = client
        .update_sender("snd_default", &UpdateSender::default())
        .await
        .unwrap();
    assert_eq!(same.updated_at, before.updated_at);
}

fn order_template() -> CreateTemplate {
    CreateTemplate {
        name: "order_update".into(),
        language: "en".into(),
        body: "Hi {{1}}, your order {{2}} has shipped".into(),
        whatsapp_category: Some("UTILITY".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_is_created_submitted_reviewed_and_then_sent() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let t = client.create_template(&order_template()).await.unwrap();
    assert_eq!(t.status.as_deref(), Some("draft"));
    assert_eq!(t.category, "UTILITY");
    let dup = api_error(client.create_template(&order_template()).await.unwrap_err());
    assert_eq!((dup.status, dup.code.as_str()), (409, "conflict"));

    let send = SendMessage {
        to: "+14155551234".into(),
        message_type: Some("template".into()),
        content: Some(
            json!({"templateId": t.id, "templateVariables": {"1": "Ana", "2": "A-1"}})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..Default::default()
    };
    let err = api_error(client.send_message(&send, None).await.unwrap_err());
    assert!(err.message.contains("not approved"), "{}", err.message);

    let submit = |sender: &str| SubmitTemplate {
        sender_id: sender.into(),
        category: Some("MARKETING".into()),
    };
    // A sender with no WhatsApp account cannot review templates; an unknown one is a 404.
    assert_eq!(
        api_error(
            client
                .submit_template(&t.id, &submit("snd_nope"))
                .await
                .unwrap_err()
        )
        .status,
        404
    );
    let pending = client
        .submit_template(&t.id, &submit("snd_default"))
        .await
        .unwrap();
    assert_eq!(pending.status.as_deref(), Some("pending"));
    assert_eq!(pending.category, "MARKETING");
    assert!(pending.updated_at >= t.updated_at);
    let again = api_error(
        client
            .submit_template(&t.id, &submit("snd_default"))
            .await
            .unwrap_err(),
    );
    assert!(again.message.contains("only draft"), "{}", again.message);

    let approved = sb
        .control(&format!("templates/{}/approve", t.id), json!({}))
        .await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["whatsapp"]["status"], "APPROVED");
    let sent = client.send_message(&send, None).await.unwrap();
    assert_eq!(sent.content.unwrap()["templateId"], json!(t.id));

    // Rejection, and listing every template.
    let other = client
        .create_template(&CreateTemplate {
            name: "promo".into(),
            ..order_template()
        })
        .await
        .unwrap();
    client
        .submit_template(&other.id, &submit("snd_default"))
        .await
        .unwrap();
    let rejected = sb
        .control(&format!("templates/{}/reject", other.id), json!({}))
        .await;
    assert_eq!(rejected["status"], "rejected");
    let resp = sb
        .raw(
            Method::POST,
            &format!("/_sandbox/templates/{}/approve", other.id),
        )
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "a rejected template is not reviewed again"
    );
    let all = client.list_templates(&Default::default()).await.unwrap();
    assert_eq!(all.items.len(), 4);
    // Reset returns to the seeds.
    sb.control("reset", json!({})).await;
    assert_eq!(
        client
            .list_templates(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn phone_numbers_me_and_balance() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let page = client
        .list_phone_numbers(&Default::default())
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["pn_abc123", "pn_default"]);
    let free = page.items.iter().find(|p| p.sender_id.is_none()).unwrap();
    assert!(free.phone_number.starts_with('+') && free.capabilities.contains(&"sms".to_string()));
    let suspended = client
        .list_phone_numbers(&ListPhoneNumbers {
            status: Some("suspended".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(suspended.items.is_empty());
    // One number travels wrapped.
    let raw = raw_get(&sb, "/v1/phone-numbers/pn_abc123").await;
    assert_eq!(raw["phoneNumber"]["id"], "pn_abc123");
    assert_eq!(
        api_error(client.get_phone_number("pn_nope").await.unwrap_err()).status,
        404
    );

    // Pre-assigned to an invitation, the number belongs to the sender the signup made.
    let inv = client
        .create_invitation(&CreateInvitation {
            phone_number_id: Some(free.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    sb.complete(&inv.id).await;
    let sender_id = client.get_invitation(&inv.id).await.unwrap().sender_id;
    let number = client.get_phone_number(&free.id).await.unwrap();
    assert_eq!(number.sender_id, sender_id);
    let sender = client
        .get_sender(sender_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(sender.phone_number, free.phone_number);
    assert_eq!(
        sender.whatsapp.unwrap().display_phone_number.as_deref(),
        Some("+1 415-555-0123")
    );

    let me = client.me().await.unwrap();
    assert!(me.is_test_mode);
    assert!(me.api_key.id.starts_with("key_") && !me.api_key.id.contains(KEY));
    let raw = raw_get(&sb, "/v1/me").await;
    assert!(
        !raw.to_string().contains(KEY),
        "the key never comes back: {raw}"
    );
    assert!(raw["project"].get("name").is_some() && raw["team"].get("name").is_some());
    let balance = client.balance().await.unwrap();
    assert_eq!(
        (balance.balance, balance.currency.as_str()),
        (10_000, "USD")
    );
    let raw = raw_get(&sb, "/v1/balance").await;
    assert_eq!(
        raw["creditLimit"],
        Value::Null,
        "nullable fields are written as null"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn optional_fields_are_left_out_and_updated_at_moves() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    let raw = raw_get(&sb, &format!("/v1/invitations/{}", inv.id)).await;
    let obj = raw["invitation"].as_object().unwrap();
    for nullable in [
        "clientName",
        "clientEmail",
        "senderId",
        "viewedAt",
        "failureReason",
    ] {
        assert_eq!(
            obj.get(nullable),
            Some(&Value::Null),
            "{nullable} is written as null"
        );
    }
    assert_eq!(obj["connectionType"], "whatsapp_waba");
    sb.advance_clock(5).await;
    sb.control(&format!("invitations/{}/start", inv.id), json!({}))
        .await;
    let started = client.get_invitation(&inv.id).await.unwrap();
    assert!(started.updated_at > inv.updated_at);
    assert_eq!(Some(started.updated_at), started.started_at);

    let send = SendMessage {
        to: "+14155551234".into(),
        text: Some("hello".into()),
        ..Default::default()
    };
    let msg = client.send_message(&send, None).await.unwrap();
    let raw = raw_get(&sb, &format!("/v1/messages/{}", msg.id)).await;
    let obj = raw["message"].as_object().unwrap();
    for absent in ["content", "metadata", "providerMessageId"] {
        assert!(obj.get(absent).is_none(), "{absent} is left out: {raw}");
    }
    assert_eq!(obj["errorCode"], Value::Null);
    assert_eq!(obj["from"], "+14155550100");
    assert_eq!(obj["updatedAt"], obj["createdAt"]);
    sb.advance_clock(10).await;
    let delivered = client.get_message(&msg.id).await.unwrap();
    assert_eq!(delivered.status, "delivered");
    assert_eq!(
        delivered.updated_at.unwrap().millis(),
        msg.created_at.millis() + 2_000,
        "updatedAt is when it was delivered"
    );

    let raw = raw_get(&sb, "/v1/senders/snd_default").await;
    for absent in ["emailAddress", "webhook", "emailReceivingEnabled"] {
        assert!(raw.get(absent).is_none(), "{absent} is left out: {raw}");
    }
    let raw = raw_get(&sb, "/v1/templates/tmpl_xyz789").await;
    for absent in ["footer", "buttons", "smsBody", "headerType"] {
        assert!(raw.get(absent).is_none(), "{absent} is left out: {raw}");
    }
}
