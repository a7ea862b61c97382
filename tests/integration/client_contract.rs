//! The client against the sandbox for every endpoint and every error in the contract.

use crate::support::{KEY, TestSandbox};
use futures::StreamExt;
use serde_json::json;
use std::collections::HashSet;
use zavu_script::api::{
    CreateInvitation, InvitationStatus, ListInvitations, ListMessages, ListPage, SendMessage,
};
use zavu_script::client::{ApiClient, ApiKey, ClientError, ClientOptions};

fn acme() -> CreateInvitation {
    CreateInvitation {
        client_name: Some("Acme Corp".into()),
        client_email: Some("contact@acme.com".into()),
        expires_in_days: Some(14),
        ..Default::default()
    }
}

fn api_error(e: ClientError) -> zavu_script::client::ApiError {
    match e {
        ClientError::Api(a) => *a,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_get_list_cancel_round_trip() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client.create_invitation(&acme()).await.unwrap();
    assert_eq!(inv.status, InvitationStatus::Pending);
    assert_eq!(inv.client_name.as_deref(), Some("Acme Corp"));
    assert_eq!(inv.connection_type.as_deref(), Some("whatsapp_waba"));
    assert!(inv.url.starts_with(sb.url()) && inv.url.ends_with(&inv.token));
    assert_eq!(
        inv.expires_at.millis() - inv.created_at.millis(),
        14 * 86_400_000
    );

    let got = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(got, inv);

    // No params at all: `{}` is a valid create, defaults apply (7 days).
    let bare = client
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    assert_eq!(
        bare.expires_at.millis() - bare.created_at.millis(),
        7 * 86_400_000
    );
    assert_eq!(bare.client_name, None);

    let page = client
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [bare.id.as_str(), inv.id.as_str()], "newest first");
    assert_eq!(page.next_cursor, None);

    let cancelled = client.cancel_invitation(&inv.id).await.unwrap();
    assert_eq!(cancelled.status, InvitationStatus::Cancelled);
    let pending = client
        .list_invitations(&ListInvitations {
            status: Some("pending".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pending.items.len(), 1);
    assert_eq!(pending.items[0].id, bare.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_params_and_the_seeded_phone_number() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let params = CreateInvitation {
        client_name: Some("Acme Corp".into()),
        client_email: Some("contact@acme.com".into()),
        client_phone: Some("+14155551234".into()),
        expires_in_days: Some(30),
        allowed_phone_countries: Some(vec!["US".into(), "MX".into()]),
        phone_number_id: Some("pn_abc123".into()),
        connection_type: Some("whatsapp_waba".into()),
    };
    let inv = client.create_invitation(&params).await.unwrap();
    assert_eq!(inv.phone_number_id.as_deref(), Some("pn_abc123"));
    assert_eq!(inv.client_phone.as_deref(), Some("+14155551234"));

    let unknown = CreateInvitation {
        phone_number_id: Some("pn_nope".into()),
        ..Default::default()
    };
    let err = api_error(client.create_invitation(&unknown).await.unwrap_err());
    assert_eq!(err.status, 400);
    assert!(err.message.contains("pn_nope"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_create_is_400_with_every_field_in_details() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let bad = CreateInvitation {
        client_name: Some("x".repeat(101)),
        client_email: Some("not-an-email".into()),
        client_phone: Some("555-1234".into()),
        expires_in_days: Some(0),
        allowed_phone_countries: Some(vec!["USA".into()]),
        ..Default::default()
    };
    let err = api_error(client.create_invitation(&bad).await.unwrap_err());
    assert_eq!((err.status, err.code.as_str()), (400, "invalid_request"));
    let errors = err.details.unwrap()["errors"].as_array().unwrap().clone();
    let paths: Vec<String> = errors.iter().map(|e| e["path"].to_string()).collect();
    assert_eq!(
        paths,
        [
            r#"["clientName"]"#,
            r#"["clientEmail"]"#,
            r#"["clientPhone"]"#,
            r#"["expiresInDays"]"#,
            r#"["allowedPhoneCountries",0]"#
        ]
    );
    // Nothing was created.
    assert_eq!(sb.invitation_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_is_401_and_unknown_ids_are_404() {
    let sb = TestSandbox::start().await;
    let stranger =
        ApiClient::new(ClientOptions::new(sb.url(), ApiKey::new("zv_test_wrong"))).unwrap();
    let err = api_error(
        stranger
            .list_invitations(&ListInvitations::default())
            .await
            .unwrap_err(),
    );
    assert_eq!((err.status, err.code.as_str()), (401, "unauthorized"));

    let client = sb.client();
    for result in [
        client.get_invitation("nope").await.map(|_| ()),
        client.cancel_invitation("nope").await.map(|_| ()),
        client.get_message("nope").await.map(|_| ()),
        client.get_sender("nope").await.map(|_| ()),
        client.get_template("nope").await.map(|_| ()),
    ] {
        let err = api_error(result.unwrap_err());
        assert_eq!((err.status, err.code.as_str()), (404, "not_found"));
    }
    // Ids are percent-encoded on the way out and decoded by the server.
    let err = api_error(client.get_invitation("a/b c").await.unwrap_err());
    assert!(err.message.contains("'a/b c'"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_of_completed_or_cancelled_is_400() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let done = client.create_invitation(&acme()).await.unwrap();
    sb.complete(&done.id).await;
    let err = api_error(client.cancel_invitation(&done.id).await.unwrap_err());
    assert_eq!(err.status, 400);
    assert!(err.message.contains("completed"), "{}", err.message);

    let gone = client.create_invitation(&acme()).await.unwrap();
    client.cancel_invitation(&gone.id).await.unwrap();
    let err = api_error(client.cancel_invitation(&gone.id).await.unwrap_err());
    assert_eq!(err.status, 400);
    assert!(err.message.contains("cancelled"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_through_the_control_plane_creates_a_sender() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client.create_invitation(&acme()).await.unwrap();
    sb.control(&format!("invitations/{}/view", inv.id), json!({}))
        .await;
    let viewed = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(viewed.status, InvitationStatus::Pending);
    assert!(viewed.viewed_at.is_some());

    sb.control(&format!("invitations/{}/start", inv.id), json!({}))
        .await;
    sb.control(
        &format!("invitations/{}/fail", inv.id),
        json!({"reason": "fb_cancelled"}),
    )
    .await;
    let failed = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(failed.status, InvitationStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("fb_cancelled"));

    sb.complete(&inv.id).await;
    let done = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(done.status, InvitationStatus::Completed);
    assert!(done.completed_at.is_some() && done.started_at.is_some());
    let sender_id = done.sender_id.clone().expect("a sender was created");
    let account = done.connected_account.expect("connected account");
    assert_eq!(account.channel, "whatsapp");
    let sender = client.get_sender(&sender_id).await.unwrap();
    assert_eq!(sender.name, "Acme Corp");
    assert_eq!(sender.channels.unwrap(), vec!["whatsapp"]);
    let senders = client.list_senders(&ListPage::default()).await.unwrap();
    assert!(senders.items.iter().any(|s| s.id == sender_id));

    // A transition that makes no sense is refused.
    let resp = sb
        .raw(
            reqwest::Method::POST,
            &format!("/_sandbox/invitations/{}/start", inv.id),
        )
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_is_derived_from_the_moved_clock() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let short = client
        .create_invitation(&CreateInvitation {
            expires_in_days: Some(1),
            ..acme()
        })
        .await
        .unwrap();
    let long = client.create_invitation(&acme()).await.unwrap();
    sb.advance_clock(86_400 + 1).await;
    assert_eq!(
        client.get_invitation(&short.id).await.unwrap().status,
        InvitationStatus::Expired
    );
    assert_eq!(
        client.get_invitation(&long.id).await.unwrap().status,
        InvitationStatus::Pending
    );
    let expired = client
        .list_invitations(&ListInvitations {
            status: Some("expired".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(expired.items.len(), 1);
    assert_eq!(expired.items[0].id, short.id);
    let err = api_error(client.cancel_invitation(&short.id).await.unwrap_err());
    assert_eq!(err.status, 400);
    let resp = sb
        .raw(
            reqwest::Method::POST,
            &format!("/_sandbox/invitations/{}/complete", short.id),
        )
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "an expired invitation cannot complete");
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_over_more_than_100_yields_each_id_once() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let mut created = HashSet::new();
    let creates = futures::stream::iter(0..230)
        .map(|i| {
            let client = client.clone();
            async move {
                client
                    .create_invitation(&CreateInvitation {
                        client_email: Some(format!("c{i}@example.com")),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .id
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    created.extend(creates);
    assert_eq!(created.len(), 230);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut params = ListInvitations {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = client.list_invitations(&params).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        match page.next() {
            Some(c) => params.cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 230);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 230);
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), created);

    // The lazy stream walks the same pages.
    let all: Vec<String> = client
        .invitations_all(ListInvitations::default())
        .into_stream()
        .map(|r| r.unwrap().id)
        .collect()
        .await;
    assert_eq!(all.len(), 230);
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), created);

    // limit outside 1..=100 is a 400 naming `limit`.
    let err = api_error(
        client
            .list_invitations(&ListInvitations {
                limit: Some(101),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    );
    assert_eq!(err.details.unwrap()["errors"][0]["path"], json!(["limit"]));
}

fn template_send(to: &str) -> SendMessage {
    let content = json!({"templateId": "tmpl_xyz789", "templateVariables": {"1": "John"}});
    SendMessage {
        to: to.into(),
        channel: Some("whatsapp".into()),
        message_type: Some("template".into()),
        content: content.as_object().cloned(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_send_get_list_and_their_errors() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client.create_invitation(&acme()).await.unwrap();
    let sender_id = sb.complete(&inv.id).await["invitation"]["senderId"]
        .as_str()
        .unwrap()
        .to_string();

    let msg = client
        .send_message(&template_send("+14155551234"), Some(&sender_id))
        .await
        .unwrap();
    assert_eq!(msg.sender_id.as_deref(), Some(sender_id.as_str()));
    assert_eq!(msg.direction, "outbound");
    assert_eq!(msg.channel, "whatsapp");
    assert_eq!(
        msg.content.as_ref().unwrap()["templateId"],
        json!("tmpl_xyz789")
    );
    assert_eq!(client.get_message(&msg.id).await.unwrap().id, msg.id);

    // Without the header the default sender is used; an SMS text picks `sms`.
    let sms = client
        .send_message(
            &SendMessage {
                to: "+14155551234".into(),
                text: Some("hello".into()),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(sms.channel, "sms");
    assert_eq!(sms.sender_id.as_deref(), Some("snd_default"));

    let listed = client
        .list_messages(&ListMessages {
            channel: Some("whatsapp".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);

    // Unknown sender and template: 404. Free-form WhatsApp text: window closed.
    let err = api_error(
        client
            .send_message(&template_send("+14155551234"), Some("snd_nope"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 404);
    let mut unknown_template = template_send("+14155551234");
    unknown_template.content = json!({"templateId": "tmpl_nope"}).as_object().cloned();
    let err = api_error(
        client
            .send_message(&unknown_template, None)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 404);
    let err = api_error(
        client
            .send_message(
                &SendMessage {
                    to: "+14155551234".into(),
                    channel: Some("whatsapp".into()),
                    text: Some("hi".into()),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.status, err.code.as_str()),
        (400, "whatsapp_window_closed")
    );

    // The same idempotency key twice: one message, then 409.
    let mut keyed = template_send("+14155550000");
    keyed.idempotency_key = Some("welcome-inv-1".into());
    client.send_message(&keyed, Some(&sender_id)).await.unwrap();
    let err = api_error(
        client
            .send_message(&keyed, Some(&sender_id))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.status, 409);
    assert_eq!(sb.stats().await["messages"], json!(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_seeded_and_listed() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let t = client.get_template("tmpl_xyz789").await.unwrap();
    assert_eq!(t.status.as_deref(), Some("approved"));
    assert!(t.body.contains("{{1}}"));
    let all = client.list_templates(&ListPage::default()).await.unwrap();
    assert!(all.items.iter().any(|t| t.id == "tmpl_xyz789"));
}

/// A base URL with a path prefix, as behind a gateway: a small proxy serves the sandbox
/// under `/prefix`, and the client must keep the prefix on every call.
#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_with_a_path_prefix_works() {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;
    let sb = TestSandbox::start().await;
    let upstream = sb.url().to_string();
    async fn forward(State(upstream): State<String>, req: Request) -> Response {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let Some(rest) = path.strip_prefix("/prefix").map(str::to_string) else {
            return Response::builder()
                .status(404)
                .body(Body::from("no prefix"))
                .unwrap();
        };
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let mut out =
            reqwest::Client::new().request(parts.method.clone(), format!("{upstream}{rest}"));
        for (k, v) in parts.headers.iter() {
            if k != "host" {
                out = out.header(k, v);
            }
        }
        let resp = out.body(bytes).send().await.unwrap();
        let status = resp.status();
        let body = resp.bytes().await.unwrap();
        Response::builder()
            .status(status)
            .body(Body::from(body))
            .unwrap()
    }
    let app = axum::Router::new().fallback(forward).with_state(upstream);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = ApiClient::new(ClientOptions::new(
        format!("http://{addr}/prefix/"),
        ApiKey::new(KEY),
    ))
    .unwrap();
    assert_eq!(client.base_url(), format!("http://{addr}/prefix"));
    let inv = client.create_invitation(&acme()).await.unwrap();
    assert_eq!(client.get_invitation(&inv.id).await.unwrap().id, inv.id);
    assert_eq!(
        client.cancel_invitation(&inv.id).await.unwrap().status,
        InvitationStatus::Cancelled
    );
    assert_eq!(sb.invitation_count().await, 1);
}
