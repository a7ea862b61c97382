//! `zavu-script listen` counts what it receives: `/metrics` in the Prometheus text format
//! (events by outcome, handler durations) and `/healthz`, on the receiver's own port —
//! which turns 503, saying why, when the inbox it records into is taken away.

use crate::cron::Tab;
use crate::support::Running;
use crate::support::{cmd, repo};
use serde_json::{Value, json};

const SECRET: &str = "whsec_metrics_test";

fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn handler() -> Tab {
    Tab::new("").script("handler.rhai", "print(`handled ${event.id}`);")
}

/// `listen` on a free port with its state in `state`: the process, the delivery URL and
/// the base URL of /metrics and /healthz.
async fn start(tab: &Tab, state: tempfile::TempDir) -> (Running, String, String) {
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .env("ZAVU_WEBHOOK_SECRET", SECRET)
        .args(["--sandbox", "listen"])
        .arg(tab.dir.path().join("handler.rhai"))
        .args(["--port", "0", "--json-logs"]);
    let listen = Running::spawn(c, Some(state));
    listen.wait_for("\"event\":\"listening\"", 1).await;
    let line = listen
        .log()
        .into_iter()
        .find(|l| l.contains("\"event\":\"listening\""))
        .unwrap();
    let msg: Value = serde_json::from_str(&line).unwrap();
    let url = msg["msg"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let base = url.trim_end_matches("/webhooks/zavu").to_string();
    (listen, url, base)
}

fn event(id: &str) -> String {
    json!({
        "id": id,
        "type": "invitation.status_changed",
        "timestamp": chrono::Utc::now().timestamp_millis(),
        "projectId": "prj_test",
        "data": {"invitationId": "inv_metrics", "previousStatus": "pending", "currentStatus": "in_progress"}
    })
    .to_string()
}

async fn deliver(http: &reqwest::Client, url: &str, body: &str) -> reqwest::StatusCode {
    let t = chrono::Utc::now().timestamp();
    http.post(url)
        .header(
            "X-Zavu-Signature",
            zavu_script::api::webhook::sign(SECRET, t, body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

/// The state directory removed under a running receiver: the inbox it holds open is no
/// longer anywhere a restart would find it. `/healthz` says so with a 503 and the reason,
/// and a delivery is refused with a 503 (the sender retries) instead of being "recorded"
/// into a file that is gone.
#[tokio::test(flavor = "multi_thread")]
async fn healthz_turns_503_with_the_reason_when_the_inbox_is_gone() {
    let tab = handler();
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_path_buf();
    let (mut listen, url, base) = start(&tab, state).await;
    let http = reqwest::Client::new();

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({"ok": true}));
    assert_eq!(deliver(&http, &url, &event("evt_health_1")).await, 200);
    listen.wait_for("handled evt_health_1", 1).await;

    std::fs::remove_dir_all(&state_dir).unwrap();
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["ok"], false, "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(
        reason.contains("inbox.sqlite3 is gone") && reason.contains("lost"),
        "{body}"
    );
    assert_eq!(deliver(&http, &url, &event("evt_health_2")).await, 503);
    assert_eq!(listen.count("handled evt_health_2"), 0);

    listen.signal("TERM");
    listen.exit_code().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_serves_metrics_by_outcome_and_health() {
    let tab = handler();
    let (mut listen, url, base) = start(&tab, tempfile::tempdir().unwrap()).await;

    let http = reqwest::Client::new();
    let body = json!({
        "id": "evt_metrics_1",
        "type": "invitation.status_changed",
        "timestamp": chrono::Utc::now().timestamp_millis(),
        "projectId": "prj_test",
        "data": {"invitationId": "inv_metrics", "previousStatus": "pending", "currentStatus": "in_progress"}
    })
    .to_string();
    let unsigned = http.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    for _ in 0..2 {
        let t = chrono::Utc::now().timestamp();
        let signed = http
            .post(&url)
            .header(
                "X-Zavu-Signature",
                zavu_script::api::webhook::sign(SECRET, t, body.as_bytes()),
            )
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
    }
    listen.wait_for("handled evt_metrics_1", 1).await;
    listen.wait_for("\"outcome\":\"ok\"", 1).await;

    let resp = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let count = |outcome: &str| {
        sample(
            &page,
            &format!("zavu_listen_events_total{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("refused"), Some(1.0), "{page}");
    assert_eq!(count("duplicate"), Some(1.0), "{page}");
    assert_eq!(count("done"), Some(1.0), "{page}");
    assert_eq!(
        sample(&page, "zavu_listen_handler_duration_seconds_count"),
        Some(1.0),
        "{page}"
    );
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    listen.signal("TERM");
    assert_eq!(listen.exit_code().await, 0, "{}", listen.log().join("\n"));
}
