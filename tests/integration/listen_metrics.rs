//! `zavu-script listen` counts what it receives: `/metrics` in the Prometheus text format
//! (events by outcome, handler durations) and `/healthz`, on the receiver's own port.

use crate::cron::Tab;
use crate::support::Running;
use crate::support::{cmd, repo};
use serde_json::{Value, json};

const SECRET: &str = "whsec_metrics_test";

fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_serves_metrics_by_outcome_and_health() {
    let tab = Tab::new("").script("handler.rhai", "print(`handled ${event.id}`);");
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.current_dir(repo())
        .env("ZAVU_WEBHOOK_SECRET", SECRET)
        .args(["--sandbox", "listen"])
        .arg(tab.dir.path().join("handler.rhai"))
        .args(["--port", "0", "--json-logs"]);
    let mut listen = Running::spawn(c, Some(state));
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
