//! The campaign journal's contract, the same on both homes: every test here runs once on
//! the SQLite file in a state directory and once on a fresh PostgreSQL database
//! (`cargo test journal::sqlite` / `cargo test journal::postgres` runs one side).
//! Rows go `sending` then `created`, a crash leaves them `unknown`, a refused or
//! already-invited row never overwrites one this campaign created or may have created,
//! runs keep their counts, duplicates are counted once, and a batch lands whole.

use zavu_script::campaign::journal::{
    Batch, CampaignId, Client, Journal, Lifecycle, Observed, Op, RowState,
};
use zavu_script::campaign::progress::Tally;
use zavu_script::campaign::runs::Outcome;

/// Where a test's journal lives; `open` may be called again to play a restarted process.
pub struct Home {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Home {
    pub async fn open(&self) -> Journal {
        let target = self
            .url
            .as_deref()
            .map(|u| zavu_script::state::backend::PgTarget::parse(u).unwrap());
        Journal::open_at(self.dir.path(), target.as_ref())
            .await
            .unwrap()
    }

    pub fn postgres_url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

macro_rules! both_homes {
    ($(async fn $name:ident($h:ident) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let $h = Home { dir: tempfile::tempdir().unwrap(), url: None };
                $body
            })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let url = crate::support::pg::database().await;
                let $h = Home { dir: tempfile::tempdir().unwrap(), url: Some(url) };
                $body
            })*
        }
    };
}

fn sending(key: &str, line: u64, email: &str, at: i64) -> Op {
    Op::Sending {
        key: key.into(),
        line,
        client: Client {
            name: Some(format!("Name of {key}")),
            email: Some(email.into()),
            phone: None,
        },
        attempt_at_ms: at,
    }
}

fn seen(status: &str, created_ms: i64) -> Observed {
    Observed {
        status: status.into(),
        client_name: Some("Acme Corp".into()),
        life: Lifecycle {
            created_ms: Some(created_ms),
            changed_ms: Some(created_ms),
            ..Lifecycle::default()
        },
    }
}

async fn commit(j: &Journal, c: CampaignId, ops: Vec<Op>) {
    let batch = Batch {
        ops,
        ..Batch::default()
    };
    j.commit(c, &batch).await.unwrap();
}

