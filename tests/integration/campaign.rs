//! Bulk campaigns through the real binary against a sandbox over loopback: exactly one
//! invitation per valid row under injected errors, lost answers and SIGKILL; resumption;
//! per-row reporting; dry runs; the lock; live-key confirmation; status and clean-up.

use crate::support::{TestSandbox, Zs, cmd, repo};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use zavu_script::api::ListInvitations;
use zavu_script::sandbox::SandboxOptions;

/// A CSV of `n` valid clients, plus the invalid rows given.
pub(crate) fn clients_csv(dir: &Path, n: usize, invalid: &[&str]) -> PathBuf {
    let mut text =
        String::from("clientName,clientEmail,clientPhone,allowedPhoneCountries,expiresInDays\n");
    for i in 0..n {
        text.push_str(&format!(
            "Client {i},client{i}@example.com,+1415555{i:04},US|MX,{}\n",
            1 + i % 30
        ));
    }
    for row in invalid {
        text.push_str(row);
        text.push('\n');
    }
    let path = dir.join("clients.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The example CSV, copied where its report may be written.
fn example_csv(dir: &Path) -> PathBuf {
    let path = dir.join("clients.csv");
    std::fs::copy(repo().join("examples/clients.csv"), &path).unwrap();
    path
}

/// Every invitation on the sandbox, counted by client email.
pub(crate) async fn emails(sb: &TestSandbox) -> HashMap<String, usize> {
    let client = sb.client();
    let mut out = HashMap::new();
    let mut params = ListInvitations {
        limit: Some(100),
        ..Default::default()
    };
    loop {
        let page = client.list_invitations(&params).await.unwrap();
        for inv in &page.items {
            *out.entry(inv.client_email.clone().unwrap_or_default())
                .or_insert(0) += 1;
        }
        match page.next() {
            Some(c) => params.cursor = Some(c.to_string()),
            None => break,
        }
    }
    out
}

pub(crate) fn onboard(sb: &TestSandbox, state: &Path, csv: &Path) -> std::process::Command {
    let mut c = cmd(state);
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args([
            "run",
            "--settle-seconds",
            "0.3",
            "scripts/onboard_from_csv.rhai",
        ])
        .arg(csv);
    c
}

/// `--dry-run` belongs to `run`, before the script path.
fn dry_run(sb: &TestSandbox, state: &Path, csv: &Path) -> std::process::Command {
    let mut c = cmd(state);
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(["run", "--dry-run", "scripts/onboard_from_csv.rhai"])
        .arg(csv);
    c
}

pub(crate) async fn output(mut c: std::process::Command) -> crate::support::Done {
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    crate::support::Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exactly_one_invitation_per_valid_row_through_faults_and_kills() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let rows = 400;
    let csv = clients_csv(
        dir.path(),
        rows,
        &["Broken,not-an-email,,,", "Far Future,ff@example.com,,,99"],
    );
    sb.faults(json!({"errorRate": 0.1, "dropAfterCommitRate": 0.1, "latencyMs": 15}))
        .await;

    // Kill the first two runs with SIGKILL once they are well under way.
    for kill_after in [60, 200] {
        let mut child = onboard(&sb, &state, &csv)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while (sb.invitation_count().await as usize) < kill_after && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    // Then run until a run reports nothing left to retry.
    let mut last = None;
    for _ in 0..10 {
        let done = output(onboard(&sb, &state, &csv)).await;
        let finished = done.code == 0;
        last = Some(done);
        if finished {
            break;
        }
    }
    let last = last.unwrap();
    last.ok();
    assert!(
        last.stdout.trim_end().ends_with("invalid 2, failed 0"),
        "{}",
        last.stdout
    );

    // Counted on the sandbox, not in the journal: one invitation per valid row.
    sb.faults(json!({"errorRate": null, "dropAfterCommitRate": null, "latencyMs": null}))
        .await;
    let by_email = emails(&sb).await;
    assert_eq!(by_email.len(), rows, "every valid row invited");
    let dupes: Vec<_> = by_email.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicates: {dupes:?}");
    assert!(!by_email.contains_key("ff@example.com"));
    let stats = sb.stats().await;
    assert!(
        stats["dropped"].as_u64().unwrap() > 0,
        "answers were lost: {stats}"
    );
    assert!(
        stats["byStatus"]["503"].as_u64().unwrap() > 0,
        "errors were injected: {stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_campaign_creates_nothing_on_rerun() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let csv = example_csv(state.path());
    let first = output(onboard(&sb, state.path(), &csv)).await;
    first.ok();
    assert_eq!(
        first.lines().last(),
        Some(&"created 16, skipped 0, already invited 0, duplicate 0, invalid 4, failed 0")
    );
    let posts = sb.stats().await["byStatus"]["201"].as_u64().unwrap();
    assert_eq!(posts, 16);

    let again = output(onboard(&sb, state.path(), &csv)).await;
    again.ok();
    assert_eq!(
        again.lines().last(),
        Some(&"created 0, skipped 16, already invited 0, duplicate 0, invalid 4, failed 0")
    );
    assert_eq!(sb.stats().await["byStatus"]["201"].as_u64().unwrap(), 16);
    assert_eq!(sb.invitation_count().await, 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_rows_are_reported_each_with_its_line_and_the_rest_invited() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("mixed.csv");
    std::fs::write(
        &csv,
        "clientName,clientEmail,clientPhone,allowedPhoneCountries,expiresInDays\r\n\
         Good One,one@example.com,,,\r\n\
         Ragged,two@example.com\r\n\
         Bad Email,three@,,,\r\n\
         No Key,,,,7\r\n\
         \"Quoted, Inc\", four@example.com ,+14155550004,us|mx,14\r\n\
         Again,ONE@example.com,,,\r\n\
         Bad Days,five@example.com,,,0\r\n\
         \r\n\
         Last,six@example.com,,,\r\n",
    )
    .unwrap();
    let done = output(onboard(&sb, &dir.path().join("state"), &csv)).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "row 3: invalid: row has 2 fields but the header has 5",
            "row 4: invalid: clientEmail: \"three@\" is not an email address",
            "row 5: invalid: no clientEmail or clientPhone to tell this client apart from others; add one, or give the campaign a `key` function",
            "row 7: duplicate: same client as row 2",
            "row 8: invalid: expiresInDays: must be between 1 and 30 (got 0)",
            "created 3, skipped 0, already invited 0, duplicate 1, invalid 4, failed 0",
        ]
    );
    let by_email = emails(&sb).await;
    let mut invited: Vec<_> = by_email.keys().cloned().collect();
    invited.sort();
    assert_eq!(
        invited,
        ["four@example.com", "one@example.com", "six@example.com"]
    );

    // The report says the same, row by row, and is owner-only.
    let report = std::fs::read_to_string(dir.path().join("onboard-mixed.report.csv")).unwrap();
    assert!(report.starts_with("row,key,action,invitation_id,url,status,error_code,message\n"));
    assert!(
        report.contains("7,one@example.com,duplicate,,,,duplicate,same client as row 2"),
        "{report}"
    );
    assert!(report.contains("10,six@example.com,created,"), "{report}");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("onboard-mixed.report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path().join("onboard-mixed.report.csv")), 0o600);
        assert_eq!(mode(dir.path().join("state")), 0o700);
        assert_eq!(mode(dir.path().join("state/journal.sqlite3")), 0o600);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_plans_without_sending() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let csv = example_csv(state.path());
    let plan = output(dry_run(&sb, state.path(), &csv)).await;
    plan.ok();
    assert_eq!(
        plan.lines().last(),
        Some(&"dry run: would create 16, skip 0, already invited 0, duplicate 0, invalid 4")
    );
    assert!(plan.stderr.contains("nothing sent"), "{}", plan.stderr);
    // It reads the project (one list page, for clients already invited) and writes nothing.
    let stats = sb.stats().await;
    assert_eq!(stats["byStatus"], json!({"200": 1}), "{stats}");
    assert_eq!(sb.invitation_count().await, 0);

    output(onboard(&sb, state.path(), &csv)).await.ok();
    let plan = output(dry_run(&sb, state.path(), &csv)).await;
    assert_eq!(
        plan.lines().last(),
        Some(&"dry run: would create 0, skip 16, already invited 0, duplicate 0, invalid 4")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_of_the_same_campaign_is_refused_while_one_runs() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let csv = clients_csv(dir.path(), 200, &[]);
    sb.faults(json!({"latencyMs": 50})).await;
    let mut first = onboard(&sb, &state, &csv)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while sb.invitation_count().await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = output(onboard(&sb, &state, &csv)).await;
    second.expect_code(1);
    assert!(
        second
            .stderr
            .contains("campaign 'onboard-clients' is already running"),
        "{}",
        second.stderr
    );
    let first_status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(first_status.success());
    assert_eq!(sb.invitation_count().await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_key_needs_confirmation() {
    let live = "zv_live_sandboxtesting";
    let sb = TestSandbox::start_with(SandboxOptions {
        keys: vec![live.into()],
        ..Default::default()
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let csv = example_csv(state.path());
    let refused = output(onboard(&sb, state.path(), &csv)).await;
    refused.expect_code(1);
    assert!(
        refused
            .stderr
            .contains("would create 16 invitations with a live key"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--yes"));
    let stats = sb.stats().await;
    assert_eq!(
        stats["byStatus"],
        json!({"200": 1}),
        "one read, nothing sent: {stats}"
    );
    assert!(
        !refused.stderr.contains("sandboxtesting"),
        "the key never shows"
    );

    let mut yes = cmd(state.path());
    yes.current_dir(repo())
        .env("ZAVUDEV_API_KEY", live)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args([
            "run",
            "--yes",
            "scripts/onboard_from_csv.rhai",
            "examples/clients.csv",
        ]);
    let done = output(yes).await;
    done.ok();
    assert_eq!(sb.invitation_count().await, 16);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_cleanup_from_the_command_line_and_from_scripts() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let csv = example_csv(state.path());
    output(onboard(&sb, state.path(), &csv)).await.ok();
    let client = sb.client();
    let page = client
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap();
    for inv in page.items.iter().take(2) {
        sb.complete(&inv.id).await;
    }
    let zs = |args: &[&str]| {
        let mut c = cmd(state.path());
        c.current_dir(repo())
            .env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .args(args);
        c
    };
    let listed = output(zs(&["campaign", "list"])).await;
    listed.ok();
    let table: Vec<Vec<&str>> = listed
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        table[0],
        [
            "NAME", "ROWS", "INVITED", "LAST", "RUN", "OUTCOME", "TARGET"
        ],
        "{}",
        listed.stdout
    );
    assert_eq!(
        table[1][..3],
        ["onboard-clients", "20", "16"],
        "{}",
        listed.stdout
    );
    assert_eq!(table[1][4..], ["finished", sb.url()], "{}", listed.stdout);
    let status = output(zs(&[
        "--json",
        "campaign",
        "status",
        "onboard-clients",
        "--refresh",
    ]))
    .await;
    status.ok();
    let v: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["rows"], json!({"created": 16, "invalid": 4}));
    assert_eq!(v["invitations"], json!({"completed": 2, "pending": 14}));

    let cleaned = output(zs(&["campaign", "cleanup", "onboard-clients"])).await;
    cleaned.ok();
    assert_eq!(
        cleaned.stdout.trim(),
        "cancelled 14, already closed 0, failed 0"
    );
    let stats = sb.stats().await;
    assert_eq!(
        stats["invitations"],
        json!({"cancelled": 14, "completed": 2})
    );

    // The same from a script.
    let (_d, script) = crate::support::script(
        "let s = campaign::status(\"onboard-clients\");\nprint(`${s.rows.created} ${s.invitations.cancelled}`);\nprint(campaign::cleanup(\"onboard-clients\").cancelled);",
    );
    let mut run = zs(&["run"]);
    run.arg(&script);
    let done = output(run).await;
    done.ok();
    assert_eq!(done.lines(), ["16 14", "0"]);
    let missing = output(zs(&["campaign", "status", "nope"])).await;
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("no campaign 'nope'"),
        "{}",
        missing.stderr
    );

    // A server that fails is an API error (3), not a usage error, from the command line
    // and — as a catchable ApiError — from a script.
    sb.faults(json!({"errorRate": 1.0, "errorStatus": 500}))
        .await;
    let failing = output(zs(&[
        "--max-retries",
        "0",
        "campaign",
        "status",
        "onboard-clients",
        "--refresh",
    ]))
    .await;
    failing.expect_code(3);
    assert!(
        failing
            .stderr
            .contains("refreshing campaign 'onboard-clients'"),
        "{}",
        failing.stderr
    );
    let (_d, script) = crate::support::script(
        "try { campaign::status(\"onboard-clients\", true); } catch (e) { print(`${e.status} ${e.code}`); }",
    );
    let mut run = zs(&["--max-retries", "0", "run"]);
    run.arg(&script);
    let caught = output(run).await;
    caught.ok();
    assert_eq!(caught.lines()[0].split(' ').next(), Some("500"));
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_can_run_campaigns_over_arrays_with_their_own_mapping() {
    let sb = TestSandbox::start().await;
    let (_d, script) = crate::support::script(
        r#"
let people = [
    #{ org: "Acme", mail: "a@acme.example", id: "A-1" },
    #{ org: "Beta", mail: "b@beta.example", id: "B-2" },
    #{ org: "Acme again", mail: "a@acme.example", id: "A-1" },
    "not a map",
];
let r = campaign::run(#{
    name: "crm-sync",
    rows: people,
    params: |p| #{ clientName: p.org, clientEmail: p.mail, expiresInDays: 3 },
    key: |p| p.id,
    concurrency: 2,
});
print(`${r.created} ${r.skipped} ${r.invalid} ${r.failed}`);
for x in r.results { if x.action != "created" { print(`${x.row} ${x.action} ${x.message}`); } }
"#,
    );
    let done = Zs::against(&sb).args(["run"]).args([&script]).run().await;
    done.ok();
    let mut lines = done.lines();
    lines[1..].sort();
    assert_eq!(
        lines,
        [
            "2 0 1 0",
            "3 duplicate same client as row 1",
            "4 invalid item 4 is string, not a map"
        ]
    );
    assert_eq!(sb.invitation_count().await, 2);

    let (_d, bad) =
        crate::support::script("campaign::run(#{ name: \"x\", rows: [], concurency: 2 });");
    let done = Zs::against(&sb).args(["run"]).args([&bad]).run().await;
    done.expect_code(1);
    assert!(
        done.stderr
            .contains("unknown option `concurency` — did you mean `concurrency`?"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_stops_the_campaign_at_once() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clients_csv(dir.path(), 500, &[]);
    let mut c = cmd(&dir.path().join("state"));
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", "zv_test_not_this_one")
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(["run", "scripts/onboard_from_csv.rhai"])
        .arg(&csv);
    let done = output(c).await;
    done.expect_code(3);
    assert!(
        done.stderr.contains("HTTP 401 unauthorized"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("not_this_one"), "the key never shows");
    let requests = sb.stats().await["requests"].as_u64().unwrap();
    assert!(
        requests <= 9,
        "stopped after the first refusals, not 500: {requests}"
    );
    assert_eq!(sb.invitation_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_is_invited_once_across_campaigns_journals_and_copies() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let csv = clients_csv(dir.path(), 290, &[]);
    // A copy of the CSV elsewhere, with its own rows in another order and one new client.
    let copy_dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    let mut copied = lines.join("\n");
    copied.push_str("\nNewcomer,newcomer@example.com,+14155559999,US,7\n");
    let copy = copy_dir.path().join("copy-of-clients.csv");
    std::fs::write(&copy, copied).unwrap();

    output(onboard(&sb, &dir.path().join("state-a"), &csv))
        .await
        .ok();
    // Another campaign name, another state directory, the same clients.
    let second = output(onboard(&sb, &copy_dir.path().join("state-b"), &copy)).await;
    second.ok();
    assert_eq!(
        second.lines().last(),
        Some(&"created 1, skipped 0, already invited 290, duplicate 0, invalid 0, failed 0"),
        "{}",
        second.stderr
    );
    let counts = emails(&sb).await;
    assert_eq!(counts.len(), 291);
    assert!(counts.values().all(|n| *n == 1), "one invitation each");
    let report =
        std::fs::read_to_string(copy_dir.path().join("onboard-copy-of-clients.report.csv"))
            .unwrap();
    let row = report
        .lines()
        .find(|l| l.contains(",client7@example.com,"))
        .unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cells[2], "skipped", "{row}");
    assert!(!cells[3].is_empty(), "names the invitation: {row}");
    assert_eq!(cells[6], "already_invited", "{row}");
    assert_eq!(cells[7], format!("already invited ({})", cells[3]), "{row}");

    // A client whose invitation was cancelled is invited again; `--reinvite` invites
    // everyone on purpose.
    let client = sb.client();
    let mut all = client.invitations_all(ListInvitations::default());
    let mut target = None;
    while let Some(inv) = all.next().await {
        let inv = inv.unwrap();
        if inv.client_email.as_deref() == Some("client7@example.com") {
            target = Some(inv.id);
        }
    }
    client.cancel_invitation(&target.unwrap()).await.unwrap();
    let third_dir = tempfile::tempdir().unwrap();
    let third = output(onboard(&sb, &third_dir.path().join("state"), &csv)).await;
    third.ok();
    assert_eq!(
        third.lines().last(),
        Some(&"created 1, skipped 0, already invited 289, duplicate 0, invalid 0, failed 0"),
        "only the cancelled one again"
    );
    let mut again = cmd(&third_dir.path().join("state-2"));
    again
        .current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(["run", "--reinvite", "scripts/onboard_from_csv.rhai"])
        .arg(&csv)
        .arg("on-purpose");
    let reinvited = output(again).await;
    reinvited.ok();
    assert_eq!(
        reinvited.lines().last(),
        Some(&"created 290, skipped 0, already invited 0, duplicate 0, invalid 0, failed 0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_safe_files() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let csv = example_csv(dir.path());
    let report = dir.path().join("onboard-clients.report.csv");
    // An older report with wide modes is rewritten owner-only.
    std::fs::write(&report, "stale").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    output(onboard(&sb, &state, &csv)).await.ok();
    let real = std::fs::read_to_string(&report).unwrap();
    assert!(real.contains(",created,"), "{real}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&report).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // A dry run afterwards writes its plan beside the report, never over it.
    output(dry_run(&sb, &state, &csv)).await.ok();
    assert_eq!(std::fs::read_to_string(&report).unwrap(), real);
    let plan = std::fs::read_to_string(dir.path().join("onboard-clients.report.plan.csv")).unwrap();
    assert!(plan.contains(",skipped,"), "{plan}");

    // A report path that is a symbolic link is refused; the file it points at is untouched.
    #[cfg(unix)]
    {
        let other = tempfile::tempdir().unwrap();
        let victim = other.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let csv2 = other.path().join("clients.csv");
        std::fs::copy(&csv, &csv2).unwrap();
        std::os::unix::fs::symlink(&victim, other.path().join("onboard-clients.report.csv"))
            .unwrap();
        let refused = output(onboard(&sb, &other.path().join("state"), &csv2)).await;
        refused.expect_code(1);
        assert!(
            refused
                .stderr
                .contains("is a symbolic link; refusing to write through it"),
            "{}",
            refused.stderr
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}

/// A campaign in a pseudo-terminal, as a person watches it: the bar, then Ctrl-C.
#[tokio::test(flavor = "multi_thread")]
async fn the_bar_tells_the_truth_and_an_interrupted_run_says_how_to_resume() {
    use rexpect::session::{Options, spawn_with_options};
    let sb = TestSandbox::start().await;
    sb.faults(json!({"latencyMs": 30})).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let csv = clients_csv(dir.path(), 400, &[]);
    let mut c = cmd(&state);
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .env("TERM", "xterm")
        .args(["run", "--concurrency", "2", "scripts/onboard_from_csv.rhai"])
        .arg(&csv);
    let pty = tokio::task::spawn_blocking(move || {
        let mut p = spawn_with_options(
            c,
            Options::new()
                .timeout_ms(Some(60_000))
                .strip_ansi_escape_codes(true),
        )
        .expect("the campaign starts in a pty");
        // The bar: the sending rate and ETA, and each counter named for what it counts.
        let (_, bar) = p
            // (rexpect reads the screen byte by byte: `·` and `—` arrive as two characters.)
            .exp_regex(r"rows .{1,3} [0-9.]+/s sent .{1,3} ETA [0-9hms]+ .{1,3} created [0-9]+ .{1,3} skipped 0 .{1,3} invalid 0 .{1,3} retried 0 .{1,3} failed 0")
            .expect("the bar");
        p.send_control('c').expect("Ctrl-C");
        let (_, last) = p
            .exp_regex(r"campaign onboard-clients: created [0-9]+, .*; interrupted .{1,4} run the same command again to resume")
            .expect("the last line says how to resume");
        p.exp_eof().expect("the run ends");
        (bar, last)
    })
    .await
    .unwrap();
    assert!(pty.0.contains("sent") && pty.0.contains("ETA"), "{}", pty.0);
    let created_first = sb.invitation_count().await;
    assert!(created_first > 0 && created_first < 400, "{created_first}");

    // Resumed: the rows done before are skipped and are not counted as sent.
    sb.faults(json!({"latencyMs": null})).await;
    let done = output(onboard(&sb, &state, &csv)).await;
    done.ok();
    let last = done
        .stderr
        .lines()
        .find(|l| l.starts_with("campaign onboard-clients: created"))
        .unwrap()
        .to_string();
    let left = 400 - created_first;
    assert!(
        last.contains(&format!("created {left}, skipped {created_first},"))
            && last.contains("400 rows in")
            && last.contains(&format!(", {left} sent (")),
        "{last}"
    );
    assert!(!last.contains("interrupted"), "{last}");
}
