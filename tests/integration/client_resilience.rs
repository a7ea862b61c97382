//! The client under the faults a real network produces: injected 5xx, dropped answers,
//! timeouts, a dead server, and a rate limit — proven from the sandbox's own counters.

use crate::support::TestSandbox;
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;
use zavu_script::api::{CreateInvitation, ListInvitations};
use zavu_script::client::{ApiClient, ApiKey, ClientError, ClientOptions};

fn invite(i: usize) -> CreateInvitation {
    CreateInvitation {
        client_email: Some(format!("client{i}@example.com")),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_retried_through_injected_errors() {
    let sb = TestSandbox::start().await;
    // Ten retries: at a 30 % error rate, eleven failures in a row (p ≈ 2e-6) never happen.
    let client = sb.client_with(|o| o.max_retries = 10);
    let inv = client.create_invitation(&invite(0)).await.unwrap();
    sb.faults(json!({"errorRate": 0.3})).await;
    for _ in 0..40 {
        assert_eq!(client.get_invitation(&inv.id).await.unwrap().id, inv.id);
    }
    let stats = sb.stats().await;
    assert!(
        stats["byStatus"]["503"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {stats}"
    );
    assert_eq!(stats["byStatus"]["200"], json!(40));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_create_is_never_repeated_blindly() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    // Every write commits and then loses its answer, or fails before committing.
    sb.faults(json!({"dropAfterCommitRate": 0.3, "errorRate": 0.2}))
        .await;
    let n = 120;
    let results: Vec<Result<_, ClientError>> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move { client.create_invitation(&invite(i)).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
    let unknown = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.is_outcome_unknown()))
        .count() as u64;
    assert_eq!(ok + unknown, n as u64, "every failure is 'outcome unknown'");
    let stats = sb.stats().await;
    let dropped = stats["dropped"].as_u64().unwrap();
    let injected = stats["byStatus"]["503"].as_u64().unwrap_or(0);
    assert!(dropped > 0 && injected > 0, "{stats}");
    // One POST per create call, no more: each call made at most one invitation.
    assert_eq!(stats["requests"].as_u64().unwrap(), n as u64);
    assert_eq!(sb.invitation_count().await, ok + dropped);
    assert_eq!(unknown, dropped + injected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_that_times_out_is_unknown_and_a_read_is_retried() {
    let sb = TestSandbox::start().await;
    let client = sb.client_with(|o| {
        o.timeout = Duration::from_millis(300);
        o.max_retries = 1;
    });
    sb.faults(json!({"latencyMs": 600})).await;
    let err = client.create_invitation(&invite(1)).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(err.code(), "outcome_unknown");
    let err = client
        .list_invitations(&ListInvitations::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Network { attempts: 2, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_server_is_unreachable_not_unknown() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = ApiClient::new(ClientOptions::new(
        format!("http://{addr}"),
        ApiKey::new("zv_test_x"),
    ))
    .unwrap();
    let err = client.create_invitation(&invite(1)).await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn pacing_keeps_429s_under_one_percent() {
    let sb = TestSandbox::start().await;
    let client = sb.client();
    let limit = 20;
    sb.faults(json!({"rateLimitPerMinute": limit, "rateLimitWindowSeconds": 1}))
        .await;
    // Three windows' worth of creates, 8 at a time, all through one shared budget.
    let n = 3 * limit;
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let client = client.clone();
            async move { client.create_invitation(&invite(i)).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(results.iter().all(|r| r.is_ok()), "every create completed");
    let stats = sb.stats().await;
    let total = stats["requests"].as_u64().unwrap();
    let limited = stats["byStatus"]["429"].as_u64().unwrap_or(0);
    assert!(
        limited * 100 <= total,
        "{limited} of {total} requests got 429: {stats}"
    );
    assert_eq!(sb.invitation_count().await, n as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_waited_out_not_surfaced() {
    let sb = TestSandbox::start().await;
    // A window long enough that a busy machine cannot let it pass between the requests.
    sb.faults(json!({"rateLimitPerMinute": 2, "rateLimitWindowSeconds": 4}))
        .await;
    // Another process on the same key spends the window behind our back.
    for _ in 0..2 {
        sb.raw(reqwest::Method::GET, "/v1/invitations")
            .bearer_auth(crate::support::KEY)
            .send()
            .await
            .unwrap();
    }
    let client = sb.client();
    let page = client.list_invitations(&ListInvitations::default()).await;
    assert!(page.is_ok(), "{page:?}");
    assert!(sb.stats().await["byStatus"]["429"].as_u64().unwrap_or(0) >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_without_a_server_path_is_checked_up_front() {
    for bad in ["ftp://x", "not a url", "http://h/?q=1"] {
        let err = ApiClient::new(ClientOptions::new(bad, ApiKey::new("k"))).unwrap_err();
        assert!(err.to_string().contains(bad));
    }
}
