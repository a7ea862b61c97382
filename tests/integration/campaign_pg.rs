//! A campaign whose journal is in PostgreSQL, run from two machines (two state
//! directories, one database) against one sandbox with injected errors and lost answers:
//! a second runner is refused while the first holds the campaign, naming it; a runner
//! killed with SIGKILL and a runner whose database connection is cut both leave nothing
//! duplicated and nothing lost; and `campaign status` on either machine reads the same
//! journal. Counted on the sandbox's own list, not in the journal. `state status` names
//! a running campaign and its holder from the live lock, and forgets a dead runner.

use crate::campaign::{clients_csv, emails, onboard, output};
use crate::support::{Running, TestSandbox, pg};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

/// The CSV campaign on `machine` (its own state directory) with the journal in `url`.
fn runner(sb: &TestSandbox, machine: &Path, csv: &Path, url: &str) -> std::process::Command {
    let mut c = onboard(sb, machine, csv);
    c.env("ZAVU_STATE_URL", url);
    c
}

/// Polls `check` until it holds, for at most a minute.
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[tokio::test(flavor = "multi_thread")]
async fn two_machines_one_database_refuse_a_second_runner_and_invite_each_row_once() {
    let sb = TestSandbox::start().await;
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let (machine_a, machine_b) = (dir.path().join("a"), dir.path().join("b"));
    let rows = 240;
    let csv = clients_csv(dir.path(), rows, &["Broken,not-an-email,,,"]);
    // Slow enough that the first runner is still going when the second arrives.
    sb.faults(json!({"errorRate": 0.1, "dropAfterCommitRate": 0.1, "latencyMs": 60}))
        .await;

    // Machine A starts; machine B is refused while A runs, and told who holds it.
    let mut first = Running::spawn(runner(&sb, &machine_a, &csv, &url), None);
    until("the first runner to be under way", async || {
        sb.invitation_count().await >= 20
    })
    .await;
    let refused = output(runner(&sb, &machine_b, &csv, &url)).await;
    assert!(!first.exited(), "the first runner was still running");
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    let expected = format!(
        "campaign 'onboard-clients' is already running on {} (process {}), since ",
        zavu_script::state::replica::hostname(),
        first.child.id()
    );
    assert!(refused.stderr.contains(&expected), "{}", refused.stderr);

    // A is killed mid-run.
    until("the first runner to create more", async || {
        sb.invitation_count().await >= 70
    })
    .await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    // B takes over; its connection to the database is cut mid-run: it stops, says why.
    let mut second = Running::spawn(runner(&sb, &machine_b, &csv, &url), None);
    let db = admin(&url).await;
    let before = sb.invitation_count().await;
    until("the second runner to be under way", async || {
        sb.invitation_count().await >= before + 20
    })
    .await;
    let cut = db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name LIKE 'zavu-script campaign on %'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cut, 1, "one runner holds a journal connection");
    assert_ne!(second.exit_code().await, 0);
    let log = second.log().join("\n");
    assert!(
        log.contains("lost the connection to the state database, and with it the campaign's lock"),
        "{log}"
    );

    // Runs on either machine until one finishes with nothing left to retry.
    let mut last = None;
    for machine in [&machine_a, &machine_b].into_iter().cycle().take(10) {
        let done = output(runner(&sb, machine, &csv, &url)).await;
        let finished = done.code == 0;
        last = Some(done);
        if finished {
            break;
        }
    }
    let last = last.unwrap();
    last.ok();
    assert!(
        last.stdout.trim_end().ends_with("invalid 1, failed 0"),
        "{}",
        last.stdout
    );

    sb.faults(json!({"errorRate": null, "dropAfterCommitRate": null, "latencyMs": null}))
        .await;
    let by_email = emails(&sb).await;
    assert_eq!(by_email.len(), rows, "every valid row invited");
    let dupes: Vec<_> = by_email.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicates: {dupes:?}");
    let stats = sb.stats().await;
    assert!(
        stats["dropped"].as_u64().unwrap() > 0,
        "answers were lost: {stats}"
    );

    // Both machines read the one journal.
    for machine in [&machine_a, &machine_b] {
        let mut status = crate::support::cmd(machine);
        status
            .env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .env("ZAVU_STATE_URL", &url)
            .args(["--json", "campaign", "status", "onboard-clients"]);
        let status = output(status).await;
        status.ok();
        let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(v["rows"]["created"], rows as u64, "{v}");
        assert_eq!(v["lastRun"]["outcome"], "finished", "{v}");
    }
    assert!(
        !machine_a.join("journal.sqlite3").exists() && !machine_b.join("journal.sqlite3").exists(),
        "no journal on either machine"
    );
}

