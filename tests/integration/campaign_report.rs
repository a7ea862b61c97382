//! `campaign report` and `campaign::report` through the real binary against a sandbox: a
//! refresh is one pass over the invitation list that stops at the campaign's oldest
//! invitation, goes through the rate budget, and lands in the journal; the page is written
//! 0600 where asked, says how fresh its statuses are, and the JSON and script numbers are
//! the page's.

use crate::support::{TestSandbox, cmd};
use serde_json::{Value, json};
use std::path::Path;
use zavu_script::api::{CreateInvitation, ListInvitations};

fn csv(dir: &Path, prefix: &str, n: usize) -> std::path::PathBuf {
    let mut text = String::from("clientName,clientEmail\n");
    for i in 0..n {
        let user = prefix.replace(' ', "-");
        text.push_str(&format!("{prefix} {i},{user}{i}@example.com\n"));
    }
    let path = dir.join(format!("{}.csv", prefix.replace(' ', "-")));
    std::fs::write(&path, text).unwrap();
    path
}

struct Setup<'a> {
    sb: &'a TestSandbox,
    state: &'a Path,
}

impl Setup<'_> {
    fn zs(&self, args: &[&str]) -> std::process::Command {
        let mut c = cmd(self.state);
        c.current_dir(self.state)
            .env("ZAVUDEV_API_KEY", &self.sb.key)
            .env("ZAVUDEV_BASE_URL", self.sb.url())
            .args(args);
        c
    }

    async fn run(&self, args: &[&str]) -> crate::support::Done {
        let mut c = self.zs(args);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        crate::support::Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn campaign(&self, name: &str, rows: usize) {
        let path = csv(self.state, name, rows);
        let script = self.state.join(format!("{}.rhai", name.replace(' ', "-")));
        std::fs::write(
            &script,
            format!(
                "campaign::run(#{{ name: \"{name}\", rows: csv::stream(\"{}\") }})",
                path.display()
            ),
        )
        .unwrap();
        self.run(&["run", script.to_str().unwrap()]).await.ok();
    }
}

