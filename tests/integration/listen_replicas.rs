//! `zavu-script listen` on several replicas sharing one PostgreSQL (`ZAVU_STATE_URL`), as
//! behind a load balancer: the test itself sends signed deliveries round-robin across the
//! replicas, each one also to another replica, out of order and concurrently — every
//! delivery is acknowledged, exactly one of each event's two is fresh, and each event's
//! handler runs once in total. A replica SIGKILLed while its handler runs leaves the event
//! to another replica, which runs it again once the lease has run out; nothing is lost and
//! nothing else runs twice.
//!
//! What ran is read from the replicas' logs (the handler prints a line per run) and checked
//! against the inbox in the database; tests wait with deadlines, never assert timings.

use crate::support::{Running, TestSandbox, cmd, eventually, pg, ready, repo, script};
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use zavu_script::api::webhook::sign;

const SECRET: &str = "whsec_replicas_share_this";

/// Prints `ran <event> attempt <n>` on every run and `done <event>` when it returns; an
/// event of `inv_slow` on its first attempt sleeps for ten minutes in between.
const HANDLER: &str = r#"
print(`ran ${event.id} attempt ${event.attempt}`);
if event.data.invitationId == "inv_slow" && event.attempt == 1 {
    print(`slow ${event.id}`);
    sleep(600);
}
print(`done ${event.id}`);
"#;

fn replica(sb: &TestSandbox, url: &str, handler: &std::path::Path, ttl: &str) -> Running {
    replica_with(sb, url, handler, &["--lease-ttl", ttl])
}

fn replica_with(sb: &TestSandbox, url: &str, handler: &std::path::Path, args: &[&str]) -> Running {
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .env("ZAVU_STATE_URL", url)
        .env("ZAVU_WEBHOOK_SECRET", SECRET)
        .arg("listen")
        .arg(handler)
        .args(["--port", "0", "--catch-up-every", "0s"])
        .args(args)
        .args(["--shutdown-grace", "1s"]);
    Running::spawn(c, Some(state))
}

/// A signed `invitation.status_changed` delivery of event `id`.
fn delivery(id: &str, invitation: &str, at_ms: i64) -> (String, String) {
    let body = json!({
        "id": id, "type": "invitation.status_changed", "timestamp": at_ms,
        "projectId": "prj_sandbox",
        "data": {"invitationId": invitation, "previousStatus": "in_progress",
                 "currentStatus": "completed"}})
    .to_string();
    let signature = sign(SECRET, chrono::Utc::now().timestamp(), body.as_bytes());
    (body, signature)
}

/// Posts a delivery; the receiver's answer (panics unless 2xx).
async fn post(sb: &TestSandbox, to: &str, (body, signature): &(String, String)) -> Value {
    let res = sb
        .http
        .post(to)
        .header("content-type", "application/json")
        .header("X-Zavu-Signature", signature)
        .body(body.clone())
        .send()
        .await
        .expect("the replica answers");
    let status = res.status();
    let answer: Value = res.json().await.expect("a JSON answer");
    assert!(status.is_success(), "{to}: {status} {answer}");
    answer
}

/// Per event id, the handler's `marker` lines (`ran`, `done`, `slow`) across `replicas`.
fn lines(replicas: &[&Running], marker: &str) -> BTreeMap<String, usize> {
    let needle = format!("> {marker} ");
    let mut seen = BTreeMap::new();
    for r in replicas {
        for line in r.log() {
            if let Some((_, rest)) = line.split_once(&needle)
                && let Some(id) = rest.split_whitespace().next()
            {
                *seen.entry(id.to_string()).or_insert(0) += 1;
            }
        }
    }
    seen
}

/// The inbox's events in the database: id → (state, attempts, deliveries).
async fn inbox(url: &str) -> BTreeMap<String, (String, i64, i64)> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query(
            "SELECT event_id, state, attempts, deliveries FROM zavu_script.inbox_events",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_share_one_inbox_and_run_each_event_once() {
    replicas_run_each_event_once(&[]).await;
}

/// The same with three handler workers in each replica: nine claiming side by side.
#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_of_three_workers_each_run_each_event_once() {
    replicas_run_each_event_once(&["--concurrency", "3"]).await;
}

