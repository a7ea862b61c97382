//! `zavu-script cron` on several replicas sharing one PostgreSQL (`ZAVU_STATE_URL`): each
//! due time runs once however many replicas run, a killed replica's run is found lost
//! when its lease runs out and the next due time runs on a survivor, and after all
//! replicas were down the missed time is caught up once.
//!
//! The replicas are real processes with JSON logs; what ran is read from their logs and
//! checked against the database's record, never inferred from timing.

use crate::cron::{PATIENCE, Tab};
use crate::support::Running;
use crate::support::{cmd, pg, repo};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn replica(tab: &Tab, url: &str, extra: &[&str]) -> Running {
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .env("ZAVU_STATE_URL", url)
        .args(["--sandbox", "cron"])
        .arg(tab.path())
        .args([
            "--json-logs",
            "--crontab-name",
            "shared",
            "--shutdown-grace",
            "1s",
        ])
        .args(extra);
    Running::spawn(c, Some(state))
}

/// The JSON records of one replica's log with this event.
fn events(r: &Running, event: &str) -> Vec<Value> {
    r.log()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect()
}

/// The slots this replica started, as written in its log.
fn started_slots(r: &Running) -> Vec<DateTime<Utc>> {
    events(r, "start")
        .iter()
        .filter_map(|v| v["slot"].as_str())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .expect("slot is RFC 3339")
                .with_timezone(&Utc)
        })
        .collect()
}

