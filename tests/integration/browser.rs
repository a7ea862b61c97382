//! In a real browser (headless Chromium): the campaign report renders from disk with the
//! numbers `campaign status` gives, a hostile client name stays text, its script sorts and
//! filters, and with scripts off every row is still there; the sandbox's invite page walks a
//! client through the signup and the API follows each step.
//!
//! Needs Chromium (`tests/setup.sh` installs Debian's); without it these tests fail and
//! say so. `ZAVU_REPORT_SCREENSHOT=docs/campaign-report.png cargo test --test integration
//! browser::` also keeps the report's screenshot for the README.

use crate::support::browser::{self, file_url, png_size, wait_for};
use crate::support::{TestSandbox, cmd, repo};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use zavu_script::api::{InvitationStatus, ListInvitations};

const CAMPAIGN: &str = "spring-onboarding";
const HOSTILE: &str = "<script>alert(1)</script>";

const NAMES: &[&str] = &[
    "Acme Corp",
    "Globex Corporation",
    "Initech",
    "Umbrella, Inc.",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Pied Piper",
    "Soylent Foods",
    "Tyrell Corp",
    "Massive Dynamic",
    "Vandelay Industries",
    "Monsters Inc",
    "Duff Beer",
    "Los Pollos Hermanos",
    "Dunder Mifflin",
    "Wonka Industries",
    "Oscorp",
    "Cyberdyne Systems",
    "Gringotts",
    "Prestige Worldwide",
    "Sterling Cooper",
    "Bluth Company",
    "Kramerica",
    "Paper Street Soap",
    "Aperture Science",
    "Black Mesa",
    "Virtucon",
    "Nakatomi Trading",
    "Ollivanders",
    HOSTILE,
];

