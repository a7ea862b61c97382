//! The sandbox as a server: robust against bad input, JSON everywhere, the invite page,
//! state that survives a restart, and the `zavu-script sandbox` command.

use crate::support::{KEY, TestSandbox, cmd};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use zavu_script::api::{CreateInvitation, InvitationStatus};
use zavu_script::sandbox::SandboxOptions;

async fn is_json_error(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct:?}");
    let body: Value = resp.json().await.expect("a JSON body");
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_json_errors_never_a_crash() {
    let sb = TestSandbox::start().await;
    let post = |path: &str| sb.raw(Method::POST, path).bearer_auth(KEY);

    let body = is_json_error(
        post("/v1/invitations")
            .body("{not json")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("line 1"));
    is_json_error(
        post("/v1/invitations").body("[1,2]").send().await.unwrap(),
        400,
    )
    .await;
    let body = is_json_error(
        post("/v1/invitations")
            .json(&json!({"expiresInDays": "seven", "allowedPhoneCountries": "US"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["details"]["errors"].as_array().unwrap().len(), 2);
    is_json_error(
        sb.raw(Method::GET, "/v1/whatever")
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    is_json_error(sb.raw(Method::GET, "/nowhere").send().await.unwrap(), 404).await;
    is_json_error(
        sb.raw(Method::DELETE, "/v1/invitations")
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
        405,
    )
    .await;
    is_json_error(
        sb.raw(Method::GET, "/v1/invitations?status=bogus")
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    is_json_error(
        sb.raw(Method::GET, "/v1/invitations/%FF%FE")
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    // 5 MB, with and without a declared length.
    let big = vec![b'a'; 5 * 1024 * 1024];
    let body = is_json_error(
        post("/v1/invitations")
            .body(big.clone())
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(body["code"], json!("payload_too_large"));
    let chunked = reqwest::Body::wrap_stream(futures::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    ));
    is_json_error(
        post("/v1/invitations").body(chunked).send().await.unwrap(),
        413,
    )
    .await;
    // A cancel with no body and a JSON content type, as some SDKs send it, is fine.
    let inv = sb
        .client()
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    let resp = post(&format!("/v1/invitations/{}/cancel", inv.id))
        .header("content-type", "application/json")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Still serving after all that.
    assert_eq!(
        sb.raw(Method::GET, "/_sandbox/health")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_plane_needs_the_key_and_validates_faults() {
    let sb = TestSandbox::start().await;
    is_json_error(
        sb.raw(Method::GET, "/_sandbox/stats").send().await.unwrap(),
        401,
    )
    .await;
    let body = is_json_error(
        sb.raw(Method::POST, "/_sandbox/faults")
            .bearer_auth(KEY)
            .json(&json!({"errorRate": 3, "latency": 5}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(body["details"]["errors"].as_array().unwrap().len(), 2);
    let faults = sb.faults(json!({"errorRate": 0.5, "latencyMs": 1})).await;
    assert_eq!(faults["errorRate"], json!(0.5));
    let faults = sb.faults(json!({"errorRate": null})).await;
    assert_eq!(faults["errorRate"], Value::Null);
    assert_eq!(faults["latencyMs"], json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_forgets_everything_but_the_seeds() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    sb.complete(&inv.id).await;
    sb.advance_clock(3600).await;
    sb.control("reset", json!({})).await;
    assert_eq!(sb.invitation_count().await, 0);
    assert_eq!(sb.stats().await["requests"], json!(0));
    assert!(client.get_template("tmpl_xyz789").await.is_ok());
    assert!(client.get_sender("snd_default").await.is_ok());
    let senders = client.list_senders(&Default::default()).await.unwrap();
    assert_eq!(senders.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_invite_page_drives_the_signup() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let inv = client
        .create_invitation(&CreateInvitation {
            client_name: Some("Acme <Corp>".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let page = reqwest::get(&inv.url).await.unwrap();
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Acme &lt;Corp&gt;"), "escaped client name");
    assert!(html.contains("Start signup") && !html.contains("<script"));
    assert!(
        client
            .get_invitation(&inv.id)
            .await
            .unwrap()
            .viewed_at
            .is_some()
    );

    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .post(format!("{}/start", inv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        client.get_invitation(&inv.id).await.unwrap().status,
        InvitationStatus::InProgress
    );
    let done = reqwest::Client::new()
        .post(format!("{}/complete", inv.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(done.contains("connected"), "{done}");
    let inv = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(inv.status, InvitationStatus::Completed);

    let cancelled = client
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    client.cancel_invitation(&cancelled.id).await.unwrap();
    let html = reqwest::get(&cancelled.url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("cancelled"));
    let missing = reqwest::get(format!("{}/invite/nope", sb.url()))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let opts = SandboxOptions {
        state_file: Some(state.clone()),
        ..Default::default()
    };
    let sb = TestSandbox::start_with(opts.clone()).await;
    let inv = sb
        .client()
        .create_invitation(&CreateInvitation::default())
        .await
        .unwrap();
    sb.complete(&inv.id).await;
    sb.advance_clock(60).await;
    sb.sandbox.shutdown().await.unwrap();

    let again = TestSandbox::start_with(opts).await;
    let client = again.client();
    let back = client.get_invitation(&inv.id).await.unwrap();
    assert_eq!(back.status, InvitationStatus::Completed);
    assert!(
        client
            .get_sender(back.sender_id.as_deref().unwrap())
            .await
            .is_ok()
    );
    let clock: Value = again
        .raw(Method::GET, "/_sandbox/clock")
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offsetSeconds"], json!(60));

    std::fs::write(&state, "{broken").unwrap();
    let err = zavu_script::sandbox::Sandbox::start(SandboxOptions {
        state_file: Some(state.clone()),
        ..Default::default()
    })
    .await
    .err()
    .expect("a corrupt state file is refused");
    assert!(err.to_string().contains("sandbox.json:1:2"), "{err}");
}

#[test]
fn the_sandbox_command_serves_until_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd(dir.path())
        .args(["sandbox", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("zv_test_sandbox"), "{line}");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the base URL is printed")
        .to_string();
    let health = reqwest::blocking_get(&format!("{url}/_sandbox/health"));
    assert_eq!(health, "{\"ok\":true}");
    let pid = child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIGTERM exits 0: {exit:?}");
}

#[test]
fn help_and_completions_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(dir.path())
        .args(["sandbox", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--state"));
    let out = cmd(dir.path())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("zavu-script"));
    // The key from the environment never shows in --help.
    let out = cmd(dir.path())
        .env("ZAVUDEV_API_KEY", "zv_live_supersecret")
        .arg("--help")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("supersecret"));
}

mod reqwest {
    pub use ::reqwest::*;

    /// A tiny blocking GET for the tests that drive the binary from a plain thread.
    pub fn blocking_get(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
