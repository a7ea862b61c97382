//! The webhook inbox's contract, on both homes: SQLite in a state directory and the shared
//! PostgreSQL database. Recording and duplicates, the order events are handled in, retries
//! and failures, and — on Postgres, where several replicas share one inbox — one claim per
//! event, an invitation's events one at a time and in order, and the event of a replica
//! whose lease ran out claimed again by another (its late outcome refused).
//!
//! A lease running out is made to happen by moving `lease_until` into the past in the
//! database, not by waiting for it.

use crate::support::pg;
use std::time::Duration;
use zavu_script::listen::inbox::{
    Inbox, NewEvent, Outcome, PgInbox, Shard, SqliteInbox, State, inbox_path,
};
use zavu_script::state::backend::PgTarget;

const SCOPE: &str = "http://sandbox fp_test";

fn event(id: &str, inv: &str, status: &str, ms: i64) -> NewEvent {
    NewEvent {
        event_id: id.into(),
        invitation_id: inv.into(),
        previous_status: Some("pending".into()),
        current_status: status.into(),
        event_ms: ms,
        synthesized: false,
        body: format!(r#"{{"id":"{id}"}}"#),
    }
}

fn replica(url: &str) -> Inbox {
    let target = PgTarget::parse(url).expect("the test URL parses");
    let ttl = Duration::from_secs(30);
    Inbox::Postgres(
        PgInbox::open(&target, SCOPE, tokio::runtime::Handle::current(), ttl)
            .expect("the Postgres inbox opens"),
    )
}

/// Both homes, fresh; the SQLite one's directory lives as long as the test.
async fn both() -> (Vec<(&'static str, Inbox)>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteInbox::open(&inbox_path(dir.path()), SCOPE).unwrap();
    let url = pg::database().await;
    (
        vec![
            ("sqlite", Inbox::Sqlite(sqlite)),
            ("postgres", replica(&url)),
        ],
        dir,
    )
}

fn ids(events: &[zavu_script::listen::inbox::Entry]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_is_recorded_once_and_duplicates_are_counted() {
    let (homes, _dir) = both().await;
    for (home, inbox) in homes {
        assert!(inbox.record(&event("e0", "a", "pending", 1)).unwrap());
        let (e0, e1, e2) = (
            event("e0", "a", "pending", 1),
            event("e1", "a", "in_progress", 2),
            event("e2", "b", "completed", 3),
        );
        let fresh = inbox.record_all(&[&e0, &e1, &e2, &e1]).unwrap();
        assert_eq!(fresh, vec![false, true, true, false], "{home}");
        let (states, dups) = inbox.counts().unwrap();
        assert_eq!(dups, 2, "{home}: every repeated delivery is counted");
        assert_eq!(states, vec![("received".to_string(), 3)], "{home}");
        let got = inbox.get("e1").unwrap().unwrap();
        assert_eq!((got.state, got.attempts), (State::Received, 0), "{home}");
        assert_eq!(got.body, r#"{"id":"e1"}"#, "{home}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_handled_oldest_first_a_start_before_a_completion() {
    let (homes, _dir) = both().await;
    for (home, inbox) in homes {
        // Arriving newest first; a start and a completion stamped the same millisecond.
        inbox.record(&event("c", "x", "completed", 30)).unwrap();
        inbox.record(&event("s", "x", "in_progress", 30)).unwrap();
        inbox.record(&event("b", "y", "completed", 20)).unwrap();
        inbox.record(&event("a", "z", "completed", 10)).unwrap();
        let due = inbox.due(i64::MAX, 10, Shard::ALL).unwrap();
        // Postgres offers an invitation's next event only once the one before is done.
        let expected: &[&str] = match home {
            "sqlite" => &["a", "b", "s", "c"],
            _ => &["a", "b", "s"],
        };
        assert_eq!(ids(&due), expected, "{home}");
        assert_eq!(inbox.start("s").unwrap(), Some(1), "{home}");
        let s = inbox.get("s").unwrap().unwrap();
        let (done, next) = inbox.finish_and_start(&s, 1, None, |_, _| true).unwrap();
        assert_eq!((done, next), (Outcome::Recorded, None), "{home}");
        assert_eq!(inbox.applied("x").unwrap().unwrap().status, "in_progress");
        assert_eq!(
            ids(&inbox.due(i64::MAX, 10, Shard::ALL).unwrap()),
            ["a", "b", "c"]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_attempt_waits_for_its_retry_and_a_last_one_is_kept() {
    let (homes, _dir) = both().await;
    for (home, inbox) in homes {
        inbox.record(&event("e1", "a", "completed", 10)).unwrap();
        assert_eq!(inbox.start("e1").unwrap(), Some(1), "{home}");
        assert_eq!(inbox.running().unwrap(), 1, "{home}");
        assert_eq!(
            inbox.fail("e1", 1, "boom", Some(1_000)).unwrap(),
            Outcome::Recorded
        );
        assert!(
            inbox.due(999, 10, Shard::ALL).unwrap().is_empty(),
            "{home}: not before"
        );
        assert_eq!(
            ids(&inbox.due(1_000, 10, Shard::ALL).unwrap()),
            ["e1"],
            "{home}"
        );
        assert_eq!(inbox.start("e1").unwrap(), Some(2), "{home}");
        inbox.fail("e1", 2, "boom again", None).unwrap();
        let kept = inbox.get("e1").unwrap().unwrap();
        assert_eq!(kept.state, State::Failed, "{home}");
        assert_eq!(kept.last_error.as_deref(), Some("boom again"), "{home}");
        assert!(
            inbox.due(i64::MAX, 10, Shard::ALL).unwrap().is_empty(),
            "{home}"
        );
        assert_eq!(inbox.requeue_failed().unwrap(), 1, "{home}");
        assert_eq!(
            ids(&inbox.due(i64::MAX, 10, Shard::ALL).unwrap()),
            ["e1"],
            "{home}"
        );
        // A skipped event is kept, with why, and never offered again.
        inbox.skip("e1", "older than the last one applied").unwrap();
        assert_eq!(inbox.get("e1").unwrap().unwrap().state, State::Skipped);
        assert!(
            inbox.due(i64::MAX, 10, Shard::ALL).unwrap().is_empty(),
            "{home}"
        );
        // The baseline is taken once.
        assert_eq!(inbox.baseline_ms().unwrap(), None, "{home}");
        inbox.set_baseline(5).unwrap();
        inbox.set_baseline(6).unwrap();
        assert_eq!(inbox.baseline_ms().unwrap(), Some(5), "{home}");
        // An older status never replaces a newer one.
        inbox.set_applied("q", "completed", 20).unwrap();
        inbox.set_applied("q", "in_progress", 10).unwrap();
        let q = inbox.applied("q").unwrap().unwrap();
        assert_eq!((q.status.as_str(), q.event_ms), ("completed", 20), "{home}");
        // A retry still to come is when the worker looks next.
        assert_eq!(inbox.next_retry_ms(Shard::ALL).unwrap(), None, "{home}");
        inbox.record(&event("e9", "r", "completed", 10)).unwrap();
        assert_eq!(inbox.start("e9").unwrap(), Some(1), "{home}");
        let at = chrono::Utc::now().timestamp_millis() + 3_600_000;
        inbox.fail("e9", 1, "boom", Some(at)).unwrap();
        assert_eq!(inbox.next_retry_ms(Shard::ALL).unwrap(), Some(at), "{home}");
    }
}

/// `listen --concurrency 3`: each worker reads only its part. The parts split the
/// invitations between them — every one in exactly one part (on SQLite with all its
/// events; Postgres offers an invitation's next event only) — and a retry waiting in one
/// part is not another's to wake up for.
#[tokio::test(flavor = "multi_thread")]
async fn each_worker_reads_its_own_part_of_the_inbox_with_whole_invitations() {
    let (homes, _dir) = both().await;
    for (home, inbox) in homes {
        let invitations: Vec<String> = (0..30).map(|i| format!("inv_{i}")).collect();
        for (i, inv) in invitations.iter().enumerate() {
            let at = 10 * i as i64;
            inbox
                .record(&event(&format!("{inv}_s"), inv, "in_progress", at))
                .unwrap();
            inbox
                .record(&event(&format!("{inv}_c"), inv, "completed", at + 1))
                .unwrap();
        }
        let parts: Vec<Vec<String>> = Shard::each(3)
            .map(|shard| {
                let due = inbox.due(i64::MAX, 100, shard).unwrap();
                due.iter().map(|e| e.invitation_id.clone()).collect()
            })
            .collect();
        let mut seen: Vec<&String> = parts.iter().flatten().collect();
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            invitations.len(),
            "{home}: every invitation in a part"
        );
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            assert!(
                parts[a].iter().all(|inv| !parts[b].contains(inv)),
                "{home}: parts {a} and {b} share an invitation"
            );
        }
        assert!(parts.iter().all(|p| !p.is_empty()), "{home}: {parts:?}");
        // The whole inbox is still one part's worth for a single worker.
        let all = inbox.due(i64::MAX, 100, Shard::ALL).unwrap();
        assert_eq!(
            all.len(),
            parts.iter().map(Vec::len).sum::<usize>(),
            "{home}"
        );

        // A retry waits in its invitation's part only (the rest settled first).
        let first = &invitations[0];
        let owner = Shard::each(3)
            .zip(&parts)
            .find_map(|(shard, part)| part.contains(first).then_some(shard))
            .unwrap();
        let event_id = format!("{first}_s");
        for e in all.iter().filter(|e| e.event_id != event_id) {
            inbox.skip(&e.event_id, "settled").unwrap();
        }
        assert_eq!(inbox.start(&event_id).unwrap(), Some(1), "{home}");
        let at = chrono::Utc::now().timestamp_millis() + 3_600_000;
        inbox.fail(&event_id, 1, "boom", Some(at)).unwrap();
        for shard in Shard::each(3) {
            let expected = (shard == owner).then_some(at);
            assert_eq!(
                inbox.next_retry_ms(shard).unwrap(),
                expected,
                "{home}: {shard:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_abandoned_mid_handler_goes_back_in_line() {
    // SQLite: the process lock proves the runner dead, so every running event requeues.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Inbox::Sqlite(SqliteInbox::open(&inbox_path(dir.path()), SCOPE).unwrap());
    sqlite.record(&event("e1", "a", "completed", 10)).unwrap();
    assert_eq!(sqlite.start("e1").unwrap(), Some(1));
    assert_eq!(sqlite.requeue_abandoned().unwrap(), 1);
    assert_eq!(sqlite.start("e1").unwrap(), Some(2));

    // Postgres: only once its lease has run out, and then by another replica.
    let url = pg::database().await;
    let (a, b) = (replica(&url), replica(&url));
    a.record(&event("e1", "a", "completed", 10)).unwrap();
    assert_eq!(a.start("e1").unwrap(), Some(1));
    assert_eq!(b.start("e1").unwrap(), None, "claimed by a: not b's");
    assert!(
        b.due(i64::MAX, 10, Shard::ALL).unwrap().is_empty(),
        "a's lease is live"
    );
    assert_eq!(b.requeue_abandoned().unwrap(), 0, "a's lease is live");
    expire_leases(&url).await;
    assert_eq!(ids(&b.due(i64::MAX, 10, Shard::ALL).unwrap()), ["e1"]);
    assert_eq!(b.start("e1").unwrap(), Some(2), "b runs it again");
    // a, back from the dead, cannot put b's run back in line.
    assert_eq!(
        a.fail("e1", 1, "late", Some(0)).unwrap(),
        Outcome::LeaseLost
    );
    let e1 = b.get("e1").unwrap().unwrap();
    assert_eq!((e1.state, e1.attempts), (State::Running, 2));
    assert_eq!(b.finish(&e1, 2).unwrap(), Outcome::Recorded);
    assert_eq!(a.get("e1").unwrap().unwrap().state, State::Done);

    // At start-up, a lease that ran out is requeued and counted.
    a.record(&event("e2", "b", "completed", 20)).unwrap();
    assert_eq!(a.start("e2").unwrap(), Some(1));
    expire_leases(&url).await;
    assert_eq!(b.requeue_abandoned().unwrap(), 1);
    assert_eq!(b.get("e2").unwrap().unwrap().state, State::Received);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_outcome_from_a_replica_whose_lease_ran_out_is_refused() {
    let url = pg::database().await;
    let (a, b) = (replica(&url), replica(&url));
    a.record(&event("e1", "inv", "in_progress", 10)).unwrap();
    a.record(&event("e2", "inv", "completed", 20)).unwrap();
    assert_eq!(a.start("e1").unwrap(), Some(1));
    let e1 = a.get("e1").unwrap().unwrap();
    // a stalls past its lease; b claims the event again and is running it.
    expire_leases(&url).await;
    assert_eq!(b.start("e1").unwrap(), Some(2));
    // a's late "done" is refused — and with it the claim of the next event that a asked
    // for in the same commit, since e1 is b's and running.
    let (done, next) = a
        .finish_and_start(&e1, 1, a.get("e2").unwrap().as_ref(), |_, _| true)
        .unwrap();
    assert_eq!((done, next), (Outcome::LeaseLost, None));
    assert_eq!(a.finish(&e1, 1).unwrap(), Outcome::LeaseLost);
    assert_eq!(
        a.fail("e1", 1, "late", None).unwrap(),
        Outcome::LeaseLost,
        "a late failure is refused too"
    );
    let now = b.get("e1").unwrap().unwrap();
    assert_eq!((now.state, now.attempts), (State::Running, 2), "untouched");
    assert_eq!(
        b.applied("inv").unwrap(),
        None,
        "no status applied by a's outcome"
    );
    // b's outcome lands, and e2 comes next.
    assert_eq!(b.finish(&now, 2).unwrap(), Outcome::Recorded);
    assert_eq!(b.get("e1").unwrap().unwrap().state, State::Done);
    assert_eq!(b.applied("inv").unwrap().unwrap().status, "in_progress");
    assert_eq!(ids(&a.due(i64::MAX, 10, Shard::ALL).unwrap()), ["e2"]);
    // The token is the claim, not only the replica: a claim of a's that ran out and was
    // taken again by a itself refuses the older attempt's outcome as well.
    assert_eq!(a.start("e2").unwrap(), Some(1));
    expire_leases(&url).await;
    assert_eq!(a.start("e2").unwrap(), Some(2));
    let e2 = a.get("e2").unwrap().unwrap();
    assert_eq!(a.finish(&e2, 1).unwrap(), Outcome::LeaseLost);
    assert_eq!(a.get("e2").unwrap().unwrap().state, State::Running);
    assert_eq!(a.finish(&e2, 2).unwrap(), Outcome::Recorded);
    assert_eq!(a.applied("inv").unwrap().unwrap().status, "completed");
}

/// Every running event's lease, run out (as if its replica had stopped renewing it).
async fn expire_leases(url: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .execute(
            "UPDATE zavu_script.inbox_events SET lease_until = now() - interval '1 second'
             WHERE state = 'running'",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_run_an_invitations_events_one_at_a_time_in_order() {
    let url = pg::database().await;
    let (a, b) = (replica(&url), replica(&url));
    a.record(&event("x1", "x", "in_progress", 10)).unwrap();
    b.record(&event("x2", "x", "completed", 20)).unwrap();
    b.record(&event("y1", "y", "completed", 15)).unwrap();
    // The later event of x waits behind the earlier one, whichever replica asks.
    assert_eq!(b.start("x2").unwrap(), None, "x1 comes first");
    assert_eq!(a.start("x1").unwrap(), Some(1));
    assert_eq!(b.start("x1").unwrap(), None, "one claim per event");
    assert_eq!(
        ids(&b.due(i64::MAX, 10, Shard::ALL).unwrap()),
        ["y1"],
        "x is busy on a"
    );
    assert_eq!(b.start("x2").unwrap(), None, "never two of x at once");
    // x2 is due but waits for a's run: no retry time that would make b look again at once.
    assert_eq!(b.next_retry_ms(Shard::ALL).unwrap(), None);
    assert_eq!(
        b.start("y1").unwrap(),
        Some(1),
        "other invitations run beside"
    );
    assert_eq!(a.running().unwrap(), 2);
    let x1 = a.get("x1").unwrap().unwrap();
    assert_eq!(a.finish(&x1, 1).unwrap(), Outcome::Recorded);
    assert_eq!(ids(&b.due(i64::MAX, 10, Shard::ALL).unwrap()), ["x2"]);
    assert_eq!(b.start("x2").unwrap(), Some(1));
    // A status applied since a replica looked is not started: the late look skips it.
    a.record(&event("x0", "x", "in_progress", 5)).unwrap();
    assert_eq!(a.start("x0").unwrap(), None, "older than what was applied");
    // Many replicas claiming at once: each event is claimed exactly once.
    for n in 0..20 {
        a.record(&event(
            &format!("m{n}"),
            &format!("m{n}"),
            "completed",
            100 + n,
        ))
        .unwrap();
    }
    // On threads of their own, as the replicas' handler threads would.
    let claims: usize = [a, b]
        .into_iter()
        .map(|r| {
            std::thread::spawn(move || {
                (0..20)
                    .filter(|n| r.start(&format!("m{n}")).unwrap().is_some())
                    .count()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(
        claims, 20,
        "each of 20 events claimed once between two replicas"
    );
}