async fn wait_until(what: &str, replicas: &[Running], mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > PATIENCE {
            let logs: Vec<String> = replicas.iter().map(|r| r.log().join("\n")).collect();
            panic!(
                "waited {PATIENCE:?} for {what}; logs:\n{}",
                logs.join("\n-----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop_all(replicas: &mut [Running]) {
    for r in replicas.iter() {
        r.signal("TERM");
    }
    for r in replicas.iter_mut() {
        assert_eq!(r.exit_code().await, 0, "{}", r.log().join("\n"));
    }
}

async fn db(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// Fires of the shared crontab's job, by slot: (state, replica, started, ended).
type Fire = (String, String, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

async fn fires(url: &str, job: &str) -> BTreeMap<DateTime<Utc>, Fire> {
    db(url)
        .await
        .query(
            "SELECT slot, state, replica, started_at, ended_at FROM zavu_script.cron_fires
             WHERE crontab = 'shared' AND job = $1 ORDER BY slot",
            &[&job],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_replicas_run_each_due_time_once() {
    let url = pg::database().await;
    let tab =
        Tab::new("[name=tick] * * * * * * tick.rhai\n").script("tick.rhai", "print(\"tick\");");
    let mut replicas: Vec<Running> = (0..3).map(|_| replica(&tab, &url, &[])).collect();
    const N: usize = 8;
    wait_until("8 runs across the replicas", &replicas, || {
        replicas
            .iter()
            .map(|r| started_slots(r).len())
            .sum::<usize>()
            >= N
    })
    .await;
    stop_all(&mut replicas).await;

    let mut started: Vec<DateTime<Utc>> = replicas.iter().flat_map(started_slots).collect();
    let total = started.len();
    started.sort();
    started.dedup();
    assert_eq!(
        started.len(),
        total,
        "a due time started twice: {started:?}"
    );
    // Every run the logs show is the database's one fire for that time, and every fire
    // the database recorded as run was started by one replica.
    let recorded = fires(&url, "tick").await;
    let ran: Vec<DateTime<Utc>> = recorded
        .iter()
        .filter(|(_, f)| f.0 == "done")
        .map(|(slot, _)| *slot)
        .collect();
    assert_eq!(ran, started);
    assert!(ran.len() >= N);
    // Every replica registered, and each recorded its clean exit.
    let stopped: i64 = db(&url)
        .await
        .query_one(
            "SELECT count(*) FROM zavu_script.replicas WHERE kind = 'cron' AND stopped_at IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stopped, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_run_is_lost_and_a_survivor_runs_the_next_time() {
    let url = pg::database().await;
    let tab = Tab::new("[name=long overlap=skip] * * * * * * long.rhai\n").script(
        "long.rhai",
        "print(\"begin\");\nsleep(4);\nprint(\"end\");\n",
    );
    let mut replicas: Vec<Running> = (0..3)
        .map(|_| replica(&tab, &url, &["--lease-ttl", "2s"]))
        .collect();
    wait_until("a first run", &replicas, || {
        replicas.iter().any(|r| !started_slots(r).is_empty())
    })
    .await;
    let holder = replicas
        .iter()
        .position(|r| !started_slots(r).is_empty())
        .unwrap();
    let mut killed = replicas.remove(holder);
    let killed_slot = started_slots(&killed)[0];
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();

    wait_until(
        "a survivor to find the run lost and start the next",
        &replicas,
        || {
            replicas.iter().any(|r| !events(r, "lost").is_empty())
                && replicas.iter().any(|r| !started_slots(r).is_empty())
        },
    )
    .await;
    let lost: Vec<Value> = replicas.iter().flat_map(|r| events(r, "lost")).collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    stop_all(&mut replicas).await;

    let recorded = fires(&url, "long").await;
    assert_eq!(recorded[&killed_slot].0, "lost", "{recorded:?}");
    // Never two runs at once (overlap=skip across replicas): each run starts after the one
    // before it ended — the lost one ends when it was found lost.
    let runs: Vec<&Fire> = recorded
        .values()
        .filter(|f| f.0 == "done" || f.0 == "lost")
        .collect();
    assert!(runs.len() >= 2, "{recorded:?}");
    for pair in runs.windows(2) {
        let (ended, next_started) = (pair[0].3.expect("ended"), pair[1].2.expect("started"));
        assert!(ended <= next_started, "overlapping runs: {recorded:?}");
    }
    // The survivors' runs are theirs, not the dead replica's.
    assert!(runs[1..].iter().all(|f| f.1 != runs[0].1), "{recorded:?}");
    // The times while a run was going were taken (skipped), not left for later.
    assert!(recorded.values().any(|f| f.0 == "skipped"), "{recorded:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_all_replicas_were_down_the_missed_time_is_caught_up_once() {
    let url = pg::database().await;
    let tab = Tab::new("[name=minutely grace=1h] * * * * * tick.rhai\n")
        .script("tick.rhai", "print(\"tick\");");
    let mut first = vec![replica(&tab, &url, &[])];
    first[0].wait_for("\"event\":\"loaded\"", 1).await;
    stop_all(&mut first).await;
    // All down for a few minutes: every time since was missed.
    db(&url)
        .await
        .execute(
            "UPDATE zavu_script.cron_jobs SET handled_until = now() - interval '3 minutes'",
            &[],
        )
        .await
        .unwrap();

    let mut replicas: Vec<Running> = (0..3).map(|_| replica(&tab, &url, &[])).collect();
    wait_until("the catch-up run", &replicas, || {
        replicas
            .iter()
            .any(|r| r.count("catching up the run missed at") > 0)
    })
    .await;
    // Every replica has loaded (its first tick follows at once) before the checks.
    for r in &replicas {
        r.wait_for("\"event\":\"loaded\"", 1).await;
    }
    wait_until("the run to end", &replicas, || {
        replicas
            .iter()
            .map(|r| events(r, "end").len())
            .sum::<usize>()
            >= 1
    })
    .await;
    stop_all(&mut replicas).await;
    let catch_ups: usize = replicas
        .iter()
        .map(|r| r.count("catching up the run missed at"))
        .sum();
    assert_eq!(catch_ups, 1);
}

/// The address a scheduler started with `--http 127.0.0.1:0` serves on, from its log.
async fn http_addr(r: &Running) -> String {
    r.wait_for("\"event\":\"http\"", 1).await;
    events(r, "http")[0]["addr"]
        .as_str()
        .expect("addr")
        .to_string()
}

/// The value of one sample line (`name{labels} value`) of a Prometheus text page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_on_http_for_both_backends() {
    let url = pg::database().await;
    let tab = Tab::new("[name=tick] * * * * * * tick.rhai\n[name=bad] * * * * * * bad.rhai\n")
        .script("tick.rhai", "print(\"tick\");")
        .script("bad.rhai", "throw \"no\";");
    let pg_replica = replica(&tab, &url, &["--http", "127.0.0.1:0"]);
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .args(["--sandbox", "cron"])
        .arg(tab.path())
        .args(["--json-logs", "--http", "127.0.0.1:0"]);
    let local = Running::spawn(c, Some(state));
    let mut both = vec![pg_replica, local];
    wait_until("two ends of each job on each", &both, || {
        both.iter().all(|r| events(r, "end").len() >= 4)
    })
    .await;
    let http = reqwest::Client::new();
    for (r, backend) in both.iter().zip(["postgres", "sqlite"]) {
        let addr = http_addr(r).await;
        let resp = http
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let page = resp.text().await.unwrap();
        let runs = sample(&page, "zavu_cron_runs_total{job=\"tick\"}").expect(&page);
        assert!(runs >= 2.0, "{page}");
        let ok = sample(
            &page,
            "zavu_cron_runs_finished_total{job=\"tick\",outcome=\"ok\"}",
        );
        assert!(ok.expect(&page) >= 2.0, "{page}");
        let failed = sample(
            &page,
            "zavu_cron_runs_finished_total{job=\"bad\",outcome=\"failed\"}",
        );
        assert!(failed.expect(&page) >= 2.0, "{page}");
        assert!(
            sample(&page, "zavu_cron_run_duration_seconds_count{job=\"tick\"}").expect(&page)
                >= 2.0
        );
        assert_eq!(sample(&page, "zavu_state_up"), Some(1.0), "{page}");

        let resp = http
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["ok"], true);
        assert_eq!(body["backend"], backend);
        assert_eq!(
            body.get("replica").is_some(),
            backend == "postgres",
            "{body}"
        );
    }
    stop_all(&mut both).await;
}

/// A replica cut off from the state database stops its own runs before its leases run out
/// elsewhere, says so, and reports 503 on /healthz until the database answers again.
#[tokio::test(flavor = "multi_thread")]
async fn a_replica_cut_off_from_the_database_stops_its_runs_and_turns_unhealthy() {
    let url = pg::database().await;
    let name = url::Url::parse(&url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let tab = Tab::new("[name=long] * * * * * * long.rhai\n")
        .script("long.rhai", "print(\"begin\");\nsleep(60);\n");
    let mut one = vec![replica(
        &tab,
        &url,
        &["--lease-ttl", "2s", "--http", "127.0.0.1:0"],
    )];
    one[0].wait_for("\"event\":\"start\"", 1).await;
    let addr = http_addr(&one[0]).await;
    let healthz = || async {
        let resp = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap())
    };
    assert_eq!(healthz().await.0, 200);

    // Cut it off: no new connections to its database, and its connection closed.
    let admin = db(&pg::cluster_url()).await;
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap();
    one[0].wait_for("lost the state database", 1).await;
    wait_until("the run to stop", &one, || {
        events(&one[0], "end")
            .iter()
            .any(|e| e["outcome"] == "stopped")
    })
    .await;
    let (status, body) = healthz().await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("has not answered a heartbeat"),
        "{body}"
    );

    // Back: heartbeats answer again and it is healthy.
    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let start = Instant::now();
    while healthz().await.0 != 200 {
        assert!(start.elapsed() < PATIENCE, "{}", one[0].log().join("\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_all(&mut one).await;
}
