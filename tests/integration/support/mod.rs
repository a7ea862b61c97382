//! The one fluent helper every integration test uses: a real sandbox on 127.0.0.1:0,
//! a client pointed at it, the control plane, and the real binary.

#![allow(dead_code)]

pub mod browser;
pub mod pg;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zavu_script::client::{ApiClient, ApiKey, ClientOptions};
use zavu_script::sandbox::{Sandbox, SandboxOptions};

pub const KEY: &str = "zv_test_sandbox";

pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub http: reqwest::Client,
    /// The key this sandbox accepts.
    pub key: String,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        Self::start_with(SandboxOptions::default()).await
    }

    pub async fn start_with(opts: SandboxOptions) -> TestSandbox {
        let key = opts
            .keys
            .first()
            .cloned()
            .unwrap_or_else(|| KEY.to_string());
        let sandbox = Sandbox::start(opts).await.expect("sandbox starts");
        TestSandbox {
            sandbox,
            http: reqwest::Client::new(),
            key,
        }
    }

    pub fn url(&self) -> &str {
        self.sandbox.base_url()
    }

    pub fn client(&self) -> ApiClient {
        ApiClient::new(ClientOptions::new(self.url(), ApiKey::new(&self.key))).expect("client")
    }

    pub fn client_with(&self, f: impl FnOnce(&mut ClientOptions)) -> ApiClient {
        let mut opts = ClientOptions::new(self.url(), ApiKey::new(&self.key));
        f(&mut opts);
        ApiClient::new(opts).expect("client")
    }

    /// `POST /_sandbox/<path>` with a JSON body; panics unless 2xx.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/_sandbox/{path}", self.url()))
            .bearer_auth(&self.key)
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
            .bearer_auth(&self.key)
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
        .env_remove("ZAVU_STATE_URL")
        .env("ZAVU_SCRIPT_STATE_DIR", state_dir)
        .env("NO_COLOR", "1");
    c
}

