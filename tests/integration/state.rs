//! The shared state backend: the PostgreSQL the tests run against, schema migrations
//! applied once however many processes start together, and `zavu-script state`.

use crate::support::{TestSandbox, Zs, pg, script, state_status_json};
use zavu_script::state::postgres::migrate::newest;

/// Brings the database at `url` to the newest schema (`state migrate`, which must succeed).
async fn migrated(url: &str) {
    Zs::bare()
        .env("ZAVU_STATE_URL", url)
        .args(["state", "migrate"])
        .run()
        .await
        .ok();
}

/// Each test gets a database of its own on the one cluster: what one writes, another
/// never sees.
#[tokio::test(flavor = "multi_thread")]
async fn each_test_gets_its_own_database() {
    let (a, b) = (pg::database().await, pg::database().await);
    assert_ne!(a, b);
    let connect = |url: String| async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        client
    };
    let (a, b) = (connect(a).await, connect(b).await);
    a.batch_execute("CREATE TABLE marks (n int); INSERT INTO marks VALUES (7)")
        .await
        .unwrap();
    let n: i32 = a
        .query_one("SELECT n FROM marks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 7);
    let err = b.query_one("SELECT n FROM marks", &[]).await.unwrap_err();
    let db = err.as_db_error().expect("an error from the server");
    assert!(db.message().contains("does not exist"), "{db}");
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

async fn version_rows(url: &str) -> Vec<(i32, String)> {
    connect(url)
        .await
        .query(
            "SELECT version, name FROM zavu_script.schema_version ORDER BY version",
            &[],
        )
        .await
        .expect("schema_version")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn state_migrate_applies_once_and_status_shows_the_version() {
    let url = pg::database().await;
    let first = Zs::bare()
        .env("ZAVU_STATE_URL", &url)
        .args(["state", "migrate"])
        .run()
        .await;
    first.ok();
    assert!(
        first
            .stdout
            .contains(&format!("schema migrated from version 0 to {}", newest())),
        "{}",
        first.stdout
    );
    let again = Zs::bare()
        .args(["--state-url", &url, "state", "migrate"])
        .run()
        .await;
    again.ok();
    assert!(
        again
            .stdout
            .contains(&format!("schema already at version {}", newest())),
        "{}",
        again.stdout
    );
    assert_eq!(
        version_rows(&url).await[..5],
        [
            (1, "replicas_and_cron".into()),
            (2, "store".into()),
            (3, "campaigns".into()),
            (4, "campaign_rows_lookups".into()),
            (5, "inbox".into())
        ]
    );
    assert_eq!(version_rows(&url).await.len(), newest() as usize);

    let status = Zs::bare()
        .env("ZAVU_STATE_URL", &url)
        .args(["state", "status"])
        .run()
        .await;
    status.ok();
    assert!(
        status.stdout.contains("backend: PostgreSQL at postgres://"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains(&format!(
            "schema: version {} (the newest this zavu-script knows)",
            newest()
        )),
        "{}",
        status.stdout
    );
    let v = state_status_json(&url).await;
    assert_eq!(v["schema"]["version"], newest());
    assert_eq!(v["schema"]["pending"], serde_json::json!([]));
}

/// Replicas started together all migrate on start: the advisory lock makes exactly one
/// apply each migration, and the others find it done.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_migrations_apply_each_version_once() {
    let url = pg::database().await;
    let runs = (0..4).map(|_| {
        Zs::bare()
            .env("ZAVU_STATE_URL", &url)
            .args(["state", "migrate"])
            .run()
    });
    let done = futures::future::join_all(runs).await;
    let migrated = done
        .iter()
        .inspect(|d| {
            d.ok();
        })
        .filter(|d| {
            d.stdout
                .contains(&format!("migrated from version 0 to {}", newest()))
        })
        .count();
    assert_eq!(migrated, 1, "{done:#?}");
    assert_eq!(version_rows(&url).await.len(), newest() as usize);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_schema_is_refused_and_left_alone() {
    let url = pg::database().await;
    migrated(&url).await;
    connect(&url)
        .await
        .execute(
            "INSERT INTO zavu_script.schema_version (version, name, applied_by) \
             VALUES (99, 'from_the_future', 'a newer release')",
            &[],
        )
        .await
        .unwrap();
    let refused = Zs::bare()
        .env("ZAVU_STATE_URL", &url)
        .args(["state", "migrate"])
        .run()
        .await;
    refused.expect_code(2);
    assert!(
        refused.stderr.contains(
            &format!("the state database is at schema version 99; this zavu-script knows up to {} — upgrade it", newest())
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(version_rows(&url).await.len(), newest() as usize + 1);
}

/// The URL's password never reaches output, and a bad setting names itself.
#[tokio::test(flavor = "multi_thread")]
async fn the_state_url_password_stays_secret_and_bad_urls_are_named() {
    let url = pg::database().await;
    // The test cluster trusts loopback, so any password connects.
    let mut with_password = url::Url::parse(&url).unwrap();
    with_password.set_password(Some("hunter2-secret")).unwrap();
    let status = Zs::bare()
        .env("ZAVU_STATE_URL", with_password.as_str())
        .args(["state", "status"])
        .run()
        .await;
    status.ok();
    let all = format!("{}{}", status.stdout, status.stderr);
    assert!(!all.contains("hunter2-secret"), "{all}");
    assert!(all.contains("zavu:***@127.0.0.1"), "{all}");
    assert!(all.contains("run `zavu-script state migrate`"), "{all}");

    let bad = Zs::bare()
        .args([
            "--state-url",
            "mysql://u:hunter2-secret@h/db",
            "state",
            "status",
        ])
        .run()
        .await;
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("--state-url / ZAVU_STATE_URL"),
        "{}",
        bad.stderr
    );
    assert!(!bad.stderr.contains("hunter2-secret"), "{}", bad.stderr);

    // Nobody listens on port 1: the error says where it tried and what it was doing.
    let down = Zs::bare()
        .args([
            "--state-url",
            "postgres://u:hunter2-secret@127.0.0.1:1/db",
            "state",
            "migrate",
        ])
        .run()
        .await;
    down.expect_code(2);
    assert!(
        down.stderr
            .contains("state database postgres://u:***@127.0.0.1:1/db: connecting"),
        "{}",
        down.stderr
    );
    assert!(!down.stderr.contains("hunter2-secret"), "{}", down.stderr);
}

/// Without a URL nothing changes: state stays in the state directory.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_url_the_state_directory_is_the_backend() {
    let zs = Zs::bare().args(["state", "status"]);
    let dir = zs.state_dir().display().to_string();
    let status = zs.run().await;
    status.ok();
    assert!(
        status
            .stdout
            .contains(&format!("backend: SQLite and files in {dir}")),
        "{}",
        status.stdout
    );
    let migrate = Zs::bare().args(["state", "migrate"]).run().await;
    migrate.ok();
    assert!(
        migrate.stdout.contains("nothing to do"),
        "{}",
        migrate.stdout
    );
}

/// `store::` with a state URL: what a script remembers on one machine (its own state
/// directory) another machine's script finds; without the URL each keeps its own.
#[tokio::test(flavor = "multi_thread")]
async fn store_entries_are_shared_through_the_state_database() {
    let url = pg::database().await;
    let sb = TestSandbox::start().await;
    let (_a, set) = script(
        "store::set(\"welcomed\", #{ ids: [\"inv_1\", \"inv_2\"], at: 3 });\n\
         print(store::has(\"welcomed\"));",
    );
    let done = Zs::against(&sb)
        .env("ZAVU_STATE_URL", &url)
        .args(["run".as_ref(), set.as_os_str()])
        .run()
        .await;
    done.ok();
    assert_eq!(done.lines(), ["true"]);

    let (_b, get) = script(
        "let v = store::get(\"welcomed\");\n\
         print(v.ids[1]); print(v.at);\n\
         print(store::remove(\"welcomed\")); print(store::has(\"welcomed\"));\n\
         print(store::get(\"missing\") == ());",
    );
    let elsewhere = Zs::against(&sb)
        .env("ZAVU_STATE_URL", &url)
        .args(["run".as_ref(), get.as_os_str()]);
    let done = elsewhere.run().await;
    done.ok();
    assert_eq!(done.lines(), ["inv_2", "3", "true", "false", "true"]);

    // Without the URL, a machine's store is its state directory's.
    let (_c, local) = script("print(store::has(\"welcomed\"));");
    let (_d, again) = script("store::set(\"welcomed\", 1);");
    Zs::against(&sb)
        .env("ZAVU_STATE_URL", &url)
        .args(["run".as_ref(), again.as_os_str()])
        .run()
        .await
        .ok();
    let done = Zs::against(&sb)
        .args(["run".as_ref(), local.as_os_str()])
        .run()
        .await;
    done.ok();
    assert_eq!(done.lines(), ["false"]);
}

/// A replica is called stale once it has been silent for longer than its own lease
/// (`--lease-ttl`, recorded when it registers), not a default one; a replica of an older
/// version, which recorded none, by the default 30s.
#[tokio::test(flavor = "multi_thread")]
async fn status_judges_each_replica_by_its_own_lease() {
    use std::time::Duration;
    use zavu_script::state::backend::PgTarget;
    use zavu_script::state::postgres::connect::connect;
    use zavu_script::state::replica::Replica;
    let url = pg::database().await;
    migrated(&url).await;
    let target = PgTarget::parse(&url).unwrap();
    let conn = connect(&target, "test").await.unwrap();
    let short = Replica::new("listen", None, Duration::from_secs(5));
    let long = Replica::new("cron", None, Duration::from_secs(120));
    let old = Replica::new("listen", None, Duration::from_secs(5));
    for r in [&short, &long, &old] {
        r.register(&conn).await.unwrap();
    }
    // All three last heard from 20s ago; the old one as a replica that recorded no lease.
    let db = self::connect(&url).await;
    db.execute(
        "UPDATE zavu_script.replicas SET last_seen = now() - interval '20 seconds'",
        &[],
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE zavu_script.replicas SET lease_ttl_ms = NULL WHERE id = $1",
        &[&old.id],
    )
    .await
    .unwrap();
    let v = state_status_json(&url).await;
    let of = |id: &str| {
        v["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("replica {id} in {v}"))
            .clone()
    };
    assert_eq!(of(&short.id)["stale"], true, "20s silent, 5s lease: {v}");
    assert_eq!(of(&short.id)["leaseSeconds"], 5.0);
    assert_eq!(of(&long.id)["stale"], false, "20s silent, 120s lease: {v}");
    assert_eq!(of(&long.id)["leaseSeconds"], 120.0);
    assert_eq!(
        of(&old.id)["stale"],
        false,
        "no lease recorded: the default 30s"
    );
    assert_eq!(of(&old.id)["leaseSeconds"], 30.0);
    let text = Zs::bare()
        .env("ZAVU_STATE_URL", &url)
        .args(["state", "status"])
        .run()
        .await;
    text.ok();
    let line = text
        .stdout
        .lines()
        // Ids made in one process share a prefix (`…`, `….1`): the whole word.
        .find(|l| l.split_whitespace().any(|w| w == short.id))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(
        line.contains("STALE") && line.contains("(lease 5s)"),
        "{line}"
    );
}