both_homes! {
    async fn a_row_goes_sending_then_created_and_a_crash_leaves_it_unknown(home) {
        let j = home.open().await;
        let c = j.campaign("http://x", "fp", "spring").await.unwrap();
        assert_eq!(j.campaign("http://x", "fp", "spring").await.unwrap(), c);
        assert_ne!(j.campaign("http://y", "fp", "spring").await.unwrap(), c, "targets are separate");
        assert_eq!(j.find_campaign("http://x", "fp", "autumn").await.unwrap(), None);

        commit(&j, c, vec![sending("a@x.co", 2, "a@x.co", 1000)]).await;
        commit(&j, c, vec![
            Op::Created {
                key: "a@x.co".into(),
                invitation_id: "inv1".into(),
                url: "http://x/invite/t".into(),
                seen: seen("pending", 1500),
            },
            sending("b@x.co", 3, "b@x.co", 1001),
        ]).await;
        drop(j);

        // The process died with b's create in flight.
        let j = home.open().await;
        assert_eq!(j.recover_sending(c).await.unwrap(), 1);
        let b = j.get(c, "b@x.co").await.unwrap().unwrap();
        assert_eq!((b.state, b.attempt_at_ms, b.attempts), (RowState::Unknown, Some(1001), 1));
        assert_eq!(b.error_code.as_deref(), Some("outcome_unknown"));
        assert_eq!(b.match_email.as_deref(), Some("b@x.co"));
        let a = j.get(c, "a@x.co").await.unwrap().unwrap();
        assert_eq!((a.state, a.invitation_id.as_deref()), (RowState::Created, Some("inv1")));
        assert_eq!(a.client_name.as_deref(), Some("Acme Corp"));
        assert_eq!((a.life.created_ms, a.inv_status.as_deref()), (Some(1500), Some("pending")));
        assert_eq!(a.line, Some(2));

        let many = j.get_many(c, &["a@x.co", "b@x.co", "nobody@x.co"]).await.unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many["a@x.co"], a);
        assert_eq!(many["b@x.co"], b);

        let all = j.entries(c).await.unwrap();
        assert_eq!(all.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["a@x.co", "b@x.co"]);
        assert_eq!(j.in_state(c, RowState::Unknown).await.unwrap(), vec![b]);
        let (states, statuses) = j.counts(c).await.unwrap();
        assert_eq!((states.get("created"), states.get("unknown")), (Some(&1), Some(&1)));
        assert_eq!(statuses.get("pending"), Some(&1));

        // A resend after reconciling: the row is planned again, then sent a second time.
        commit(&j, c, vec![Op::Mark { key: "b@x.co".into(), state: RowState::Planned, code: None, message: None }]).await;
        commit(&j, c, vec![sending("b@x.co", 3, "b@x.co", 2000)]).await;
        let b = j.get(c, "b@x.co").await.unwrap().unwrap();
        assert_eq!((b.state, b.attempts, b.error_code), (RowState::Sending, 2, None));
    }

    async fn invalid_and_existing_marks_never_overwrite_a_row_that_may_have_been_sent(home) {
        let j = home.open().await;
        let c = j.campaign("http://x", "fp", "spring").await.unwrap();
        commit(&j, c, vec![
            sending("created@x.co", 2, "created@x.co", 1),
            sending("sending@x.co", 3, "sending@x.co", 1),
            sending("unknown@x.co", 4, "unknown@x.co", 1),
            sending("failed@x.co", 5, "failed@x.co", 1),
        ]).await;
        commit(&j, c, vec![
            Op::Created { key: "created@x.co".into(), invitation_id: "inv1".into(), url: "u".into(), seen: seen("pending", 5) },
            Op::Mark { key: "unknown@x.co".into(), state: RowState::Unknown, code: Some("outcome_unknown".into()), message: Some("lost".into()) },
            Op::Mark { key: "failed@x.co".into(), state: RowState::Failed, code: Some("server_error".into()), message: Some("503".into()) },
        ]).await;
        let mut ops = vec![];
        for key in ["created@x.co", "sending@x.co", "unknown@x.co", "failed@x.co", "new@x.co"] {
            ops.push(Op::Invalid { key: key.into(), line: 9, client_name: None, code: "invalid_params".into(), message: "bad".into() });
        }
        commit(&j, c, ops).await;
        let state = async |k: &str| j.get(c, k).await.unwrap().unwrap().state;
        assert_eq!(state("created@x.co").await, RowState::Created);
        assert_eq!(state("sending@x.co").await, RowState::Sending);
        assert_eq!(state("unknown@x.co").await, RowState::Unknown);
        assert_eq!(state("failed@x.co").await, RowState::Invalid);
        assert_eq!(state("new@x.co").await, RowState::Invalid);

        let mut ops = vec![];
        for key in ["created@x.co", "sending@x.co", "unknown@x.co", "failed@x.co", "other@x.co"] {
            ops.push(Op::Existing { key: key.into(), line: 7, invitation_id: "elsewhere".into(), url: "u2".into(), status: "in_progress".into() });
        }
        commit(&j, c, ops).await;
        assert_eq!(state("created@x.co").await, RowState::Created);
        assert_eq!(state("sending@x.co").await, RowState::Sending);
        assert_eq!(state("unknown@x.co").await, RowState::Unknown);
        let f = j.get(c, "failed@x.co").await.unwrap().unwrap();
        assert_eq!((f.state, f.invitation_id.as_deref(), f.error_code), (RowState::Existing, Some("elsewhere"), None));
        assert_eq!(j.get(c, "created@x.co").await.unwrap().unwrap().invitation_id.as_deref(), Some("inv1"));
    }

    async fn a_run_keeps_its_counts_and_a_dead_run_is_found_killed(home) {
        let j = home.open().await;
        let c = j.campaign("http://x", "fp", "spring").await.unwrap();
        assert_eq!(j.last_run(c).await.unwrap(), None);
        let first = j.start_run(c).await.unwrap();
        let mut t = Tally { created: 2, duplicate: 1, ..Tally::default() };
        j.commit(c, &Batch { run: Some((first, t)), ..Batch::default() }).await.unwrap();
        let seen = j.last_run(c).await.unwrap().unwrap();
        assert_eq!((seen.outcome, seen.tally), (Outcome::Running, t));
        // The process died; the next run finds it so.
        drop(j);
        let j = home.open().await;
        let second = j.start_run(c).await.unwrap();
        assert_ne!(first, second);
        t.created = 0;
        t.skipped = 2;
        j.end_run(second, Outcome::Finished, None, &t).await.unwrap();
        let last = j.last_run(c).await.unwrap().unwrap();
        assert_eq!((last.outcome, last.tally), (Outcome::Finished, t));
        assert!(last.ended_at_ms.unwrap() >= last.started_at_ms);
        if let Some(url) = home.postgres_url() {
            let outcomes = crate::journal::run_outcomes(url).await;
            assert_eq!(outcomes, ["killed", "finished"]);
        }
    }

    async fn duplicates_are_counted_once_however_often_seen_and_listed_with_the_campaign(home) {
        let j = home.open().await;
        let c = j.campaign("http://x", "fp", "spring").await.unwrap();
        j.campaign("http://x", "other-key", "spring").await.unwrap();
        let dup = |line: u64, key: &str, first_line: u64| Op::Duplicate { line, key: key.into(), first_line };
        commit(&j, c, vec![sending("a@x.co", 2, "a@x.co", 1), dup(4, "a@x.co", 2), dup(4, "a@x.co", 2)]).await;
        commit(&j, c, vec![
            dup(7, "b@x.co", 3),
            Op::Created { key: "a@x.co".into(), invitation_id: "inv1".into(), url: "u".into(), seen: seen("pending", 5) },
        ]).await;
        let (states, _) = j.counts(c).await.unwrap();
        assert_eq!(states.get("duplicate"), Some(&2));
        let listed = j.campaigns("fp").await.unwrap();
        assert_eq!(listed.len(), 1, "only this key's campaigns");
        assert_eq!((listed[0].id, listed[0].rows, listed[0].invited), (c, 3, 1));
        assert_eq!(listed[0].name, "spring");
    }

    async fn refreshed_statuses_and_the_clock_offset_are_kept(home) {
        let j = home.open().await;
        let c = j.campaign("http://x", "fp", "spring").await.unwrap();
        assert_eq!(j.refreshed_at(c).await.unwrap(), None);
        assert_eq!(j.clock_offset(c).await.unwrap(), None);
        commit(&j, c, vec![sending("a@x.co", 2, "a@x.co", 1)]).await;
        commit(&j, c, vec![Op::Created { key: "a@x.co".into(), invitation_id: "inv1".into(), url: "u".into(), seen: seen("pending", 5) }]).await;
        let later = Observed { status: "completed".into(), client_name: None, life: Lifecycle { completed_ms: Some(9), ..seen("x", 5).life } };
        let batch = Batch { ops: vec![Op::Observe { key: "a@x.co".into(), seen: later }], run: None, refreshed_at_ms: Some(99) };
        j.commit(c, &batch).await.unwrap();
        let a = j.get(c, "a@x.co").await.unwrap().unwrap();
        assert_eq!((a.inv_status.as_deref(), a.life.completed_ms), (Some("completed"), Some(9)));
        assert_eq!(a.client_name.as_deref(), Some("Acme Corp"), "a missing name keeps the last one");
        assert_eq!(j.refreshed_at(c).await.unwrap(), Some(99));
        j.set_clock_offset(c, -250).await.unwrap();
        assert_eq!(j.clock_offset(c).await.unwrap(), Some(-250));
    }
}

/// The outcomes of every run in a Postgres journal, oldest first.
pub async fn run_outcomes(url: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query(
            "SELECT outcome FROM zavu_script.campaign_runs ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}