async fn replicas_run_each_event_once(flags: &[&str]) {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let args: Vec<&str> = ["--lease-ttl", "30s"]
        .iter()
        .chain(flags)
        .copied()
        .collect();
    let mut replicas: Vec<Running> = (0..3)
        .map(|_| replica_with(&sb, &url, &handler, &args))
        .collect();
    let mut urls = vec![];
    for r in replicas.iter_mut() {
        urls.push(ready(r).await);
    }

    // 30 events; each delivered to replica i % 3 and again to the next one, the 60 posts
    // shuffled (a stride through them) and sent eight at a time.
    const N: usize = 30;
    let events: Vec<(String, (String, String))> = (0..N)
        .map(|i| {
            let id = format!("evt_{i:02}");
            let d = delivery(&id, &format!("inv_{i:02}"), 1_000 + i as i64);
            (id, d)
        })
        .collect();
    let posts: Vec<(usize, usize)> = (0..2 * N)
        .map(|k| (k * 7) % (2 * N))
        .map(|k| (k / 2, (k / 2 + k % 2) % 3))
        .collect();
    let answers: Vec<(usize, Value)> = futures::stream::iter(posts)
        .map(|(i, to)| {
            let (sb, urls, events) = (&sb, &urls, &events);
            async move { (i, post(sb, &urls[to], &events[i].1).await) }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut fresh = vec![0; N];
    for (i, answer) in &answers {
        assert_eq!(answer["received"], true, "{answer}");
        if answer["duplicate"] == false {
            fresh[*i] += 1;
        }
    }
    assert_eq!(
        fresh,
        vec![1; N],
        "one of each event's two deliveries is new"
    );

    let all: Vec<&Running> = replicas.iter().collect();
    eventually("every event handled", async || {
        (lines(&all, "done").len() == N).then_some(())
    })
    .await;
    let ran = lines(&all, "ran");
    let expected: BTreeMap<String, usize> = events.iter().map(|(id, _)| (id.clone(), 1)).collect();
    assert_eq!(ran, expected, "each event's handler ran once in total");
    let db = inbox(&url).await;
    for (id, _) in &events {
        assert_eq!(
            db[id],
            ("done".to_string(), 1, 2),
            "{id}: done, one attempt, two deliveries"
        );
    }
    // Which replica ran what is up to the claims: one quick replica may take them all.
    // (The killed-replica test shows one replica running events while another is busy.)

    for r in &replicas {
        r.signal("TERM");
    }
    for r in replicas.iter_mut() {
        assert_eq!(r.exit_code().await, 0, "{}", r.log().join("\n"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_killed_mid_handler_leaves_the_event_to_another_once_its_lease_runs_out() {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let mut first = replica(&sb, &url, &handler, "2s");
    let mut second = replica(&sb, &url, &handler, "2s");
    let (to_first, to_second) = (ready(&mut first).await, ready(&mut second).await);

    // The slow event, delivered to one replica; whichever claims it (the one it reached,
    // or the other on its next look) is `a`, inside the handler; `b` is the other.
    let slow = delivery("evt_slow", "inv_slow", 1_000);
    post(&sb, &to_first, &slow).await;
    eventually("a replica to be inside the slow handler", async || {
        (first.count("> slow evt_slow") + second.count("> slow evt_slow") > 0).then_some(())
    })
    .await;
    let (mut a, mut b, to_a, to_b) = if first.count("> slow evt_slow") > 0 {
        (first, second, to_first, to_second)
    } else {
        (second, first, to_second, to_first)
    };
    let others: Vec<(String, (String, String))> = (0..6)
        .map(|i| {
            let id = format!("evt_{i}");
            let d = delivery(&id, &format!("inv_{i}"), 2_000 + i);
            (id, d)
        })
        .collect();
    for (i, (_, d)) in others.iter().enumerate() {
        post(&sb, if i % 2 == 0 { &to_a } else { &to_b }, d).await;
    }
    eventually("b to run the other events", async || {
        (lines(&[&b], "done").len() == others.len()).then_some(())
    })
    .await;
    assert_eq!(
        lines(&[&b], "ran").get("evt_slow"),
        None,
        "a's lease is live while it runs: b leaves evt_slow alone"
    );

    // `state status` names who handles what.
    let status = crate::support::state_status_json(&url).await;
    let claims = status["inboxClaims"].as_array().expect("inboxClaims");
    assert_eq!(claims.len(), 1, "{status}");
    assert_eq!(claims[0]["eventId"], "evt_slow");
    assert!(
        claims[0]["leaseExpiresIn"].as_f64().unwrap() > 0.0,
        "{status}"
    );
    let holder = claims[0]["replica"].as_str().unwrap().to_string();
    let listeners: Vec<&Value> = status["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "listen")
        .collect();
    assert_eq!(listeners.len(), 2, "{status}");
    assert!(
        a.log().iter().any(|l| l.contains(&holder)),
        "a ({holder}) holds it"
    );

    a.signal("KILL");
    assert_ne!(a.exit_code().await, 0);
    b.wait_for("> done evt_slow", 1).await;
    assert!(
        b.log()
            .iter()
            .any(|l| l.contains("> ran evt_slow attempt 2")),
        "b runs it as the second attempt:\n{}",
        b.log().join("\n")
    );
    let ran = lines(&[&a, &b], "ran");
    let done = lines(&[&a, &b], "done");
    assert_eq!(ran["evt_slow"], 2, "the event in a's hand ran again, once");
    assert_eq!(done["evt_slow"], 1);
    for (id, _) in &others {
        assert_eq!((ran[id], done[id]), (1, 1), "{id} ran once");
    }
    let db = inbox(&url).await;
    assert_eq!(db["evt_slow"], ("done".to_string(), 2, 1));
    assert_eq!(db.len(), others.len() + 1, "nothing lost: {db:?}");
    assert!(db.values().all(|(state, _, _)| state == "done"), "{db:?}");

    b.signal("TERM");
    assert_eq!(b.exit_code().await, 0, "{}", b.log().join("\n"));
}

/// Two replicas that look at the inbox only every ten minutes, one of them inside the slow
/// handler: (the busy one, the idle one, the busy one's delivery URL). The slow event
/// reaches the first replica only; whichever replica runs it — the other can only have
/// heard of it by a notification — is busy from then on.
async fn one_busy_one_idle(
    sb: &TestSandbox,
    url: &str,
    handler: &std::path::Path,
) -> (Running, Running, String) {
    let slow_looks = ["--look-every", "10m"];
    let mut first = replica_with(sb, url, handler, &slow_looks);
    let mut second = replica_with(sb, url, handler, &slow_looks);
    let (to_first, to_second) = (ready(&mut first).await, ready(&mut second).await);
    post(sb, &to_first, &delivery("evt_slow", "inv_slow", 1_000)).await;
    eventually("a replica to be inside the slow handler", async || {
        (first.count("> slow evt_slow") + second.count("> slow evt_slow") > 0).then_some(())
    })
    .await;
    if first.count("> slow evt_slow") > 0 {
        (first, second, to_first)
    } else {
        (second, first, to_second)
    }
}

/// A replica that was sent nothing is woken when another records an event: with the
/// periodic look ten minutes apart, the idle replica still handles, at once, an event
/// delivered only to a replica busy in a slow handler.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_replica_is_woken_by_an_event_another_one_recorded() {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let (busy, idle, to_busy) = one_busy_one_idle(&sb, &url, &handler).await;
    // Sent only to the busy one, handled by the idle one, long before its next look.
    post(&sb, &to_busy, &delivery("evt_next", "inv_next", 2_000)).await;
    eventually("the idle replica to handle evt_next", async || {
        (idle.count("> done evt_next") == 1).then_some(())
    })
    .await;
    assert_eq!(busy.count("> ran evt_next"), 0);
}

/// A replica whose wake-up connection is cut (a restarted server, a proxy's idle timeout,
/// an administrator's `pg_terminate_backend`) opens it again and is woken through the new
/// one: with the periodic look ten minutes apart, the idle replica still handles events
/// delivered only to a replica busy in a slow handler, after the cut as before it.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_whose_wake_up_connection_was_cut_listens_again() {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let (busy, idle, to_busy) = one_busy_one_idle(&sb, &url, &handler).await;

    // The wake-up connections are the ones listening: their last statement was LISTEN.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    const LISTENING: &str = "SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN %' AND state = 'idle'";
    let listening = async || -> Vec<i32> {
        let rows = client
            .query(LISTENING, &[])
            .await
            .expect("pg_stat_activity");
        let mut pids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        pids.sort();
        pids
    };
    let before = eventually("both replicas listening", async || {
        Some(listening().await).filter(|p| p.len() == 2)
    })
    .await;
    let cut = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE pid = ANY($1)",
            &[&before],
        )
        .await
        .expect("pg_terminate_backend")
        .get::<_, i64>(0);
    assert_eq!(cut, 2, "both wake-up connections cut");
    eventually(
        "both replicas listening again, on new connections",
        async || {
            Some(listening().await)
                .filter(|p| p.len() == 2 && p.iter().all(|p| !before.contains(p)))
        },
    )
    .await;

    // Each sent only to the busy replica: only a notification can tell the idle one.
    for (id, invitation, at_ms) in [("evt_cut_a", "inv_a", 2_000), ("evt_cut_b", "inv_b", 3_000)] {
        post(&sb, &to_busy, &delivery(id, invitation, at_ms)).await;
        eventually(&format!("the idle replica to handle {id}"), async || {
            (idle.count(&format!("> done {id}")) == 1).then_some(())
        })
        .await;
        assert_eq!(busy.count(&format!("> ran {id}")), 0);
    }
}

/// A replica whose claim passed to another while its handler ran — as once its lease ran
/// out; here the claim is handed over in the database, as another replica's claim would
/// take it — finishes the run, but its outcome is refused: the event stays the newer
/// claim's, the replica warns naming the event and the lost lease, and /metrics counts it.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_whose_claim_passed_to_another_mid_run_has_its_outcome_refused() {
    const PAUSING: &str = r#"
print(`slow ${event.id}`);
sleep(5);
print(`done ${event.id}`);
"#;
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(PAUSING);
    let mut a = replica(&sb, &url, &handler, "30s");
    let to_a = ready(&mut a).await;
    post(&sb, &to_a, &delivery("evt_taken", "inv_taken", 1_000)).await;
    a.wait_for("> slow evt_taken", 1).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let taken = client
        .execute(
            "UPDATE zavu_script.inbox_events SET owner = 'another-replica',
               attempts = attempts + 1, lease_until = now() + interval '1 hour'
             WHERE event_id = 'evt_taken' AND state = 'running'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(taken, 1, "evt_taken was running on a");
    a.wait_for("> done evt_taken", 1).await;
    a.wait_for("the lease on event evt_taken (attempt 1) was lost", 1)
        .await;
    let db = inbox(&url).await;
    assert_eq!(
        db["evt_taken"],
        ("running".to_string(), 2, 1),
        "the newer claim's, untouched"
    );
    let metrics = to_a.replace("/webhooks/zavu", "/metrics");
    let page = sb
        .http
        .get(&metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"zavu_listen_events_total{outcome="lease_lost"} 1"#),
        "{page}"
    );
    assert!(
        !page.contains(r#"zavu_listen_events_total{outcome="done"}"#),
        "{page}"
    );
    a.signal("TERM");
    assert_eq!(a.exit_code().await, 0, "{}", a.log().join("\n"));
}

/// Cut off from its database, a replica answers deliveries 503 (the sender retries; nothing
/// is acknowledged that is not recorded) and `/healthz` 503 with the reason; once the
/// database answers again, so does it, and the retried delivery is handled.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_cut_off_from_the_database_refuses_deliveries_and_turns_unhealthy() {
    let url = pg::database().await;
    let name = url::Url::parse(&url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let mut r = replica(&sb, &url, &handler, "1s");
    let to = ready(&mut r).await;
    let healthz = format!("{}/healthz", to.trim_end_matches("/webhooks/zavu"));
    let health = async || {
        let resp = reqwest::get(&healthz).await.unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(health().await.0, 200);

    let (admin, conn) = tokio_postgres::connect(&pg::cluster_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let allow = async |yes: bool| {
        admin
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {yes}"))
            .await
            .unwrap();
    };
    allow(false).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    let body = eventually("/healthz to turn 503", async || {
        let (status, body) = health().await;
        (status == 503).then_some(body)
    })
    .await;
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot renew this replica's leases in the state database"),
        "{body}"
    );
    let (payload, signature) = delivery("evt_cut_off", "inv_cut_off", 1_000);
    let refused = sb
        .http
        .post(&to)
        .header("content-type", "application/json")
        .header("X-Zavu-Signature", &signature)
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status().as_u16(),
        503,
        "not recorded, not acknowledged"
    );

    allow(true).await;
    eventually("/healthz to turn 200 again", async || {
        (health().await.0 == 200).then_some(())
    })
    .await;
    let answer = post(&sb, &to, &(payload, signature)).await;
    assert_eq!(
        answer["duplicate"], false,
        "the retry is the first recorded"
    );
    r.wait_for("> done evt_cut_off", 1).await;
    r.signal("TERM");
    assert_eq!(r.exit_code().await, 0, "{}", r.log().join("\n"));
}

/// Replicas that start together each catch up on what changed while none was running: a
/// change is recorded once (its synthesized id is the same on every replica) and handled
/// once in total.
#[tokio::test(flavor = "multi_thread")]
async fn replicas_catching_up_at_once_handle_each_missed_change_once() {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_dir, handler) = script(HANDLER);
    let mut ids = vec![];
    for name in ["Acme", "Globex", "Initech", "Umbrella"] {
        let inv = sb
            .client()
            .create_invitation(&zavu_script::api::CreateInvitation {
                client_name: Some(name.into()),
                client_email: Some(format!("{}@example.com", name.to_lowercase())),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.push(inv.id);
    }
    // The first start takes the statuses as they are, then nobody listens for a while.
    let mut first = replica(&sb, &url, &handler, "30s");
    ready(&mut first).await;
    assert_eq!(first.count("first start: 4 invitation(s)"), 1);
    first.signal("TERM");
    assert_eq!(first.exit_code().await, 0);
    for id in &ids {
        sb.complete(id).await;
    }

    let mut replicas: Vec<Running> = (0..3)
        .map(|_| replica(&sb, &url, &handler, "30s"))
        .collect();
    for r in replicas.iter_mut() {
        ready(r).await;
    }
    let all: Vec<&Running> = replicas.iter().collect();
    eventually("every missed change handled", async || {
        (lines(&all, "done").len() == ids.len()).then_some(())
    })
    .await;
    let ran = lines(&all, "ran");
    assert_eq!(ran.len(), ids.len(), "{ran:?}");
    assert!(ran.values().all(|&n| n == 1), "each ran once: {ran:?}");
    for id in &ids {
        assert!(
            ran.keys()
                .any(|e| e.starts_with(&format!("syn_{id}_completed_"))),
            "{id}'s completion was caught up: {ran:?}"
        );
    }
    // Each replica says how many changes it recorded; together, each change once.
    let recorded: usize = replicas
        .iter()
        .flat_map(|r| r.log())
        .filter_map(|l| {
            let (before, _) = l.split_once(" change(s) missed while down")?;
            before.rsplit("; ").next()?.trim().parse::<usize>().ok()
        })
        .sum();
    assert_eq!(recorded, ids.len(), "each change recorded by one replica");
    let db = inbox(&url).await;
    assert_eq!(db.len(), ids.len(), "{db:?}");
    assert!(
        db.values()
            .all(|(state, attempts, _)| state == "done" && *attempts == 1),
        "{db:?}"
    );

    for r in &replicas {
        r.signal("TERM");
    }
    for r in replicas.iter_mut() {
        assert_eq!(r.exit_code().await, 0, "{}", r.log().join("\n"));
    }
}