/// Ctrl-C mid-run: the rows the loop had marked ahead but not sent are made sendable again
/// (none is left `sending`), the run is recorded as interrupted, and the next run invites
/// the rest — each row once.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_leaves_nothing_sending_and_the_next_one_finishes() {
    let sb = TestSandbox::start().await;
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let machine = dir.path().join("m");
    let rows = 200;
    let csv = clients_csv(dir.path(), rows, &[]);
    sb.faults(json!({"latencyMs": 40})).await;
    let mut run = Running::spawn(runner(&sb, &machine, &csv, &url), None);
    until("the run to be under way", async || {
        sb.invitation_count().await >= 30
    })
    .await;
    run.signal("INT");
    assert_ne!(run.exit_code().await, 0);
    let sent = sb.invitation_count().await as i64;
    assert!(sent < rows as i64, "stopped before the end: {sent}");

    let db = admin(&url).await;
    let by_state: Vec<(String, i64)> = db
        .query(
            "SELECT state, count(*) FROM zavu_script.campaign_rows GROUP BY state ORDER BY state",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        by_state
            .iter()
            .all(|(s, _)| s == "created" || s == "planned"),
        "{by_state:?}"
    );
    let created = by_state.iter().find(|(s, _)| s == "created").map(|c| c.1);
    assert_eq!(created, Some(sent), "{by_state:?}");
    let outcome: String = db
        .query_one(
            "SELECT outcome FROM zavu_script.campaign_runs ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "interrupted");

    sb.faults(json!({"latencyMs": null})).await;
    let again = output(runner(&sb, &machine, &csv, &url)).await;
    again.ok();
    assert!(
        again.stdout.trim_end().ends_with(&format!(
            "created {}, skipped {sent}, already invited 0, duplicate 0, invalid 0, failed 0",
            rows as i64 - sent
        )),
        "{}",
        again.stdout
    );
    let by_email = emails(&sb).await;
    assert_eq!(by_email.len(), rows);
    assert!(by_email.values().all(|n| *n == 1), "{by_email:?}");
}

/// `state status` (text and JSON) for the database at `url`, from a machine of its own.
async fn state_status(ops: &Path, url: &str) -> (serde_json::Value, String) {
    let mut c = crate::support::cmd(ops);
    c.env("ZAVU_STATE_URL", url)
        .args(["--json", "state", "status"]);
    let json = output(c).await;
    json.ok();
    let mut c = crate::support::cmd(ops);
    c.env("ZAVU_STATE_URL", url).args(["state", "status"]);
    let text = output(c).await;
    text.ok();
    (serde_json::from_str(&json.stdout).unwrap(), text.stdout)
}