/// Clients `NAMES[i]`; every seventh link lasts one day, the rest two weeks. Two rows the
/// contract refuses end the file.
fn campaign_csv(dir: &Path) -> std::path::PathBuf {
    let mut text = String::from("clientName,clientEmail,expiresInDays\n");
    for (i, name) in NAMES.iter().enumerate() {
        let days = if i % 7 == 0 { 1 } else { 14 };
        text.push_str(&format!("\"{name}\",client{i}@example.com,{days}\n"));
    }
    text.push_str("Cyberdyne Labs,miles@cyberdyne,7\nWonka Labs,willy@wonka.example,45\n");
    let path = dir.join("clients.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The hour (of the sandbox's clock, after the campaign ran) client `i` completes at, for
/// the first twelve: most in the first hours, a few stragglers, as campaigns go.
fn completes_at(i: usize) -> Option<i64> {
    const HOURS: [i64; 12] = [1, 1, 1, 2, 2, 2, 3, 4, 6, 9, 14, 22];
    HOURS.get(i).copied()
}

async fn run(c: std::process::Command) -> crate::support::Done {
    let mut c = c;
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    crate::support::Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A campaign run against the sandbox, then lived through by its clients over 30 hours
/// of the sandbox's clock: completions through the day, some started, some only viewed,
/// one cancelled, one abandoned, and the one-day links still open expired.
async fn lived_campaign(sb: &TestSandbox, state: &Path) {
    let csv = campaign_csv(state);
    let script = format!(
        "campaign::run(#{{ name: \"{CAMPAIGN}\", rows: csv::stream(\"{}\") }})",
        csv.display()
    );
    let (_d, path) = crate::support::script(&script);
    let mut c = cmd(state);
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .arg("run")
        .arg(&path);
    run(c).await.ok();

    let page = sb
        .client()
        .list_invitations(&ListInvitations {
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    let by_name: HashMap<String, String> = page
        .items
        .iter()
        .map(|inv| (inv.client_name.clone().unwrap_or_default(), inv.id.clone()))
        .collect();
    let id = |i: usize| by_name[NAMES[i]].clone();
    for i in 12..16 {
        sb.control(&format!("invitations/{}/start", id(i)), json!({}))
            .await;
    }
    for i in 16..19 {
        sb.control(&format!("invitations/{}/view", id(i)), json!({}))
            .await;
    }
    sb.client().cancel_invitation(&id(19)).await.unwrap();
    sb.control(&format!("invitations/{}/start", id(20)), json!({}))
        .await;
    sb.control(
        &format!("invitations/{}/fail", id(20)),
        json!({"reason": "signup_abandoned"}),
    )
    .await;
    for hour in 1..=30 {
        sb.advance_clock(3600).await;
        for i in 0..NAMES.len() {
            if completes_at(i) == Some(hour) {
                sb.complete(&id(i)).await;
            }
        }
    }
}

/// `data-n` of the element with this id in a serialized DOM.
fn count_in(dom: &str, id: &str) -> i64 {
    let anchor = format!("id=\"{id}\" data-n=\"");
    let at = dom
        .find(&anchor)
        .unwrap_or_else(|| panic!("no #{id} with data-n in the rendered page"))
        + anchor.len();
    dom[at..]
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("#{id}'s data-n is not a number"))
}

/// The row count the status filter offers for `status`, as `status (N)`.
fn filter_count(dom: &str, status: &str) -> i64 {
    let anchor = format!("<option value=\"{status}\">{status} (");
    match dom.find(&anchor) {
        Some(at) => dom[at + anchor.len()..]
            .split(')')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap(),
        None => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_renders_in_chromium_with_the_numbers_of_campaign_status() {
    let sb = TestSandbox::start().await;
    let state = tempfile::tempdir().unwrap();
    lived_campaign(&sb, state.path()).await;
    let zs = |args: &[&str]| {
        let mut c = cmd(state.path());
        c.current_dir(state.path())
            .env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url())
            .args(args);
        c
    };
    let html = state.path().join("report.html");
    let made = run(zs(&[
        "campaign",
        "report",
        CAMPAIGN,
        "--refresh",
        "--out",
        html.to_str().unwrap(),
    ]))
    .await;
    made.ok();
    assert!(
        made.stderr
            .contains("refreshed 31 invitations of campaign spring-onboarding in 1 list call"),
        "{}",
        made.stderr
    );
    let status = run(zs(&["--json", "campaign", "status", CAMPAIGN])).await;
    status.ok();
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let inv = |s: &str| status["invitations"][s].as_i64().unwrap_or(0);
    let rows = |s: &str| status["rows"][s].as_i64().unwrap_or(0);
    // What the clients did, as the API now says it.
    assert_eq!(status["rows"], json!({"created": 31, "invalid": 2}));
    assert_eq!(
        status["invitations"],
        json!({"cancelled": 1, "completed": 12, "expired": 3, "failed": 1, "in_progress": 3, "pending": 11})
    );

    // With scripts running, as a person opening the file sees it.
    let url = file_url(&html);
    let dom = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || browser::headless(&url, &["--dump-dom"]).stdout)
            .await
            .unwrap()
    };
    assert!(
        dom.contains("<form id=\"filter\">"),
        "the page's script ran"
    );
    assert_eq!(count_in(&dom, "n-invited"), rows("created"));
    assert_eq!(count_in(&dom, "n-invalid"), rows("invalid"));
    assert_eq!(count_in(&dom, "n-not-sent"), 0);
    for s in ["completed", "expired", "cancelled", "failed"] {
        assert_eq!(count_in(&dom, &format!("n-{s}")), inv(s), "{s}");
    }
    for s in ["pending", "in_progress", "completed", "expired", "invalid"] {
        let want = if s == "invalid" { rows(s) } else { inv(s) };
        assert_eq!(filter_count(&dom, s), want, "filter's {s}");
    }
    // Viewed and started include everyone who went further.
    assert_eq!(count_in(&dom, "n-viewed"), 12 + 4 + 3 + 1);
    assert_eq!(count_in(&dom, "n-started"), 12 + 4 + 1);
    assert_eq!(count_in(&dom, "t-measured"), 12);
    // The hostile name is a cell's text; the page's own script is the only script.
    assert!(
        dom.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"),
        "hostile name not shown as text"
    );
    assert_eq!(dom.matches("<script").count(), 1, "{dom}");
    assert!(dom.contains("33 of 33 rows"));

    // The screenshot is the rendered page, not a blank one.
    let shot = state.path().join("report.png");
    let arg = format!("--screenshot={}", shot.display());
    {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            browser::headless(&url, &[&arg, "--window-size=1280,1800"])
        })
        .await
        .unwrap();
    }
    let png = std::fs::read(&shot).expect("Chromium wrote the screenshot");
    assert_eq!(png_size(&png), (1280, 1800));
    assert!(
        png.len() > 40_000,
        "a {} byte screenshot is a blank page",
        png.len()
    );
    if let Some(keep) = std::env::var_os("ZAVU_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, repo().join(keep)).unwrap();
    }

    // Sorting and filtering, clicked in the browser.
    let completed = inv("completed");
    let base = sb.url().to_string();
    tokio::task::spawn_blocking(move || {
        let driven = browser::launch();
        // With scripts off, every row is still there and the filter stays out of the way.
        let plain = driven.new_tab();
        plain.disable_scripts();
        plain.navigate(&url);
        let html = plain.content();
        assert!(!html.contains("33 of 33 rows"), "no script ran");
        assert!(html.contains("<form id=\"filter\" hidden=\"\">"), "filter hidden without JS");
        let body = html.split("id=\"row-table\"").nth(1).unwrap();
        let body = body.split("</thead>").nth(1).unwrap();
        assert_eq!(body.matches("<tr>").count(), 33, "every row without JS");
        assert_eq!(count_in(&html, "n-completed"), completed);
        assert!(html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));

        let tab = driven.new_tab();
        tab.navigate(&url);
        let eval = |js: &str| tab.eval(js);
        assert_eq!(eval("document.scripts.length"), json!(1));
        assert_eq!(
            eval(&format!(
                "Array.from(document.querySelectorAll('#row-table tbody tr')).filter(r => r.cells[1].textContent === {}).length",
                serde_json::to_string(HOSTILE).unwrap()
            )),
            json!(1)
        );
        // Every invitation link, however the page writes it, opens the invitation's page.
        let links = eval(&format!(
            "Array.from(document.querySelectorAll('#row-table a')).filter(a => a.href.startsWith({})).length",
            serde_json::to_string(&format!("{base}/invite/")).unwrap()
        ));
        assert_eq!(links, json!(31));
        tab.click("#filter select");
        let shown = eval(
            "(() => { const s = document.querySelector('#filter select'); s.value = 'completed'; \
             s.dispatchEvent(new Event('change')); \
             return [Array.from(document.querySelectorAll('#row-table tbody tr')).filter(r => !r.hidden).length, \
                     document.querySelector('#filter output').textContent]; })()",
        );
        assert_eq!(shown, json!([completed, format!("{completed} of 33 rows")]));
        tab.click("#row-table th:nth-child(2)");
        let sorted = wait_for(
            &tab,
            "(() => { const n = Array.from(document.querySelectorAll('#row-table tbody tr')).map(r => r.cells[1].textContent); \
             return n.join('|') === [...n].sort((a, b) => a.localeCompare(b)).join('|') && \
                    document.querySelector('#row-table th:nth-child(2)').getAttribute('aria-sort'); })()",
            &json!("ascending"),
        );
        assert_eq!(sorted, json!("ascending"), "rows sorted by client");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_invite_page_walks_a_client_through_signup_in_chromium() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let create = |name: &str| zavu_script::api::CreateInvitation {
        client_name: Some(name.into()),
        client_email: Some("ops@obrien.example".into()),
        ..Default::default()
    };
    let inv = client
        .create_invitation(&create("O'Brien & <Sons>"))
        .await
        .unwrap();
    let other = client
        .create_invitation(&create("Quitter Ltd"))
        .await
        .unwrap();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let api = |id: &str| handle.block_on(client.get_invitation(id)).unwrap();
        let driven = browser::launch();
        let tab = driven.new_tab();
        let status_is = |want: &str| {
            wait_for(
                &tab,
                "document.getElementById('status') && document.getElementById('status').textContent",
                &json!(want),
            )
        };

        // Opening the link is a view.
        tab.navigate(&inv.url);
        assert_eq!(status_is("pending"), json!("pending"));
        let shown = tab.text("strong").unwrap();
        assert_eq!(shown, "O'Brien & <Sons>");
        let seen = api(&inv.id);
        assert_eq!(seen.status, InvitationStatus::Pending);
        assert!(seen.viewed_at.is_some(), "opening the page sets viewedAt");

        tab.click("#start");
        assert_eq!(status_is("in_progress"), json!("in_progress"));
        let started = api(&inv.id);
        assert_eq!(started.status, InvitationStatus::InProgress);
        assert!(started.started_at.is_some());

        tab.click("#complete");
        assert_eq!(status_is("completed"), json!("completed"));
        let done = api(&inv.id);
        assert_eq!(done.status, InvitationStatus::Completed);
        let sender = done.sender_id.clone().expect("a sender for the connected account");
        let page = tab.text("body").unwrap();
        assert!(page.contains("You're connected") && page.contains(&sender), "{page}");
        // A reload shows the same; nothing is submitted twice.
        tab.reload();
        assert_eq!(status_is("completed"), json!("completed"));
        assert_eq!(api(&inv.id).sender_id, Some(sender));

        // A client who starts and gives up is `failed` in the API, and may start again.
        tab.navigate(&other.url);
        assert_eq!(status_is("pending"), json!("pending"));
        tab.click("#start");
        assert_eq!(status_is("in_progress"), json!("in_progress"));
        tab.click("#abandon");
        assert_eq!(status_is("failed"), json!("failed"));
        let gave_up = api(&other.id);
        assert_eq!(gave_up.status, InvitationStatus::Failed);
        assert_eq!(gave_up.failure_reason.as_deref(), Some("signup_abandoned"));
        assert_eq!(
            tab.eval("document.querySelector('#start') !== null"),
            json!(true),
            "a failed signup can start again"
        );
    })
    .await
    .unwrap();
}