/// The repository root, for scripts and examples.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The finished `zavu-script` process.
#[derive(Debug)]
pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Done {
    /// Asserts the exit status, showing both streams when it is not the expected one.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// A `zavu-script` invocation pointed at a test sandbox, built up fluently and run off the
/// async runtime's threads.
pub struct Zs {
    cmd: std::process::Command,
    _state: tempfile::TempDir,
}

impl Zs {
    /// Against this sandbox, with its key in the environment (never on the command line).
    pub fn against(sb: &TestSandbox) -> Zs {
        let state = tempfile::tempdir().unwrap();
        let mut c = cmd(state.path());
        c.current_dir(repo())
            .env("ZAVUDEV_API_KEY", &sb.key)
            .env("ZAVUDEV_BASE_URL", sb.url());
        Zs {
            cmd: c,
            _state: state,
        }
    }

    /// With no API target configured at all.
    pub fn bare() -> Zs {
        let state = tempfile::tempdir().unwrap();
        let mut c = cmd(state.path());
        c.current_dir(repo());
        Zs {
            cmd: c,
            _state: state,
        }
    }

    pub fn args<I, S>(mut self, args: I) -> Zs
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Zs {
        self.cmd.env(k, v);
        self
    }

    pub fn state_dir(&self) -> &std::path::Path {
        self._state.path()
    }

    pub async fn run(mut self) -> Done {
        let out = tokio::task::spawn_blocking(move || {
            let out = self.cmd.output().expect("zavu-script runs");
            drop(self);
            out
        })
        .await
        .unwrap();
        Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Writes a throwaway script and returns its path (kept alive by the returned dir).
pub fn script(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.rhai");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// How long a test waits for something the sandbox or a receiver does in the background;
/// a passing test never waits this long.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Polls `check` every 20 ms until it gives `Some`, or fails after [`PATIENCE`] saying
/// what it waited for.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl TestSandbox {
    /// Configures the project webhook to deliver to `url`; returns its secret.
    pub async fn configure_webhook(&self, url: &str) -> String {
        let hook = self
            .client()
            .configure_webhook(url, None)
            .await
            .expect("the webhook is configured");
        hook.secret
    }

    /// The control plane's delivery log: `{pending, delivered, …, deliveries: [...]}`.
    pub async fn deliveries(&self) -> Value {
        self.http
            .get(format!("{}/_sandbox/webhook/deliveries", self.url()))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("deliveries")
            .json()
            .await
            .expect("deliveries JSON")
    }

    /// Waits until nothing is queued for delivery and `n` attempts are logged.
    pub async fn settled(&self, n: usize) -> Value {
        eventually(
            &format!("{n} delivery attempt(s), none pending"),
            async || {
                let log = self.deliveries().await;
                let done =
                    log["pending"] == 0 && log["deliveries"].as_array().map(Vec::len) == Some(n);
                done.then_some(log)
            },
        )
        .await
    }
}

/// One delivery a [`Receiver`] got.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub signature: Option<String>,
    pub body: String,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a delivery is JSON")
    }
}

/// A plain HTTP receiver on 127.0.0.1:0 that keeps every delivery and answers with the
/// statuses it is told to (then 200) — a stand-in for a partner's server, to see what the
/// sandbox sends. (`listen` is tested as the real receiver elsewhere.)
pub struct Receiver {
    pub url: String,
    got: std::sync::Arc<std::sync::Mutex<Vec<Delivery>>>,
    answers: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        use axum::http::{HeaderMap, StatusCode};
        let got = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let answers = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (g, a) = (got.clone(), answers.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    let signature = headers
                        .get("x-zavu-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    g.lock().unwrap().push(Delivery { signature, body });
                    let status = a.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, answers }
    }

    /// The next deliveries are answered with these statuses.
    pub fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    pub fn got(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    /// Waits for `n` deliveries.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        eventually(&format!("{n} deliveries"), async || {
            let got = self.got();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

/// How long a test waits for a running process's log line or exit; a passing test never
/// waits this long.
pub const PROCESS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(90);

/// A running long-lived `zavu-script` (`cron`, `listen`), its stderr collected line by line.
pub struct Running {
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _state: Option<tempfile::TempDir>,
}

impl Running {
    pub fn spawn(mut command: Command, state: Option<tempfile::TempDir>) -> Running {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("zavu-script starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(vec![]));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            lines,
            _state: state,
        }
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    pub fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.log().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `needle` has appeared in `n` lines.
    pub async fn wait_for(&self, needle: &str, n: usize) {
        let start = Instant::now();
        while self.count(needle) < n {
            if start.elapsed() > PROCESS_PATIENCE {
                panic!(
                    "waited {PROCESS_PATIENCE:?} for {n} line(s) with {needle:?}; the log:\n{}",
                    self.log().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    pub async fn exit_code(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > PROCESS_PATIENCE {
                panic!(
                    "the scheduler did not exit; the log:\n{}",
                    self.log().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Index of the first line containing `needle`.
    pub fn position(&self, needle: &str) -> usize {
        let log = self.log();
        log.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", log.join("\n")))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `listen HANDLER --port 0 --register self` against `sb`, with `state` as its state dir.
pub fn listen(sb: &TestSandbox, state: &std::path::Path, handler: &std::path::Path) -> Running {
    listen_with(sb, state, handler, &[])
}

/// [`listen`] with more flags.
pub fn listen_with(
    sb: &TestSandbox,
    state: &std::path::Path,
    handler: &std::path::Path,
    flags: &[&str],
) -> Running {
    let mut c = cmd(state);
    c.current_dir(repo())
        .env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .arg("listen")
        .arg(handler)
        .args(["--port", "0", "--register", "self"])
        .args(flags);
    Running::spawn(c, None)
}

/// `zavu-script --json state status` for the state database at `url` (which must succeed),
/// parsed.
pub async fn state_status_json(url: &str) -> serde_json::Value {
    let status = Zs::bare()
        .env("ZAVU_STATE_URL", url)
        .args(["--json", "state", "status"])
        .run()
        .await;
    status.ok();
    serde_json::from_str(&status.stdout).expect("status JSON")
}

/// Waits until the receiver takes deliveries and its start-up catch-up is done; returns
/// the URL it receives on.
pub async fn ready(l: &mut Running) -> String {
    eventually("the receiver to start and catch up", async || {
        let log = l.log();
        let caught_up = log
            .iter()
            .any(|line| line.contains("first start: ") || line.contains("missed while down"));
        assert!(!l.exited(), "listen exited: {log:#?}");
        caught_up.then_some(())
    })
    .await;
    let line = l.log()[l.position("receiving deliveries on ")].clone();
    line.split("receiving deliveries on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the receiver's URL")
        .to_string()
}
