//! A runaway script stops at its memory budget however it grows its data — map index,
//! array push, string append, blob — under `run`, `repl` and a `cron` job, with a clear
//! error. Each runs under an OS data limit (1 GiB, far above the 8 MiB budget and the
//! process's own needs), so a budget that stops binding makes the test fail fast instead of
//! swapping the machine.

use crate::support::{TestSandbox, bin, cmd, repo};
use std::io::Write;
use std::process::{Command, Stdio};

const BUDGET: &str = "8MiB";
const SAID: &str = "held more than 8.0 MiB of memory (raise --max-memory if this is intended)";

/// `zavu-script ARGS…` under a 1 GiB data-segment limit, with `stdin` piped in.
fn capped(state: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -d 1048576 && exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .current_dir(repo())
        .env("ZAVU_SCRIPT_STATE_DIR", state)
        .env_remove("ZAVUDEV_API_KEY")
        .env_remove("ZAVUDEV_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("sh runs zavu-script");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("zavu-script ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GROWTH: &[(&str, &str)] = &[
    (
        "map index",
        "let m = #{}; let i = 0; loop { m[\"k\" + i] = i; i += 1; }",
    ),
    ("array push", "let a = []; loop { a.push(1); }"),
    (
        "string append",
        "let s = \"\"; loop { s += \"0123456789012345678901234567890123456789\"; }",
    ),
    ("blob", "let b = blob(); loop { b += blob(1000); }"),
    ("one big blob", "let b = blob(3000000000);"),
    (
        "nested arrays",
        "let a = []; for i in 0..50 { a.push([]); } let i = 0; loop { a[i % 50].push(i); i += 1; }",
    ),
];

#[test]
fn run_stops_every_kind_of_growth_at_the_budget() {
    let state = tempfile::tempdir().unwrap();
    for (what, text) in GROWTH {
        let (_d, path) = crate::support::script(text);
        let path = path.display().to_string();
        let (code, _, stderr) = capped(
            state.path(),
            &["--sandbox", "run", "--max-memory", BUDGET, &path],
            "",
        );
        assert_eq!(code, 1, "{what}: a script error\n{stderr}");
        assert!(stderr.contains(SAID), "{what}: {stderr}");
        assert!(
            stderr.contains("test.rhai:1:"),
            "{what}: names the place: {stderr}"
        );
    }
}

#[test]
fn a_repl_session_stops_the_input_frees_its_variables_and_goes_on() {
    let state = tempfile::tempdir().unwrap();
    let input = "let keep = 41;\nlet m = #{}; let i = 0; loop { m[\"k\" + i] = i; i += 1; }\nprint(`after ${1 + 1}`);\n";
    // Piped input stops at the first error unless told to go on.
    let (code, stdout, stderr) = capped(
        state.path(),
        &["--sandbox", "repl", "--keep-going", "--max-memory", BUDGET],
        input,
    );
    assert_eq!(code, 1, "the first error's status: {stderr}");
    assert!(stderr.contains(SAID), "{stderr}");
    assert!(stderr.contains("were cleared"), "{stderr}");
    assert!(
        stdout.contains("after 2"),
        "the session went on: {stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cron_job_that_runs_away_fails_and_the_scheduler_goes_on() {
    let sb = TestSandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crontab"),
        "@reboot grow.rhai\n@reboot fine.rhai\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("grow.rhai"),
        "let m = #{}; let i = 0; loop { m[\"k\" + i] = i; i += 1; }\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("fine.rhai"), "print(\"fine\");\n").unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut c = cmd(state.path());
    c.env("ZAVUDEV_API_KEY", &sb.key)
        .env("ZAVUDEV_BASE_URL", sb.url())
        .args(["cron", "--max-memory", BUDGET])
        .arg(dir.path().join("crontab"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let done = |l: &[String]| {
        l.iter()
            .any(|x| x.contains("grow[") && x.contains("failed"))
            && l.iter()
                .any(|x| x.contains("fine[") && x.contains("]: finished"))
    };
    while !done(&lines.lock().unwrap()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            lines.lock().unwrap().join("\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let log = lines.lock().unwrap().join("\n");
    assert_eq!(status.code(), Some(0), "{log}");
    let failed = log
        .lines()
        .find(|l| l.contains("grow[") && l.contains("failed"))
        .unwrap();
    assert!(failed.contains(SAID), "{failed}");
}
