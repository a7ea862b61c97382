//! A campaign's numbers agree wherever they are shown: the run's summary line, its report
//! (row by row), `campaign status` (the last run's counts and the rows by state) and
//! `campaign list` — for a first run with duplicates, invalid rows and a client invited
//! elsewhere, and for the re-run that follows. Each report is named after its campaign.

use crate::support::{TestSandbox, cmd, repo};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use zavu_script::api::CreateInvitation;

/// `zavu-script ARGS…` against the sandbox with a shared state directory.
fn zs(sb: &TestSandbox, state: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(state)
        .current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(args)
        .output()
        .expect("zavu-script runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `created 3, skipped 0, … — 6 rows` from a summary line, as a map of counts.
fn summary_counts(stderr: &str, campaign: &str) -> BTreeMap<String, u64> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("campaign {campaign}: created")))
        .unwrap_or_else(|| panic!("a summary line in {stderr}"));
    let (counts, rest) = line
        .trim_start_matches(&format!("campaign {campaign}: "))
        .split_once(" — ")
        .unwrap();
    let mut out: BTreeMap<String, u64> = counts
        .split(", ")
        .map(|part| {
            let (word, n) = part.rsplit_once(' ').unwrap();
            (word.to_string(), n.parse().unwrap())
        })
        .collect();
    let rows = rest.split_once(" rows").unwrap().0;
    out.insert("rows".into(), rows.parse().unwrap());
    out
}

/// The same counts from `status --json`'s `lastRun.counts`.
fn status_counts(v: &Value) -> BTreeMap<String, u64> {
    let c = &v["lastRun"]["counts"];
    [
        ("created", "created"),
        ("skipped", "skipped"),
        ("already invited", "alreadyInvited"),
        ("duplicate", "duplicate"),
        ("invalid", "invalid"),
        ("failed", "failed"),
        ("rows", "rows"),
    ]
    .into_iter()
    .map(|(word, key)| (word.to_string(), c[key].as_u64().unwrap()))
    .collect()
}

/// The report's rows counted by action, in the summary's words.
fn report_counts(path: &Path) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = [
        "created",
        "skipped",
        "already invited",
        "duplicate",
        "invalid",
        "failed",
    ]
    .into_iter()
    .map(|w| (w.to_string(), 0))
    .collect();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut rows = 0;
    for rec in reader.records() {
        let rec = rec.unwrap();
        rows += 1;
        let word = match (&rec[2], &rec[6]) {
            ("skipped", "already_invited") => "already invited",
            ("reconciled", _) => "created",
            (action, _) => action,
        };
        *out.get_mut(word).unwrap() += 1;
    }
    out.insert("rows".into(), rows);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn summary_report_status_and_list_give_the_same_numbers() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let csv = dir.path().join("clients.csv");
    std::fs::write(
        &csv,
        "clientName,clientEmail,clientPhone\n\
         Ann,ann@example.com,\n\
         Bob,bob@example.com,\n\
         Ann again,ANN@example.com,\n\
         Bad,not-an-email,\n\
         Cid,cid@example.com,\n\
         Dee,dee@example.com,\n",
    )
    .unwrap();
    // Dee already holds an invitation made elsewhere in the project.
    sb.client()
        .create_invitation(&CreateInvitation {
            client_email: Some("dee@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let csv_arg = csv.to_str().unwrap();
    let report = dir.path().join("onboard-clients.report.csv");

    // The rows by state are the same after both: the re-run only looked.
    let expected_rows = json!({"created": 3, "duplicate": 1, "existing": 1, "invalid": 1});
    for (pass, expect) in [
        (
            "first run",
            "created 3, skipped 0, already invited 1, duplicate 1, invalid 1, failed 0",
        ),
        (
            "re-run",
            "created 0, skipped 3, already invited 1, duplicate 1, invalid 1, failed 0",
        ),
    ] {
        let (code, stdout, stderr) = zs(
            &sb,
            &state,
            &["run", "scripts/onboard_from_csv.rhai", csv_arg],
        );
        assert_eq!(code, 0, "{pass}: {stderr}");
        assert!(
            stdout.contains("row 4: duplicate: same client as row 2"),
            "{pass}: {stdout}"
        );
        assert_eq!(stdout.lines().last(), Some(expect), "{pass}: {stdout}");
        let summary = summary_counts(&stderr, "onboard-clients");
        assert_eq!(summary["rows"], 6, "{pass}: every row is counted once");

        assert_eq!(report_counts(&report), summary, "{pass}: the report");

        let (code, out, err) = zs(
            &sb,
            &state,
            &["--json", "campaign", "status", "onboard-clients"],
        );
        assert_eq!(code, 0, "{err}");
        let status: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(status_counts(&status), summary, "{pass}: status's last run");
        assert_eq!(status["lastRun"]["outcome"], "finished");
        assert_eq!(status["rows"], expected_rows, "{pass}: rows by state");

        let (code, out, err) = zs(&sb, &state, &["--json", "campaign", "list"]);
        assert_eq!(code, 0, "{err}");
        let list: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(list[0]["name"], "onboard-clients");
        assert_eq!(list[0]["rows"], 6, "{pass}: list counts the same rows");
        assert_eq!(list[0]["invited"], status["rows"]["created"]);
        assert_eq!(list[0]["lastRun"], status["lastRun"]);

        // The text forms carry the same numbers.
        let (_, text, _) = zs(&sb, &state, &["campaign", "status", "onboard-clients"]);
        assert!(text.contains("(6 rows)"), "{text}");
        assert!(
            text.contains(&format!("finished: {expect} — 6 rows")),
            "{text}"
        );
    }

    // Another campaign over the same file keeps its own report.
    let (code, _, stderr) = zs(
        &sb,
        &state,
        &["run", "scripts/onboard_from_csv.rhai", csv_arg, "autumn"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.path().join("autumn.report.csv").exists());
    assert_eq!(
        report_counts(&report)["skipped"],
        3,
        "the first campaign's report is untouched"
    );
    let (_, text, _) = zs(&sb, &state, &["campaign", "list"]);
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["autumn", "onboard-clients"], "{text}");
}
