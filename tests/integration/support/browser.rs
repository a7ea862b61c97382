//! A real browser for the tests: Debian's Chromium, headless. The command-line modes
//! (`--dump-dom`, `--screenshot`) for what a person opening a file would get, and the
//! DevTools protocol (JSON messages over a `tungstenite` WebSocket) for clicking through
//! pages — a few commands, so no protocol crate to build.
//!
//! When Chromium is missing or will not start, the test fails and says why and how to
//! fix it (`tests/setup.sh`); it never passes without having run.

use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Flags without which Chromium, on a machine with no network but loopback, spends its
/// start-up on connections that are refused or hang.
pub const QUIET_FLAGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// The Chromium to run: `$CHROMIUM`, else the first of chromium, chromium-browser,
/// google-chrome on PATH. Panics with the way to install one when there is none.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CHROMIUM={} is not a file; unset it or point it at a Chromium binary",
            path.display()
        );
        return path;
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in &dirs {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "this test needs Chromium and none was found (looked for $CHROMIUM, then chromium, \
         chromium-browser, google-chrome on PATH): run tests/setup.sh, which installs Debian's \
         chromium, or set CHROMIUM=/path/to/chromium"
    );
}

/// What a headless Chromium run printed, with its exit status.
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
}

/// Runs headless Chromium once on `url` with `args` (such as `--dump-dom`), with a fresh
/// profile, and fails the test with Chromium's own words if it does not succeed within
/// a minute.
pub fn headless(url: &str, args: &[&str]) -> Ran {
    let exe = chromium();
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(&exe)
        .arg("--headless")
        .args(QUIET_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("Chromium ({}) cannot start: {e}", exe.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    let ran = Ran {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.status.success(),
        "Chromium ({}) failed on {url} with {args:?}: {}\n{}",
        exe.display(),
        out.status,
        ran.stderr
    );
    ran
}

/// A PNG's width and height, from its header; panics if `bytes` is not a PNG.
pub fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG ({} bytes)",
        bytes.len()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// A headless Chromium driven over the DevTools protocol: one WebSocket to the browser,
/// tabs as flattened target sessions on it. Only what the tests need — open a page,
/// evaluate, click like a mouse, turn scripts off — as plain protocol messages.
pub struct Driven {
    child: Child,
    ws: RefCell<WebSocket<MaybeTlsStream<TcpStream>>>,
    next_id: Cell<u64>,
    _profile: tempfile::TempDir,
}

/// Starts Chromium for DevTools-protocol driving; fails the test with the reason (and
/// what Chromium printed) when it cannot start.
pub fn launch() -> Driven {
    let exe = chromium();
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(&exe)
        .arg("--headless")
        .args(QUIET_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args([
            "--remote-debugging-port=0",
            "--window-size=1280,900",
            "about:blank",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("Chromium ({}) cannot start: {e}", exe.display()));
    // Chromium says where its DevTools endpoint is on stderr; read it off a thread so a
    // silent Chromium cannot hang the test.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let endpoint = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => match line.split_once("DevTools listening on ") {
                Some((_, url)) => break url.trim().to_string(),
                None => said.push(line),
            },
            Err(why) => {
                let _ = child.kill();
                let how = match why {
                    std::sync::mpsc::RecvTimeoutError::Timeout => {
                        "did not open its DevTools endpoint within 30 s".to_string()
                    }
                    std::sync::mpsc::RecvTimeoutError::Disconnected => format!(
                        "exited before opening its DevTools endpoint ({})",
                        child
                            .wait()
                            .map(|s| s.to_string())
                            .unwrap_or_else(|e| e.to_string())
                    ),
                };
                panic!(
                    "Chromium ({}) {how}; it said:\n{}",
                    exe.display(),
                    said.join("\n")
                );
            }
        }
    };
    let (ws, _) = tungstenite::connect(endpoint.as_str())
        .unwrap_or_else(|e| panic!("cannot reach Chromium's DevTools at {endpoint}: {e}"));
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    Driven {
        child,
        ws: RefCell::new(ws),
        next_id: Cell::new(1),
        _profile: profile,
    }
}

impl Driven {
    /// Sends one command (to a tab's session, or to the browser) and waits for its answer;
    /// events that arrive meanwhile are not needed and are skipped.
    fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut ws = self.ws.borrow_mut();
        ws.send(Message::text(msg.to_string()))
            .unwrap_or_else(|e| panic!("DevTools {method}: {e}"));
        loop {
            let text = match ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                Err(e) => panic!("DevTools {method}: no answer: {e}"),
            };
            let answer: Value = serde_json::from_str(&text).unwrap();
            if answer["id"] != json!(id) {
                continue;
            }
            if let Some(error) = answer.get("error") {
                panic!("DevTools {method} failed: {error}");
            }
            return answer["result"].clone();
        }
    }

    /// A new tab on `about:blank`.
    pub fn new_tab(&self) -> Tab<'_> {
        let target = self.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        Tab {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_string(),
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab of a [`Driven`] browser.
pub struct Tab<'a> {
    browser: &'a Driven,
    session: String,
}

impl Tab<'_> {
    pub fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params)
    }

    /// The value of a JavaScript expression, as JSON (`null` when it threw).
    pub fn eval(&self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    /// Runs `go` (a navigation) and waits until a new document has replaced the current
    /// one and finished loading: the old one is marked first, so it cannot pass for the new.
    fn navigation(&self, go: impl FnOnce()) {
        self.eval("window.__zsLeaving = true");
        go();
        let got = wait_for(
            self,
            "window.__zsLeaving === undefined && document.readyState",
            &json!("complete"),
        );
        assert_eq!(got, json!("complete"), "the page did not finish loading");
    }

    /// Opens `url` and waits until the page has loaded.
    pub fn navigate(&self, url: &str) {
        self.navigation(|| {
            let r = self.call("Page.navigate", json!({"url": url}));
            assert!(r.get("errorText").is_none(), "cannot open {url}: {r}");
        });
    }

    pub fn reload(&self) {
        self.navigation(|| {
            self.call("Page.reload", json!({}));
        });
    }

    /// Turns the page's own scripts off (what a reader with JavaScript disabled gets).
    pub fn disable_scripts(&self) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": true}),
        );
    }

    /// Clicks the middle of the first element matching `selector` with the mouse, as a
    /// person would; panics if there is none.
    pub fn click(&self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            sel = serde_json::to_string(selector).unwrap()
        ));
        let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
            panic!("nothing to click at {selector}");
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// The page's text content of the first element matching `selector`.
    pub fn text(&self, selector: &str) -> Option<String> {
        self.eval(&format!(
            "(document.querySelector({}) || {{}}).innerText",
            serde_json::to_string(selector).unwrap()
        ))
        .as_str()
        .map(str::to_string)
    }

    /// The whole document as HTML.
    pub fn content(&self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Polls `js` (an expression) in the tab until it gives `want`, for up to 15 s; returns
/// the last value seen.
pub fn wait_for(tab: &Tab<'_>, js: &str, want: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = tab.eval(js);
        if &got == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `file://` URL of a local file.
pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}