/// While a campaign runs, `state status` names it, its target and its holder (host,
/// process, since when); an unrelated advisory lock in the same database is not taken
/// for a campaign; a runner killed with SIGKILL vanishes from the list although its run
/// record still says `running`; and once a run finishes, nothing is listed.
#[tokio::test(flavor = "multi_thread")]
async fn state_status_lists_the_campaign_locks_held_and_only_live_ones() {
    let sb = TestSandbox::start().await;
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let (machine, ops) = (dir.path().join("m"), dir.path().join("ops"));
    let rows = 150;
    let csv = clients_csv(dir.path(), rows, &[]);
    let db = admin(&url).await;
    db.execute("SELECT pg_advisory_lock(4242)", &[])
        .await
        .unwrap();
    sb.faults(json!({"latencyMs": 60})).await;

    let host = zavu_script::state::replica::hostname();
    for round in ["killed", "finished"] {
        let mut run = Running::spawn(runner(&sb, &machine, &csv, &url), None);
        let before = sb.invitation_count().await;
        until("the run to be under way", async || {
            sb.invitation_count().await >= before + 10
        })
        .await;
        let (v, text) = state_status(&ops, &url).await;
        assert!(!run.exited(), "the runner was still running");
        let locks = v["campaignLocks"].as_array().unwrap();
        assert_eq!(locks.len(), 1, "{round}: {v}");
        let lock = &locks[0];
        assert_eq!(lock["campaign"], "onboard-clients", "{v}");
        assert_eq!(lock["target"], sb.url(), "{v}");
        assert_eq!(lock["host"], host.as_str(), "{v}");
        assert_eq!(lock["process"], run.child.id(), "{v}");
        let since: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(lock["since"].clone()).unwrap();
        let age = chrono::Utc::now() - since;
        assert!(age.num_seconds() >= 0 && age.num_seconds() < 60, "{v}");
        assert!(text.contains("campaign locks: 1\n"), "{text}");
        let line = format!(
            "  onboard-clients ({}) held on {host} (process {})",
            sb.url(),
            run.child.id()
        );
        assert!(text.contains(&line), "{text}");

        if round == "killed" {
            run.child.kill().unwrap(); // SIGKILL: no chance to record how the run ended
            run.child.wait().unwrap();
            let outcome: String = db
                .query_one(
                    "SELECT outcome FROM zavu_script.campaign_runs ORDER BY id DESC LIMIT 1",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(
                outcome, "running",
                "the dead runner's record is left as it was"
            );
        } else {
            sb.faults(json!({"latencyMs": null})).await;
            assert_eq!(run.exit_code().await, 0, "{}", run.log().join("\n"));
        }
        until("the lock to be gone from the status", async || {
            state_status(&ops, &url).await.0["campaignLocks"]
                .as_array()
                .unwrap()
                .is_empty()
        })
        .await;
        let (_, text) = state_status(&ops, &url).await;
        assert!(text.contains("campaign locks: 0\n"), "{text}");
    }
    assert_eq!(emails(&sb).await.len(), rows);
}

/// The schema version the database at `url` records; 0 when nothing was ever applied.
async fn schema_version(db: &tokio_postgres::Client) -> i32 {
    let exists: bool = db
        .query_one(
            "SELECT to_regclass('zavu_script.schema_version') IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    if !exists {
        return 0;
    }
    db.query_one(
        "SELECT coalesce(max(version), 0) FROM zavu_script.schema_version",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

/// `campaign list` and `campaign status` look and never change the schema: on a database
/// no zavu-script has used they answer "no campaigns" and leave it empty; on one behind
/// this binary they refuse, naming `state migrate`, and leave it behind; once it is up to
/// date they read it.
#[tokio::test(flavor = "multi_thread")]
async fn looking_at_campaigns_never_migrates_the_state_database() {
    let sb = TestSandbox::start().await;
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let machine = dir.path().join("m");
    let db = admin(&url).await;
    let zs = |args: &[&str]| {
        let mut c = crate::support::cmd(&machine);
        c.env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .env("ZAVU_STATE_URL", &url)
            .args(args);
        c
    };

    let listed = output(zs(&["campaign", "list"])).await;
    listed.ok();
    assert!(
        listed.stdout.contains("no campaigns yet"),
        "{}",
        listed.stdout
    );
    let status = output(zs(&["campaign", "status", "onboard-clients"])).await;
    assert_ne!(status.code, 0);
    assert!(
        status.stderr.contains("no campaign 'onboard-clients'"),
        "{}",
        status.stderr
    );
    assert_eq!(schema_version(&db).await, 0, "a look created the schema");

    let csv = clients_csv(dir.path(), 5, &[]);
    output(runner(&sb, &machine, &csv, &url)).await.ok();
    let newest = schema_version(&db).await;
    assert!(newest >= 3, "the run migrated: {newest}");
    db.execute(
        "DELETE FROM zavu_script.schema_version WHERE version = $1",
        &[&newest],
    )
    .await
    .unwrap();
    for args in [
        &["campaign", "list"][..],
        &["campaign", "status", "onboard-clients"],
    ] {
        let behind = output(zs(args)).await;
        assert_ne!(behind.code, 0, "{args:?}: {}", behind.stdout);
        assert!(
            behind
                .stderr
                .contains(&format!("schema version {}", newest - 1))
                && behind.stderr.contains("zavu-script state migrate"),
            "{args:?}: {}",
            behind.stderr
        );
    }
    assert_eq!(schema_version(&db).await, newest - 1, "a look migrated");

    // The deleted record is put back by hand: migrations are not re-runnable statements.
    db.execute(
        "INSERT INTO zavu_script.schema_version (version, name, applied_by) VALUES ($1, 'restored', 'test')",
        &[&newest],
    )
    .await
    .unwrap();
    let listed = output(zs(&["campaign", "list"])).await;
    listed.ok();
    assert!(
        listed.stdout.contains("onboard-clients"),
        "{}",
        listed.stdout
    );
    let status = output(zs(&["campaign", "status", "onboard-clients"])).await;
    status.ok();
    assert!(status.stdout.contains("created"), "{}", status.stdout);
}

/// The CSV campaign on `machine` with the journal in `url` and `flags` for `run`.
fn runner_with(
    sb: &TestSandbox,
    machine: &Path,
    csv: &Path,
    url: &str,
    flags: &[&str],
) -> std::process::Command {
    let mut c = crate::support::cmd(machine);
    c.current_dir(crate::support::repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .env("ZAVU_STATE_URL", url)
        .args(["run", "--settle-seconds", "0.3"])
        .args(flags)
        .arg("scripts/onboard_from_csv.rhai")
        .arg(csv);
    c
}

/// A runner frozen mid-run (SIGSTOP — a paused VM, a machine that stopped answering)
/// loses the campaign a lease after it fell silent: a standby started with `--wait` on
/// another machine says who it waits for, takes over, reconciles what the frozen one left
/// in flight and finishes. The frozen runner, resumed, sends nothing more and halts
/// saying why. The sandbox ends with one invitation per row.
#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_runner_loses_the_campaign_to_a_standby_and_sends_nothing_after() {
    let sb = TestSandbox::start().await;
    let url = pg::database().await;
    let dir = tempfile::tempdir().unwrap();
    let (machine_a, machine_b) = (dir.path().join("a"), dir.path().join("b"));
    let rows = 300;
    let csv = clients_csv(dir.path(), rows, &[]);
    sb.faults(json!({"latencyMs": 40})).await;
    let lease = ["--lease-ttl", "2s"];

    let mut first = Running::spawn(runner_with(&sb, &machine_a, &csv, &url, &lease), None);
    until("the first run to be under way", async || {
        sb.invitation_count().await >= 30
    })
    .await;
    let mut standby = Running::spawn(
        runner_with(
            &sb,
            &machine_b,
            &csv,
            &url,
            &["--wait", "--lease-ttl", "2s"],
        ),
        None,
    );
    standby.wait_for("waiting to take over", 1).await;
    assert!(
        standby.count(&format!("(process {})", first.child.id())) >= 1,
        "the standby names the holder: {:?}",
        standby.log()
    );
    assert!(!standby.exited() && !first.exited());

    first.signal("STOP");
    let frozen = Instant::now();
    standby.wait_for("took over", 1).await;
    let took = frozen.elapsed();
    eprintln!("the standby took over {took:?} after the holder froze (lease 2 s)");
    assert!(
        took >= Duration::from_millis(1500),
        "the lock outlived the frozen holder for about its lease, not {took:?}"
    );
    assert_eq!(standby.exit_code().await, 0, "{:?}", standby.log());
    assert_eq!(
        sb.invitation_count().await,
        rows as u64,
        "the standby finished"
    );

    first.signal("CONT");
    assert_ne!(first.exit_code().await, 0, "{:?}", first.log());
    let log = first.log().join("\n");
    eprintln!("the resumed runner:\n{log}");
    assert!(
        log.contains("nothing more is sent") || log.contains("lost the connection"),
        "the resumed runner says why it stopped:\n{log}"
    );
    let by_email = emails(&sb).await;
    assert_eq!(by_email.len(), rows);
    assert!(
        by_email.values().all(|n| *n == 1),
        "no client invited twice: {:?}",
        by_email.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}
