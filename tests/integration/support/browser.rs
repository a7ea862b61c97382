//! A real browser for the tests: Debian's Chromium, headless. The command-line modes
//! (`--dump-dom`, `--screenshot`) for what a person opening a file would get, and the
//! DevTools protocol (through `headless_chrome`) for clicking through pages.
//!
//! When Chromium is missing or will not start, the test fails and says why and how to
//! fix it (`tests/setup.sh`); it never passes without having run.

use headless_chrome::{Browser, LaunchOptions};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
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

/// A headless Chromium driven over the DevTools protocol, with its own fresh profile.
pub struct Driven {
    pub browser: Browser,
    _profile: tempfile::TempDir,
}

/// Starts Chromium for DevTools-protocol driving; fails the test with the reason when it
/// cannot start.
pub fn launch() -> Driven {
    let exe = chromium();
    let profile = tempfile::tempdir().unwrap();
    let extra: Vec<&OsStr> = QUIET_FLAGS.iter().map(OsStr::new).collect();
    let options = LaunchOptions::default_builder()
        .path(Some(exe.clone()))
        .headless(true)
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .user_data_dir(Some(profile.path().to_path_buf()))
        .idle_browser_timeout(Duration::from_secs(120))
        .args(extra)
        .build()
        .expect("launch options");
    let browser = Browser::new(options).unwrap_or_else(|e| {
        panic!(
            "Chromium ({}) did not start for DevTools-protocol driving: {e:#}",
            exe.display()
        )
    });
    Driven {
        browser,
        _profile: profile,
    }
}

/// Polls `js` (an expression) in the tab until it gives `want`, for up to 15 s; returns
/// the last value seen.
pub fn wait_for(
    tab: &headless_chrome::Tab,
    js: &str,
    want: &serde_json::Value,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = tab
            .evaluate(js, false)
            .ok()
            .and_then(|r| r.value)
            .unwrap_or(serde_json::Value::Null);
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
