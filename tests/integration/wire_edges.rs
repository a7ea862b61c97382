//! The sandbox at the edges of the wire, as strict as the real API: rate-limit headers on
//! every answer, JSON bodies down to malformed HTTP, slow heads and bodies timed out,
//! oversize bodies refused at once, bodies read strictly, cursors it never issued refused.

use crate::support::{KEY, TestSandbox};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zavu_script::api::{CreateInvitation, ListInvitations};
use zavu_script::client::ClientError;
use zavu_script::sandbox::{DEFAULT_BUDGET_PER_MINUTE, SandboxOptions};

/// Writes raw bytes, then reads until the server closes or `wait` passes; the answer and
/// how long it took.
async fn raw_exchange(sb: &TestSandbox, bytes: &[u8], wait: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(sb.sandbox.addr()).await.unwrap();
    let started = Instant::now();
    s.write_all(bytes).await.unwrap();
    let mut out = vec![];
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

/// Status and JSON body of a raw HTTP answer.
fn parse_answer(raw: &str) -> (u16, Value) {
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    (status, serde_json::from_str(body).expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_answer_carries_rate_limit_headers() {
    let sb = TestSandbox::start().await;
    let http = &sb.http;
    let url = |p: &str| format!("{}{p}", sb.url());
    let answers = vec![
        http.get(url("/v1/invitations")).bearer_auth(KEY),
        http.post(url("/v1/invitations"))
            .bearer_auth(KEY)
            .json(&json!({"expiresInDays": 99})),
        http.get(url("/v1/invitations")),
        http.get(url("/v1/nowhere")).bearer_auth(KEY),
        http.delete(url("/v1/invitations")).bearer_auth(KEY),
        http.get(url("/v1/me")).bearer_auth(KEY),
    ];
    let mut remaining = vec![];
    for req in answers {
        let resp = req.send().await.unwrap();
        let h = resp.headers();
        let num = |k: &str| -> u64 {
            h.get(k)
                .unwrap_or_else(|| panic!("{} has no {k}", resp.status()))
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(num("x-ratelimit-limit"), DEFAULT_BUDGET_PER_MINUTE);
        let reset = num("x-ratelimit-reset") as i64;
        let now = chrono::Utc::now().timestamp_millis();
        assert!(
            reset > now && reset <= now + 61_000,
            "reset {reset} is epoch ms"
        );
        if resp.status() != 401 {
            remaining.push(num("x-ratelimit-remaining"));
        }
    }
    assert!(
        remaining
            .windows(2)
            .all(|w| w[1] < w[0] || w[1] > w[0] + 100),
        "each request spends the budget (or a new window began): {remaining:?}"
    );
    // A configured budget is reported and enforced.
    let small = TestSandbox::start_with(SandboxOptions {
        budget_per_minute: 2,
        ..Default::default()
    })
    .await;
    let codes: Vec<u16> = futures::future::join_all((0..3).map(|_| {
        small
            .raw(Method::GET, "/v1/balance")
            .bearer_auth(KEY)
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect();
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 1, "{codes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_http_and_stalled_requests_get_json_answers() {
    let sb = TestSandbox::start_with(SandboxOptions {
        head_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let wait = Duration::from_secs(5);
    for garbage in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /v1/invitations HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ] {
        let (raw, _) = raw_exchange(&sb, garbage, wait).await;
        let (status, body) = parse_answer(&raw);
        assert_eq!(status, 400, "{raw}");
        assert_eq!(body["code"], "invalid_request");
    }
    // Half a head, then nothing: a 408 with a JSON body, and the connection closes.
    let (raw, took) = raw_exchange(&sb, b"GET /v1/invitations HTTP/1.1\r\nHost: x\r\n", wait).await;
    let (status, body) = parse_answer(&raw);
    assert_eq!(
        (status, body["code"].as_str()),
        (408, Some("request_timeout"))
    );
    assert!(took < Duration::from_secs(3), "timed out after {took:?}");
    // A body that never finishes arriving.
    let (raw, took) = raw_exchange(
        &sb,
        format!(
            "POST /v1/invitations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{{\"clientName\""
        )
        .as_bytes(),
        wait,
    )
    .await;
    let (status, body) = parse_answer(&raw);
    assert_eq!(
        (status, body["code"].as_str()),
        (408, Some("request_timeout"))
    );
    assert!(took < Duration::from_secs(3), "timed out after {took:?}");
    // A declared oversize body is refused before a byte of it is sent.
    let (raw, took) = raw_exchange(
        &sb,
        format!(
            "POST /v1/invitations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
        )
        .as_bytes(),
        Duration::from_millis(1500),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw:?} after {took:?}");
    let (_, body) = parse_answer(&raw);
    assert_eq!(body["code"], "payload_too_large");
    // An idle connection is closed without a word; the server still serves.
    let (raw, _) = raw_exchange(&sb, b"", wait).await;
    assert_eq!(raw, "");
    assert!(sb.client().balance().await.is_ok());
    assert_eq!(
        sb.invitation_count().await,
        0,
        "nothing half-read was created"
    );
}

async fn refused(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 400);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_are_read_like_the_real_api() {
    let sb = TestSandbox::start().await;
    let post = |path: &str| sb.raw(Method::POST, path).bearer_auth(KEY);
    // `{}`: a valid create (every field optional); not a valid send.
    let created = post("/v1/invitations")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body = refused(post("/v1/messages").json(&json!({})).send().await.unwrap()).await;
    assert_eq!(body["details"]["errors"][0]["path"], json!(["to"]));
    // A literal `null` is what an SDK sends for "no parameters": read as `{}`.
    let null = post("/v1/invitations")
        .header("content-type", "application/json")
        .body("null")
        .send()
        .await
        .unwrap();
    assert_eq!(null.status(), 201);
    // Unknown keys, at the top and inside content, are named.
    let body = refused(
        post("/v1/invitations")
            .json(&json!({"clientName": "A", "clientEmial": "a@b.co"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["details"]["errors"][0]["path"], json!(["clientEmial"]));
    assert!(body["message"].as_str().unwrap().contains("clientEmail"));
    let body = refused(
        post("/v1/messages")
            .json(&json!({"to": "+14155551234", "messageType": "template",
                "content": {"templateId": "tmpl_xyz789", "templateVars": {"1": "x"}}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let paths: Vec<&Value> = body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["path"])
        .collect();
    assert!(
        paths.contains(&&json!(["content", "templateVars"])),
        "{body}"
    );
    // A key twice: refused with its path, not silently the last value.
    let body = refused(
        post("/v1/invitations")
            .header("content-type", "application/json")
            .body(r#"{"clientName": "A", "clientName": "B"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["details"]["errors"][0]["path"], json!(["clientName"]));
    // JSON sent as text/plain is not read as JSON.
    let body = refused(
        post("/v1/invitations")
            .header("content-type", "text/plain")
            .body(r#"{"clientName": "A"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("text/plain"),
        "{body}"
    );
    assert_eq!(sb.invitation_count().await, 2, "only the two valid creates");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_the_sandbox_never_issued_is_a_400_not_the_first_page() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    for _ in 0..3 {
        client
            .create_invitation(&CreateInvitation::default())
            .await
            .unwrap();
    }
    let page = client
        .list_invitations(&ListInvitations {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let cursor = page.next_cursor.clone().expect("a second page");
    let next = client
        .list_invitations(&ListInvitations {
            limit: Some(2),
            cursor: Some(cursor.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
    // The same cursor with its last character changed.
    let last = if cursor.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &cursor[..cursor.len() - 1]);
    for bad in ["cursor", "c1", tampered.as_str()] {
        let err = client
            .list_invitations(&ListInvitations {
                cursor: Some(bad.into()),
                ..Default::default()
            })
            .await
            .unwrap_err();
        let ClientError::Api(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!((e.status, e.code.as_str()), (400, "invalid_request"));
        assert_eq!(e.details.unwrap()["errors"][0]["path"], json!(["cursor"]));
    }
    // A cursor of one list is not a cursor of another.
    let other = sb
        .raw(Method::GET, &format!("/v1/messages?cursor={cursor}"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    // A loop fed a bad cursor ends with the error instead of paging forever.
    let (_dir, path) = crate::support::script(
        r#"let cursor = "cursor";
loop { let p = zavu.invitations.list(#{ cursor: cursor }); cursor = p.nextCursor; if cursor == () { break; } }"#,
    );
    let done = crate::support::Zs::against(&sb)
        .args([std::ffi::OsStr::new("run"), path.as_os_str()])
        .run()
        .await;
    assert_eq!(done.code, 3, "{}", done.stderr);
    assert!(done.stderr.contains("cursor"), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn fail_next_fails_exactly_that_many_requests() {
    let sb = TestSandbox::start().await;
    sb.faults(json!({"failNext": 2, "errorStatus": 500})).await;
    // The client's two retries ride out the burst; the read succeeds on the third try.
    sb.client().balance().await.unwrap();
    let stats = sb.stats().await;
    assert_eq!(stats["byStatus"]["500"], json!(2));
    assert_eq!(stats["byStatus"]["200"], json!(1));
    assert_eq!(sb.faults(json!({})).await["failNext"], Value::Null);
}
