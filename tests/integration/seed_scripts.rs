//! Every Rhai twin of the PHP SDK docs samples, run by the real binary against a sandbox,
//! with its output checked line by line and its effect checked on the sandbox.

use crate::support::{TestSandbox, Zs, listen, ready, repo};
use serde_json::json;
use zavu_script::api::{CreateInvitation, InvitationStatus, ListInvitations};

fn acme() -> CreateInvitation {
    CreateInvitation {
        client_name: Some("Acme Corp".into()),
        client_email: Some("contact@acme.com".into()),
        ..Default::default()
    }
}

async fn run(sb: &TestSandbox, script: &str, args: &[&str]) -> crate::support::Done {
    let mut all = vec!["run".to_string(), format!("scripts/{script}")];
    all.extend(args.iter().map(|a| a.to_string()));
    Zs::against(sb).args(all).run().await
}

#[tokio::test(flavor = "multi_thread")]
async fn create_invitation() {
    let sb = TestSandbox::start().await;
    let done = run(&sb, "create_invitation.rhai", &[]).await;
    done.ok();
    let lines = done.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let inv = sb.client().get_invitation(lines[0]).await.unwrap();
    assert_eq!(lines[1], inv.url);
    assert!(lines[1].starts_with(&format!("{}/invite/", sb.url())));
    assert_eq!(lines[2], "pending");
    assert_eq!(inv.client_name.as_deref(), Some("Acme Corp"));
    assert_eq!(
        inv.expires_at.millis() - inv.created_at.millis(),
        14 * 86_400_000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_with_restrictions_and_with_a_preassigned_number() {
    let sb = TestSandbox::start().await;
    run(&sb, "create_with_phone_restrictions.rhai", &[])
        .await
        .ok();
    run(&sb, "create_with_preassigned_number.rhai", &[])
        .await
        .ok();
    let page = sb
        .client()
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].phone_number_id.as_deref(), Some("pn_abc123"));
    let restricted = &page.items[1];
    assert_eq!(
        restricted.expires_at.millis() - restricted.created_at.millis(),
        7 * 86_400_000
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_invitation_prints_status_name_sender_and_expiry() {
    let sb = TestSandbox::start().await;
    let inv = sb.client().create_invitation(&acme()).await.unwrap();
    let done = run(&sb, "get_invitation.rhai", &[&inv.id]).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "pending",
            "Acme Corp",
            "",
            inv.expires_at.to_string().as_str()
        ]
    );
    // Without an id it makes one, so it runs on an empty sandbox too.
    let done = run(&sb, "get_invitation.rhai", &[]).await;
    done.ok();
    assert_eq!(done.lines()[0], "pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_and_filter_by_status() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let a = client.create_invitation(&acme()).await.unwrap();
    let b = client
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    let c = client.create_invitation(&acme()).await.unwrap();
    client.cancel_invitation(&b.id).await.unwrap();

    let done = run(&sb, "list_invitations.rhai", &[]).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            format!("{} Acme Corp pending", c.id),
            format!("{}  cancelled", b.id),
            format!("{} Acme Corp pending", a.id),
        ]
    );
    let done = run(&sb, "filter_by_status.rhai", &[]).await;
    done.ok();
    assert_eq!(done.lines(), [c.id.as_str(), a.id.as_str()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cursor_loop_visits_every_invitation_once() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let mut ids = vec![];
    for i in 0..120 {
        let inv = client
            .create_invitation(&CreateInvitation {
                client_email: Some(format!("c{i}@example.com")),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(inv.id);
    }
    ids.reverse(); // newest first
    let done = run(&sb, "paginate_invitations.rhai", &[]).await;
    done.ok();
    assert_eq!(done.lines(), ids);
    // Three pages of 50 were asked for.
    assert_eq!(sb.stats().await["byStatus"]["200"], json!(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_cancel_of_a_completed_one() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client.create_invitation(&acme()).await.unwrap();
    let done = run(&sb, "cancel_invitation.rhai", &[&inv.id]).await;
    done.ok();
    assert_eq!(done.lines(), ["cancelled"]);
    assert_eq!(
        client.get_invitation(&inv.id).await.unwrap().status,
        InvitationStatus::Cancelled
    );

    let done_inv = client.create_invitation(&acme()).await.unwrap();
    sb.complete(&done_inv.id).await;
    let done = run(&sb, "cancel_completed.rhai", &[&done_inv.id]).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [format!(
            "400 invalid_request: Cannot cancel invitation {}: it is completed. Once a sender is created, manage it through the senders API.",
            done_inv.id
        )]
    );
    // Without an id it completes one itself through the sandbox and shows the same error.
    let done = run(&sb, "cancel_completed.rhai", &[]).await;
    done.ok();
    assert!(
        done.stdout
            .starts_with("400 invalid_request: Cannot cancel invitation")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_completion_sends_the_template_through_the_new_sender() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client.create_invitation(&acme()).await.unwrap();
    let sender = sb.complete(&inv.id).await["invitation"]["senderId"]
        .as_str()
        .unwrap()
        .to_string();
    let done = run(&sb, "after_completion_send.rhai", &[&inv.id]).await;
    done.ok();
    assert_eq!(done.stdout, "", "the PHP sample prints nothing");
    let sent = client.list_messages(&Default::default()).await.unwrap();
    assert_eq!(sent.items.len(), 1);
    let msg = &sent.items[0];
    assert_eq!(msg.sender_id.as_deref(), Some(sender.as_str()));
    assert_eq!(msg.to, "+14155551234");
    assert_eq!(msg.message_type, "template");
    assert_eq!(
        msg.content.as_ref().unwrap()["templateVariables"],
        json!({"1": "John"})
    );

    // A pending invitation sends nothing.
    let pending = client.create_invitation(&acme()).await.unwrap();
    run(&sb, "after_completion_send.rhai", &[&pending.id])
        .await
        .ok();
    assert_eq!(sb.stats().await["messages"], json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_full_example_onboards_and_checks_status() {
    let sb = TestSandbox::start().await;
    let done = run(&sb, "onboard_client.rhai", &[]).await;
    done.ok();
    let lines = done.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let url = lines[0]
        .strip_prefix("Send this link to Acme Corp: ")
        .expect("the link line");
    assert!(url.starts_with(&format!("{}/invite/", sb.url())));
    assert_eq!(lines[1], "Waiting for client to start signup");
}

#[tokio::test(flavor = "multi_thread")]
async fn onboard_from_csv_reports_each_row() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("clients.csv");
    std::fs::copy(crate::support::repo().join("examples/clients.csv"), &csv).unwrap();
    let done = run(&sb, "onboard_from_csv.rhai", &[csv.to_str().unwrap()]).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "row 12: invalid: clientEmail: \"miles@cyberdyne\" is not an email address",
            "row 13: invalid: clientPhone: \"555-0100\" is not an E.164 phone number (like +14155551234)",
            "row 14: invalid: allowedPhoneCountries[0]: \"USA\" is not a 2-letter ISO 3166-1 country code (like \"US\")",
            "row 15: invalid: expiresInDays: must be between 1 and 30 (got 45)",
            "created 16, skipped 0, already invited 0, duplicate 0, invalid 4, failed 0",
        ]
    );
    assert_eq!(sb.invitation_count().await, 16);
    assert!(dir.path().join("onboard-clients.report.csv").exists());
    assert!(dir.path().join("onboard-clients.report.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn after_onboarding_sets_up_the_new_sender_and_welcomes_the_client() {
    let sb = TestSandbox::start().await;
    let done = run(
        &sb,
        "after_onboarding.rhai",
        &["https://acme.example/hooks/zavu"],
    )
    .await;
    done.ok();
    let lines = done.lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("invited with +14155550123: "),
        "{lines:?}"
    );
    let client = sb.client();
    let number = client.get_phone_number("pn_abc123").await.unwrap();
    let sender = client
        .get_sender(
            number
                .sender_id
                .as_deref()
                .expect("the number went to the new sender"),
        )
        .await
        .unwrap();
    assert_eq!(sender.name, "Acme Corp (WhatsApp)");
    assert_eq!(
        sender.webhook.unwrap().url,
        "https://acme.example/hooks/zavu"
    );
    assert_eq!(
        lines[1],
        format!(
            "sender {} sends from +14155550123; webhook https://acme.example/hooks/zavu",
            sender.id
        )
    );
    assert!(lines[2].starts_with("welcome msg_") && lines[2].ends_with(" queued"));
    let page = client.list_messages(&Default::default()).await.unwrap();
    assert_eq!(page.items[0].sender_id.as_deref(), Some(sender.id.as_str()));
    assert!(
        done.stderr.contains("project Sandbox Project (test key)"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_status_changed_welcomes_on_completion_and_reinvites_on_expiry_once() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let create = |name: &str, phone: Option<&str>, days: i64| CreateInvitation {
        client_name: Some(name.into()),
        client_email: Some(format!("ops@{}.com", name.to_lowercase())),
        client_phone: phone.map(str::to_string),
        expires_in_days: Some(days),
        ..Default::default()
    };
    let acme = client
        .create_invitation(&create("Acme", Some("+14155550101"), 7))
        .await
        .unwrap();
    let globex = client
        .create_invitation(&create("Globex", Some("+14155550102"), 1))
        .await
        .unwrap();
    let initech = client
        .create_invitation(&create("Initech", None, 7))
        .await
        .unwrap();
    let state = tempfile::tempdir().unwrap();
    let handler = repo().join("scripts/on_status_changed.rhai");
    let mut first = listen(&sb, state.path(), &handler);
    ready(&mut first).await;

    let sender = sb.complete(&acme.id).await["invitation"]["senderId"]
        .as_str()
        .unwrap()
        .to_string();
    sb.complete(&initech.id).await;
    first
        .wait_for(
            &format!("welcomed Acme ({}) from sender {sender}", acme.id),
            1,
        )
        .await;
    first
        .wait_for(
            &format!("{} completed, but has no client phone", initech.id),
            1,
        )
        .await;
    first.signal("TERM");
    first.exit_code().await;

    // Globex's invitation expires while nobody listens: the next start offers it.
    sb.advance_clock(2 * 86_400).await;
    let mut second = listen(&sb, state.path(), &handler);
    ready(&mut second).await;
    second
        .wait_for(
            &format!("re-invited Globex ({} expired (caught up)): ", globex.id),
            1,
        )
        .await;
    second.signal("TERM");
    second.exit_code().await;
    let mut third = listen(&sb, state.path(), &handler);
    ready(&mut third).await;
    third.signal("TERM");
    third.exit_code().await;
    assert_eq!(third.count("re-invited"), 0, "{:#?}", third.log());

    let sent = client.list_messages(&Default::default()).await.unwrap();
    assert_eq!(sent.items.len(), 1, "one welcome");
    assert_eq!(sent.items[0].sender_id.as_deref(), Some(sender.as_str()));
    assert_eq!(sent.items[0].to, "+14155550101");
    let all = client
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap()
        .items;
    assert_eq!(all.len(), 4, "one re-invitation");
    let fresh = all
        .iter()
        .find(|i| ![&acme.id, &globex.id, &initech.id].contains(&&i.id))
        .unwrap();
    assert_eq!(fresh.client_name.as_deref(), Some("Globex"));
    assert_eq!(fresh.client_phone.as_deref(), Some("+14155550102"));
    assert_eq!(fresh.status, InvitationStatus::Pending);

    // The polling way afterwards, with the same state: nothing is sent twice.
    let done = Zs::against(&sb)
        .env("ZAVU_SCRIPT_STATE_DIR", &state.path().display().to_string())
        .args(["run", "scripts/followup.rhai"])
        .run()
        .await;
    done.ok();
    assert!(
        done.stdout
            .contains("welcomes: sent 0, already sent 1, no phone 1, failed 0"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("re-invitations: sent 0, already sent 1,"),
        "{}",
        done.stdout
    );
    assert_eq!(sb.stats().await["messages"], json!(1));
}
