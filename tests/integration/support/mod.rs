//! The one fluent helper every integration test uses: a real sandbox on 127.0.0.1:0,
//! a client pointed at it, the control plane, and the real binary.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::PathBuf;
use zavu_script::client::{ApiClient, ApiKey, ClientOptions};
use zavu_script::sandbox::{Sandbox, SandboxOptions};

pub const KEY: &str = "zv_test_sandbox";

pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        Self::start_with(SandboxOptions::default()).await
    }

    pub async fn start_with(opts: SandboxOptions) -> TestSandbox {
        let sandbox = Sandbox::start(opts).await.expect("sandbox starts");
        TestSandbox {
            sandbox,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> &str {
        self.sandbox.base_url()
    }

    pub fn client(&self) -> ApiClient {
        ApiClient::new(ClientOptions::new(self.url(), ApiKey::new(KEY))).expect("client")
    }

    pub fn client_with(&self, f: impl FnOnce(&mut ClientOptions)) -> ApiClient {
        let mut opts = ClientOptions::new(self.url(), ApiKey::new(KEY));
        f(&mut opts);
        ApiClient::new(opts).expect("client")
    }

    /// `POST /_sandbox/<path>` with a JSON body; panics unless 2xx.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/_sandbox/{path}", self.url()))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("control plane answers");
        let status = resp.status();
        let body: Value = resp.json().await.expect("control plane answers JSON");
        assert!(
            status.is_success(),
            "control {path} failed: {status} {body}"
        );
        body
    }

    pub async fn faults(&self, faults: Value) -> Value {
        self.control("faults", faults).await
    }

    pub async fn advance_clock(&self, seconds: i64) {
        self.control("clock", json!({ "advanceSeconds": seconds }))
            .await;
    }

    pub async fn complete(&self, id: &str) -> Value {
        self.control(&format!("invitations/{id}/complete"), json!({}))
            .await
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_sandbox/stats", self.url()))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Count of invitations the sandbox holds, by status and in all.
    pub async fn invitation_count(&self) -> u64 {
        let stats = self.stats().await;
        stats["invitations"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    }

    /// A raw request, for what a well-behaved client would never send.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.url()))
    }
}

/// The built binary, for tests that drive the CLI.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zavu-script"))
}

/// A command for the binary with a private state dir and no ambient API settings.
pub fn cmd(state_dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(bin());
    c.env_remove("ZAVUDEV_API_KEY")
        .env_remove("ZAVUDEV_BASE_URL")
        .env("ZAVU_SCRIPT_STATE_DIR", state_dir)
        .env("NO_COLOR", "1");
    c
}

/// The repository root, for scripts and examples.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