async fn requests(sb: &TestSandbox) -> u64 {
    sb.stats().await["requests"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_is_one_pass_over_the_list_through_the_rate_budget() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let s = Setup {
        sb: &sb,
        state: state.path(),
    };
    // Older invitations of the project that are not the campaign's.
    let client = sb.client();
    for i in 0..150 {
        client
            .create_invitation(&CreateInvitation {
                client_email: Some(format!("older{i}@example.com")),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    s.campaign("autumn", 120).await;
    let newest = client
        .list_invitations(&ListInvitations {
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    for inv in &newest.items {
        sb.complete(&inv.id).await;
    }

    // One request per window: the refresh must pace itself, never surface a 429.
    sb.faults(json!({"rateLimitPerMinute": 1, "rateLimitWindowSeconds": 1}))
        .await;
    let before = requests(&sb).await;
    let done = s
        .run(&["--json", "campaign", "report", "autumn", "--refresh"])
        .await;
    done.ok();
    let after = requests(&sb).await;
    let by_status = sb.stats().await["byStatus"].clone();
    sb.faults(json!({"rateLimitPerMinute": null, "rateLimitWindowSeconds": null}))
        .await;
    // 120 newest on pages of 100: the second page reaches the older invitations and
    // holds the last of the campaign's, so the walk stops there.
    assert_eq!(after - before, 2, "{}", done.stderr);
    assert_eq!(
        by_status.get("429"),
        None,
        "the budget paced the list calls"
    );
    assert!(
        done.stderr
            .contains("refreshed 120 invitations of campaign autumn in 2 list calls"),
        "{}",
        done.stderr
    );
    let v: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(
        v["funnel"],
        json!({"invited": 120, "viewed": 5, "started": 5, "completed": 5})
    );
    assert_eq!(v["refreshed"], json!(true));
    assert_eq!(v["rows"], json!(120));
    assert_eq!(v["timeToComplete"]["measured"], json!(5));
    assert!(
        v.get("html").is_none(),
        "--json writes a page only with --out"
    );
    assert!(!state.path().join("autumn.report.html").exists());

    // The refresh is in the journal: status without --refresh shows it.
    let status = s.run(&["--json", "campaign", "status", "autumn"]).await;
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(
        status["invitations"],
        json!({"completed": 5, "pending": 115})
    );
    assert_eq!(v["invitations"], status["invitations"]);
    assert_eq!(v["rowStates"], status["rows"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_is_written_private_and_says_how_fresh_it_is() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let s = Setup {
        sb: &sb,
        state: state.path(),
    };
    s.campaign("winter sale", 3).await;
    let done = s.run(&["campaign", "report", "winter sale"]).await;
    done.ok();
    assert_eq!(
        done.lines(),
        [
            "campaign winter sale: invited 3 · viewed 0 · started 0 · completed 0 (0%) · expired 0 · cancelled 0 · failed 0 · invalid 0 · not sent 0 · already invited 0",
            &*format!(
                "wrote winter-sale.report.html (3 rows, {} KB)",
                std::fs::metadata(state.path().join("winter-sale.report.html"))
                    .unwrap()
                    .len()
                    .div_ceil(1024)
            ),
        ]
    );
    let path = state.path().join("winter-sale.report.html");
    let page = std::fs::read_to_string(&path).unwrap();
    assert!(
        page.contains("statuses as the last run recorded them"),
        "never refreshed"
    );
    assert!(page.contains("campaign report winter sale --refresh"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let out = state.path().join("w.html");
    s.run(&[
        "campaign",
        "report",
        "winter sale",
        "--refresh",
        "-o",
        out.to_str().unwrap(),
    ])
    .await
    .ok();
    let page = std::fs::read_to_string(&out).unwrap();
    assert!(page.contains(", refreshed from the API"));
    for c in ["winter sale 0", "winter sale 1", "winter sale 2"] {
        assert!(
            page.contains(&format!("<td>{c}<td>pending<td><a href=\"")),
            "{c}"
        );
    }

    // Mistakes are named, and exit 2.
    let missing = s.run(&["campaign", "report", "nope"]).await;
    missing.expect_code(2);
    assert!(
        missing.stderr.contains("no campaign 'nope'"),
        "{}",
        missing.stderr
    );
    let bad = state.path().join("no/such/dir/r.html");
    let unwritable = s
        .run(&[
            "campaign",
            "report",
            "winter sale",
            "--out",
            bad.to_str().unwrap(),
        ])
        .await;
    unwritable.expect_code(2);
    assert!(
        unwritable.stderr.contains("no/such/dir/r.html"),
        "{}",
        unwritable.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_get_the_same_numbers_and_can_write_the_page() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    let s = Setup {
        sb: &sb,
        state: state.path(),
    };
    s.campaign("spring", 4).await;
    let page = sb
        .client()
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap();
    sb.complete(&page.items[0].id).await;
    let html = state.path().join("spring.html");
    let script = state.path().join("report.rhai");
    std::fs::write(
        &script,
        format!(
            "let r = campaign::report(\"spring\", #{{ refresh: true, html: \"{}\" }});\n\
             print(`${{r.funnel.completed}}/${{r.funnel.invited}} ${{r.percent.completed}}% ${{r.html}}`);\n\
             print(campaign::report(\"spring\").refreshed);\n\
             try {{ campaign::report(\"spring\", #{{ refesh: true }}); }} catch (e) {{ print(e); }}",
            html.display()
        ),
    )
    .unwrap();
    let done = s.run(&["run", script.to_str().unwrap()]).await;
    done.ok();
    let lines = done.lines();
    assert_eq!(lines[0], format!("1/4 25.0% {}", html.display()));
    assert_eq!(lines[1], "true");
    assert!(lines[2].contains("unknown option `refesh`"), "{}", lines[2]);
    assert!(
        std::fs::read_to_string(&html)
            .unwrap()
            .contains("<tr id=\"n-completed\" data-n=\"1\">")
    );
    // The command line's JSON is the script's map.
    let json = s.run(&["--json", "campaign", "report", "spring"]).await;
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["funnel"]["completed"], json!(1));
    assert_eq!(v["percent"]["completed"], json!(25.0));
}
