//! `zavu-script listen`, run as a real process against a sandbox whose own deliveries reach
//! it over loopback (`--port 0 --register self`): signatures verified and bad ones refused;
//! duplicates and reordering under the delivery faults run each handler once per event; a
//! listener SIGKILLed mid-handler loses nothing and, with effects keyed on `event.id`,
//! sends nothing twice; a listener that was down catches every missed change up on restart,
//! expiry included.
//!
//! Time moves by the sandbox's clock (retries, expiry); tests wait for log lines and the
//! sandbox's counts with deadlines and assert what happened, never how long it took.

use crate::support::{Running, TestSandbox, eventually, listen, listen_with, ready, script};
use serde_json::{Value, json};
use std::collections::HashMap;
use zavu_script::api::CreateInvitation;
use zavu_script::api::webhook::sign;

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

/// The handler's `ran` lines: `ran <event id> <invitation> <status> <synthesized>`.
fn runs(l: &Running) -> Vec<Vec<String>> {
    l.log()
        .iter()
        .filter_map(|line| line.split_once("> ran "))
        .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
        .collect()
}

const RECORDER: &str = "print(`ran ${event.id} ${event.data.invitationId} \
                        ${event.data.currentStatus} ${event.synthesized}`);";

/// Waits until the sandbox has nothing left to deliver.
async fn delivered_all(sb: &TestSandbox) -> Value {
    eventually("the sandbox to deliver everything", async || {
        let log = sb.deliveries().await;
        (log["pending"] == 0).then_some(log)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_deliveries_are_handled_and_bad_ones_refused_with_401() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(RECORDER);
    let mut l = listen(&sb, state.path(), &handler);
    let url = ready(&mut l).await;
    let registered = sb.client().get_webhook().await.unwrap();
    assert_eq!(
        registered.url, url,
        "--register self points the project here"
    );
    let secret = registered.secret;
    assert!(
        !l.log().join("\n").contains(&secret),
        "the secret is never logged"
    );

    // The sandbox's own delivery, signed with the webhook's secret.
    let first = invite(&sb, "Acme").await;
    sb.complete(&first).await;
    l.wait_for(&format!("{first} completed false"), 1).await;

    // Hand-made deliveries, each with its own event id: only the well-signed one runs.
    let body = |id: &str| {
        json!({"id": id, "type": "invitation.status_changed", "timestamp": 1,
               "projectId": "prj_sandbox",
               "data": {"invitationId": format!("inv_{id}"), "previousStatus": "pending",
                        "currentStatus": "completed"}})
        .to_string()
    };
    let now = chrono::Utc::now().timestamp();
    let post = |signature: Option<String>, body: String| {
        let mut r = sb
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(s) = signature {
            r = r.header("X-Zavu-Signature", s);
        }
        r.send()
    };
    let tampered = body("evt_tampered").replace("completed", "cancelled");
    let cases = [
        (
            "wrong secret",
            Some(sign("whsec_not_the_one", now, body("evt_wrong").as_bytes())),
            body("evt_wrong"),
            "does not match",
        ),
        (
            "stale t",
            Some(sign(&secret, now - 600, body("evt_stale").as_bytes())),
            body("evt_stale"),
            "tolerance 300 s",
        ),
        (
            "tampered body",
            Some(sign(&secret, now, body("evt_tampered").as_bytes())),
            tampered,
            "does not match",
        ),
        (
            "missing header",
            None,
            body("evt_missing"),
            "no X-Zavu-Signature",
        ),
    ];
    for (what, signature, body, reason) in cases {
        let resp = post(signature, body).await.unwrap();
        assert_eq!(resp.status(), 401, "{what}");
        let answer: Value = resp.json().await.unwrap();
        assert!(
            answer["message"].as_str().unwrap().contains(reason),
            "{what}: {answer}"
        );
    }
    // v1 alone is accepted; the same id again is acknowledged as a duplicate.
    let good = body("evt_good");
    let full = sign(&secret, now, good.as_bytes());
    let v1_only = full.split(",v2=").next().unwrap().to_string();
    for (signature, duplicate) in [(v1_only, false), (full, true)] {
        let resp = post(Some(signature), good.clone()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let answer: Value = resp.json().await.unwrap();
        assert_eq!(answer["duplicate"], duplicate, "{answer}");
    }
    l.wait_for("ran evt_good", 1).await;

    // The sandbox signing with a wrong secret is refused, retried, and handled once fixed.
    sb.faults(json!({"webhookWrongSignatureRate": 1.0})).await;
    let second = invite(&sb, "Globex").await;
    sb.complete(&second).await;
    eventually("the refused attempt in the delivery log", async || {
        let log = sb.deliveries().await;
        let refused = log["deliveries"].as_array().unwrap().iter().any(|d| {
            d["invitationId"] == second.as_str()
                && d["status"] == 401
                && d["fault"] == "wrong_signature"
        });
        refused.then_some(())
    })
    .await;
    sb.faults(json!({"webhookWrongSignatureRate": null})).await;
    sb.advance_clock(60).await;
    l.wait_for(&format!("{second} completed false"), 1).await;
    delivered_all(&sb).await;

    let ran: Vec<String> = runs(&l).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(ran.len(), 3, "{ran:?}");
    for refused in ["evt_wrong", "evt_stale", "evt_tampered", "evt_missing"] {
        assert!(!ran.contains(&refused.to_string()), "{refused} ran");
    }
    assert!(l.count("delivery refused") >= 5, "{:#?}", l.log());
    assert_eq!(l.count("delivered again"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicated_and_reordered_deliveries_run_each_event_once_in_order() {
    once_in_order_under_delivery_faults(&[]).await;
}

/// The same with four handler workers: invitations' events run side by side, still once
/// each and, per invitation, in order.
#[tokio::test(flavor = "multi_thread")]
async fn with_four_workers_each_event_still_runs_once_and_in_order() {
    once_in_order_under_delivery_faults(&["--concurrency", "4"]).await;
}

async fn once_in_order_under_delivery_faults(flags: &[&str]) {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(RECORDER);
    let mut l = listen_with(&sb, state.path(), &handler, flags);
    ready(&mut l).await;
    sb.faults(json!({"webhookDuplicateRate": 1.0, "webhookReorderMs": 200}))
        .await;
    let mut invitations = vec![];
    let clients = if flags.is_empty() { 5 } else { 12 };
    for i in 0..clients {
        let id = invite(&sb, &format!("Client{i}")).await;
        sb.control(&format!("invitations/{id}/start"), json!({}))
            .await;
        sb.complete(&id).await;
        invitations.push(id);
    }
    let log = delivered_all(&sb).await;
    let attempts = log["deliveries"].as_array().unwrap();
    let events: std::collections::HashSet<&str> = attempts
        .iter()
        .filter_map(|d| d["eventId"].as_str())
        .collect();
    assert_eq!(events.len(), 2 * clients, "a start and a completion each");
    assert!(attempts.iter().any(|d| d["fault"] == "reordered"));
    assert!(attempts.len() >= 20, "each event delivered twice");

    // Every event is settled: run, or skipped as older than what ran.
    eventually("every event run or skipped", async || {
        (runs(&l).len() + l.count("skipped, ") == 2 * clients).then_some(())
    })
    .await;
    // Each repeat is logged before it is answered, but the log is read on its own thread:
    // the last of those lines can still be on its way when the last run's line is in.
    l.wait_for("delivered again", 2 * clients).await;
    let ran = runs(&l);
    let mut seen = HashMap::new();
    for r in &ran {
        *seen.entry(r[0].clone()).or_insert(0) += 1;
    }
    assert!(
        seen.values().all(|n| *n == 1),
        "an event ran twice: {ran:?}"
    );
    for id in &invitations {
        let statuses: Vec<&str> = ran
            .iter()
            .filter(|r| &r[1] == id)
            .map(|r| r[2].as_str())
            .collect();
        assert!(
            statuses == ["in_progress", "completed"] || statuses == ["completed"],
            "{id}: ran {statuses:?}: never back in time"
        );
    }
}

/// Welcomes a completed client through their new sender, keyed on the event; the first
/// attempt for "Hold" then hangs, so the test can kill the process mid-handler.
const WELCOME: &str = r#"
if event.data.currentStatus == "completed" {
    try {
        zavu.messages.send(#{
            to: "+14155550100",
            channel: "whatsapp",
            messageType: "template",
            content: #{ templateId: "tmpl_xyz789", templateVariables: #{ "1": event.data.clientName } },
            idempotencyKey: event.id + ":welcome",
            "Zavu-Sender": event.data.senderId,
        });
        print(`welcomed ${event.data.invitationId} attempt ${event.attempt}`);
    } catch (err) {
        if type_of(err) == "ApiError" && err.status == 409 {
            print(`already welcomed ${event.data.invitationId} attempt ${event.attempt}`);
        } else {
            throw err;
        }
    }
    if event.data.clientName == "Hold" && event.attempt == 1 {
        sleep(3600);
    }
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_handler_and_restarted_it_loses_nothing_and_sends_nothing_twice() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(WELCOME);
    let mut first = listen(&sb, state.path(), &handler);
    ready(&mut first).await;
    let hold = invite(&sb, "Hold").await;
    let later: Vec<String> = vec![invite(&sb, "Beta").await, invite(&sb, "Gamma").await];
    sb.complete(&hold).await;
    first
        .wait_for(&format!("welcomed {hold} attempt 1"), 1)
        .await;
    // Mid-handler: the welcome is out, the handler has not finished.
    first.signal("KILL");
    first.exit_code().await;
    // Completed while nobody listens: the sandbox's deliveries fail and wait for a retry.
    for id in &later {
        sb.complete(id).await;
    }
    eventually("the failed deliveries", async || {
        let log = sb.deliveries().await;
        (log["failedAttempts"].as_u64() >= Some(2)).then_some(())
    })
    .await;

    let mut second = listen(&sb, state.path(), &handler);
    ready(&mut second).await;
    second
        .wait_for("were being handled when the last run stopped", 1)
        .await;
    second
        .wait_for(&format!("already welcomed {hold} attempt 2"), 1)
        .await;
    for id in &later {
        second
            .wait_for(&format!("welcomed {id} attempt 1"), 1)
            .await;
    }
    // The sandbox's retries now reach the new address, and change nothing.
    sb.advance_clock(60).await;
    delivered_all(&sb).await;
    eventually("the late deliveries settled", async || {
        (second.count("skipped, ") + second.count("delivered again") >= 2).then_some(())
    })
    .await;

    assert_eq!(sb.stats().await["messages"], json!(3), "one welcome each");
    for id in later.iter().chain([&hold]) {
        let sent = second.count(&format!("> welcomed {id}"));
        assert!(sent <= 1, "{id} welcomed {sent} times: {:#?}", second.log());
    }
    let messages = sb
        .client()
        .list_messages(&Default::default())
        .await
        .unwrap();
    let mut to_senders: Vec<_> = messages
        .items
        .iter()
        .filter_map(|m| m.sender_id.clone())
        .collect();
    to_senders.sort();
    to_senders.dedup();
    assert_eq!(to_senders.len(), 3, "each through its client's new sender");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_that_was_down_catches_up_every_missed_change_once() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(RECORDER);
    let mut ids = vec![];
    for i in 0..20 {
        ids.push(invite(&sb, &format!("Client{i}")).await);
    }
    let short = sb
        .client()
        .create_invitation(&CreateInvitation {
            client_name: Some("Brief".into()),
            expires_in_days: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let mut first = listen(&sb, state.path(), &handler);
    ready(&mut first).await;
    assert_eq!(
        first.count("first start: 21 invitation(s) taken as they are"),
        1
    );
    first.signal("TERM");
    assert_eq!(first.exit_code().await, 0, "{:#?}", first.log());

    // Down: twenty complete (their deliveries fail), and one invitation expires.
    for id in &ids {
        sb.complete(id).await;
    }
    sb.advance_clock(2 * 86_400).await;

    let mut second = listen(&sb, state.path(), &handler);
    ready(&mut second).await;
    assert_eq!(
        second.count("21 change(s) missed while down, recorded to handle"),
        1,
        "{:#?}",
        second.log()
    );
    eventually("21 caught-up runs", async || {
        (runs(&second).len() >= 21).then_some(())
    })
    .await;
    // The sandbox's retries arrive late, to the new address: already applied, skipped.
    sb.advance_clock(3600).await;
    delivered_all(&sb).await;
    eventually("the late deliveries skipped", async || {
        (second.count("skipped, ") == 20).then_some(())
    })
    .await;

    let ran = runs(&second);
    assert_eq!(ran.len(), 21, "{ran:#?}");
    for id in &ids {
        let mine: Vec<_> = ran.iter().filter(|r| &r[1] == id).collect();
        assert_eq!(mine.len(), 1, "{id}: {mine:?}");
        assert_eq!(mine[0][2], "completed");
        assert_eq!(mine[0][3], "true", "marked as synthesized");
        assert!(mine[0][0].starts_with(&format!("syn_{id}_completed_")));
    }
    let expired: Vec<_> = ran.iter().filter(|r| r[1] == short).collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(
        expired[0][2], "expired",
        "expiry, which never fires, is offered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn while_receiving_a_lost_delivery_and_an_expiry_are_caught_up() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(RECORDER);
    let brief = sb
        .client()
        .create_invitation(&CreateInvitation {
            client_name: Some("Brief".into()),
            expires_in_days: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let mut l = listen_with(&sb, state.path(), &handler, &["--catch-up-every", "1s"]);
    ready(&mut l).await;
    sb.faults(json!({"webhookDropRate": 1.0})).await;
    let lost = invite(&sb, "Lost").await;
    sb.complete(&lost).await;
    sb.advance_clock(2 * 86_400).await;
    l.wait_for(&format!("{lost} completed true"), 1).await;
    l.wait_for(&format!("{brief} expired true"), 1).await;
    let log = sb.deliveries().await;
    assert_eq!(log["dropped"], 1, "{log}");
    assert_eq!(log["delivered"], 0, "{log}");
    // Later passes find nothing new.
    assert!(l.count("no delivery announced") >= 1, "{:#?}", l.log());
    eventually("another quiet pass", async || {
        let quiet = l.log().len();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        (l.log().len() == quiet).then_some(())
    })
    .await;
    assert_eq!(runs(&l).len(), 2, "{:#?}", l.log());
}

/// A handler run that outlives `--handler-timeout` is stopped and fails like any other
/// attempt (here the only one, so the event is kept as failed and named), and the events
/// behind it are handled: one hung handler does not hold the receiver.
#[tokio::test(flavor = "multi_thread")]
async fn a_handler_past_its_timeout_is_stopped_and_the_next_event_runs() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(&format!(
        "if event.data.clientName == \"Hang\" {{ loop {{ }} }}\n{RECORDER}"
    ));
    let mut l = listen_with(
        &sb,
        state.path(),
        &handler,
        &["--handler-timeout", "1s", "--max-attempts", "1"],
    );
    ready(&mut l).await;
    let hang = invite(&sb, "Hang").await;
    let next = invite(&sb, "Next").await;
    sb.complete(&hang).await;
    sb.complete(&next).await;
    l.wait_for("kept as failed", 1).await;
    eventually("the next event to run", async || {
        runs(&l)
            .iter()
            .any(|r| r[1] == next && r[2] == "completed")
            .then_some(())
    })
    .await;
    let failed = l
        .log()
        .into_iter()
        .find(|line| line.contains("kept as failed"))
        .unwrap();
    assert!(
        failed.contains("--handler-timeout 1s"),
        "the failure says why: {failed}"
    );
    assert!(
        !runs(&l).iter().any(|r| r[1] == hang),
        "the hung run printed nothing: {:#?}",
        l.log()
    );
}

/// With `--concurrency`, a handler stuck on one invitation holds up only the invitations
/// that share its worker: the others' events run meanwhile. (With one worker they would
/// all wait behind it — as `a_handler_past_its_timeout_is_stopped_and_the_next_event_runs`
/// shows, until the timeout.)
#[tokio::test(flavor = "multi_thread")]
async fn with_workers_a_stuck_handler_does_not_hold_up_other_invitations() {
    const STUCK_ON_SLOW: &str = r#"
if event.data.clientName == "Slow" {
    print(`stuck ${event.data.invitationId}`);
    sleep(600);
}
print(`handled ${event.data.invitationId}`);
"#;
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(STUCK_ON_SLOW);
    let mut l = listen_with(
        &sb,
        state.path(),
        &handler,
        &["--concurrency", "4", "--shutdown-grace", "1s"],
    );
    ready(&mut l).await;
    let slow = invite(&sb, "Slow").await;
    sb.complete(&slow).await;
    l.wait_for(&format!("> stuck {slow}"), 1).await;
    // Twelve more: the chance that all share the stuck worker is (1/4)^12.
    let mut others = vec![];
    for i in 0..12 {
        let id = invite(&sb, &format!("Client{i}")).await;
        sb.complete(&id).await;
        others.push(id);
    }
    eventually(
        "another invitation handled beside the stuck one",
        async || {
            others
                .iter()
                .any(|id| l.count(&format!("> handled {id}")) == 1)
                .then_some(())
        },
    )
    .await;
    assert_eq!(l.count(&format!("> handled {slow}")), 0, "still stuck");
    // SIGTERM: the stuck run outlives the grace period and is stopped; the process ends.
    l.signal("TERM");
    assert_eq!(l.exit_code().await, 0, "{:#?}", l.log());
    assert_eq!(l.count("grace period over"), 1, "{:#?}", l.log());
}

/// With `--concurrency`, a failed attempt waits in its own worker's part and is retried
/// there: every event fails once, then runs once more and succeeds — none is lost, none
/// runs a third time.
#[tokio::test(flavor = "multi_thread")]
async fn with_workers_each_failed_attempt_is_retried_once() {
    const FAILS_FIRST: &str = r#"
if event.attempt == 1 {
    throw `first attempt fails for ${event.data.invitationId}`;
}
print(`ok ${event.data.invitationId} attempt ${event.attempt}`);
"#;
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(FAILS_FIRST);
    let mut l = listen_with(&sb, state.path(), &handler, &["--concurrency", "3"]);
    ready(&mut l).await;
    let mut ids = vec![];
    for i in 0..6 {
        let id = invite(&sb, &format!("Client{i}")).await;
        sb.complete(&id).await;
        ids.push(id);
    }
    for id in &ids {
        l.wait_for(&format!("> ok {id} attempt 2"), 1).await;
    }
    assert_eq!(l.count("retry 2 of 5"), 6, "{:#?}", l.log());
    assert_eq!(l.count("attempt 3"), 0, "{:#?}", l.log());
}

/// SIGTERM while several workers are each inside a handler: every run in hand finishes
/// within the grace period and the process exits 0; what had not started runs on the next
/// start, and nothing that finished runs again.
#[tokio::test(flavor = "multi_thread")]
async fn with_workers_sigterm_lets_every_run_in_hand_finish() {
    const TAKES_A_MOMENT: &str = r#"
print(`begin ${event.data.invitationId}`);
sleep(1.5);
print(`end ${event.data.invitationId}`);
"#;
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let (_dir, handler) = script(TAKES_A_MOMENT);
    let flags = ["--concurrency", "4", "--shutdown-grace", "60s"];
    let mut first = listen_with(&sb, state.path(), &handler, &flags);
    ready(&mut first).await;
    let mut ids = vec![];
    for i in 0..8 {
        let id = invite(&sb, &format!("Client{i}")).await;
        sb.complete(&id).await;
        ids.push(id);
    }
    eventually("several handlers in hand at once", async || {
        (first.count("> begin ") >= 2 && first.count("> end ") == 0).then_some(())
    })
    .await;
    first.signal("TERM");
    assert_eq!(first.exit_code().await, 0, "{:#?}", first.log());
    assert_eq!(first.count("grace period over"), 0, "{:#?}", first.log());
    let begun: Vec<&String> = ids
        .iter()
        .filter(|id| first.count(&format!("> begin {id}")) == 1)
        .collect();
    assert!(begun.len() >= 2, "{:#?}", first.log());
    for id in &begun {
        assert_eq!(
            first.count(&format!("> end {id}")),
            1,
            "{id} finished in the grace period"
        );
    }

    let mut second = listen_with(&sb, state.path(), &handler, &flags);
    ready(&mut second).await;
    for id in &ids {
        let before = first.count(&format!("> end {id}"));
        if before == 0 {
            second.wait_for(&format!("> end {id}"), 1).await;
        }
    }
    for id in &begun {
        assert_eq!(second.count(&format!("> begin {id}")), 0, "{id} ran again");
    }
}
